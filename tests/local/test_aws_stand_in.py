"""The AWS stand-in process: moto on an inherited socket, with its three changes keeping moto's answers."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import jsonpath_ng.ext
import moto.core.responses
import moto.core.utils
import moto.sqs.models
import pytest
from moto import mock_aws
from moto.backends import list_of_moto_modules
from moto.core.utils import unix_time as moto_unix_time
from moto.sqs.models import SQSBackend, sqs_backends
from moto.sqs.responses import SQSResponse

from hitl.local import aws_stand_in
from hitl.local.aws_stand_in import MotoApplication, retention_check_by_period, speed_up_moto
from hitl.local.stack import AWS_STATE_FILE, start_aws_stand_in
from hitl.local.worker_process import WorkerStartError

ACCOUNT = "123456789012"
REGION = "us-east-1"


@pytest.fixture
def sped_up(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto as the stand-in runs it, restored after the test."""
    monkeypatch.setattr(jsonpath_ng.ext, "parse", jsonpath_ng.ext.parse)
    for module, name in (
        (moto.core.responses, "method_names_from_class"),
        (moto.core.responses, "camelcase_to_underscores"),
        (moto.sqs.models, "camelcase_to_underscores"),
    ):
        monkeypatch.setattr(module, name, getattr(module, name))
    monkeypatch.setattr(
        SQSBackend,
        "is_message_valid_based_on_retention_period",
        SQSBackend.is_message_valid_based_on_retention_period,
    )
    for clock in ("unix_time", "unix_time_millis"):
        monkeypatch.setattr(moto.sqs.models, clock, getattr(moto.sqs.models, clock))
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


def test_the_fast_clock_reads_as_moto_s_clock() -> None:
    moment = datetime(2026, 12, 1, 12, 30, 15, 250000)

    assert aws_stand_in.unix_time(moment) == moto_unix_time(moment)
    assert aws_stand_in.unix_time_millis(moment) == moto_unix_time(moment) * 1000
    assert abs(aws_stand_in.unix_time() - moto_unix_time()) < 0.5


@mock_aws
def test_sqs_counts_visible_in_flight_and_delayed_messages_as_before(sped_up: None) -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="counted")["QueueUrl"]
    for body in ("a", "b", "c"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=60)
    taken = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, VisibilityTimeout=60)["Messages"]
    counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]

    assert [message["Body"] for message in taken] == ["a"]
    assert (
        counts["ApproximateNumberOfMessages"],
        counts["ApproximateNumberOfMessagesNotVisible"],
        counts["ApproximateNumberOfMessagesDelayed"],
    ) == ("2", "1", "1")
    assert moto.sqs.models.unix_time is aws_stand_in.unix_time


def test_each_jsonpath_is_compiled_once(sped_up: None) -> None:
    first = jsonpath_ng.ext.parse("$.detail.image.key")

    assert jsonpath_ng.ext.parse("$.detail.image.key") is first
    assert [match.value for match in first.find({"detail": {"image": {"key": "a.jpg"}}})] == ["a.jpg"]


def test_a_response_class_methods_are_listed_once(sped_up: None, monkeypatch: pytest.MonkeyPatch) -> None:
    listings: list[object] = []
    real_getmembers = inspect.getmembers

    def counted_getmembers(*args: Any, **kwargs: Any) -> Any:
        listings.append(args[0])
        return real_getmembers(*args, **kwargs)

    monkeypatch.setattr(inspect, "getmembers", counted_getmembers)
    names = [moto.core.responses.method_names_from_class(SQSResponse) for _ in range(3)]

    assert "receive_message" in names[0] and names[1] == names[0] == names[2]
    assert listings.count(SQSResponse) == 1


def test_names_convert_to_snake_case_as_moto_converts_them(sped_up: None) -> None:
    names = ["MessageRetentionPeriod", "ReceiveMessage", "KmsDataKeyReusePeriodSeconds", "FifoQueue", ""]
    original = moto.core.utils.camelcase_to_underscores

    for module in (moto.core.responses, moto.sqs.models):
        converted = [module.camelcase_to_underscores(name) for name in names * 2]
        assert converted == [original(name) for name in names * 2]
        assert module.camelcase_to_underscores.cache_info().hits >= len(names)


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
def stand_in(tmp_path: Path) -> Iterator[str]:
    """The stand-in process exactly as `hitl local up` starts and stops it."""
    process, url = start_aws_stand_in("127.0.0.1", 0, tmp_path / "state", print)
    try:
        yield url
    finally:
        process.stop()  # closes its stdin: the stack's way of asking it to stop
        assert process.returncode == 0


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
    assert "usage: python -m hitl.local.aws_stand_in NAME FD [STATE_FILE]" in result.stderr


AWKWARD_KEYS = [
    "incoming/a b+c%20d.jpg",
    "incoming/q#hash?.jpg",
    "incoming/x%2Fy.jpg",
    "incoming/é ü~*'()!.jpg",
]


def test_boto3_keys_round_trip_exactly_as_put(stand_in: str) -> None:
    s3 = boto3.client("s3", endpoint_url=stand_in, region_name=REGION)
    s3.create_bucket(Bucket="keys")
    for key in AWKWARD_KEYS:
        s3.put_object(Bucket="keys", Key=key, Body=key.encode())

    listed = [item["Key"] for item in s3.list_objects_v2(Bucket="keys")["Contents"]]
    assert sorted(listed) == sorted(AWKWARD_KEYS)
    assert [s3.get_object(Bucket="keys", Key=key)["Body"].read() for key in AWKWARD_KEYS] == [
        key.encode() for key in AWKWARD_KEYS
    ]


