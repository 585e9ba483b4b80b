"""The review API as `hitl local up` serves it: the real handler in forked execution environments
behind the HTTP API stand-in, against a task table on a moto server. Shared by the concurrency
test and the reviewers benchmark."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from unittest import mock

import boto3
from moto.server import ThreadedMotoServer
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from hitl.local.aws_stand_in import serialize_dynamodb_writes
from hitl.local.review_service.api_gateway import HttpApiGateway
from hitl.local.review_service.tokens import LocalTokens
from hitl.local.servers import BackgroundServer
from hitl_aws.review_task_table import ReviewTaskTable
from hitl_core.wiring import REVIEW_API_STAGE, REVIEW_TASK_TABLE
from hitl_review_service import api

REGION = "us-east-1"


def api_environment(moto_server_url: str, table_name: str) -> dict[str, str]:
    """The review API function's environment against `moto_server_url`: one answer completes a task."""
    return {
        "AWS_ENDPOINT_URL": moto_server_url,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "REVIEW_TASKS_TABLE": table_name,
        "REVIEW_TASK_COUNT": "1",
        "REVIEW_TASK_TIME_LIMIT_SECONDS": "600",
        "REVIEW_TASK_AVAILABILITY_SECONDS": "3600",
    }


@contextmanager
def moto_server() -> Iterator[str]:
    """A moto server on a free loopback port, its conditional writes atomic under threads as the
    local stack's are; yields its URL."""
    serialize_dynamodb_writes()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@dataclass(frozen=True)
class ServedApi:
    """Where the API answers (its stage's URL) and the task table behind it."""

    url: str
    table: ReviewTaskTable


@contextmanager
def served_review_api(
    moto_server_url: str, tokens: LocalTokens, environments: int = 4
) -> Iterator[ServedApi]:
    """A fresh task table and the API serving it from `environments` execution environments on a
    loopback port, with this process's environment set as the function's while it runs."""
    table_name = f"tasks-{uuid.uuid4().hex[:8]}"
    with mock.patch.dict(os.environ, api_environment(moto_server_url, table_name)):
        dynamodb = boto3.client("dynamodb")
        dynamodb.create_table(**REVIEW_TASK_TABLE.create_table_request(table_name))
        api.dependencies.cache_clear()
        gateway = HttpApiGateway(api.handler, tokens, stage=REVIEW_API_STAGE, environments=environments)
        site = DispatcherMiddleware(lambda e, s: [], {f"/{REVIEW_API_STAGE}": gateway})
        try:
            with BackgroundServer("review-api", site, "127.0.0.1", 0) as server:
                yield ServedApi(f"{server.url}/{REVIEW_API_STAGE}", ReviewTaskTable(dynamodb, table_name))
        finally:
            if gateway.environments is not None:
                gateway.environments.close()
            api.dependencies.cache_clear()
