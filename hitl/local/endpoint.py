"""A local stand-in for a SageMaker real-time endpoint running the built-in object-detection algorithm.

It speaks the `sagemaker-runtime` InvokeEndpoint API, so boto3 reaches it with only
`endpoint_url` changed, and answers `{"prediction": [[class_id, score, xmin, ymin, xmax, ymax]]}`
with class ids indexing the pipeline's configured labels. Errors carry the service's codes
(ValidationError, ModelError) so callers' error handling is exercised as on AWS.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Protocol

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from hitl.local.detector import Detection, ImageDecodeError, SsdDetector
from hitl.local.faults import ThrottleFault
from hitl.local.model_store import ModelFiles
from hitl.local.servers import BackgroundServer
from hitl_core.config import REAL_TIME_PAYLOAD_LIMIT

IMAGE_CONTENT_TYPES = frozenset({"image/jpeg", "image/png", "application/x-image"})
RESPONSE_CONTENT_TYPE = "application/json"
PRODUCTION_VARIANT = "AllTraffic"


class ObjectDetector(Protocol):
    """What the endpoint serves: labelled, normalized boxes for an image's bytes."""

    def detect(self, image_bytes: bytes) -> list[Detection]: ...


def _service_error(code: str, status: int, body: dict[str, object]) -> Response:
    """An error as the service sends it: the code in `x-amzn-ErrorType`, details in the JSON body."""
    response = jsonify(body)
    response.status_code = status
    response.headers["x-amzn-ErrorType"] = code
    response.headers["x-amzn-RequestId"] = str(uuid.uuid4())
    return response


def _validation_error(status: int, message: str) -> Response:
    return _service_error("ValidationError", status, {"message": message})


def _model_error(original_status: int, original_message: str) -> Response:
    """The container refused the request: SageMaker wraps its answer in a 424 ModelError."""
    message = f'Received client error ({original_status}) from primary with message "{original_message}".'
    return _service_error(
        "ModelError",
        424,
        {
            "ErrorCode": "CLIENT_ERROR_FROM_MODEL",
            "Message": message,
            "OriginalStatusCode": original_status,
            "OriginalMessage": original_message,
        },
    )


def _payload_too_large(size: int | None) -> Response:
    sent = f"{size:,} bytes" if size is not None else "the request body"
    return _validation_error(
        413,
        f"{sent} exceeds the InvokeEndpoint payload limit of {REAL_TIME_PAYLOAD_LIMIT:,} bytes.",
    )


def _accepts_json(accept: str | None) -> bool:
    if not accept:
        return True
    types = {part.split(";", 1)[0].strip().lower() for part in accept.split(",")}
    return bool(types & {RESPONSE_CONTENT_TYPE, "*/*", "application/*"})


def create_endpoint_app(
    detector: ObjectDetector,
    class_list: Sequence[str],
    endpoint_name: str,
    throttle: ThrottleFault | None = None,
) -> Flask:
    """A WSGI app serving one named endpoint; detections outside `class_list` are left out.

    `throttle` injects throttling errors into a fraction of the invocations.
    """
    class_ids = {label: class_id for class_id, label in enumerate(class_list)}
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = REAL_TIME_PAYLOAD_LIMIT

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(_: RequestEntityTooLarge) -> Response:
        return _payload_too_large(request.content_length)

    @app.get("/ping")
    def ping() -> Response:
        return jsonify({"status": "Healthy", "endpoint": endpoint_name})

    @app.post("/endpoints/<name>/invocations")
    def invoke(name: str) -> Response:
        body = request.get_data(cache=False)
        if name != endpoint_name:
            return _validation_error(400, f"Endpoint {name} not found.")
        if throttle is not None and throttle.strikes():
            return _service_error("ThrottlingException", 400, {"message": "Rate exceeded"})
        if request.mimetype not in IMAGE_CONTENT_TYPES:
            given = request.mimetype or "no content type"
            return _model_error(
                415, f"unsupported content type {given}; send one of {sorted(IMAGE_CONTENT_TYPES)}"
            )
        if not _accepts_json(request.headers.get("Accept")):
            return _model_error(
                406, f"cannot answer {request.headers['Accept']}; this model answers application/json"
            )
        try:
            detections = detector.detect(body)
        except ImageDecodeError as err:
            return _model_error(400, str(err))
        prediction = [
            [class_ids[d.label], d.score, d.xmin, d.ymin, d.xmax, d.ymax]
            for d in detections
            if d.label in class_ids
        ]
        response = jsonify({"prediction": prediction})
        response.headers["x-Amzn-Invoked-Production-Variant"] = PRODUCTION_VARIANT
        response.headers["x-amzn-RequestId"] = str(uuid.uuid4())
        return response

    return app


def serve_ssd_endpoint(
    files: ModelFiles,
    class_list: Sequence[str],
    endpoint_name: str,
    host: str,
    port: int,
    throttle: ThrottleFault | None = None,
) -> BackgroundServer:
    """The SSD detector behind this endpoint on host:port (0: a free one), as `hitl local up` serves it."""
    app = create_endpoint_app(SsdDetector(files), class_list, endpoint_name, throttle)
    return BackgroundServer("endpoint", app, host, port)