def cli_environment(home: Path) -> dict[str, str]:
    """What the aws CLI needs to reach the stand-in, and nothing of the user's own configuration."""
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }


def test_aws_cli_copies_keep_their_keys_exactly(stand_in: str, tmp_path: Path) -> None:
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"jpeg bytes")
    environment = cli_environment(tmp_path)
    boto3.client("s3", endpoint_url=stand_in, region_name=REGION).create_bucket(Bucket="cli")
    for key in AWKWARD_KEYS:
        subprocess.run(
            ["aws", "--endpoint-url", stand_in, "s3", "cp", str(photo), f"s3://cli/{key}"],
            env=environment,
            check=True,
            capture_output=True,
            timeout=60,
        )
    listing = subprocess.run(
        ["aws", "--endpoint-url", stand_in, "s3api", "list-objects-v2", "--bucket", "cli"],
        env=environment,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert sorted(item["Key"] for item in json.loads(listing.stdout)["Contents"]) == sorted(AWKWARD_KEYS)


def test_a_restarted_process_serves_what_the_stopped_one_held(tmp_path: Path) -> None:
    state = tmp_path / "state"
    process, url = start_aws_stand_in("127.0.0.1", 0, state, print)
    s3 = boto3.client("s3", endpoint_url=url, region_name=REGION)
    s3.create_bucket(Bucket="kept")
    s3.put_object(Bucket="kept", Key=AWKWARD_KEYS[0], Body=b"photo")
    process.stop()

    process, url = start_aws_stand_in("127.0.0.1", 0, state, print)
    try:
        s3 = boto3.client("s3", endpoint_url=url, region_name=REGION)
        assert s3.get_object(Bucket="kept", Key=AWKWARD_KEYS[0])["Body"].read() == b"photo"
    finally:
        process.stop()
    assert (state / "logs" / "aws.log").read_text().count("state restored from") == 1


def test_a_state_file_it_cannot_load_stops_the_start_with_its_name(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / AWS_STATE_FILE).write_bytes(b"damaged")

    with pytest.raises(WorkerStartError, match=r"aws-state.pickle cannot be loaded .*move it away"):
        start_aws_stand_in("127.0.0.1", 0, state, print)
    assert (state / AWS_STATE_FILE).read_bytes() == b"damaged"


def test_a_multipart_upload_is_announced_once_as_s3_announces_it(stand_in: str, tmp_path: Path) -> None:
    """The aws CLI uploads 11 MB in parts; S3 sends one Object Created (CompleteMultipartUpload)."""
    s3 = boto3.client("s3", endpoint_url=stand_in, region_name=REGION)
    sqs = boto3.client("sqs", endpoint_url=stand_in, region_name=REGION)
    events = boto3.client("events", endpoint_url=stand_in, region_name=REGION)
    s3.create_bucket(Bucket="parts")
    s3.put_bucket_notification_configuration(
        Bucket="parts", NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    url = sqs.create_queue(QueueName="uploads")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="uploads", EventPattern=json.dumps({"source": ["aws.s3"]}))
    events.put_targets(Rule="uploads", Targets=[{"Id": "uploads", "Arn": arn}])
    big = tmp_path / "big.jpg"
    big.write_bytes(os.urandom(11 * 1024 * 1024))

    subprocess.run(
        ["aws", "--endpoint-url", stand_in, "s3", "cp", str(big), "s3://parts/incoming/big.jpg"],
        env=cli_environment(tmp_path),
        check=True,
        capture_output=True,
        timeout=120,
    )
    s3.put_object(Bucket="parts", Key="incoming/small.jpg", Body=b"small")

    bodies = [
        m["Body"]
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)["Messages"]
    ]
    created = [
        body["detail"]["object"]["key"]
        for body in map(json.loads, bodies)
        if body["detail-type"] == "Object Created"
    ]
    assert sorted(created) == ["incoming/big.jpg", "incoming/small.jpg"]


def test_conditional_writes_of_one_version_have_one_winner_under_threads(moto_server_url: str) -> None:
    """16 threads put the next version of one item on the condition that it is still the one read:
    exactly one wins each round, as on DynamoDB. moto alone let two win (3 of 40 rounds with the
    interpreter switching threads every microsecond, which makes the race show)."""
    import threading

    from moto.dynamodb.models import DynamoDBBackend

    assert all(getattr(DynamoDBBackend, w).one_at_a_time for w in aws_stand_in.DYNAMODB_WRITES)
    previous = sys.getswitchinterval()
    options = {"endpoint_url": moto_server_url, "region_name": REGION}
    options |= {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    clients = [boto3.client("dynamodb", **options) for _ in range(16)]
    table = f"race-{os.getpid()}"
    clients[0].create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    winners_per_round = []
    sys.setswitchinterval(1e-6)
    try:
        for version in range(40):
            clients[0].put_item(TableName=table, Item={"k": {"S": "x"}, "v": {"N": str(version)}})
            start, winners = threading.Barrier(len(clients)), []

            def write(client: Any, start: threading.Barrier, winners: list[Any], version: int) -> None:
                start.wait(timeout=30)
                try:
                    client.put_item(
                        TableName=table,
                        Item={"k": {"S": "x"}, "v": {"N": str(version + 1)}},
                        ConditionExpression="v = :read",
                        ExpressionAttributeValues={":read": {"N": str(version)}},
                    )
                    winners.append(client)
                except client.exceptions.ConditionalCheckFailedException:
                    pass

            threads = [threading.Thread(target=write, args=(c, start, winners, version)) for c in clients]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
            winners_per_round.append(len(winners))
    finally:
        sys.setswitchinterval(previous)
    assert winners_per_round == [1] * 40
