"""The two detectors: what they send, how answers become pixels, which errors reject the image."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.response import StreamingBody
from botocore.stub import Stubber

from hitl_core.adapters import DetectorResponseError
from hitl_core.detections import Box, Detection, ImageSize
from hitl_ingest.detector import (
    DetectorRefusedInput,
    RekognitionCustomLabelsDetector,
    SageMakerEndpointDetector,
)
from hitl_ingest.image_input import PreparedImage
from hitl_ingest.s3_event import ObjectCreated

LABELS = ["person", "cat", "indoor"]
ARN = "arn:aws:rekognition:us-east-1:123456789012:project/pets/version/pets.1/1700000000000"
SOURCE = ObjectCreated("hitl-input", "incoming/my cat.png", size=10, etag="e1", version_id="v7")


def prepared(size: ImageSize, inference_size: ImageSize | None = None) -> PreparedImage:
    return PreparedImage(
        format="PNG",
        size=size,
        orientation=1,
        inference_bytes=b"\x89PNG fake bytes",
        inference_content_type="image/png",
        inference_size=inference_size or size,
    )


def body(data: Any) -> StreamingBody:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return StreamingBody(io.BytesIO(raw), len(raw))


@pytest.fixture
def endpoint() -> Iterator[tuple[SageMakerEndpointDetector, Stubber]]:
    client = boto3.client("sagemaker-runtime", region_name="us-east-1")
    with Stubber(client) as stub:
        yield SageMakerEndpointDetector(client, "det", "sagemaker-object-detection", LABELS), stub
        stub.assert_no_pending_responses()


@pytest.fixture
def rekognition() -> Iterator[tuple[RekognitionCustomLabelsDetector, Stubber]]:
    client = boto3.client("rekognition", region_name="us-east-1")
    with Stubber(client) as stub:
        yield RekognitionCustomLabelsDetector(client, ARN, LABELS), stub
        stub.assert_no_pending_responses()


def test_endpoint_is_sent_the_copy_with_its_content_type(endpoint: Any) -> None:
    detector, stub = endpoint
    stub.add_response(
        "invoke_endpoint",
        {"Body": body({"prediction": [[1, 0.8, 0.5, 0.5, 1.0, 1.0]]}), "ContentType": "application/json"},
        {
            "EndpointName": "det",
            "ContentType": "image/png",
            "Accept": "application/json",
            "Body": b"\x89PNG fake bytes",
        },
    )

    result = detector.detect(prepared(ImageSize(200, 100)), SOURCE)

    assert result.detections.detections == (Detection("cat", 0.8, Box(100, 50, 100, 50)),)
    assert result.model == {
        "detector": "sagemaker-endpoint",
        "endpoint_name": "det",
        "adapter": "sagemaker-object-detection",
    }
    assert result.latency_ms >= 0


def test_endpoint_boxes_on_a_downscaled_copy_come_back_in_original_pixels(endpoint: Any) -> None:
    detector, stub = endpoint
    stub.add_response(
        "invoke_endpoint",
        {"Body": body({"prediction": [[0, 0.7, 0.1, 0.2, 0.3, 0.4]]}), "InvokedProductionVariant": "blue"},
    )

    result = detector.detect(prepared(ImageSize(4000, 3000), ImageSize(1000, 750)), SOURCE)

    assert result.detections.image_size == ImageSize(4000, 3000)
    assert result.detections.detections[0].box == Box(400, 600, 800, 600)
    assert result.model["production_variant"] == "blue"


def test_model_error_for_the_input_rejects_the_image(endpoint: Any) -> None:
    detector, stub = endpoint
    stub.add_client_error(
        "invoke_endpoint",
        "ModelError",
        "cannot decode image",
        http_status_code=424,
        response_meta={},
        modeled_fields={"OriginalStatusCode": 400, "OriginalMessage": "bad image"},
    )

    with pytest.raises(DetectorRefusedInput, match="400"):
        detector.detect(prepared(ImageSize(10, 10)), SOURCE)


@pytest.mark.parametrize(
    ("code", "status", "fields"),
    [
        ("ModelError", 424, {"OriginalStatusCode": 500}),
        ("ServiceUnavailable", 503, {}),
        ("ThrottlingException", 400, {}),
        ("ModelNotReadyException", 429, {}),
    ],
)
def test_transient_endpoint_errors_propagate_for_a_retry(
    endpoint: Any, code: str, status: int, fields: dict[str, Any]
) -> None:
    detector, stub = endpoint
    stub.add_client_error(
        "invoke_endpoint", code, "try later", http_status_code=status, modeled_fields=fields
    )

    with pytest.raises(ClientError, match=code):
        detector.detect(prepared(ImageSize(10, 10)), SOURCE)


def test_endpoint_answer_that_is_not_json_is_a_response_error(endpoint: Any) -> None:
    detector, stub = endpoint
    stub.add_response("invoke_endpoint", {"Body": body(b"<html>oops</html>")})

    with pytest.raises(DetectorResponseError, match="not JSON"):
        detector.detect(prepared(ImageSize(10, 10)), SOURCE)


def test_rekognition_reads_the_exact_object_version_and_returns_pixels(rekognition: Any) -> None:
    detector, stub = rekognition
    stub.add_response(
        "detect_custom_labels",
        {
            "CustomLabels": [
                {
                    "Name": "cat",
                    "Confidence": 91.5,
                    "Geometry": {"BoundingBox": {"Left": 0.25, "Top": 0.5, "Width": 0.5, "Height": 0.25}},
                },
                {"Name": "indoor", "Confidence": 40.0},
            ]
        },
        {
            "ProjectVersionArn": ARN,
            "Image": {"S3Object": {"Bucket": "hitl-input", "Name": "incoming/my cat.png", "Version": "v7"}},
            "MinConfidence": 0.0,
        },
    )

    result = detector.detect(prepared(ImageSize(400, 200)), SOURCE)

    assert result.detections.detections == (
        Detection("cat", 0.915, Box(100, 100, 200, 50)),
        Detection("indoor", 0.4, None),
    )
    assert result.model == {
        "detector": "rekognition-custom-labels",
        "project_version_arn": ARN,
        "adapter": "rekognition-custom-labels",
    }


def test_rekognition_without_a_version_id_names_only_bucket_and_key(rekognition: Any) -> None:
    detector, stub = rekognition
    stub.add_response(
        "detect_custom_labels",
        {"CustomLabels": []},
        {
            "ProjectVersionArn": ARN,
            "Image": {"S3Object": {"Bucket": "hitl-input", "Name": "k.jpg"}},
            "MinConfidence": 0.0,
        },
    )

    result = detector.detect(prepared(ImageSize(4, 4)), ObjectCreated("hitl-input", "k.jpg", 1, "etag", None))

    assert result.detections.detections == ()


@pytest.mark.parametrize("code", ["InvalidImageFormatException", "ImageTooLargeException"])
def test_rekognition_refusing_the_image_rejects_it(rekognition: Any, code: str) -> None:
    detector, stub = rekognition
    stub.add_client_error("detect_custom_labels", code, "no", http_status_code=400)

    with pytest.raises(DetectorRefusedInput, match=code):
        detector.detect(prepared(ImageSize(4, 4)), SOURCE)


@pytest.mark.parametrize(
    "code", ["ThrottlingException", "ProvisionedThroughputExceededException", "ResourceNotReadyException"]
)
def test_rekognition_capacity_errors_propagate_for_a_retry(rekognition: Any, code: str) -> None:
    detector, stub = rekognition
    stub.add_client_error("detect_custom_labels", code, "busy", http_status_code=400)

    with pytest.raises(ClientError, match=code):
        detector.detect(prepared(ImageSize(4, 4)), SOURCE)
