"""The built-in backend end to end on moto: ingest creates the task, a reviewer claims and answers it
through the API, the outbox announces it, and review-complete appends the manifest line."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from ingest.builders import jpeg_bytes, object_created

from hitl_aws.publisher import EventPublisher
from hitl_aws.review_task_table import ReviewTaskTable
from hitl_aws.settings import FunctionSettings
from hitl_core.config import PipelineConfig, config_to_env
from hitl_core.detections import Box, Detection, ImageDetections, ImageSize
from hitl_ingest.dependencies import IngestDependencies
from hitl_ingest.detector import DetectorResult
from hitl_ingest.human_review import TaskStoreReviewStarter
from hitl_ingest.image_input import PreparedImage
from hitl_ingest.ingest import Ingestor
from hitl_ingest.record_store import RecordStore
from hitl_ingest.s3_event import ObjectCreated, parse_object_created
from hitl_review import handler as review_complete
from hitl_review_service import outbox
from review_service.builders import ANA, BUS, IMAGE_BUCKET, REGION, TABLE, http_event
from review_service.conftest import FakeLambdaContext, StatusTap, TableStream

TRAINING_BUCKET = "hitl-training"


class DoubtfulCatDetector:
    """The endpoint's answer for the test image: one cat, scored low enough to need a reviewer."""

    def detect(self, image: PreparedImage, source: ObjectCreated) -> DetectorResult:
        box = Box(4, 6, 40, 30)
        detections = ImageDetections(
            ImageSize(image.size.width, image.size.height), (Detection("cat", 0.41, box),)
        )
        return DetectorResult(detections, {"detector": "test", "adapter": "sagemaker-object-detection"}, 1.0)


class NoMetrics:
    def add_metric(self, name: str, unit: Any, value: float) -> None:
        pass


@pytest.fixture
def builtin_env(
    service_env: Callable[..., None], monkeypatch: pytest.MonkeyPatch, pipeline_config: PipelineConfig
) -> None:
    """The environment review-complete and ingest get with the built-in backend."""
    service_env()
    for name, value in {
        "HITL_CONFIG": config_to_env(pipeline_config),
        "TRAINING_BUCKET": TRAINING_BUCKET,
        "REVIEW_BACKEND": "builtin",
    }.items():
        monkeypatch.setenv(name, value)


def test_ingest_api_outbox_and_review_complete(
    builtin_env: None,
    call_api: Callable[[dict[str, Any]], tuple[int, Any]],
    table_stream: TableStream,
    status_tap: StatusTap,
    lambda_context: FakeLambdaContext,
) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=TRAINING_BUCKET)
    settings = FunctionSettings.from_env(os.environ)
    assert settings.review_backend == "builtin"
    deps = IngestDependencies(
        settings=settings,
        s3=s3,
        records=RecordStore(s3, TRAINING_BUCKET),
        detector=DoubtfulCatDetector(),
        reviews=TaskStoreReviewStarter(
            ReviewTaskTable(boto3.client("dynamodb", region_name=REGION), TABLE), settings.review_service_name
        ),
        publisher=EventPublisher(boto3.client("events", region_name=REGION), BUS),
    )
    image = jpeg_bytes(64, 48)
    put = s3.put_object(Bucket=IMAGE_BUCKET, Key="incoming/cat.jpg", Body=image)
    uploaded = object_created(
        "incoming/cat.jpg", size=len(image), etag=put["ETag"].strip('"'), bucket=IMAGE_BUCKET
    )
    result = Ingestor(deps, NoMetrics()).ingest(parse_object_created(json.dumps(uploaded)))
    assert result.status == "review"
    again = Ingestor(deps, NoMetrics()).ingest(parse_object_created(json.dumps(uploaded)))
    assert (again.status, again.loop_name) == ("redelivered", result.loop_name)

    status, listing = call_api(http_event("GET", "/tasks", ANA))
    assert [t["name"] for t in listing["tasks"]] == [result.loop_name]
    name = result.loop_name
    _, task = call_api(http_event("GET", f"/tasks/{name}", ANA))
    assert task["inputContent"]["taskObject"] == f"s3://{IMAGE_BUCKET}/incoming/cat.jpg"
    assert call_api(http_event("POST", f"/tasks/{name}/claim", ANA))[0] == 200
    corrected = {"label": "cat", "left": 2, "top": 3, "width": 50, "height": 40}
    body = {
        "answerContent": {
            "annotatedResult": {
                "boundingBoxes": [corrected],
                "inputImageProperties": {"width": 64, "height": 48},
            }
        },
        "timeSpentInSeconds": 9,
    }
    status, answered = call_api(http_event("POST", f"/tasks/{name}/answer", ANA, body))
    assert (status, answered["status"]) == (200, "Completed")

    outbox.outbox.cache_clear()
    assert outbox.handler(table_stream.event(), lambda_context) == {"batchItemFailures": []}
    outbox.outbox.cache_clear()
    messages = status_tap.drain_messages()
    assert len(messages) == 1

    review_complete.completion.cache_clear()
    try:
        records = [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:{REGION}:123456789012:review-complete",
                "awsRegion": REGION,
            }
            for m in messages
        ]
        assert review_complete.lambda_handler({"Records": records}, lambda_context) == {
            "batchItemFailures": []
        }
    finally:
        review_complete.completion.cache_clear()
    manifest = s3.get_object(Bucket=TRAINING_BUCKET, Key="manifests/00000001.manifest")["Body"].read()
    (line,) = [json.loads(raw) for raw in manifest.decode().splitlines()]
    assert line["source-ref"] == f"s3://{IMAGE_BUCKET}/incoming/cat.jpg"
    (annotation,) = line["bounding-box"]["annotations"]
    assert {k: annotation[k] for k in ("left", "top", "width", "height")} == {
        "left": 2,
        "top": 3,
        "width": 50,
        "height": 40,
    }
    assert line["bounding-box-metadata"]["job-name"] == f"a2i/{name}"
