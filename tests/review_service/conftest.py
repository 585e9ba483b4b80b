"""Fixtures for the review service: the task table in moto, a hand-moved clock, the store, the API."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest

from hitl_aws.review_task_table import ReviewTaskTable
from hitl_core import review_tasks
from hitl_core.review_tasks import ReviewTask, ReviewTiming
from hitl_core.wiring import review_service_status_pattern
from hitl_review_service.task_store import TaskStore
from review_service.builders import (
    AVAILABILITY_SECONDS,
    BUS,
    LEASE_SECONDS,
    OUTPUT_BUCKET,
    REGION,
    SERVICE_NAME,
    TABLE,
    Clock,
    input_content,
    review_service_aws,
)

TIMING = ReviewTiming(lease_seconds=LEASE_SECONDS, availability_seconds=AVAILABILITY_SECONDS, task_count=1)


@pytest.fixture
def aws() -> Iterator[None]:
    """moto with the task table, the image and output buckets and the project bus."""
    with review_service_aws():
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


class StatusTap:
    """The status events that reach a queue through the review-service rule (the contract's pattern)."""

    def __init__(self) -> None:
        self._sqs = boto3.client("sqs", region_name=REGION)
        self.queue_url = self._sqs.create_queue(QueueName="status-tap")["QueueUrl"]
        arn = self._sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])
        events = boto3.client("events", region_name=REGION)
        events.put_rule(
            Name="review-status",
            EventBusName=BUS,
            EventPattern=json.dumps(review_service_status_pattern(SERVICE_NAME)),
        )
        events.put_targets(
            Rule="review-status",
            EventBusName=BUS,
            Targets=[{"Id": "queue", "Arn": arn["Attributes"]["QueueArn"]}],
        )

    def drain_messages(self) -> list[dict[str, Any]]:
        """The SQS messages (as the review-complete queue would hold them) since the last drain."""
        found: list[dict[str, Any]] = []
        while batch := self._sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            for message in batch:
                found.append(message)
                self._sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return found

    def drain(self) -> list[dict[str, Any]]:
        return [json.loads(m["Body"]) for m in self.drain_messages()]


@pytest.fixture
def status_tap(aws: None) -> StatusTap:
    return StatusTap()


class TableStream:
    """The task table's stream records, read with moto's DynamoDB Streams, as Lambda's event."""

    def __init__(self) -> None:
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        self._arn = dynamodb.describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]
        # botocore sends stream calls to an account-based host moto does not serve: name the regional one.
        self._streams = boto3.client(
            "dynamodbstreams",
            region_name=REGION,
            endpoint_url=f"https://streams.dynamodb.{REGION}.amazonaws.com",
        )
        shard = self._streams.describe_stream(StreamArn=self._arn)["StreamDescription"]["Shards"][0]
        self._iterator = self._streams.get_shard_iterator(
            StreamArn=self._arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]

    def event(self) -> dict[str, Any]:
        """A Lambda event holding the records since the last call."""
        response = self._streams.get_records(ShardIterator=self._iterator)
        self._iterator = response["NextShardIterator"]
        records = [{**record, "eventSourceARN": self._arn} for record in response["Records"]]
        return {"Records": json.loads(json.dumps(records, default=str))}


@pytest.fixture
def table_stream(aws: None) -> TableStream:
    return TableStream()
