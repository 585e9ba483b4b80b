"""Gold lines get the endpoint's boxes through ingest's detector and adapter (InvokeEndpoint stubbed)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from moto import mock_aws
from PIL import Image

from cli.conftest import gold_line as cli_gold_line
from hitl.gold_predictions import GoldPredictionError, predict_gold
from hitl_core.config import PipelineConfig
from hitl_core.gold_tasks import MODEL_DETECTIONS, gold_lines
from hitl_ingest.detector import SageMakerEndpointDetector

REGION = "us-east-1"
BUCKET = "gold-images"
ENDPOINT = "hitl-detector"
NOW = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)


def png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (90, 120, 30)).save(out, "PNG")
    return out.getvalue()


KNOWN_CAT = {"left": 30, "top": 50, "width": 150, "height": 70}


def gold_line(key: str, width: int = 400, height: int = 200) -> dict[str, Any]:
    return cli_gold_line(f"s3://{BUCKET}/{key}", width, height, "cat", KNOWN_CAT)


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        client.create_bucket(Bucket=BUCKET)
        client.put_object(Bucket=BUCKET, Key="gold/cat.png", Body=png(400, 200))
        yield client


def endpoint_answer(prediction: list[list[float]]) -> dict[str, Any]:
    body = json.dumps({"prediction": prediction}).encode()
    return {
        "Body": StreamingBody(io.BytesIO(body), len(body)),
        "ContentType": "application/json",
        "InvokedProductionVariant": "AllTraffic",
    }


def test_each_line_keeps_the_boxes_the_endpoint_found_as_a_task_shows_them(
    s3: Any, pipeline_config: PipelineConfig
) -> None:
    runtime = boto3.client("sagemaker-runtime", region_name=REGION)
    cat, dog = pipeline_config.labels.index("cat"), pipeline_config.labels.index("dog")
    sent = png(400, 200)
    expected = {
        "EndpointName": ENDPOINT,
        "ContentType": "image/png",
        "Accept": "application/json",
        "Body": sent,
    }
    detector = SageMakerEndpointDetector(runtime, ENDPOINT, pipeline_config.adapter, pipeline_config.labels)
    with Stubber(runtime) as stub:
        stub.add_response("invoke_endpoint", endpoint_answer([[cat, 0.42, 0.1, 0.2, 0.5, 0.6]]), expected)
        stub.add_response("invoke_endpoint", endpoint_answer([[dog, 0.9, 0.0, 0.0, 0.5, 0.5]]), expected)
        text = json.dumps(gold_line("gold/cat.png")) + "\n" + json.dumps(gold_line("gold/cat.png")) + "\n"
        out = predict_gold(text, s3, detector, pipeline_config, NOW)
        stub.assert_no_pending_responses()

    first, second = (json.loads(line) for line in out.splitlines())
    predicted = first["bounding-box-metadata"][MODEL_DETECTIONS]
    assert predicted["detections"] == [
        {"label": "cat", "score": 0.42, "left": 40, "top": 40, "width": 160, "height": 80}
    ], "normalized corners in the image's pixels, by the adapter ingest uses"
    assert predicted["model"] == {
        "detector": "sagemaker-endpoint",
        "endpoint_name": ENDPOINT,
        "adapter": "sagemaker-object-detection",
        "production_variant": "AllTraffic",
    }
    etag = s3.head_object(Bucket=BUCKET, Key="gold/cat.png")["ETag"].strip('"')
    assert predicted["source"]["version"] == etag and predicted["predicted-at"] == "2026-12-07T15:00:00.000Z"
    assert first["bounding-box"] == gold_line("gold/cat.png")["bounding-box"], "the known boxes untouched"
    assert second["bounding-box-metadata"][MODEL_DETECTIONS]["detections"][0]["label"] == "dog"
    assert predicted["labels"] == pipeline_config.offered_labels, "the labels a task offers"
    tasks = [g.input_content for g in gold_lines(out)]
    assert [t["initialScores"] for t in tasks] == [[0.42], [0.9]]
    assert tasks[0]["labels"] == pipeline_config.offered_labels


def test_an_image_of_another_size_than_its_line_is_refused_by_line(
    s3: Any, pipeline_config: PipelineConfig
) -> None:
    runtime = boto3.client("sagemaker-runtime", region_name=REGION)
    detector = SageMakerEndpointDetector(runtime, ENDPOINT, pipeline_config.adapter, pipeline_config.labels)
    with Stubber(runtime) as stub:
        stub.add_response("invoke_endpoint", endpoint_answer([]))
        with pytest.raises(GoldPredictionError, match=r"line 1: .* is 400x200 .* says 640x480"):
            predict_gold(json.dumps(gold_line("gold/cat.png", 640, 480)), s3, detector, pipeline_config, NOW)
    with pytest.raises(GoldPredictionError, match=r"line 1: .*NoSuchKey"):
        predict_gold(json.dumps(gold_line("gold/gone.png")), s3, detector, pipeline_config, NOW)
