"""Drain an SQS queue into a Lambda handler, the way Lambda's SQS event source mapping does.

Batches of the wiring's size (waiting up to its batching window), the SQS event shape Lambda
passes, partial batch failures: only the messages the handler did not report as failed are
deleted; the others come back after the queue's visibility timeout and, after the wiring's
`max_receive_count`, move to the dead-letter queue by the queue's own redrive policy.

Run as `python -m hitl.local.worker FUNCTION QUEUE_URL QUEUE_ARN`: each function gets its own
process whose environment is the function's, as on Lambda, so the handler modules read their
settings and build their boto3 clients exactly as they do there.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3

from hitl_core.wiring import INGEST_QUEUE, REVIEW_QUEUE, QueueSettings

REGION = "us-east-1"
ACCOUNT = "123456789012"
LONG_POLL_SECONDS = 1
DELETE_BATCH_LIMIT = 10
Handler = Callable[[dict[str, Any], Any], Any]


@dataclass(frozen=True)
class FunctionSpec:
    """A pipeline function: its handler (module:attribute) and the queue wiring that feeds it."""

    name: str
    handler: str
    wiring: QueueSettings

    @property
    def package(self) -> str:
        """The function's code package, which also names its Powertools service, as deployed."""
        return self.handler.split(".", 1)[0]

    def load_handler(self) -> Handler:
        module, _, attribute = self.handler.partition(":")
        return getattr(importlib.import_module(module), attribute)


FUNCTIONS: dict[str, FunctionSpec] = {
    "ingest": FunctionSpec("ingest", "hitl_ingest.handler:lambda_handler", INGEST_QUEUE),
    "review-complete": FunctionSpec("review-complete", "hitl_review.handler:lambda_handler", REVIEW_QUEUE),
}


class LocalLambdaContext:
    """The parts of Lambda's context object that handlers and Powertools read."""

    def __init__(self, function_name: str, timeout_seconds: int, memory_mb: int = 1024) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function_name}"
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = f"local/{self.aws_request_id}"
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def sqs_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    """The event Lambda passes for a batch of received SQS messages."""
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": dict(message.get("Attributes", {})),
                "messageAttributes": {
                    name: {
                        "stringValue": value.get("StringValue"),
                        "binaryValue": value.get("BinaryValue"),
                        "stringListValues": [],
                        "binaryListValues": [],
                        "dataType": value["DataType"],
                    }
                    for name, value in message.get("MessageAttributes", {}).items()
                },
                "md5OfBody": message["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": REGION,
            }
            for message in messages
        ]
    }


@dataclass(frozen=True)
class BatchOutcome:
    """What became of one batch: how many messages succeeded and which ones failed (and why)."""

    size: int
    failed_ids: tuple[str, ...]
    error: str | None = None

    @property
    def succeeded(self) -> int:
        return self.size - len(self.failed_ids)


def delete_messages(sqs: Any, queue_url: str, messages: list[dict[str, Any]]) -> None:
    """Delete received messages, ten to a DeleteMessageBatch call (the API's limit)."""
    for start in range(0, len(messages), DELETE_BATCH_LIMIT):
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                for i, m in enumerate(messages[start : start + DELETE_BATCH_LIMIT])
            ],
        )


def failed_message_ids(response: Any, records: list[dict[str, Any]]) -> tuple[str, ...]:
    """The messages a handler reported as failed (`batchItemFailures`), as Lambda reads them.

    A response Lambda cannot read as a partial-batch report fails the whole batch.
    """
    known = [record["messageId"] for record in records]
    if response is None:
        return ()
    try:
        failures = response["batchItemFailures"]
        ids = tuple(item["itemIdentifier"] for item in failures)
    except (KeyError, TypeError):
        return tuple(known)
    if any(not i or i not in known for i in ids):
        return tuple(known)
    return ids


