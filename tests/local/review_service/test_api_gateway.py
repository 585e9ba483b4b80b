"""The HTTP API stand-in: requests become payload 2.0 events with the token's claims; no valid
token, no call, as API Gateway's JWT authorizer does."""

from __future__ import annotations

import base64
import json
import threading
import time
from typing import Any

import pytest
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.test import Client

from hitl.local.review_service.api_gateway import HttpApiGateway
from hitl.local.review_service.tokens import ADMIN_GROUP, REVIEWER_GROUP, LocalTokens, reviewer_sub


class Recorder:
    """A handler that records its events and answers with a fixed payload 2.0 response."""

    def __init__(self, response: Any = None) -> None:
        self.events: list[dict[str, Any]] = []
        self.response = response or {"statusCode": 201, "headers": {"X-Seen": "yes"}, "body": '{"ok": true}'}

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        self.events.append(event)
        assert context.get_remaining_time_in_millis() > 0
        return self.response


def mounted(handler: Any, tokens: LocalTokens) -> Client:
    def nothing(environ: Any, start_response: Any) -> list[bytes]:
        start_response("404 Not Found", [])
        return [b""]

    return Client(DispatcherMiddleware(nothing, {"/api": HttpApiGateway(handler, tokens, stage="api")}))


def bearer(tokens: LocalTokens, name: str = "ana", groups: tuple[str, ...] = (REVIEWER_GROUP,)) -> dict:
    return {"Authorization": f"Bearer {tokens.issue(name, groups)}"}


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer nonsense"}, {"Authorization": "Basic YTpi"}, {"Authorization": "Bearer "}],
)
def test_requests_without_a_valid_token_never_reach_the_function(
    tokens: LocalTokens, headers: dict[str, str]
) -> None:
    handler = Recorder()
    reply = mounted(handler, tokens).get("/api/tasks", headers=headers)
    assert reply.status_code == 401
    assert reply.json == {"message": "Unauthorized"}
    assert handler.events == []
    # As API Gateway's authorizer: no CORS headers, so a cross-origin page sees a network error.
    assert not [name for name, _ in reply.headers.items() if name.lower().startswith("access-control-")]


def test_a_token_from_another_stack_is_refused(tokens: LocalTokens) -> None:
    handler = Recorder()
    other = LocalTokens(b"o" * 32, tokens.issuer)
    reply = mounted(handler, tokens).get(
        "/api/tasks", headers={"Authorization": f"Bearer {other.issue('ana')}"}
    )
    assert reply.status_code == 401 and handler.events == []


def test_the_event_is_payload_format_2_with_the_claims(tokens: LocalTokens) -> None:
    handler = Recorder()
    reply = mounted(handler, tokens).post(
        "/api/tasks/loop-1/answer?x=1&x=2",
        json={"answerContent": {}},
        headers=bearer(tokens, "ana", (REVIEWER_GROUP, ADMIN_GROUP)),
    )
    assert reply.status_code == 201
    assert reply.headers["X-Seen"] == "yes" and json.loads(reply.text) == {"ok": True}
    event = handler.events[0]
    assert event["version"] == "2.0"
    # A named stage stays in the path the function gets; Powertools' resolver strips it.
    assert event["rawPath"] == event["requestContext"]["http"]["path"] == "/api/tasks/loop-1/answer"
    assert event["requestContext"]["stage"] == "api"
    assert event["rawQueryString"] == "x=1&x=2"
    assert event["queryStringParameters"] == {"x": "1,2"}
    assert event["requestContext"]["http"]["method"] == "POST"
    assert event["headers"]["content-type"] == "application/json"
    assert json.loads(event["body"]) == {"answerContent": {}}
    assert event["isBase64Encoded"] is False
    claims = event["requestContext"]["authorizer"]["jwt"]["claims"]
    assert claims["sub"] == reviewer_sub("ana")
    assert claims["iss"] == tokens.issuer
    assert claims["cognito:groups"] == f"[{REVIEWER_GROUP} {ADMIN_GROUP}]"
    assert claims["email"] == "ana@reviewers.local"


def test_a_binary_body_arrives_base64_encoded(tokens: LocalTokens) -> None:
    handler = Recorder()
    mounted(handler, tokens).post(
        "/api/upload", data=b"\x00\xff", headers={**bearer(tokens), "Content-Type": "image/png"}
    )
    event = handler.events[0]
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\x00\xff"


def test_a_function_that_raises_gives_a_500_and_a_plain_result_a_json_200(tokens: LocalTokens) -> None:
    def broken(event: Any, context: Any) -> Any:
        raise RuntimeError("boom")

    reply = mounted(broken, tokens).get("/api/tasks", headers=bearer(tokens))
    assert reply.status_code == 500 and reply.json == {"message": "Internal Server Error"}
    plain = mounted(Recorder(response={"hello": "world"}), tokens).get("/api/tasks", headers=bearer(tokens))
    assert plain.status_code == 200 and plain.json == {"hello": "world"}


def test_powertools_http_resolver_routes_the_events(tokens: LocalTokens) -> None:
    resolver = APIGatewayHttpResolver()

    @resolver.get("/tasks/<name>")
    def task(name: str) -> dict[str, Any]:
        event = resolver.current_event
        claims = event.request_context.authorizer.jwt_claim
        return {"name": name, "status": event.get_query_string_value("status"), "sub": claims["sub"]}

    reply = mounted(resolver.resolve, tokens).get(
        "/api/tasks/a-loop?status=Completed", headers=bearer(tokens)
    )
    assert reply.status_code == 200
    assert reply.json == {"name": "a-loop", "status": "Completed", "sub": reviewer_sub("ana")}


def test_the_function_handles_one_event_at_a_time_as_in_one_execution_environment(
    tokens: LocalTokens,
) -> None:
    inside, overlaps = [0], []

    def slow(event: Any, context: Any) -> dict[str, Any]:
        inside[0] += 1
        overlaps.append(inside[0])
        time.sleep(0.05)
        inside[0] -= 1
        return {"statusCode": 200, "body": "{}"}

    client = mounted(slow, tokens)
    threads = [
        threading.Thread(target=client.get, args=("/api/tasks",), kwargs={"headers": bearer(tokens)})
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert overlaps == [1, 1, 1, 1]
