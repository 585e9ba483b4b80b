"""The HTTP API stand-in: requests become payload 2.0 events with the token's claims; no valid
token, no call, as API Gateway's JWT authorizer does."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
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


def test_concurrent_requests_run_in_separate_execution_environments(tokens: LocalTokens) -> None:
    def pid(event: Any, context: Any) -> dict[str, Any]:
        time.sleep(0.3)  # each environment holds its event, so four at once need four environments
        return {
            "statusCode": 200,
            "headers": {"Content-Type": "application/json"},
            "body": json.dumps({"pid": os.getpid()}),
        }

    gateway = HttpApiGateway(pid, tokens, stage="api", environments=4)
    client = Client(DispatcherMiddleware(lambda e, s: [], {"/api": gateway}))
    seen: list[int] = []

    def call() -> None:
        seen.append(client.get("/api/tasks", headers=bearer(tokens)).json["pid"])

    try:
        threads = [threading.Thread(target=call) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    finally:
        gateway.environments.close()
    assert len(seen) == 4 and len(set(seen)) == 4 and os.getpid() not in seen


def test_fifty_reviewers_asking_for_their_next_task_at_once_never_share_one(
    tokens: LocalTokens, moto_server_url: str
) -> None:
    """The review API's handler in four execution environments on the local gateway, against a moto
    server, as `hitl local up` serves it; 50 reviewers call POST tasks/next at once for 40 tasks."""
    from hitl.local.review_service.served_api import served_review_api
    from hitl_core import review_tasks
    from hitl_core.review_tasks import TaskStatus

    headers = [bearer(tokens, name=f"reviewer-{i}") for i in range(50)]
    ready = threading.Barrier(50)
    answers: dict[int, requests.Response] = {}
    with served_review_api(moto_server_url, tokens, environments=4) as served:
        table = served.table
        start = datetime.now(UTC)
        for i in range(40):
            task = review_tasks.new_task(
                f"t-{i:02d}", '{"taskObject": "s3://b/k.jpg"}', start + timedelta(seconds=i)
            )
            assert table.create(task)

        def ask(i: int) -> None:
            ready.wait(timeout=30)
            answers[i] = requests.post(f"{served.url}/tasks/next", headers=headers[i], timeout=120)

        threads = [threading.Thread(target=ask, args=(i,)) for i in range(50)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=180)
    statuses = sorted(r.status_code for r in answers.values())
    unexpected = [r.text for r in answers.values() if r.status_code not in (200, 204)]
    assert statuses == [200] * 40 + [204] * 10, unexpected
    served_names = {i: r.json()["name"] for i, r in answers.items() if r.status_code == 200}
    assert len(set(served_names.values())) == 40, "no task served twice, none skipped while free"
    holders = {t.loop_name: t.lease_owner for t in table.all_in(TaskStatus.IN_PROGRESS)}
    assert holders == {name: reviewer_sub(f"reviewer-{i}") for i, name in served_names.items()}


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


def test_the_environments_end_when_the_process_that_forked_them_is_killed(tokens: LocalTokens) -> None:
    script = (
        "import json, os, sys\n"
        "from hitl.local.review_service.api_gateway import ExecutionEnvironments\n"
        "from hitl.local.worker import LocalLambdaContext\n"
        "envs = ExecutionEnvironments(lambda e, c: os.getpid(), 2)\n"
        "pids = {envs.invoke({}, LocalLambdaContext('f', 5)) for _ in range(20)}\n"
        "print(json.dumps(sorted(pids)), flush=True)\n"
        "sys.stdin.read()\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert parent.stdout is not None
    children = json.loads(parent.stdout.readline())
    assert children and parent.pid not in children
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 30
    while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_alive(pid) for pid in children)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        return stat.read().split()[2] != "Z"
