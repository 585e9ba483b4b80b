"""Fixtures for the local A2I runtime: moto-backed S3/EventBridge/SQS, a flow of its own per test,
the runtime served on a loopback port, and a boto3 `sagemaker-a2i-runtime` client for it.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from flask import Flask

from hitl.local.a2i import (
    DETAIL_TYPE,
    EVENT_SOURCE,
    EventBridgeEmitter,
    FlowDefinition,
    LoopStore,
    S3OutputWriter,
    create_a2i_app,
)
from hitl.local.servers import BackgroundServer as Served
from hitl_core.detections import Box, Detection, ImageDetections, ImageSize
from hitl_core.human_loop import build_input_content, serialize_input_content

REGION = "us-east-1"
ACCOUNT = "123456789012"


@dataclass
class AwsClients:
    s3: Any
    events: Any
    sqs: Any


@pytest.fixture
def aws(moto_server_url: str) -> AwsClients:
    def client(service: str) -> Any:
        return boto3.client(service, endpoint_url=moto_server_url, region_name=REGION)

    return AwsClients(s3=client("s3"), events=client("events"), sqs=client("sqs"))


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:12]


@pytest.fixture
def output_bucket(aws: AwsClients, unique: str) -> str:
    bucket = f"a2i-output-{unique}"
    aws.s3.create_bucket(Bucket=bucket)
    return bucket


@pytest.fixture
def flow(output_bucket: str, unique: str) -> FlowDefinition:
    """A flow definition only this test uses, so its events and listings are its own."""
    return FlowDefinition(
        arn=f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:flow-definition/a2i-test-{unique}",
        output_path=f"s3://{output_bucket}/a2i-output/",
    )


@dataclass
class EventQueue:
    """An SQS queue behind a default-bus rule matching A2I status events of one flow."""

    sqs: Any
    url: str

    def receive(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """At least `count` events (fewer if `timeout` passes first), as EventBridge delivered them."""
        events: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while len(events) < count and time.monotonic() < deadline:
            reply = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            for message in reply.get("Messages", []):
                events.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])
        return events


@pytest.fixture
def event_queue(aws: AwsClients, flow: FlowDefinition, unique: str) -> Iterator[EventQueue]:
    url = aws.sqs.create_queue(QueueName=f"a2i-events-{unique}")["QueueUrl"]
    arn = aws.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rule = f"a2i-status-{unique}"
    pattern = {
        "source": [EVENT_SOURCE],
        "detail-type": [DETAIL_TYPE],
        "detail": {"flowDefinitionArn": [flow.arn]},
    }
    aws.events.put_rule(Name=rule, EventPattern=json.dumps(pattern))
    aws.events.put_targets(Rule=rule, Targets=[{"Id": "queue", "Arn": arn}])
    yield EventQueue(aws.sqs, url)
    aws.events.remove_targets(Rule=rule, Ids=["queue"])
    aws.events.delete_rule(Name=rule)
    aws.sqs.delete_queue(QueueUrl=url)


@pytest.fixture
def serve() -> Iterator[Callable[[Flask], Served]]:
    running: list[Served] = []

    def start(app: Flask) -> Served:
        running.append(Served("a2i-under-test", app, "127.0.0.1", 0))
        return running[-1]

    yield start
    for served in running:
        served.stop()


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "a2i-state"


@pytest.fixture
def make_app(aws: AwsClients, flow: FlowDefinition, state_dir: Path) -> Iterator[Callable[..., Flask]]:
    """Builds the runtime's app on `state_dir` (the same folder each time: a restart)."""
    stores: list[LoopStore] = []

    def build(emitter: Any = None, writer: Any = None, **options: Any) -> Flask:
        stores.append(LoopStore(state_dir))
        return create_a2i_app(
            stores[-1],
            writer or S3OutputWriter(aws.s3),
            emitter or EventBridgeEmitter(aws.events),
            flow_definitions=[options.pop("flow", flow)],
            **options,
        )

    yield build
    for store in stores:
        store.close()


@pytest.fixture
def runtime_url(make_app: Callable[..., Flask], serve: Callable[[Flask], Served]) -> str:
    return serve(make_app()).url


def a2i_client(url: str) -> Any:
    return boto3.client("sagemaker-a2i-runtime", endpoint_url=url, region_name=REGION)


@pytest.fixture
def a2i(runtime_url: str) -> Any:
    return a2i_client(runtime_url)


@pytest.fixture
def input_content() -> dict[str, Any]:
    """InputContent as the ingest function builds it: a cat and a dog proposed on a 640x480 photo."""
    size = ImageSize(640, 480)
    shown = ImageDetections(
        size,
        (
            Detection("cat", 0.62, Box(10, 20, 200, 150)),
            Detection("dog", 0.41, Box(300, 100, 120, 90)),
        ),
    )
    return build_input_content(
        task_object="s3://input-bucket/incoming/pets.jpg",
        shown=shown,
        labels=["person", "cat", "dog"],
        source={"bucket": "input-bucket", "key": "incoming/pets.jpg", "version": "v1"},
        model={"endpoint": "hitl-local"},
    )


@pytest.fixture
def start_loop(a2i: Any, flow: FlowDefinition, input_content: dict[str, Any]) -> Callable[..., str]:
    """Starts a loop of `flow` with the sample InputContent; returns its name."""

    def start(name: str, content: dict[str, Any] | None = None) -> str:
        a2i.start_human_loop(
            HumanLoopName=name,
            FlowDefinitionArn=flow.arn,
            HumanLoopInput={"InputContent": serialize_input_content(content or input_content)},
        )
        return name

    return start
