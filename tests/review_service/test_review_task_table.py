"""The task table: create once, replace only the version read, pages from the by-status index."""

from __future__ import annotations

import json
from dataclasses import replace

import boto3
import pytest

from hitl_aws.review_task_table import (
    TASK_CONTENT_PREFIX,
    BadPageToken,
    ReviewTaskTable,
    from_attributes,
    to_attributes,
)
from hitl_core import review_tasks
from hitl_core.review_tasks import TaskStatus
from review_service.builders import OUTPUT_BUCKET, REGION, T0, TABLE, input_content
from review_service.conftest import TIMING


def new(name: str, minutes: int = 0):
    return review_tasks.new_task(name, json.dumps(input_content()), T0.replace(minute=minutes))


def test_create_writes_a_task_once(table: ReviewTaskTable) -> None:
    task = new("cat-1")
    assert table.create(task)
    assert not table.create(replace(task, input_content='{"other": 1}'))
    assert table.get("cat-1") == task
    assert table.get("missing") is None


def test_replace_only_over_the_version_read(table: ReviewTaskTable) -> None:
    task = new("cat-1")
    table.create(task)
    first = review_tasks.claim(task, "ana", T0, review_tasks.ReviewTiming(600, 3600))
    second = review_tasks.claim(task, "ben", T0, review_tasks.ReviewTiming(600, 3600))
    assert table.replace(task.version, first)
    assert not table.replace(task.version, second)
    assert table.get("cat-1") == first


def test_pages_by_status_oldest_first_with_tokens(table: ReviewTaskTable) -> None:
    for minute, name in [(3, "c"), (1, "a"), (2, "b")]:
        table.create(new(name, minute))
    table.replace(1, review_tasks.stop(table.get("b"), "boss", T0))
    first = table.page(TaskStatus.IN_PROGRESS, limit=1)
    assert [t.loop_name for t in first.tasks] == ["a"]
    assert first.next_token is not None
    rest = table.page(TaskStatus.IN_PROGRESS, limit=5, next_token=first.next_token)
    assert [t.loop_name for t in rest.tasks] == ["c"]
    assert [t.loop_name for t in table.all_in(TaskStatus.IN_PROGRESS, page_size=1)] == ["a", "c"]
    assert [t.loop_name for t in table.all_in(TaskStatus.STOPPED)] == ["b"]
    newest = table.page(TaskStatus.IN_PROGRESS, limit=5, newest_first=True)
    assert [t.loop_name for t in newest.tasks] == ["c", "a"]


def test_unannounced_final_tasks_are_read_through_every_page(table: ReviewTaskTable) -> None:
    for minute, name in [(1, "a"), (2, "b"), (3, "c")]:
        table.create(new(name, minute))
        table.replace(1, review_tasks.stop(table.get(name), "boss", T0))

    found = table.unannounced("2000-01-01T00:00:00.000Z", page_size=1)

    assert [t.loop_name for t in found] == ["a", "b", "c"]


@pytest.mark.parametrize("token", ["not base64 !", "bnVsbA==", "e30="])
def test_a_foreign_page_token_is_refused(table: ReviewTaskTable, token: str) -> None:
    with pytest.raises(BadPageToken):
        table.page(TaskStatus.IN_PROGRESS, limit=1, next_token=token)


def test_attribute_conversion_round_trips_a_task_item() -> None:
    item = review_tasks.claim(new("x"), "ana", T0, review_tasks.ReviewTiming(600, 3600)).to_item()
    assert from_attributes(to_attributes(item)) == item | {"version": item["version"]}


def test_a_large_input_content_lives_in_s3_and_reads_back_whole(aws: None) -> None:
    """The largest InputContent A2I takes (3,145,728 characters) through create, read, replace and pages."""
    s3 = boto3.client("s3", region_name=REGION)
    table = ReviewTaskTable(boto3.client("dynamodb", region_name=REGION), TABLE, s3, OUTPUT_BUCKET)
    content = json.dumps({**input_content(), "pad": ""})
    content = content[:-2] + "x" * (3_145_728 - len(content)) + '"}'
    task = review_tasks.new_task("big-1", content, T0)

    assert table.create(task)
    assert not table.create(task)

    stored = table.get("big-1")
    assert stored is not None and stored.input_content == content and stored.input == json.loads(content)
    claimed = review_tasks.claim(stored, "ana", T0, TIMING)
    assert table.replace(stored.version, claimed)
    (listed,) = table.page(TaskStatus.IN_PROGRESS, limit=10).tasks
    assert listed.input_content == content and listed.lease_owner == "ana"
    item = boto3.client("dynamodb", region_name=REGION).get_item(
        TableName=TABLE, Key={"loop_name": {"S": "big-1"}}
    )
    assert "input_content" not in item["Item"] and len(json.dumps(item["Item"])) < 10_000
    assert s3.list_objects_v2(Bucket=OUTPUT_BUCKET, Prefix=TASK_CONTENT_PREFIX)["KeyCount"] == 1


def test_a_small_input_content_stays_in_the_item(aws: None) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    table = ReviewTaskTable(boto3.client("dynamodb", region_name=REGION), TABLE, s3, OUTPUT_BUCKET)

    assert table.create(new("cat-1"))

    assert s3.list_objects_v2(Bucket=OUTPUT_BUCKET).get("KeyCount", 0) == 0
