"""Fixtures for the review service: the task table in moto, a hand-moved clock, the store, the API."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from hitl_aws.review_task_table import ReviewTaskTable
from hitl_core import review_tasks
from hitl_core.review_tasks import ReviewTask, ReviewTiming
from hitl_core.wiring import REVIEW_TASK_TABLE
from hitl_review_service.task_store import TaskStore
from review_service.builders import (
    AVAILABILITY_SECONDS,
    BUS,
    IMAGE_BUCKET,
    LEASE_SECONDS,
    OUTPUT_BUCKET,
    REGION,
    SERVICE_NAME,
    TABLE,
    Clock,
    input_content,
)

TIMING = ReviewTiming(lease_seconds=LEASE_SECONDS, availability_seconds=AVAILABILITY_SECONDS, task_count=1)


@pytest.fixture
def aws() -> Iterator[None]:
    """moto with the task table, the image and output buckets and the project bus."""
    with mock_aws():
        boto3.client("dynamodb", region_name=REGION).create_table(
            **REVIEW_TASK_TABLE.create_table_request(TABLE)
        )
        s3 = boto3.client("s3", region_name=REGION)
        for bucket in (IMAGE_BUCKET, OUTPUT_BUCKET):
            s3.create_bucket(Bucket=bucket)
        boto3.client("events", region_name=REGION).create_event_bus(Name=BUS)
        yield


@pytest.fixture
def table(aws: None) -> ReviewTaskTable:
    return ReviewTaskTable(boto3.client("dynamodb", region_name=REGION), TABLE)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(table: ReviewTaskTable, clock: Clock) -> TaskStore:
    return TaskStore(table, TIMING, clock)


@pytest.fixture
def add_task(table: ReviewTaskTable, clock: Clock) -> Callable[..., ReviewTask]:
    """Create a task as ingest does, at the clock's time."""

    def add(name: str = "cat-0001", image: str = "cat.jpg") -> ReviewTask:
        task = review_tasks.new_task(name, json.dumps(input_content(image)), clock())
        assert table.create(task)
        return task

    return add


@pytest.fixture
def service_env(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Set the service functions' environment (contract names), overriding any of them."""

    def configure(**overrides: Any) -> None:
        env = {
            "REVIEW_TASKS_TABLE": TABLE,
            "REVIEW_OUTPUT_BUCKET": OUTPUT_BUCKET,
            "REVIEW_OUTPUT_PREFIX": "review-output/",
            "EVENT_BUS_NAME": BUS,
            "REVIEW_TASK_COUNT": "1",
            "REVIEW_TASK_TIME_LIMIT_SECONDS": str(LEASE_SECONDS),
            "REVIEW_TASK_AVAILABILITY_SECONDS": str(AVAILABILITY_SECONDS),
            "REVIEW_SERVICE_NAME": SERVICE_NAME,
        } | {k: str(v) for k, v in overrides.items()}
        for name, value in env.items():
            monkeypatch.setenv(name, value)

    return configure


class FakeLambdaContext:
    function_name = "review-api"
    memory_limit_in_mb = 256
    invoked_function_arn = f"arn:aws:lambda:{REGION}:123456789012:function:review-api"
    aws_request_id = "request-1"


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


@pytest.fixture
def call_api(
    service_env: Callable[..., None],
    aws: None,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
    lambda_context: FakeLambdaContext,
) -> Callable[..., tuple[int, Any]]:
    """Call the API handler with an HTTP API event; returns (status code, parsed body)."""
    from hitl_review_service import api

    service_env()
    deps = api.ApiDependencies.from_env(os.environ, clock)
    monkeypatch.setattr(api, "dependencies", lambda: deps)

    def call(event: dict[str, Any]) -> tuple[int, Any]:
        response = api.handler(event, lambda_context)
        return response["statusCode"], json.loads(response["body"]) if response.get("body") else None

    return call
