"""The AWS stand-in process: moto on an inherited socket, with its three changes keeping moto's answers."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import boto3
import jsonpath_ng.ext
import pytest
from moto import mock_aws
from moto.backends import list_of_moto_modules
from moto.sqs.models import SQSBackend, sqs_backends

from hitl.local import aws_stand_in
from hitl.local.aws_stand_in import MotoApplication, retention_check_by_period, speed_up_moto
from hitl.local.servers import listening_socket

ACCOUNT = "123456789012"
REGION = "us-east-1"


@pytest.fixture
def sped_up(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto as the stand-in runs it, restored after the test."""
    monkeypatch.setattr(jsonpath_ng.ext, "parse", jsonpath_ng.ext.parse)
    monkeypatch.setattr(
        SQSBackend,
        "is_message_valid_based_on_retention_period",
        SQSBackend.is_message_valid_based_on_retention_period,
    )
    speed_up_moto()


@mock_aws
def test_the_retention_check_agrees_with_moto_before_and_after_the_period(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="kept", Attributes={"MessageRetentionPeriod": "60"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="hello")
    backend = sqs_backends[ACCOUNT][REGION]
    message = backend.get_queue("kept")._messages[0]
    answers = []
    for seconds_later in (0, 59, 61, 3600):
        now = message.sent_timestamp / 1000 + seconds_later
        monkeypatch.setattr("moto.sqs.models.unix_time", lambda now=now: now)
        monkeypatch.setattr(aws_stand_in, "unix_time", lambda now=now: now)
        answers.append(
            (
                retention_check_by_period(backend, "kept", message),
                SQSBackend.is_message_valid_based_on_retention_period(backend, "kept", message),
            )
        )

    assert answers == [(True, True), (True, True), (False, False), (False, False)]


def test_each_jsonpath_is_compiled_once(sped_up: None) -> None:
    first = jsonpath_ng.ext.parse("$.detail.image.key")

    assert jsonpath_ng.ext.parse("$.detail.image.key") is first
    assert [match.value for match in first.find({"detail": {"image": {"key": "a.jpg"}}})] == ["a.jpg"]


def test_a_host_backend_is_looked_up_once(monkeypatch: pytest.MonkeyPatch) -> None:
    listings: list[int] = []

    def counted_listing() -> Any:
        listings.append(1)
        return list_of_moto_modules()

    monkeypatch.setattr("moto.moto_server.werkzeug_app.backends.list_of_moto_modules", counted_listing)
    app = MotoApplication()
    found = [app.get_backend_for_host("s3.us-east-1.amazonaws.com") for _ in range(5)]

    assert found == ["s3"] * 5
    assert len(listings) == 1


@mock_aws
def test_eventbridge_still_delivers_the_default_and_a_transformed_event(sped_up: None) -> None:
    events, sqs = boto3.client("events", region_name=REGION), boto3.client("sqs", region_name=REGION)
    queues = {}
    for name in ("whole", "transformed"):
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        queues[name] = (url, arn)
    events.put_rule(Name="all", EventPattern=json.dumps({"source": ["hitl.test"]}))
    transformer = {"InputPathsMap": {"key": "$.detail.key"}, "InputTemplate": '{"image": "<key>"}'}
    events.put_targets(
        Rule="all",
        Targets=[
            {"Id": "whole", "Arn": queues["whole"][1]},
            {"Id": "transformed", "Arn": queues["transformed"][1], "InputTransformer": transformer},
        ],
    )
    for key in ("a.jpg", "b.jpg"):
        events.put_events(
            Entries=[{"Source": "hitl.test", "DetailType": "t", "Detail": json.dumps({"key": key})}]
        )

    bodies = {
        name: [
            json.loads(m["Body"])
            for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
        ]
        for name, (url, _) in queues.items()
    }
    assert [body["detail"]["key"] for body in bodies["whole"]] == ["a.jpg", "b.jpg"]
    assert bodies["transformed"] == [{"image": "a.jpg"}, {"image": "b.jpg"}]


@pytest.fixture
def stand_in() -> Iterator[str]:
    """The stand-in process on a socket bound here, as the stack starts it."""
    with listening_socket("aws", "127.0.0.1", 0) as listener:
        host, port = listener.getsockname()[:2]
        process = subprocess.Popen(
            [sys.executable, "-m", "hitl.local.aws_stand_in", "aws", str(listener.fileno())],
            stdin=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            pass_fds=[listener.fileno()],
        )
    assert process.stderr is not None and process.stdin is not None
    try:
        assert process.stderr.readline().strip() == "[aws] ready"
        yield f"http://{host}:{port}"
    finally:
        process.stdin.close()  # the stack's way of asking it to stop
        assert process.wait(timeout=15) == 0


def test_the_process_serves_moto_until_its_stdin_closes(stand_in: str) -> None:
    sqs = boto3.client("sqs", endpoint_url=stand_in, region_name=REGION)
    url = sqs.create_queue(QueueName="served")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="hello")
    started = time.monotonic()
    received = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]

    assert [message["Body"] for message in received] == ["hello"]
    assert time.monotonic() - started < 1


def test_a_wrong_command_line_prints_the_usage() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "hitl.local.aws_stand_in", "aws"], capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 2
    assert "usage: python -m hitl.local.aws_stand_in aws FD" in result.stderr
