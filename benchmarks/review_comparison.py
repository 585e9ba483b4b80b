"""What comparing each answer with the model's boxes costs the review-complete function (prints figures).

The function's real code against the local stack's AWS stand-in (moto in a process of its own, as
S3 is not in the function's process), two figures:
1. History: one answer's own work (read output.json, convert, compare) plus its batch's write
   (manifest, the batch's review-records object, event, metrics), with 100 and with 100,000
   earlier review records (in batch objects of ten) in the training bucket. Batches alternate
   between the two buckets, so both see the same machine; the comparison reads only its own
   output.json, so the ratio should stay within 1.1x.
2. Overhead: the whole handler per review-queue batch, with the comparison and without it (the
   function before issue 22: no comparison, no review records, no per-label metrics), batches
   alternating; the ratio should stay within 1.1x. A third arm compares and counts but leaves
   out the records object's PutObject: what storing the comparison costs apart from making it.
   Each arm's wall time and this process's CPU time (the function's side) are reported: on a
   busy shared machine the CPU ratio moves far less than the wall-time one.
Run: `.venv/bin/python -m benchmarks.review_comparison`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any
from unittest import mock

import boto3
from moto.core import DEFAULT_ACCOUNT_ID
from moto.s3.models import s3_backends

from hitl.local.aws_state import save_state
from hitl.local.stack import AWS_STATE_FILE, start_aws_stand_in
from hitl_aws.publisher import EventPublisher
from hitl_aws.settings import FunctionSettings
from hitl_core.config import PipelineConfig, config_from_file
from hitl_core.review_batches import day_prefix
from hitl_core.wiring import REVIEW_QUEUE
from hitl_review import completion as review_completion
from hitl_review import handler
from hitl_review.completion import ReviewCompletion, logger
from hitl_review.review_records import ReviewRecords

HISTORY = (100, 100_000)
FLOW_ARN = "arn:aws:sagemaker:us-east-1:123456789012:flow-definition/hitl-benchmark"
OUTPUT_BUCKET = "benchmark-review-output"
BUS = "benchmark-bus"
SUBMITTED = "2024-01-01T00:00:00.000Z"


def _output(loop: str, labels: Sequence[str]) -> dict[str, Any]:
    """A realistic answer on a 640x480 photo: six boxes shown; the reviewer keeps three, moves one,
    relabels one, deletes one and adds one."""
    shown = [
        {"label": labels[i % 4], "left": 10 + 100 * i, "top": 40 + 20 * i, "width": 80, "height": 120}
        for i in range(6)
    ]
    answer = [*shown[:3], {**shown[3], "left": shown[3]["left"] + 6}, {**shown[4], "label": labels[5]}]
    answer.append({"label": labels[6], "left": 20, "top": 300, "width": 150, "height": 90})
    return {
        "flowDefinitionArn": FLOW_ARN,
        "humanLoopName": loop,
        "inputContent": {
            "taskObject": f"s3://benchmark-input/incoming/{loop}.jpg",
            "labels": list(labels),
            "initialValue": shown,
            "initialScores": [round(0.3 + 0.05 * i, 4) for i in range(6)],
            "imageLabels": [],
            "imageSize": {"width": 640, "height": 480, "depth": 3},
            "source": {"bucket": "benchmark-input", "key": f"incoming/{loop}.jpg", "version": "v1"},
            "model": {"endpoint": "detector"},
        },
        "humanAnswers": [
            {
                "acceptanceTime": SUBMITTED,
                "answerContent": {
                    "annotatedResult": {
                        "boundingBoxes": answer,
                        "initialValueModified": True,
                        "inputImageProperties": {"width": 640, "height": 480},
                    }
                },
                "submissionTime": SUBMITTED,
                "timeSpentInSeconds": 20.0,
                "workerId": "benchmark",
            }
        ],
    }


def _message(loop: str) -> dict[str, Any]:
    """The SQS record carrying A2I's Completed status change for `loop`."""
    detail = {
        "creationTime": SUBMITTED,
        "failureCode": None,
        "failureReason": None,
        "flowDefinitionArn": FLOW_ARN,
        "humanLoopArn": f"arn:aws:sagemaker:us-east-1:123456789012:human-loop/{loop}",
        "humanLoopName": loop,
        "humanLoopOutput": {"outputS3Uri": f"s3://{OUTPUT_BUCKET}/{loop}/output.json"},
        "humanLoopStatus": "Completed",
    }
    body = {
        "version": "0",
        "id": uuid.uuid4().hex,
        "detail-type": "SageMaker A2I HumanLoop Status Change",
        "source": "aws.sagemaker",
        "account": "123456789012",
        "time": "2024-01-01T00:00:01Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    }
    return {
        "messageId": loop,
        "receiptHandle": f"handle-{loop}",
        "body": json.dumps(body),
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "md5OfBody": "0" * 32,
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:review-complete",
        "awsRegion": "us-east-1",
    }


class _Context:
    function_name = "review-complete"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:review-complete"
    memory_limit_in_mb = 512
    aws_request_id = "benchmark"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 60_000


@contextlib.contextmanager
def _stand_in(records: dict[str, int], reviews_prefix: str) -> Iterator[tuple[Any, dict[str, str]]]:
    """An S3 client of the stand-in, started from a state holding the output bucket and a training
    bucket per name with that many earlier review records, ten to a batch object (written into
    moto's store here: 10,000 puts over HTTP take minutes); the name -> bucket map."""
    store = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
    store.create_bucket(OUTPUT_BUCKET, "us-east-1")
    buckets = {}
    record = json.dumps({"loop_name": "earlier", "comparison": {"per_class": {}}, "pad": "x" * 1200})
    batch = "\n".join([record] * REVIEW_QUEUE.batch_size).encode()
    folder = day_prefix(reviews_prefix, date(2023, 12, 31))
    for name, count in records.items():
        buckets[name] = f"benchmark-training-{name}"
        store.create_bucket(buckets[name], "us-east-1")
        for number in range(count // REVIEW_QUEUE.batch_size):
            store.put_object(buckets[name], f"{folder}earlier-{number:08d}.jsonl", batch)
    with tempfile.TemporaryDirectory(prefix="hitl-bench-") as state_dir:
        save_state(Path(state_dir) / AWS_STATE_FILE)
        store.reset()
        process, url = start_aws_stand_in("127.0.0.1", 0, Path(state_dir), lambda line: None)
        try:
            yield _client("s3", url), buckets
        finally:
            process.stop()


def _client(service: str, url: str) -> Any:
    return boto3.client(
        service,
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id="benchmark",
        aws_secret_access_key="benchmark",
    )


class _Bench:
    """The function's pieces on the stand-in: answered loops, and a completion per training bucket."""

    def __init__(self, s3: Any, config: PipelineConfig) -> None:
        self.s3 = s3
        self.config = config
        self._events = _client("events", s3.meta.endpoint_url)
        self._events.create_event_bus(Name=BUS)
        self._loops = 0

    def completion(self, bucket: str) -> ReviewCompletion:
        settings = FunctionSettings(
            config=self.config, event_bus_name=BUS, training_bucket=bucket, flow_definition_arn=FLOW_ARN
        )
        return ReviewCompletion(settings, self.s3, EventPublisher(self._events, BUS))

    def batch_ms(self, completion: ReviewCompletion, size: int, arm: str = "with") -> tuple[float, float]:
        """ms per answer of the whole handler on a batch of `size` newly answered loops, as `arm` runs
        it: wall time, and this process's CPU time (the function's side of each request, the
        comparison, the metrics), which a busy machine moves far less than the wall time."""
        loops = []
        for _ in range(size):
            self._loops += 1
            loop = f"bench-{self._loops:08d}"
            body = json.dumps(_output(loop, self.config.labels), indent=2).encode()
            self.s3.put_object(Bucket=OUTPUT_BUCKET, Key=f"{loop}/output.json", Body=body)
            loops.append(loop)
        event = {"Records": [_message(loop) for loop in loops]}
        with mock.patch.object(handler, "completion", lambda: completion), ARMS[arm]():
            started, cpu = time.perf_counter(), time.process_time()
            response = handler.lambda_handler(event, _Context())
            elapsed, cpu_used = time.perf_counter() - started, time.process_time() - cpu
        if response["batchItemFailures"]:
            raise RuntimeError(f"the handler failed messages: {response['batchItemFailures']}")
        return elapsed * 1000 / size, cpu_used * 1000 / size


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The function's logs and EMF lines written, as on Lambda, but to /dev/null."""
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        streams = [(h, h.setStream(sink)) for h in logger.handlers if hasattr(h, "setStream")]
        try:
            yield
        finally:
            for log_handler, stream in streams:
                log_handler.setStream(stream)


@contextlib.contextmanager
def _without_comparison() -> Iterator[None]:
    """The function as it was before the comparison: answers converted, nothing compared, recorded
    or counted."""
    with (
        mock.patch("hitl_review.answers._compared", lambda converted, *_: converted),
        mock.patch.object(ReviewRecords, "record_completed", lambda self, answers, attribute: False),
        mock.patch.object(review_completion, "_count_compared", lambda pending, placed: None),
    ):
        yield


@contextlib.contextmanager
def _without_record_write() -> Iterator[None]:
    """Compared, announced and counted, but the review records' PutObject left out: what the
    comparison itself costs, apart from storing it."""
    with mock.patch.object(ReviewRecords, "record_completed", lambda self, answers, attribute: True):
        yield


ARMS: dict[str, Callable[[], contextlib.AbstractContextManager[None]]] = {
    "with": contextlib.nullcontext,
    "without": _without_comparison,
    "without_record_write": _without_record_write,
}


def run(
    history: Sequence[int] = HISTORY,
    *,
    rounds: int = 30,
    batch: int = REVIEW_QUEUE.batch_size,
    config_path: str = "cdk.json",
) -> dict[str, Any]:
    """Both figures on one stand-in; `rounds` alternating batches per history size and per arm."""
    config = config_from_file(config_path)
    smallest, largest = min(history), max(history)
    # A bucket per history size and one for the with/without batches, so that every bucket's open
    # manifest grows alike and no figure pays for another's lines.
    records = {**{f"history-{size}": size for size in history}, "overhead": 0}
    with _stand_in(records, config.prefixes.reviews) as (s3, buckets), _quiet():
        bench = _Bench(s3, config)
        completions = {size: bench.completion(buckets[f"history-{size}"]) for size in history}
        overhead = bench.completion(buckets["overhead"])
        by_history: dict[int, list[float]] = {size: [] for size in history}
        by_arm: dict[str, list[tuple[float, float]]] = {arm: [] for arm in ARMS}
        for number in range(rounds):
            # Alternate the order, so no arm or size always follows the same one.
            flip = number % 2 == 1
            for size in sorted(history, reverse=flip):
                by_history[size].append(bench.batch_ms(completions[size], batch)[0])
            for arm in sorted(ARMS, reverse=flip):
                by_arm[arm].append(bench.batch_ms(overhead, batch, arm))
    medians = {size: statistics.median(values) for size, values in by_history.items()}
    arms = {arm: statistics.median(wall for wall, _ in values) for arm, values in by_arm.items()}
    cpu = {arm: statistics.median(used for _, used in values) for arm, values in by_arm.items()}
    return {
        "batch_size": batch,
        "rounds": rounds,
        "history": {
            "earlier_reviews": list(history),
            "ms_per_answer": {str(size): round(ms, 2) for size, ms in medians.items()},
            "ratio": round(medians[largest] / medians[smallest], 3),
        },
        "overhead": {
            "ms_per_answer": {arm: round(ms, 2) for arm, ms in arms.items()},
            "ratio": round(arms["with"] / arms["without"], 3),
            "ratio_without_record_write": round(arms["without_record_write"] / arms["without"], 3),
            "cpu_ms_per_answer": {arm: round(ms, 2) for arm, ms in cpu.items()},
            "cpu_ratio": round(cpu["with"] / cpu["without"], 3),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30, help="alternating batches per history size and arm")
    args = parser.parse_args()
    figures = run(rounds=args.rounds)
    found, cost = figures["history"], figures["overhead"]
    print(
        f"review-complete per answer, batches of {figures['batch_size']}, ms: "
        + ", ".join(f"{int(n):,} earlier reviews {ms}" for n, ms in found["ms_per_answer"].items())
        + f"; ratio {found['ratio']}x (goal: at most 1.1x)"
    )
    per_answer = cost["ms_per_answer"]
    print(
        f"review-complete per answer: without the comparison {per_answer['without']} ms, with it "
        f"{per_answer['with']} ms (ratio {cost['ratio']}x, goal: at most 1.1x); with it but without "
        f"the review records' PutObject {per_answer['without_record_write']} ms "
        f"(ratio {cost['ratio_without_record_write']}x); CPU of the function's process: without "
        f"{cost['cpu_ms_per_answer']['without']} ms, with {cost['cpu_ms_per_answer']['with']} ms "
        f"(ratio {cost['cpu_ratio']}x)"
    )


if __name__ == "__main__":
    main()
