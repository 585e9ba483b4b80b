"""The Lambda entry point: SQS batches, partial batch failures, retries up to the DLQ, logs and metrics."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest

from hitl_core.human_loop import loop_name
from hitl_core.wiring import INGEST_QUEUE
from hitl_ingest import handler
from ingest.builders import INPUT_BUCKET, LambdaContextStub, jpeg_bytes, sagemaker_answer, sqs_event
from ingest.conftest import IngestWorld

CAT, PERSON = 15, 0


@pytest.fixture
def lambda_world(world: IngestWorld, monkeypatch: pytest.MonkeyPatch) -> IngestWorld:
    """The handler running on the moto world's dependencies."""
    monkeypatch.setattr(handler, "_dependencies", world.deps)
    return world


@pytest.fixture
def log_lines() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """Reads back the handler's structured log lines, parsed."""
    buffer = io.StringIO()
    stream_handler = handler.logger.registered_handler
    previous = stream_handler.setStream(buffer)
    yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]
    stream_handler.setStream(previous)


def emitted_metrics(output: str) -> dict[str, float]:
    """Metric name -> summed value over the EMF blobs Powertools printed."""
    totals: dict[str, float] = {}
    for line in output.splitlines():
        if '"_aws"' not in line:
            continue
        blob = json.loads(line)
        for definition in blob["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
            values = blob[definition["Name"]]
            values = values if isinstance(values, list) else [values]
            totals[definition["Name"]] = totals.get(definition["Name"], 0) + sum(values)
    return totals


def invoke(event: dict[str, Any]) -> dict[str, Any]:
    return handler.lambda_handler(event, LambdaContextStub())


def test_one_bad_message_fails_alone_and_the_batch_goes_on(
    lambda_world: IngestWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    good = lambda_world.upload("incoming/cat.jpg", jpeg_bytes())
    lambda_world.queue_endpoint_answer(sagemaker_answer([CAT, 0.9, 0, 0, 1, 1]))
    not_an_image = lambda_world.upload("incoming/readme.jpg", b"plain text")
    batch = sqs_event(good, '{"not": "an S3 event"}', not_an_image)

    response = invoke(batch)

    assert response == {"batchItemFailures": [{"itemIdentifier": batch["Records"][1]["messageId"]}]}
    kinds = sorted(e["detail-type"] for e in lambda_world.published())
    assert kinds == ["Input Rejected", "Prediction Accepted"]
    metrics = emitted_metrics(capsys.readouterr().out)
    assert metrics["ImagesReceived"] == 2
    assert metrics["ImagesAccepted"] == 1
    assert metrics["ImagesRejected"] == 1
    assert metrics["DetectorLatency"] >= 0


def test_logs_carry_the_image_key_and_loop_name(
    lambda_world: IngestWorld, log_lines: Callable[[], list[dict[str, Any]]]
) -> None:
    event = lambda_world.upload("incoming/doubt.jpg", jpeg_bytes())
    lambda_world.queue_endpoint_answer(sagemaker_answer([PERSON, 0.2, 0, 0, 1, 1]))
    name = loop_name(INPUT_BUCKET, "incoming/doubt.jpg", event["detail"]["object"]["etag"])
    lambda_world.a2i_stub.add_response(
        "start_human_loop", {"HumanLoopArn": f"arn:aws:sagemaker:us-east-1:1:human-loop/{name}"}
    )

    assert invoke(sqs_event(event)) == {"batchItemFailures": []}

    [routed] = [line for line in log_lines() if line["message"] == "image routed"]
    assert routed["image_key"] == "incoming/doubt.jpg" and routed["loop_name"] == name
    assert routed["outcome"] == "review" and routed["loop_started"] is True
    assert routed["service"] == "hitl-ingest"


def test_endpoint_throttling_fails_the_message_then_its_retry_succeeds(lambda_world: IngestWorld) -> None:
    event = lambda_world.upload("incoming/busy.jpg", jpeg_bytes())
    lambda_world.endpoint_stub.add_client_error("invoke_endpoint", "ThrottlingException", "slow down", 400)
    lambda_world.queue_endpoint_answer(sagemaker_answer([CAT, 0.9, 0, 0, 1, 1]))
    batch = sqs_event(event)

    first = invoke(batch)
    assert lambda_world.published() == []
    second = invoke(batch)

    assert first == {"batchItemFailures": [{"itemIdentifier": batch["Records"][0]["messageId"]}]}
    assert second == {"batchItemFailures": []}
    [published] = lambda_world.published()
    assert published["detail-type"] == "Prediction Accepted"


def test_an_object_version_announced_twice_in_one_batch_is_processed_once(
    lambda_world: IngestWorld, log_lines: Callable[[], list[dict[str, Any]]]
) -> None:
    """As after an aws CLI multipart upload: two messages for one version; both are acknowledged."""
    twice = lambda_world.upload("incoming/multipart.jpg", jpeg_bytes())
    other = lambda_world.upload("incoming/other.jpg", jpeg_bytes())
    for _ in range(2):
        lambda_world.queue_endpoint_answer(sagemaker_answer([CAT, 0.9, 0, 0, 1, 1]))
    batch = sqs_event(twice, other, twice)

    response = invoke(batch)

    assert response == {"batchItemFailures": []}
    keys = sorted(e["detail"]["image"]["key"] for e in lambda_world.published())
    assert keys == ["incoming/multipart.jpg", "incoming/other.jpg"]
    assert [line["message"] for line in log_lines()].count(
        "this object version was ingested earlier in the batch"
    ) == 1
    lambda_world.endpoint_stub.assert_no_pending_responses()


def test_a_later_batch_still_finishes_an_object_version_it_redelivers(lambda_world: IngestWorld) -> None:
    event = lambda_world.upload("incoming/again.jpg", jpeg_bytes())
    for _ in range(2):
        lambda_world.queue_endpoint_answer(sagemaker_answer([CAT, 0.9, 0, 0, 1, 1]))

    assert invoke(sqs_event(event)) == invoke(sqs_event(event)) == {"batchItemFailures": []}
    assert [e["detail-type"] for e in lambda_world.published()] == ["Prediction Accepted"] * 2


def test_poison_message_reaches_the_dlq_after_the_receive_limit(lambda_world: IngestWorld) -> None:
    """The ingest queue as wired (RedrivePolicy from hitl_core.wiring) drained into the handler."""
    sqs = boto3.client("sqs", region_name="us-east-1")
    dlq_url = sqs.create_queue(QueueName=INGEST_QUEUE.dlq_name)["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    queue_url = sqs.create_queue(
        QueueName=INGEST_QUEUE.name,
        Attributes={
            "VisibilityTimeout": "0",
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(INGEST_QUEUE.max_receive_count)}
            ),
        },
    )["QueueUrl"]
    sqs.send_message(QueueUrl=queue_url, MessageBody='{"source": "aws.s3", "detail-type": "Object Created"}')
    good = lambda_world.upload("incoming/fine.jpg", jpeg_bytes())
    lambda_world.queue_endpoint_answer(sagemaker_answer([CAT, 0.9, 0, 0, 1, 1]))
    sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(good))

    invocations = 0
    while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        invocations += 1
        assert invocations <= INGEST_QUEUE.max_receive_count, "the poison message never left the queue"
        event = {
            "Records": [
                {"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"]}
                for m in messages
            ]
        }
        failed = {f["itemIdentifier"] for f in invoke(event)["batchItemFailures"]}
        for m in messages:
            if m["MessageId"] not in failed:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])

    assert invocations == INGEST_QUEUE.max_receive_count
    parked = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10)["Messages"]
    assert [json.loads(m["Body"]) for m in parked] == [{"source": "aws.s3", "detail-type": "Object Created"}]
    assert [e["detail-type"] for e in lambda_world.published()] == ["Prediction Accepted"]


