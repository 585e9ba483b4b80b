"""The review API's own time per request against the bare DynamoDB calls it makes (prints figures).

The real `hitl_review_service.api.handler` runs in this process, fed API Gateway HTTP API events as
the local gateway builds them: reviewers in turn ask `POST tasks/next` and answer the task served.
It reaches a task table on a moto server over loopback HTTP, as a function reaches DynamoDB. Every
DynamoDB call it makes is recorded with its parameters (botocore's events, as `call_timer` does);
right after each request the same calls are made bare, with the same parameters, against a twin
table that holds the same tasks, so each call finds the state the handler's found. Ratio = the
handler's time / the bare calls' time, per round of requests; the median round is reported.
Run: `.venv/bin/python -m benchmarks.review_api_overhead`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any
from unittest import mock

import boto3
from botocore import xform_name
from botocore.exceptions import ClientError
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from benchmarks.call_timer import CallTimer
from benchmarks.ingest_overhead import quiet_logger
from benchmarks.review_reviewers import ANSWER, CONTENT
from hitl.local.review_service.api_gateway import FUNCTION_TIMEOUT_SECONDS, http_api_event
from hitl.local.review_service.served_api import api_environment, moto_server
from hitl.local.review_service.tokens import LocalTokens, authorizer_claims
from hitl.local.worker import LocalLambdaContext
from hitl_aws.review_task_table import ReviewTaskTable
from hitl_core import review_tasks
from hitl_core.wiring import REVIEW_API_STAGE, REVIEW_TASK_TABLE
from hitl_review_service import api

ROUNDS = 5
REVIEWERS = 20
OPEN_TASKS = 200
HANDLER_TABLE = "benchmark-review-tasks"
TWIN_TABLE = "benchmark-review-tasks-bare"


def run(rounds: int = ROUNDS, reviewers: int = REVIEWERS, open_tasks: int = OPEN_TASKS) -> dict[str, Any]:
    """`rounds` rounds of `reviewers` requests for the next task (each answered), handler against bare."""
    tokens = LocalTokens(secrets.token_bytes(32), "http://127.0.0.1/local-sign-in")
    timer = CallTimer()
    with moto_server() as url, mock.patch.dict(os.environ, api_environment(url, HANDLER_TABLE)):
        session = timer.session()
        client = session.client("dynamodb")
        tables = [ReviewTaskTable(client, name) for name in (HANDLER_TABLE, TWIN_TABLE)]
        for table in tables:
            client.create_table(**REVIEW_TASK_TABLE.create_table_request(table.table_name))
        for number in range(open_tasks):
            task = review_tasks.new_task(f"t-{number:05d}", CONTENT, datetime.now(UTC))
            assert all(table.create(task) for table in tables)
        timer.take()
        api.dependencies.cache_clear()
        with mock.patch.object(boto3, "DEFAULT_SESSION", session), quiet_logger(api.logger):
            _round(tokens, client, timer, 1)  # the execution environment's first requests build its clients
            measured = [_round(tokens, client, timer, reviewers) for _ in range(rounds)]
        api.dependencies.cache_clear()
    median = sorted(measured, key=lambda figures: figures["ratio"])[len(measured) // 2]
    return {**median, "ratios": [figures["ratio"] for figures in measured], "open_tasks": open_tasks}


def _round(tokens: LocalTokens, client: Any, timer: CallTimer, reviewers: int) -> dict[str, Any]:
    handler_ms = {"next": 0.0, "answer": 0.0}
    bare_ms = {"next": 0.0, "answer": 0.0}
    operations: Counter[str] = Counter()
    for reviewer in range(reviewers):
        claims = authorizer_claims(tokens.verify(tokens.issue(f"reviewer-{reviewer}")))
        served = _request(claims, "/tasks/next", None, handler_ms, "next")
        bare_ms["next"] += _bare(client, timer, operations)
        name = json.loads(served["body"])["name"]
        _request(claims, f"/tasks/{name}/answer", ANSWER, handler_ms, "answer")
        bare_ms["answer"] += _bare(client, timer, operations)
    handler_total, bare_total = sum(handler_ms.values()), sum(bare_ms.values())
    return {
        "requests": 2 * reviewers,
        "handler_ms_per_request": round(handler_total / (2 * reviewers), 2),
        "bare_ms_per_request": round(bare_total / (2 * reviewers), 2),
        "next_handler_ms": round(handler_ms["next"] / reviewers, 2),
        "next_bare_ms": round(bare_ms["next"] / reviewers, 2),
        "answer_handler_ms": round(handler_ms["answer"] / reviewers, 2),
        "answer_bare_ms": round(bare_ms["answer"] / reviewers, 2),
        "dynamodb_calls_per_next_and_answer": {
            op: round(n / reviewers, 2) for op, n in sorted(operations.items())
        },
        "ratio": round(handler_total / bare_total, 3),
        "next_ratio": round(handler_ms["next"] / bare_ms["next"], 3),
    }


def _request(
    claims: dict[str, str], path: str, body: Any, handler_ms: dict[str, float], kind: str
) -> dict[str, Any]:
    """One request through the handler, its wall time added to `handler_ms[kind]`."""
    environ = EnvironBuilder(path=f"/{REVIEW_API_STAGE}{path}", method="POST", json=body).get_environ()
    event = http_api_event(Request(environ), claims, REVIEW_API_STAGE)
    context = LocalLambdaContext("hitl-benchmark-review-api", FUNCTION_TIMEOUT_SECONDS)
    started = time.perf_counter()
    response = api.handler(event, context)
    handler_ms[kind] += (time.perf_counter() - started) * 1000
    if response["statusCode"] != 200:
        raise RuntimeError(f"{path}: {response['statusCode']} {response.get('body')}")
    return response


def _bare(client: Any, timer: CallTimer, operations: Counter[str]) -> float:
    """The handler's DynamoDB calls of the request just made, again on the twin table: their wall
    time in ms, the client's own work included."""
    total = 0.0
    for call in timer.take():
        service, _, operation = call.operation.partition(":")
        if service != "dynamodb":
            raise RuntimeError(f"the handler called {call.operation}; the baseline replays DynamoDB only")
        operations[operation] += 1
        method = getattr(client, xform_name(operation))
        params = _on_twin(call.params)
        started = time.perf_counter()
        with contextlib.suppress(ClientError):  # a write refused on the handler's table is on the twin
            method(**params)
        total += (time.perf_counter() - started) * 1000
    timer.take()
    return total


def _on_twin(value: Any) -> Any:
    """`value` with the handler's table name replaced by the twin's, wherever it appears."""
    if isinstance(value, dict):
        return {key: _on_twin(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [_on_twin(inner) for inner in value]
    return TWIN_TABLE if value == HANDLER_TABLE else value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--reviewers", type=int, default=REVIEWERS)
    parser.add_argument("--open-tasks", type=int, default=OPEN_TASKS)
    args = parser.parse_args(argv)
    print(json.dumps(run(args.rounds, args.reviewers, args.open_tasks), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
