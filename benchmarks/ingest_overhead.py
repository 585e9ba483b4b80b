"""Ingest overhead: what the ingest handler adds per image beyond the detector, against bare AWS calls.

The real `hitl_ingest.handler.lambda_handler` runs in this process against the local stack
(moto for S3/SQS/EventBridge, the local endpoint with the real SSD detector, the local A2I
runtime), fed real S3 Object Created messages in batches of the ingest queue's size. Its time
minus the detector's (the handler's own DetectorLatency metric) is the overhead. The baseline
makes only the calls the handler cannot do without, with the handler's own parameters, against
the same servers: GetObject (the image), PutObject (the record), PutEvents (the event) and,
for images sent to review, StartHumanLoop. It makes the InvokeEndpoint call between them too,
and leaves its time out as the handler's is: a call that follows the detector's 15-20 ms finds
the stand-ins idle and takes about twice as long as one made right after another, so bare calls
fired back to back would be a baseline no handler could meet. Ratio = overhead / baseline.
Run alone: `.venv/bin/python -m benchmarks --only ingest`.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

from botocore.config import Config

from benchmarks.call_timer import CallTimer, TimedCall
from benchmarks.local_stack import running_stack
from benchmarks.workload import Photo, sample_photos
from hitl.local.model_store import DEFAULT_CACHE_DIR
from hitl.local.stack import LocalStack, function_environment
from hitl.local.worker import LocalLambdaContext, sqs_event
from hitl_core.config import PipelineConfig, config_from_file
from hitl_core.wiring import INGEST_QUEUE, object_created_pattern
from hitl_ingest import handler
from hitl_ingest.dependencies import CLIENT_SETTINGS, IngestDependencies
from hitl_ingest.image_input import prepare_image

# Outside the incoming prefix, so the stack's own ingest worker never sees these uploads.
BENCH_PREFIX = "benchmark/ingest/"
TAP_NAME = "hitl-benchmark-ingest-tap"
DETECTOR_CALL = "sagemaker-runtime:InvokeEndpoint"
DETECTOR_LABEL = "detector: InvokeEndpoint (excluded)"
BASELINE_CALLS = (
    "S3 GetObject: the image",
    "S3 PutObject: the record",
    "EventBridge PutEvents",
    "A2I StartHumanLoop",
)


def run(
    copies: int = 6,
    *,
    repeats: int = 5,
    config_path: str = "cdk.json",
    model_dir: Path = DEFAULT_CACHE_DIR,
) -> dict[str, Any]:
    """Run every sample photo `copies` times through the handler and through the baseline calls,
    `repeats` times over on one stack: the figures of the run with the median ratio, and every
    run's ratio (runs spread by about 0.05 either way, and a run now and then finds the
    stand-ins slow for the handler's calls)."""
    config = config_from_file(config_path)
    with running_stack(config, model_dir=model_dir) as stack:
        runs = [_measure(stack, config, sample_photos(copies)) for _ in range(repeats)]
    median = sorted(runs, key=lambda figures: figures["ratio"])[len(runs) // 2]
    return {**median, "ratios": [figures["ratio"] for figures in runs]}


def _measure(stack: LocalStack, config: PipelineConfig, photos: Sequence[Photo]) -> dict[str, Any]:
    assert stack.endpoints is not None
    run_prefix = f"{BENCH_PREFIX}{uuid.uuid4().hex[:8]}/"
    environment = function_environment("ingest", stack.settings, stack.endpoints, os.environ)
    timer = CallTimer()
    with mock.patch.dict(os.environ, environment):
        session = timer.session()
        deps = IngestDependencies.from_env(os.environ, session)
        baseline = {
            service: session.client(service, config=Config(**CLIENT_SETTINGS))
            for service in ("s3", "events", "sagemaker-a2i-runtime", "sagemaker-runtime")
        }
        tap_url, tap_arn = _tap(stack, run_prefix)
        with mock.patch.object(handler, "dependencies", lambda: deps), quiet_logger(handler.logger):
            warm_up = _upload_batches(
                stack, tap_url, run_prefix + "warm-up/", photos[: INGEST_QUEUE.batch_size]
            )
            for batch in warm_up:
                invocation = _invoke(batch, tap_arn, timer)
                _baseline(baseline, invocation, timer)
            batches = _upload_batches(stack, tap_url, run_prefix, photos)
            handler_runs, baseline_runs = [], []
            for batch in batches:
                handler_runs.append(_invoke(batch, tap_arn, timer))
                baseline_runs.append(_baseline(baseline, handler_runs[-1], timer))
    return _figures(handler_runs, baseline_runs, photos, config)


def _tap(stack: LocalStack, prefix: str) -> tuple[str, str]:
    """A queue receiving the input bucket's Object Created events under `prefix`, as the ingest queue does."""
    assert stack.endpoints is not None
    sqs, events = stack.client("sqs"), stack.client("events")
    url = sqs.create_queue(QueueName=TAP_NAME)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    pattern = object_created_pattern(stack.endpoints.names.input_bucket, prefix)
    events.put_rule(Name=TAP_NAME, EventPattern=json.dumps(pattern), State="ENABLED")
    events.put_targets(Rule=TAP_NAME, Targets=[{"Id": TAP_NAME, "Arn": arn}])
    return url, arn


def _upload_batches(
    stack: LocalStack, tap_url: str, prefix: str, photos: Sequence[Photo]
) -> list[list[dict[str, Any]]]:
    """Upload `photos` and collect their S3 event messages, in batches of the ingest queue's size."""
    assert stack.endpoints is not None
    s3, sqs = stack.client("s3"), stack.client("sqs")
    for photo in photos:
        s3.put_object(
            Bucket=stack.endpoints.names.input_bucket,
            Key=prefix + photo.name,
            Body=photo.data,
            ContentType=photo.content_type,
        )
    messages: list[dict[str, Any]] = []
    while len(messages) < len(photos):
        received = sqs.receive_message(QueueUrl=tap_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in received.get("Messages", []):
            messages.append(message)
            sqs.delete_message(QueueUrl=tap_url, ReceiptHandle=message["ReceiptHandle"])
    messages.sort(key=lambda m: json.loads(m["Body"])["detail"]["object"]["key"])
    size = INGEST_QUEUE.batch_size
    return [messages[start : start + size] for start in range(0, len(messages), size)]


@dataclass(frozen=True)
class _Invocation:
    """One handler invocation: wall time, the detector's time inside it, the AWS calls it made."""

    size: int
    ms: float
    detector_ms: float
    calls: list[TimedCall]
    image_keys: set[str]


def _invoke(batch: list[dict[str, Any]], queue_arn: str, timer: CallTimer) -> _Invocation:
    event = sqs_event(batch, queue_arn)
    context = LocalLambdaContext("hitl-benchmark-ingest", INGEST_QUEUE.function_timeout_seconds)
    timer.take()
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        started = time.perf_counter()
        response = handler.lambda_handler(event, context)
        elapsed = (time.perf_counter() - started) * 1000
    if response.get("batchItemFailures"):
        raise RuntimeError(f"the handler failed messages {response['batchItemFailures']}")
    keys = {json.loads(m["Body"])["detail"]["object"]["key"] for m in batch}
    return _Invocation(len(batch), elapsed, _detector_ms(output.getvalue()), timer.take(), keys)


def _detector_ms(emf_output: str) -> float:
    """The sum of the DetectorLatency values in the metrics the handler printed (CloudWatch EMF)."""
    total = 0.0
    for line in emf_output.splitlines():
        if not line.startswith("{"):
            continue
        document = json.loads(line)
        if "_aws" in document and "DetectorLatency" in document:
            value = document["DetectorLatency"]
            total += sum(value) if isinstance(value, list) else value
    return total


@contextlib.contextmanager
def quiet_logger(logger: Any) -> Iterator[None]:
    """The handler's log lines go to /dev/null (on Lambda they go to a pipe), not over the table."""
    with open(os.devnull, "w") as sink:
        previous = logger.registered_handler.setStream(sink)
        try:
            yield
        finally:
            logger.registered_handler.setStream(previous)


def _baseline(clients: dict[str, Any], invocation: _Invocation, timer: CallTimer) -> float:
    """The calls the handler must make for its batch, with its parameters and in its order, the
    detector's among them: their total wall time in ms, the detector's calls left out."""
    calls = [
        call
        for call in invocation.calls
        if _call_label(call, invocation.image_keys) in (*BASELINE_CALLS, DETECTOR_LABEL)
    ]
    timer.take()
    started, detector_ms = time.perf_counter(), 0.0
    for call in calls:
        params = dict(call.params)
        if call.operation == DETECTOR_CALL:
            detector_started = time.perf_counter()
            clients["sagemaker-runtime"].invoke_endpoint(**params)["Body"].read()
            detector_ms += (time.perf_counter() - detector_started) * 1000
        elif call.operation == "s3:GetObject":
            clients["s3"].get_object(**params)["Body"].read()
        elif call.operation == "s3:PutObject":
            params["Key"] = f"benchmark/baseline/{uuid.uuid4().hex}.json"
            clients["s3"].put_object(**params)
        elif call.operation == "events:PutEvents":
            clients["events"].put_events(**params)
        else:
            params["HumanLoopName"] = f"benchmark-{uuid.uuid4().hex}"
            clients["sagemaker-a2i-runtime"].start_human_loop(**params)
    elapsed = (time.perf_counter() - started) * 1000 - detector_ms
    timer.take()
    return elapsed


def _call_label(call: TimedCall, image_keys: set[str]) -> str:
    if call.operation == "s3:GetObject":
        return "S3 GetObject: the image" if call.params.get("Key") in image_keys else "S3 GetObject: a record"
    if call.operation == "s3:PutObject":
        return "S3 PutObject: the record" if "IfNoneMatch" in call.params else "S3 PutObject: other"
    names = {
        "events:PutEvents": "EventBridge PutEvents",
        "sagemaker-a2i-runtime:StartHumanLoop": "A2I StartHumanLoop",
        DETECTOR_CALL: DETECTOR_LABEL,
    }
    return names.get(call.operation, call.operation)


def _figures(
    runs: list[_Invocation], baseline_ms: list[float], photos: Sequence[Photo], config: PipelineConfig
) -> dict[str, Any]:
    images = sum(run.size for run in runs)
    handler_ms = sum(run.ms for run in runs)
    detector_ms = sum(run.detector_ms for run in runs)
    overhead_ms = handler_ms - detector_ms
    baseline_total = sum(baseline_ms)
    per_call: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    for run in runs:
        for call in run.calls:
            label = _call_label(call, run.image_keys)
            per_call[label] += call.ms
            counts[label] += 1
    calls_ms = sum(ms for label, ms in per_call.items() if label != DETECTOR_LABEL)
    required_ms = sum(ms for label, ms in per_call.items() if label in BASELINE_CALLS)
    reviews = counts.get("A2I StartHumanLoop", 0)
    breakdown = {
        label: {"calls_per_image": round(counts[label] / images, 2), "ms_per_image": round(ms / images, 2)}
        for label, ms in sorted(per_call.items(), key=lambda item: -item[1])
    }
    breakdown["in the handler's own code (image checks, records, Powertools, boto3)"] = {
        "calls_per_image": 0,
        "ms_per_image": round((overhead_ms - calls_ms) / images, 2),
    }
    return {
        "images": images,
        "batch_size": INGEST_QUEUE.batch_size,
        "sent_to_review": reviews,
        "handler_ms_per_image": round(handler_ms / images, 2),
        "detector_ms_per_image": round(detector_ms / images, 2),
        "overhead_ms_per_image": round(overhead_ms / images, 2),
        "baseline_ms_per_image": round(baseline_total / images, 2),
        "ratio": round(overhead_ms / baseline_total, 3),
        "overhead_split_ms_per_image": {
            "the calls the baseline makes": round(required_ms / images, 2),
            "other AWS calls": round((calls_ms - required_ms) / images, 2),
            "the handler's own code": round((overhead_ms - calls_ms) / images, 2),
        },
        "image_preparation_ms_per_image": _image_preparation_ms(photos, config),
        "breakdown": breakdown,
    }


def _image_preparation_ms(photos: Sequence[Photo], config: PipelineConfig) -> float:
    """The handler's image checks and detector copy (`prepare_image`) alone, on the same photos."""
    started = time.perf_counter()
    for photo in photos:
        prepare_image(
            photo.data, max_bytes=config.max_image_bytes, payload_limit=config.endpoint_payload_limit
        )
    return round((time.perf_counter() - started) * 1000 / len(photos), 2)
