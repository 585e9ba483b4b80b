"""A local stand-in for an API Gateway HTTP API with a JWT authorizer in front of one Lambda.

Each HTTP request becomes the payload format 2.0 event the function gets on AWS, with the
verified token's claims at `requestContext.authorizer.jwt.claims`; a request without a valid
bearer token gets API Gateway's 401, without CORS headers, and never reaches the function. Mounted
at `/STAGE`, it answers as a named stage does: the stage stays in `rawPath` and `http.path`.
Concurrent requests go to separate execution environments (forked processes), as Lambda runs them,
so races between reviewers are real races.
"""

from __future__ import annotations

import base64
import json
import multiprocessing
import os
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from werkzeug.wrappers import Request, Response

from hitl.local.review_service.tokens import InvalidToken, LocalTokens, authorizer_claims
from hitl.local.worker import ACCOUNT, Handler, LocalLambdaContext

API_ID = "local"
FUNCTION_TIMEOUT_SECONDS = 29
PARENT_CHECK_SECONDS = 1.0
TEXT_TYPES = ("application/json", "application/x-www-form-urlencoded", "text/")


def _joined(pairs: Iterable[tuple[str, str]], lower: bool = False) -> dict[str, str]:
    """Repeated names joined with commas, as payload 2.0 does for headers and query strings."""
    joined: dict[str, str] = {}
    for name, value in pairs:
        key = name.lower() if lower else name
        joined[key] = f"{joined[key]},{value}" if key in joined else value
    return joined


def http_api_event(request: Request, claims: dict[str, str], stage: str = "$default") -> dict[str, Any]:
    """The payload format 2.0 event for `request` (its path from the stage's mount point on), as
    authorized with `claims`."""
    now = time.time()
    path = request.root_path + request.path
    headers = _joined(request.headers.items(), lower=True)
    body = request.get_data()
    content_type = request.headers.get("Content-Type", "")
    is_text = not body or content_type.startswith(TEXT_TYPES)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": request.query_string.decode(),
        "headers": headers,
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": API_ID,
            "authorizer": {"jwt": {"claims": claims, "scopes": None}},
            "domainName": request.host,
            "domainPrefix": request.host.split(".", 1)[0],
            "http": {
                "method": request.method,
                "path": path,
                "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
                "sourceIp": request.remote_addr or "127.0.0.1",
                "userAgent": request.headers.get("User-Agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": stage,
            "time": datetime.fromtimestamp(now, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": not is_text,
    }
    if request.cookies:
        event["cookies"] = [f"{name}={value}" for name, value in request.cookies.items()]
    if request.args:
        event["queryStringParameters"] = _joined(request.args.items(multi=True))
    if body:
        event["body"] = body.decode() if is_text else base64.b64encode(body).decode()
    return event


def http_response(result: Any) -> Response:
    """The HTTP response API Gateway makes of the function's result (payload format 2.0)."""
    if not isinstance(result, dict) or "statusCode" not in result:
        return Response(json.dumps(result), status=200, content_type="application/json")
    body = result.get("body") or ""
    data = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode()
    response = Response(data, status=int(result["statusCode"]))
    for name, value in (result.get("headers") or {}).items():
        response.headers[name] = str(value)
    for name, values in (result.get("multiValueHeaders") or {}).items():
        for value in values:
            response.headers.add(name, str(value))
    for cookie in result.get("cookies") or []:
        response.headers.add("Set-Cookie", cookie)
    return response


_LOADED: dict[int, Handler] = {}
"""Handlers by environment pool, set before the fork so each forked environment holds its own copy."""


def _invoke(pool: int, event: dict[str, Any], context: LocalLambdaContext) -> Any:
    return _LOADED[pool](event, context)


def _end_with(parent: int) -> None:
    """In each environment: exit once the process that forked it is gone (even killed outright)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


class ExecutionEnvironments:
    """`count` forked processes with the handler loaded, each taking one event at a time (handlers and
    Powertools' resolver keep per-invocation state in module globals, as in one Lambda environment)."""

    def __init__(self, handler: Handler, count: int) -> None:
        if count < 1:
            raise ValueError("at least one execution environment")
        self._key = id(self)
        _LOADED[self._key] = handler
        self._pool = multiprocessing.get_context("fork").Pool(count, _end_with, (os.getpid(),))

    def invoke(self, event: dict[str, Any], context: LocalLambdaContext) -> Any:
        return self._pool.apply(_invoke, (self._key, event, context))

    def close(self) -> None:
        self._pool.terminate()
        self._pool.join()
        _LOADED.pop(self._key, None)


def _message(status: int, message: str, **headers: str) -> Response:
    return Response(
        json.dumps({"message": message}), status=status, content_type="application/json", headers=headers
    )


class HttpApiGateway:
    """A WSGI app: every request is authorized with `tokens`, then handed to `handler` as an event.

    With `environments` 1 the handler runs in this process, one event at a time, as in one Lambda
    execution environment; with more, in that many forked environments, concurrently.
    """

    def __init__(
        self,
        handler: Handler,
        tokens: LocalTokens,
        function_name: str = "hitl-local-review-api",
        stage: str = "$default",
        environments: int = 1,
    ) -> None:
        self._handler = handler
        self._tokens = tokens
        self._stage = stage
        self._function_name = function_name
        self._one_at_a_time = threading.Lock()
        self.environments = ExecutionEnvironments(handler, environments) if environments > 1 else None

    def _claims(self, request: Request) -> dict[str, str] | None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        try:
            return authorizer_claims(self._tokens.verify(token.strip()))
        except InvalidToken:
            return None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        claims = self._claims(request)
        if claims is None:
            response = _message(401, "Unauthorized", **{"WWW-Authenticate": "Bearer"})
        else:
            context = LocalLambdaContext(self._function_name, FUNCTION_TIMEOUT_SECONDS)
            event = http_api_event(request, claims, self._stage)
            try:
                if self.environments is not None:
                    result = self.environments.invoke(event, context)
                else:
                    with self._one_at_a_time:
                        result = self._handler(event, context)
                response = http_response(result)
            except Exception:
                print(traceback.format_exc(), file=sys.stderr, flush=True)
                response = _message(500, "Internal Server Error")
        return response(environ, start_response)
