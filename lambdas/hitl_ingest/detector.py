"""The detector behind the configured adapter: a SageMaker endpoint or Rekognition Custom Labels.

Each returns detections in the displayed image's pixels and names the model it used. Errors
the input caused become DetectorRefusedInput (the image is rejected); anything else
(throttling, quotas, 5xx, a model not running) propagates so the message is retried.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from botocore.exceptions import ClientError

from hitl_core.adapters import DetectorResponseError, parse_detector_response
from hitl_core.detections import ImageDetections
from hitl_ingest.image_input import PreparedImage
from hitl_ingest.s3_event import ObjectCreated

REKOGNITION_INPUT_ERRORS = {
    "InvalidImageFormatException",
    "ImageTooLargeException",
    "InvalidS3ObjectException",
}


class DetectorRefusedInput(ValueError):
    """The detector said the image itself is unusable."""


@dataclass(frozen=True)
class DetectorResult:
    detections: ImageDetections
    model: dict[str, str]
    latency_ms: float


class Detector(Protocol):
    def detect(self, image: PreparedImage, source: ObjectCreated) -> DetectorResult: ...


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000.0, 3)


class SageMakerEndpointDetector:
    """`InvokeEndpoint` with the (possibly upright, downscaled) image copy; boxes mapped back."""

    def __init__(self, client: Any, endpoint_name: str, adapter: str, class_list: Sequence[str]) -> None:
        self._client = client
        self._endpoint_name = endpoint_name
        self._adapter = adapter
        self._class_list = list(class_list)

    def detect(self, image: PreparedImage, source: ObjectCreated) -> DetectorResult:
        started = time.perf_counter()
        try:
            response = self._client.invoke_endpoint(
                EndpointName=self._endpoint_name,
                ContentType=image.inference_content_type,
                Accept="application/json",
                Body=image.inference_bytes,
            )
        except ClientError as err:
            original_status = err.response.get("OriginalStatusCode")
            if err.response["Error"]["Code"] == "ModelError" and 400 <= int(original_status or 0) < 500:
                raise DetectorRefusedInput(
                    f"the model answered {original_status}: {err.response['Error'].get('Message', '')}"
                ) from None
            raise
        body = response["Body"].read()
        latency_ms = _elapsed_ms(started)
        try:
            parsed = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise DetectorResponseError(self._adapter, "the endpoint's answer is not JSON") from None
        on_copy = parse_detector_response(self._adapter, parsed, image.inference_size, self._class_list)
        model = {
            "detector": "sagemaker-endpoint",
            "endpoint_name": self._endpoint_name,
            "adapter": self._adapter,
        }
        if response.get("InvokedProductionVariant"):
            model["production_variant"] = response["InvokedProductionVariant"]
        return DetectorResult(image.restore(on_copy), model, latency_ms)


class RekognitionCustomLabelsDetector:
    """`DetectCustomLabels` on the S3 object itself; ratio boxes become displayed-image pixels.

    Rekognition applies a JPEG's EXIF orientation before detecting, so its ratios already
    refer to the upright image.
    """

    def __init__(self, client: Any, project_version_arn: str, class_list: Sequence[str]) -> None:
        self._client = client
        self._project_version_arn = project_version_arn
        self._class_list = list(class_list)

    def detect(self, image: PreparedImage, source: ObjectCreated) -> DetectorResult:
        s3_object = {"Bucket": source.bucket, "Name": source.key}
        if source.version_id:
            s3_object["Version"] = source.version_id
        started = time.perf_counter()
        try:
            response = self._client.detect_custom_labels(
                ProjectVersionArn=self._project_version_arn,
                Image={"S3Object": s3_object},
                MinConfidence=0.0,
            )
        except ClientError as err:
            if err.response["Error"]["Code"] in REKOGNITION_INPUT_ERRORS:
                raise DetectorRefusedInput(
                    f"Rekognition refused the image: {err.response['Error']['Code']}"
                ) from None
            raise
        latency_ms = _elapsed_ms(started)
        detections = parse_detector_response(
            "rekognition-custom-labels", response, image.size, self._class_list
        )
        model = {
            "detector": "rekognition-custom-labels",
            "project_version_arn": self._project_version_arn,
            "adapter": "rekognition-custom-labels",
        }
        return DetectorResult(detections, model, latency_ms)