def test_settings_come_from_the_environment_on_first_use(
    monkeypatch: pytest.MonkeyPatch, pipeline_config: Any
) -> None:
    from hitl_core.config import config_to_env

    monkeypatch.setattr(handler, "_dependencies", None)
    for name, value in {
        "HITL_CONFIG": config_to_env(pipeline_config),
        "EVENT_BUS_NAME": "bus",
        "TRAINING_BUCKET": "training",
        "FLOW_DEFINITION_ARN": "arn:aws:sagemaker:us-east-1:123456789012:flow-definition/f",
        "ENDPOINT_NAME": "ep",
    }.items():
        monkeypatch.setenv(name, value)

    deps = handler.dependencies()

    assert handler.dependencies() is deps
    assert deps.settings.training_bucket == "training"
    assert deps.records.bucket == "training"


def imported_modules(environment: dict[str, str]) -> set[str]:
    """The top-level packages a fresh interpreter holds after importing the ingest handler."""
    code = "import sys, hitl_ingest.handler; print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "POWERTOOLS_TRACE_DISABLED": "true", **environment},
        capture_output=True,
        text=True,
        check=True,
    )
    return set(result.stdout.split())


def test_cold_import_leaves_the_tracer_sdk_and_boto3_to_the_first_message() -> None:
    modules = imported_modules({})
    assert "aws_xray_sdk" not in modules and "boto3" not in modules
    assert "hitl_ingest" in modules


def test_under_snap_start_the_tracer_is_built_during_init_for_the_snapshot() -> None:
    assert "aws_xray_sdk" in imported_modules({"AWS_LAMBDA_INITIALIZATION_TYPE": "snap-start"})


def test_the_tracer_decorates_the_record_and_batch_functions_once_per_environment(
    lambda_world: IngestWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    decorated: list[str] = []
    tracer_class = type(handler.tracer())
    for method in ("capture_method", "capture_lambda_handler"):
        original = getattr(tracer_class, method)
        monkeypatch.setattr(
            tracer_class,
            method,
            lambda self, function, _original=original, _name=method: (
                decorated.append(_name) or _original(self, function)
            ),
        )
    handler.traced_ingest_record.cache_clear()
    handler.traced_process_batch.cache_clear()
    for name in ("first.jpg", "second.jpg"):
        uploads = [lambda_world.upload(f"incoming/{copy}-{name}", jpeg_bytes()) for copy in range(2)]
        for _ in uploads:
            lambda_world.queue_endpoint_answer(sagemaker_answer([CAT, 0.9, 0, 0, 1, 1]))
        assert invoke(sqs_event(*uploads)) == {"batchItemFailures": []}

    assert sorted(decorated) == ["capture_lambda_handler", "capture_method"]
    assert len(lambda_world.published()) == 4
