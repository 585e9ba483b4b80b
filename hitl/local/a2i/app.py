"""The HTTP face of the local A2I runtime: the `sagemaker-a2i-runtime` REST routes plus `/local/...`.

A boto3 `sagemaker-a2i-runtime` client pointed at this app (endpoint_url) works unchanged:
responses and errors follow botocore's rest-json model (`x-amzn-ErrorType`, `Message`).
The `/local/` routes are this runtime's own: submit an answer, fail a loop, list the work queue.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from hitl.local.a2i.errors import A2IError, ValidationException
from hitl.local.a2i.loops import FlowDefinition, HumanLoop
from hitl.local.a2i.runtime import A2IRuntime, EventEmitter, OutputWriter, utc_now
from hitl.local.a2i.status_events import DEFAULT_BUS
from hitl.local.a2i.store import LoopStore

logger = logging.getLogger(__name__)

RUNTIME_EXTENSION = "a2i_runtime"


def _json(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    response = Response(json.dumps(payload), status=status, mimetype="application/json")
    response.headers["x-amzn-RequestId"] = str(uuid.uuid4())
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _error(code: str, message: str, status: int) -> Response:
    return _json({"__type": code, "Message": message}, status, {"x-amzn-ErrorType": code})


def _body() -> Any:
    raw = request.get_data()
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ValidationException("The request body is not valid JSON") from None


def local_view(loop: HumanLoop, answers_required: int) -> dict[str, Any]:
    """A loop as the `/local/` routes show it: everything a review page needs, InputContent parsed."""
    return {
        "humanLoopName": loop.name,
        "humanLoopArn": loop.arn,
        "flowDefinitionArn": loop.flow_definition_arn,
        "humanLoopStatus": str(loop.status),
        "creationTime": loop.creation_time,
        "inputContent": loop.input,
        "outputS3Uri": loop.output_s3_uri,
        "answersReceived": len(loop.answers),
        "answersRequired": answers_required,
        "failureCode": loop.failure_code,
        "failureReason": loop.failure_reason,
    }


def create_a2i_app(
    store: LoopStore,
    output_writer: OutputWriter,
    event_emitter: EventEmitter,
    *,
    flow_definitions: Iterable[FlowDefinition],
    clock: Callable[[], datetime] = utc_now,
    bus_name: str = DEFAULT_BUS,
) -> Flask:
    """The Flask app; on creation it re-sends status events a previous run did not deliver."""
    runtime = A2IRuntime(
        store, output_writer, event_emitter, flow_definitions, clock=clock, bus_name=bus_name
    )
    app = Flask(__name__)
    app.extensions[RUNTIME_EXTENSION] = runtime
    redelivered = runtime.recover()
    if redelivered:
        logger.info("re-sent %d status events left pending by a previous run", redelivered)

    @app.errorhandler(A2IError)
    def _api_error(err: A2IError) -> Response:
        return _error(err.code, err.message, err.status)

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException) -> Response:
        return _error(
            "UnknownOperationException", f"{request.method} {request.path}: {err.name}", err.code or 404
        )

    @app.errorhandler(Exception)
    def _unexpected(err: Exception) -> Response:
        logger.exception("unexpected error in %s %s", request.method, request.path)
        return _error("InternalServerException", f"Internal error: {err}", 500)

    @app.post("/human-loops")
    def start_human_loop() -> Response:
        return _json(runtime.start(_body()))

    @app.get("/human-loops")
    def list_human_loops() -> Response:
        return _json(runtime.list(request.args.to_dict()))

    @app.post("/human-loops/stop")
    def stop_human_loop() -> Response:
        return _json(runtime.stop(_body()))

    @app.get("/human-loops/<name>")
    def describe_human_loop(name: str) -> Response:
        return _json(runtime.describe(name))

    @app.delete("/human-loops/<name>")
    def delete_human_loop(name: str) -> Response:
        return _json(runtime.delete(name))

    @app.get("/local/health")
    def health() -> Response:
        return _json({"status": "ok", "flowDefinitionArns": sorted(runtime.flows)})

    @app.get("/local/human-loops")
    def local_list() -> Response:
        loops = runtime.loops(request.args.get("status"))
        return _json({"humanLoops": [local_view(loop, runtime.answers_required(loop)) for loop in loops]})

    @app.get("/local/human-loops/<name>")
    def local_describe(name: str) -> Response:
        loop = runtime.loop(name)
        return _json(local_view(loop, runtime.answers_required(loop)))

    @app.post("/local/human-loops/<name>/answers")
    def submit_answer(name: str) -> Response:
        loop = runtime.submit(name, _body())
        return _json(local_view(loop, runtime.answers_required(loop)))

    @app.post("/local/human-loops/<name>/failure")
    def fail_loop(name: str) -> Response:
        loop = runtime.fail(name, _body())
        return _json(local_view(loop, runtime.answers_required(loop)))

    return app
