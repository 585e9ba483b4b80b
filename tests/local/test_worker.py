"""The queue worker: Lambda's SQS event shape, partial batch failures, retries and the DLQ."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from dataclasses import replace
from typing import Any

import boto3
import pytest

from hitl.local.worker import (
    FUNCTIONS,
    BatchOutcome,
    FunctionSpec,
    LocalLambdaContext,
    QueueWorker,
    failed_message_ids,
    progress_line,
    sqs_event,
)
from hitl_core.wiring import INGEST_QUEUE

FAST = replace(INGEST_QUEUE, batch_size=3, max_batching_window_seconds=0, max_receive_count=2)
SPEC = FunctionSpec("test", "unused:unused", FAST)


@pytest.fixture
def sqs(moto_server_url: str) -> Any:
    return boto3.client("sqs", endpoint_url=moto_server_url, region_name="us-east-1")


@pytest.fixture
def queue(sqs: Any) -> dict[str, str]:
    """A queue with a 1-second visibility timeout and a DLQ after two receives."""
    name = f"worker-{uuid.uuid4().hex[:8]}"
    dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    url = sqs.create_queue(
        QueueName=name,
        Attributes={
            "VisibilityTimeout": "1",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}),
        },
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return {"url": url, "arn": arn, "dlq_url": dlq_url}


def _bodies(sqs: Any, url: str) -> list[str]:
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
        "Messages", []
    )
    return sorted(m["Body"] for m in messages)


class RecordingHandler:
    """Fails the records whose body is in `fail`, reporting them as Powertools' BatchProcessor does."""

    def __init__(self, fail: set[str] = frozenset()) -> None:
        self.fail = fail
        self.events: list[dict[str, Any]] = []
        self.contexts: list[Any] = []

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self.events.append(event)
        self.contexts.append(context)
        return {
            "batchItemFailures": [
                {"itemIdentifier": r["messageId"]} for r in event["Records"] if r["body"] in self.fail
            ]
        }


def test_the_handler_gets_lambdas_sqs_event(sqs: Any, queue: dict[str, str]) -> None:
    sqs.send_message(QueueUrl=queue["url"], MessageBody="one")
    handler = RecordingHandler()

    QueueWorker(SPEC, handler, sqs, queue["url"], queue["arn"]).poll_once()

    (record,) = handler.events[0]["Records"]
    assert record["body"] == "one"
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == queue["arn"]
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert {"messageId", "receiptHandle", "md5OfBody", "awsRegion", "messageAttributes"} <= record.keys()
    assert handler.contexts[0].function_name == "hitl-local-test"
    assert 0 < handler.contexts[0].get_remaining_time_in_millis() <= FAST.function_timeout_seconds * 1000


def test_batches_hold_at_most_the_batch_size(sqs: Any, queue: dict[str, str]) -> None:
    for n in range(5):
        sqs.send_message(QueueUrl=queue["url"], MessageBody=str(n))
    handler = RecordingHandler()
    worker = QueueWorker(SPEC, handler, sqs, queue["url"], queue["arn"])

    outcomes = [worker.poll_once(), worker.poll_once()]

    assert [o.size for o in outcomes if o] == [3, 2]
    assert sorted(r["body"] for e in handler.events for r in e["Records"]) == ["0", "1", "2", "3", "4"]


def test_only_the_failed_messages_stay_and_then_go_to_the_dlq(sqs: Any, queue: dict[str, str]) -> None:
    for body in ("good", "bad"):
        sqs.send_message(QueueUrl=queue["url"], MessageBody=body)
    outcomes: list[BatchOutcome] = []
    worker = QueueWorker(SPEC, RecordingHandler({"bad"}), sqs, queue["url"], queue["arn"], outcomes.append)

    worker.poll_once()
    time.sleep(1.2)
    worker.poll_once()
    time.sleep(1.2)
    worker.poll_once()

    assert [(o.size, len(o.failed_ids)) for o in outcomes] == [(2, 1), (1, 1)]
    assert _bodies(sqs, queue["url"]) == []
    assert _bodies(sqs, queue["dlq_url"]) == ["bad"]


def test_a_raising_handler_fails_the_whole_batch(sqs: Any, queue: dict[str, str]) -> None:
    sqs.send_message(QueueUrl=queue["url"], MessageBody="x")

    def broken(event: dict[str, Any], context: Any) -> None:
        raise RuntimeError("boom")

    outcome = QueueWorker(SPEC, broken, sqs, queue["url"], queue["arn"]).poll_once()

    assert outcome is not None and outcome.succeeded == 0
    assert "RuntimeError: boom" in (outcome.error or "")
    assert "the handler raised" in progress_line("test", outcome)
    time.sleep(1.2)
    assert _bodies(sqs, queue["url"]) == ["x"]


def test_an_unreadable_failure_report_fails_the_batch() -> None:
    records = sqs_event([{"MessageId": "a", "ReceiptHandle": "r", "Body": "b", "MD5OfBody": "m"}], "arn")[
        "Records"
    ]
    assert failed_message_ids(None, records) == ()
    assert failed_message_ids({"batchItemFailures": []}, records) == ()
    assert failed_message_ids({"batchItemFailures": [{"itemIdentifier": "a"}]}, records) == ("a",)
    assert failed_message_ids({"batchItemFailures": [{"itemIdentifier": "zzz"}]}, records) == ("a",)
    assert failed_message_ids({"unexpected": 1}, records) == ("a",)


def test_the_context_counts_down() -> None:
    context = LocalLambdaContext("f", timeout_seconds=1)
    first = context.get_remaining_time_in_millis()
    time.sleep(0.05)
    assert context.get_remaining_time_in_millis() < first <= 1000


def test_the_functions_are_fed_by_their_wired_queues() -> None:
    assert FUNCTIONS["ingest"].wiring.name == "ingest"
    assert FUNCTIONS["review-complete"].wiring.name == "review-complete"


def test_the_worker_process_refuses_an_unknown_function() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "hitl.local.worker", "nope", "url", "arn"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "usage" in result.stderr


def test_copies_writing_one_log_file_never_split_a_line(tmp_path: Any) -> None:
    """Powertools prints its metrics; unbuffered, the newline went out apart from the line."""
    log = tmp_path / "ingest.log"
    writer = (
        "import json, sys\n"
        "from hitl.local.worker import write_whole_lines\n"
        "write_whole_lines()\n"
        "for i in range(2000):\n"
        "    print(json.dumps({'copy': sys.argv[1], 'i': i, 'pad': 'x' * 300}))\n"
    )
    environment = {**os.environ, "PYTHONUNBUFFERED": "1"}
    copies = []
    for copy in ("a", "b"):
        with log.open("a") as output:  # each copy opens the log itself, as WorkerProcess does
            copies.append(
                subprocess.Popen([sys.executable, "-c", writer, copy], stdout=output, env=environment)
            )
    assert [copy.wait(timeout=60) for copy in copies] == [0, 0]

    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert sorted((line["copy"], line["i"]) for line in lines) == sorted(
        (copy, i) for copy in "ab" for i in range(2000)
    )
