"""Feeding the task table's stream to a handler as Lambda's DynamoDB event source does: in order,
Lambda's record shape, partial batch failures retried from the first failed record."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest

from hitl.local.review_service.streams import StreamPoller, first_failure
from hitl_core.wiring import REVIEW_TASK_TABLE

RECORDS = [{"dynamodb": {"SequenceNumber": n}} for n in ("10", "11", "12")]


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (None, None),
        ({"batchItemFailures": []}, None),
        ({"batchItemFailures": [{"itemIdentifier": "12"}, {"itemIdentifier": "11"}]}, 1),
        ({"batchItemFailures": [{"itemIdentifier": "99"}]}, 0),
        ({"unexpected": True}, 0),
        ("nonsense", 0),
    ],
)
def test_retry_starts_at_the_first_failed_record(response: Any, expected: int | None) -> None:
    assert first_failure(response, RECORDS) == expected


class FlakyHandler:
    """Fails the second record of the first batch it sees, then succeeds."""

    def __init__(self) -> None:
        self.batches: list[list[dict[str, Any]]] = []

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        records = event["Records"]
        self.batches.append(records)
        if len(self.batches) == 1 and len(records) > 1:
            return {"batchItemFailures": [{"itemIdentifier": records[1]["dynamodb"]["SequenceNumber"]}]}
        return {"batchItemFailures": []}


def test_changes_reach_the_handler_in_order_and_failures_are_retried(
    moto_server_url: str,
) -> None:
    dynamodb = boto3.client("dynamodb", endpoint_url=moto_server_url)
    table = f"tasks-{uuid.uuid4().hex[:8]}"
    arn = dynamodb.create_table(**REVIEW_TASK_TABLE.create_table_request(table))["TableDescription"][
        "LatestStreamArn"
    ]
    for name in ("a", "b", "c"):
        item = {"loop_name": {"S": name}, "status": {"S": "InProgress"}, "created_at": {"S": "2026"}}
        dynamodb.put_item(TableName=table, Item=item)
    dynamodb.update_item(
        TableName=table,
        Key={"loop_name": {"S": "a"}},
        UpdateExpression="SET #s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": {"S": "Completed"}},
    )
    handler, lines = FlakyHandler(), []
    poller = StreamPoller(
        handler,
        boto3.client("dynamodbstreams", endpoint_url=moto_server_url),
        arn,
        "outbox",
        lines.append,
        first_retry_seconds=0.0,
    )

    while poller.poll_once():
        pass

    first, retried = handler.batches[0], handler.batches[1]
    assert [(r["eventName"], r["dynamodb"]["Keys"]["loop_name"]["S"]) for r in first] == [
        ("INSERT", "a"),
        ("INSERT", "b"),
        ("INSERT", "c"),
        ("MODIFY", "a"),
    ]
    assert retried == first[1:]
    assert len(handler.batches) == 2
    modify = first[3]
    assert modify["eventSource"] == "aws:dynamodb" and modify["eventSourceARN"] == arn
    assert modify["dynamodb"]["OldImage"]["status"] == {"S": "InProgress"}
    assert modify["dynamodb"]["NewImage"]["status"] == {"S": "Completed"}
    assert isinstance(modify["dynamodb"]["ApproximateCreationDateTime"], int)
    assert "1 done, 3 retried" in lines[0] and lines[1].endswith("done")


class Recorder:
    """Takes every batch and records its keys."""

    def __init__(self) -> None:
        self.keys: list[str] = []

    def __call__(self, event: dict[str, Any], context: Any) -> None:
        self.keys += [r["dynamodb"]["Keys"]["loop_name"]["S"] for r in event["Records"]]


def test_a_poller_started_again_on_its_checkpoint_carries_on_where_the_last_one_stopped(
    moto_server_url: str, tmp_path: Path
) -> None:
    """As Lambda's event source mapping keeps its position: a restarted stack does not re-send."""
    dynamodb = boto3.client("dynamodb", endpoint_url=moto_server_url)
    streams = boto3.client("dynamodbstreams", endpoint_url=moto_server_url)
    table = f"tasks-{uuid.uuid4().hex[:8]}"
    arn = dynamodb.create_table(**REVIEW_TASK_TABLE.create_table_request(table))["TableDescription"][
        "LatestStreamArn"
    ]

    def put(name: str) -> None:
        item = {"loop_name": {"S": name}, "status": {"S": "InProgress"}, "created_at": {"S": "2026"}}
        dynamodb.put_item(TableName=table, Item=item)

    def drain(checkpoint: Path) -> list[str]:
        handler = Recorder()
        poller = StreamPoller(handler, streams, arn, "outbox", print, checkpoint=checkpoint)
        while poller.poll_once():
            pass
        return handler.keys

    checkpoint = tmp_path / "outbox-checkpoint.json"
    put("a")
    put("b")
    assert drain(checkpoint) == ["a", "b"]
    put("c")

    assert drain(checkpoint) == ["c"]
    assert drain(checkpoint) == []
    assert drain(tmp_path / "another.json") == ["a", "b", "c"]