class QueueWorker:
    """Receives batches from one queue, hands them to the handler, deletes what succeeded."""

    def __init__(
        self,
        spec: FunctionSpec,
        handler: Handler,
        sqs: Any,
        queue_url: str,
        queue_arn: str,
        on_batch: Callable[[BatchOutcome], None] = lambda outcome: None,
        function_name: str | None = None,
    ) -> None:
        self.spec = spec
        self._handler = handler
        self._sqs = sqs
        self._queue_url = queue_url
        self._queue_arn = queue_arn
        self._on_batch = on_batch
        self._function_name = function_name or f"hitl-local-{spec.name}"
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        """Poll until stopped."""
        while not self._stop.is_set():
            self.poll_once()

    def poll_once(self) -> BatchOutcome | None:
        """Gather one batch (up to the batch size, within the batching window) and process it."""
        messages = self._gather()
        if not messages:
            return None
        outcome = self._process(messages)
        self._on_batch(outcome)
        return outcome

    def _receive(self, count: int, wait_seconds: int) -> list[dict[str, Any]]:
        response = self._sqs.receive_message(
            QueueUrl=self._queue_url,
            MaxNumberOfMessages=count,
            WaitTimeSeconds=wait_seconds,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return response.get("Messages", [])

    def _gather(self) -> list[dict[str, Any]]:
        wiring = self.spec.wiring
        messages = self._receive(min(wiring.batch_size, 10), LONG_POLL_SECONDS)
        deadline = time.monotonic() + wiring.max_batching_window_seconds
        while messages and len(messages) < wiring.batch_size and not self._stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            wait = max(0, min(LONG_POLL_SECONDS, int(remaining)))
            more = self._receive(min(wiring.batch_size - len(messages), 10), wait)
            messages.extend(more)
            if not more and wait == 0:
                break
        return messages

    def _process(self, messages: list[dict[str, Any]]) -> BatchOutcome:
        event = sqs_event(messages, self._queue_arn)
        context = LocalLambdaContext(self._function_name, self.spec.wiring.function_timeout_seconds)
        try:
            response = self._handler(event, context)
        except Exception:
            failed = tuple(m["MessageId"] for m in messages)
            return BatchOutcome(len(messages), failed, traceback.format_exc(limit=5))
        failed = failed_message_ids(response, event["Records"])
        delete_messages(self._sqs, self._queue_url, [m for m in messages if m["MessageId"] not in failed])
        return BatchOutcome(len(messages), failed)


def progress_line(function: str, outcome: BatchOutcome) -> str:
    """One line for the console: the batch and its result."""
    line = f"[{function}] batch of {outcome.size}: {outcome.succeeded} done"
    if outcome.failed_ids:
        line += f", {len(outcome.failed_ids)} left on the queue for a retry"
    if outcome.error:
        line += f"; the handler raised:\n{outcome.error.rstrip()}"
    return line


def exit_when_parent_goes(stop: Callable[[], None]) -> None:
    """The stack holds our stdin open; end of file means it has gone, so we go too."""
    sys.stdin.read()
    stop()


def write_whole_lines() -> None:
    """Write stdout a whole line at a time, even when PYTHONUNBUFFERED is set: a function's copies
    append to one log file, and a line written in pieces (unbuffered, `print` writes the text and
    then the newline) interleaves with the other copies' lines."""
    assert isinstance(sys.stdout, io.TextIOWrapper)
    sys.stdout.reconfigure(line_buffering=True, write_through=False)


def main(argv: list[str]) -> int:
    """Drain one queue into one function until interrupted or the parent stack exits."""
    if len(argv) != 3 or argv[0] not in FUNCTIONS:
        print(
            f"usage: python -m hitl.local.worker {{{'|'.join(FUNCTIONS)}}} QUEUE_URL QUEUE_ARN",
            file=sys.stderr,
        )
        return 2
    write_whole_lines()
    spec = FUNCTIONS[argv[0]]
    handler = spec.load_handler()
    worker = QueueWorker(
        spec,
        handler,
        boto3.client("sqs"),
        argv[1],
        argv[2],
        on_batch=lambda outcome: print(progress_line(spec.name, outcome), file=sys.stderr, flush=True),
    )
    threading.Thread(target=exit_when_parent_goes, args=(worker.stop,), daemon=True).start()
    print(f"[{spec.name}] ready", file=sys.stderr, flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        worker.run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
