"""moto's state saved and loaded whole: what a user sees after a restart is what was there before."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import moto
import pytest
from moto import mock_aws
from moto.backends import get_backend

from hitl.local.aws_state import StateUnreadable, restore_state, save_state

REGION = "us-east-1"
ACCOUNT = "123456789012"
VISIBILITY_SECONDS = 5
"""The claimed message's timeout: long enough that a busy machine still sees it in flight after the
restart, short enough to wait out."""


def clients() -> dict[str, Any]:
    return {name: boto3.client(name, region_name=REGION) for name in ("s3", "sqs", "events", "dynamodb")}


@pytest.fixture
def saved(tmp_path: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    """A world of every kind the stack keeps, saved to a file and then forgotten by moto."""
    path = tmp_path / "aws-state.pickle"
    with mock_aws():
        aws = clients()
        s3, sqs, events, dynamodb = aws["s3"], aws["sqs"], aws["events"], aws["dynamodb"]
        s3.create_bucket(Bucket="photos")
        s3.put_bucket_versioning(Bucket="photos", VersioningConfiguration={"Status": "Enabled"})
        first = s3.put_object(Bucket="photos", Key="incoming/a b%20.jpg", Body=b"first")["VersionId"]
        second = s3.put_object(Bucket="photos", Key="incoming/a b%20.jpg", Body=b"second")["VersionId"]
        url = sqs.create_queue(QueueName="ingest")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        for body in ("claimed", "waiting"):
            sqs.send_message(QueueUrl=url, MessageBody=body)
        claimed = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=1, VisibilityTimeout=VISIBILITY_SECONDS
        )["Messages"]
        claimed_at = time.monotonic()
        events.put_rule(Name="uploads", EventPattern=json.dumps({"source": ["aws.s3"]}))
        events.put_targets(Rule="uploads", Targets=[{"Id": "ingest", "Arn": arn}])
        dynamodb.create_table(
            TableName="tasks",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        dynamodb.put_item(TableName="tasks", Item={"pk": {"S": "task-1"}, "status": {"S": "InProgress"}})
        save_state(path)
        stream = dynamodb.describe_table(TableName="tasks")["Table"]["LatestStreamArn"]
        facts = {
            "url": url,
            "versions": (first, second),
            "claimed": claimed[0]["Body"],
            "claimed_at": claimed_at,
            "stream": stream,
        }
    with mock_aws():
        yield path, facts


def test_objects_come_back_with_every_version_and_its_body(saved: tuple[Path, dict[str, Any]]) -> None:
    path, facts = saved
    assert restore_state(path)
    s3 = clients()["s3"]
    first, second = facts["versions"]
    key = "incoming/a b%20.jpg"

    versions = s3.list_object_versions(Bucket="photos")["Versions"]
    assert sorted(v["VersionId"] for v in versions) == sorted([first, second])
    assert s3.get_object(Bucket="photos", Key=key, VersionId=first)["Body"].read() == b"first"
    assert s3.get_object(Bucket="photos", Key=key)["Body"].read() == b"second"
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["photos"]


def test_queued_and_in_flight_messages_keep_their_state(saved: tuple[Path, dict[str, Any]]) -> None:
    path, facts = saved
    restore_state(path)
    sqs = clients()["sqs"]

    counts = sqs.get_queue_attributes(QueueUrl=facts["url"], AttributeNames=["All"])["Attributes"]
    assert (counts["ApproximateNumberOfMessages"], counts["ApproximateNumberOfMessagesNotVisible"]) == (
        "1",
        "1",
    )
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=facts["url"])["Messages"]] == ["waiting"]
    # The claimed message's visibility timeout runs from its claim, before the restart.
    time.sleep(max(0.0, facts["claimed_at"] + VISIBILITY_SECONDS + 0.1 - time.monotonic()))
    again = sqs.receive_message(QueueUrl=facts["url"], AttributeNames=["ApproximateReceiveCount"])["Messages"]
    assert [(m["Body"], m["Attributes"]["ApproximateReceiveCount"]) for m in again] == [
        (facts["claimed"], "2")
    ]


def test_rules_route_to_their_targets_and_items_and_streams_are_kept(
    saved: tuple[Path, dict[str, Any]],
) -> None:
    path, facts = saved
    restore_state(path)
    aws = clients()
    aws["events"].put_events(Entries=[{"Source": "aws.s3", "DetailType": "Object Created", "Detail": "{}"}])

    routed = aws["sqs"].receive_message(QueueUrl=facts["url"], MaxNumberOfMessages=10)["Messages"]
    # The fixture's own messages ("claimed" is visible again once its timeout passed) aside.
    plain = {"waiting", "claimed"}
    assert [json.loads(m["Body"]).get("source") for m in routed if m["Body"] not in plain] == ["aws.s3"]
    item = aws["dynamodb"].get_item(TableName="tasks", Key={"pk": {"S": "task-1"}})["Item"]
    assert item["status"] == {"S": "InProgress"}
    table = get_backend("dynamodb")[ACCOUNT][REGION].tables["tasks"]
    assert aws["dynamodb"].describe_table(TableName="tasks")["Table"]["LatestStreamArn"] == facts["stream"]
    assert [record.record["eventName"] for record in table.stream_shard.items] == ["INSERT"]


def test_no_file_is_no_state_and_a_file_from_another_moto_is_refused(
    tmp_path: Path, saved: tuple[Path, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, _ = saved
    assert restore_state(tmp_path / "absent.pickle") is False
    monkeypatch.setattr(moto, "__version__", "0.0.1")

    with pytest.raises(StateUnreadable, match=r"saved by moto .*, this is moto 0\.0\.1"):
        restore_state(path)
    (tmp_path / "damaged.pickle").write_bytes(b"not a pickle")
    with pytest.raises(StateUnreadable, match=r"damaged\.pickle cannot be loaded"):
        restore_state(tmp_path / "damaged.pickle")
