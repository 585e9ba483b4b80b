"""The built-in review service's task table in DynamoDB: create once, read, replace only the version read.

Shared by ingest (which creates tasks) and the review service's functions. Every write is
conditional, so a redelivered image never makes a second task and two reviewers never both
change the same version of a task. DynamoDB refuses items over 400 KB, and A2I takes InputContent
up to 3,145,728 characters: a large InputContent is kept in S3 and the item holds its address.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from hitl_aws.s3_uri import parse_s3_uri, s3_uri
from hitl_core.review_budget import BudgetWindow
from hitl_core.review_tasks import FINAL_STATUSES, QUEUE_OPEN, ReviewTask, TaskStatus
from hitl_core.wiring import REVIEW_TASK_TABLE

_CONDITION_FAILED = "ConditionalCheckFailedException"
_ITEM_CONDITION_FAILED = "ConditionalCheckFailed"
"""A transaction's cancellation reason code for an item whose condition failed."""
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()
INLINE_INPUT_CONTENT_BYTES = 100_000
"""Larger InputContent goes to S3: with answers and the audit trail the item stays far below 400 KB."""
TASK_CONTENT_PREFIX = "review-tasks/"


class BadPageToken(ValueError):
    """A `nextToken` this table did not hand out."""


def to_attributes(item: dict[str, Any]) -> dict[str, Any]:
    """Plain values as DynamoDB attribute values."""
    return {key: _serializer.serialize(value) for key, value in item.items()}


def from_attributes(attributes: dict[str, Any]) -> dict[str, Any]:
    """DynamoDB attribute values (a stream image or a GetItem item) as plain values."""
    return {key: _deserializer.deserialize(value) for key, value in attributes.items()}


@dataclass(frozen=True)
class TaskPage:
    tasks: list[ReviewTask]
    next_token: str | None


def task_content_key(loop_name: str) -> str:
    return f"{TASK_CONTENT_PREFIX}{loop_name}/input-content.json"


class ReviewTaskTable:
    """Tasks in one table laid out as `hitl_core.wiring.REVIEW_TASK_TABLE` says.

    `content_bucket` is where `create` keeps a large InputContent (ingest's); readers find it by
    the address in the item, with `s3_client` (made on first need when not given).
    """

    def __init__(
        self,
        dynamodb_client: Any,
        table_name: str,
        s3_client: Any | None = None,
        content_bucket: str | None = None,
    ) -> None:
        self._client = dynamodb_client
        self.table_name = table_name
        self._s3 = s3_client
        self._content_bucket = content_bucket

    def _s3_client(self) -> Any:
        if self._s3 is None:
            self._s3 = boto3.client("s3")
        return self._s3

    def _kept_small(self, task: ReviewTask) -> ReviewTask:
        """The task with a large InputContent put in S3 (same key and bytes on every delivery)."""
        size = len(task.input_content.encode())
        if task.input_content_uri or size <= INLINE_INPUT_CONTENT_BYTES:
            return task
        if self._content_bucket is None:
            raise ValueError(
                f"InputContent of {size:,} bytes is over the {INLINE_INPUT_CONTENT_BYTES:,} the task item "
                "holds, and this task table has no content bucket to keep it in"
            )
        key = task_content_key(task.loop_name)
        self._s3_client().put_object(
            Bucket=self._content_bucket,
            Key=key,
            Body=task.input_content.encode(),
            ContentType="application/json",
        )
        return replace(task, input_content_uri=s3_uri(self._content_bucket, key))

    def task(self, item: dict[str, Any]) -> ReviewTask:
        """A task from its plain item (GetItem, Query, stream image); an InputContent kept in S3 is read."""
        task = ReviewTask.from_item(item)
        if task.input_content_uri and not task.input_content:
            bucket, key = parse_s3_uri(task.input_content_uri)
            body = self._s3_client().get_object(Bucket=bucket, Key=key)["Body"].read()
            task = replace(task, input_content=body.decode())
        return task

    def create(self, task: ReviewTask) -> bool:
        """Write a new task; False (nothing written) when a task of that name already exists."""
        task = self._kept_small(task)
        try:
            self._client.put_item(
                TableName=self.table_name,
                Item=to_attributes(task.to_item()),
                ConditionExpression="attribute_not_exists(#key)",
                ExpressionAttributeNames={"#key": REVIEW_TASK_TABLE.partition_key},
            )
        except ClientError as err:
            if err.response["Error"]["Code"] == _CONDITION_FAILED:
                return False
            raise
        return True

    def get(self, loop_name: str) -> ReviewTask | None:
        response = self._client.get_item(
            TableName=self.table_name,
            Key={REVIEW_TASK_TABLE.partition_key: {"S": loop_name}},
            ConsistentRead=True,
        )
        item = response.get("Item")
        return self.task(from_attributes(item)) if item else None

    def replace(self, read_version: int, task: ReviewTask) -> bool:
        """Write `task` over the version it was computed from; False when someone changed it since."""
        try:
            self._client.put_item(
                TableName=self.table_name,
                Item=to_attributes(task.to_item()),
                ConditionExpression="#version = :read",
                ExpressionAttributeNames={"#version": "version"},
                ExpressionAttributeValues={":read": {"N": str(read_version)}},
            )
        except ClientError as err:
            if err.response["Error"]["Code"] == _CONDITION_FAILED:
                return False
            raise
        return True

    def mark_announced(self, task: ReviewTask, at: str) -> bool:
        """Record that the final status's event went out; False when the task changed or was marked."""
        try:
            self._client.update_item(
                TableName=self.table_name,
                Key={REVIEW_TASK_TABLE.partition_key: {"S": task.loop_name}},
                UpdateExpression="SET #announced = :at",
                ConditionExpression="#version = :read AND attribute_not_exists(#announced)",
                ExpressionAttributeNames={"#announced": "announced_at", "#version": "version"},
                ExpressionAttributeValues={":at": {"S": at}, ":read": {"N": str(task.version)}},
            )
        except ClientError as err:
            if err.response["Error"]["Code"] == _CONDITION_FAILED:
                return False
            raise
        return True

    def unannounced(self, created_since: str, page_size: int = 100) -> Iterator[ReviewTask]:
        """Final tasks created since `created_since` whose event is not marked as sent."""
        for status in sorted(FINAL_STATUSES):
            request: dict[str, Any] = {
                "TableName": self.table_name,
                "IndexName": REVIEW_TASK_TABLE.status_index_name,
                "KeyConditionExpression": "#status = :status AND #created >= :since",
                "FilterExpression": "attribute_not_exists(#announced)",
                "ExpressionAttributeNames": {
                    "#status": REVIEW_TASK_TABLE.status_index_partition_key,
                    "#created": REVIEW_TASK_TABLE.status_index_sort_key,
                    "#announced": "announced_at",
                },
                "ExpressionAttributeValues": {":status": {"S": str(status)}, ":since": {"S": created_since}},
                "Limit": page_size,
            }
            for page in self._client.get_paginator("query").paginate(**request):
                yield from (self.task(from_attributes(i)) for i in page.get("Items", []))

    def page(
        self, status: TaskStatus, *, limit: int, next_token: str | None = None, newest_first: bool = False
    ) -> TaskPage:
        """One page of tasks in `status` from the by-status index, oldest first unless asked otherwise."""
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": REVIEW_TASK_TABLE.status_index_name,
            "KeyConditionExpression": "#status = :status",
            "ExpressionAttributeNames": {"#status": REVIEW_TASK_TABLE.status_index_partition_key},
            "ExpressionAttributeValues": {":status": {"S": str(status)}},
            "ScanIndexForward": not newest_first,
            "Limit": limit,
        }
        if next_token:
            request["ExclusiveStartKey"] = _decode_token(next_token)
        response = self._client.query(**request)
        tasks = [self.task(from_attributes(item)) for item in response.get("Items", [])]
        last = response.get("LastEvaluatedKey")
        return TaskPage(tasks, _encode_token(last) if last else None)

    def all_in(self, status: TaskStatus, page_size: int = 100) -> Iterator[ReviewTask]:
        """Every task in `status`, oldest first, page by page."""
        token: str | None = None
        while True:
            page = self.page(status, limit=page_size, next_token=token)
            yield from page.tasks
            if page.next_token is None:
                return
            token = page.next_token


def _encode_token(key: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, sort_keys=True).encode()).decode()


def _decode_token(token: str) -> dict[str, Any]:
    try:
        key = json.loads(base64.urlsafe_b64decode(token.encode()))
    except ValueError:
        raise BadPageToken("nextToken is not one this API handed out") from None
    if not isinstance(key, dict) or REVIEW_TASK_TABLE.partition_key not in key:
        raise BadPageToken("nextToken is not one this API handed out")
    return key


class WriteOutcome(StrEnum):
    """What a counted write did: written; not written because the task changed, or a budget is spent."""

    WRITTEN = "written"
    CHANGED = "changed"
    SPENT = "spent"


def counter_update(table_name: str, key: str, delta: int, limit: int | None) -> dict[str, Any]:
    """A transaction item adding `delta` to a budget counter, on the condition (with a limit) that it is
    still below the limit."""
    update: dict[str, Any] = {
        "TableName": table_name,
        "Key": {REVIEW_TASK_TABLE.partition_key: {"S": key}},
        "UpdateExpression": "ADD #used :delta",
        "ExpressionAttributeNames": {"#used": "used"},
        "ExpressionAttributeValues": {":delta": {"N": str(delta)}},
    }
    if limit is not None:
        update["UpdateExpression"] += " SET #limit = :limit"
        update["ConditionExpression"] = "attribute_not_exists(#used) OR #used < :limit"
        update["ExpressionAttributeNames"]["#limit"] = "limit"
        update["ExpressionAttributeValues"][":limit"] = {"N": str(limit)}
    return {"Update": update}


def cancelled_outcome(err: ClientError) -> WriteOutcome:
    """What a cancelled counted write (the item's write first, then the counters) says: the item changed,
    or a budget is spent; any other error is raised again."""
    if err.response["Error"]["Code"] != "TransactionCanceledException":
        raise err
    reasons = [r.get("Code") for r in err.response.get("CancellationReasons", [])]
    if reasons and reasons[0] == _ITEM_CONDITION_FAILED:
        return WriteOutcome.CHANGED
    if _ITEM_CONDITION_FAILED in reasons[1:]:
        return WriteOutcome.SPENT
    raise err


def record_update(table_name: str, key: str, adds: Mapping[str, float]) -> dict[str, Any]:
    """A transaction item adding to a record's numbers (a reviewer record: gold answers, score sum)."""
    names = {f"#a{i}": name for i, name in enumerate(adds)}
    return {
        "Update": {
            "TableName": table_name,
            "Key": {REVIEW_TASK_TABLE.partition_key: {"S": key}},
            "UpdateExpression": "ADD " + ", ".join(f"#a{i} :v{i}" for i in range(len(adds))),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": {f":v{i}": {"N": str(v)} for i, v in enumerate(adds.values())},
        }
    }


class TeamRecords:
    """The review team's records beside the tasks: the queue index, budget counters, reviewer records.

    Counter and reviewer items share the task table under keys no loop name can have
    (`review_tasks.SERVICE_RECORD_PREFIX`); they carry no status, so no status query sees them.
    """

    def __init__(self, table: ReviewTaskTable) -> None:
        self.table = table
        self._client = table._client
        self._name = table.table_name

    def queue_candidates(
        self, limit: int, start: dict[str, Any] | None = None
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """One page of the queue index, best first: plain items with the index's attributes only."""
        request: dict[str, Any] = {
            "TableName": self._name,
            "IndexName": REVIEW_TASK_TABLE.queue_index_name,
            "KeyConditionExpression": "#queue = :open",
            "ExpressionAttributeNames": {"#queue": REVIEW_TASK_TABLE.queue_index_partition_key},
            "ExpressionAttributeValues": {":open": {"S": QUEUE_OPEN}},
            "Limit": limit,
        }
        if start:
            request["ExclusiveStartKey"] = start
        response = self._client.query(**request)
        return [from_attributes(i) for i in response.get("Items", [])], response.get("LastEvaluatedKey")

    def replace_counted(
        self,
        read_version: int,
        task: ReviewTask,
        count: Sequence[BudgetWindow] = (),
        uncount: Sequence[str] = (),
        record: tuple[str, Mapping[str, float]] | None = None,
    ) -> WriteOutcome:
        """Write `task` over the version read and, in the same transaction, count one review in each
        window (each still below its limit), give one back to each `uncount` key, and add to the
        numbers of a reviewer record (`record`: its key and what to add to which attribute)."""
        if not count and not uncount and record is None:
            written = self.table.replace(read_version, task)
            return WriteOutcome.WRITTEN if written else WriteOutcome.CHANGED
        put = {
            "Put": {
                "TableName": self._name,
                "Item": to_attributes(task.to_item()),
                "ConditionExpression": "#version = :read",
                "ExpressionAttributeNames": {"#version": "version"},
                "ExpressionAttributeValues": {":read": {"N": str(read_version)}},
            }
        }
        items = [put]
        items += [counter_update(self._name, w.key, 1, w.limit) for w in count]
        items += [counter_update(self._name, key, -1, None) for key in uncount]
        if record is not None:
            items.append(record_update(self._name, *record))
        try:
            self._client.transact_write_items(TransactItems=items)
        except ClientError as err:
            return cancelled_outcome(err)
        return WriteOutcome.WRITTEN

    def put_gold(self, task: ReviewTask, record_key: str, gold_served: int) -> bool:
        """Create a reviewer's gold task and count it in their record, both or neither; False when
        another request served their gold task of that number first."""
        record = record_update(self._name, record_key, {"served": 1, "gold_served": 1})
        record["Update"]["ConditionExpression"] = "attribute_not_exists(#gs) OR #gs = :read"
        record["Update"]["ExpressionAttributeNames"]["#gs"] = "gold_served"
        record["Update"]["ExpressionAttributeValues"][":read"] = {"N": str(gold_served)}
        put = {
            "Put": {
                "TableName": self._name,
                "Item": to_attributes(task.to_item()),
                "ConditionExpression": "attribute_not_exists(#key)",
                "ExpressionAttributeNames": {"#key": REVIEW_TASK_TABLE.partition_key},
            }
        }
        try:
            self._client.transact_write_items(TransactItems=[put, record])
        except ClientError as err:
            if err.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            return False
        return True

    def counters(self, keys: Sequence[str]) -> dict[str, int]:
        """How many reviews each counter holds (0 for one never counted)."""
        found = dict.fromkeys(keys, 0)
        for key in keys:
            item = self._client.get_item(
                TableName=self._name, Key={REVIEW_TASK_TABLE.partition_key: {"S": key}}, ConsistentRead=True
            ).get("Item")
            if item and "used" in item:
                found[key] = int(item["used"]["N"])
        return found

    def name_reviewer(self, key: str, name: str) -> None:
        """Keep the name a reviewer signs in with on their record (the summary shows it, not the sub)."""
        self._client.update_item(
            TableName=self._name,
            Key={REVIEW_TASK_TABLE.partition_key: {"S": key}},
            UpdateExpression="SET #name = :name",
            ExpressionAttributeNames={"#name": "name"},
            ExpressionAttributeValues={":name": {"S": name}},
        )

    def record(self, key: str) -> dict[str, Any]:
        """A reviewer record as plain values (empty when none)."""
        item = self._client.get_item(
            TableName=self._name, Key={REVIEW_TASK_TABLE.partition_key: {"S": key}}, ConsistentRead=True
        ).get("Item")
        return from_attributes(item) if item else {}

    def since(self, status: TaskStatus, created_since: str) -> Iterator[ReviewTask]:
        """Tasks in `status` created since `created_since`, oldest first."""
        request: dict[str, Any] = {
            "TableName": self._name,
            "IndexName": REVIEW_TASK_TABLE.status_index_name,
            "KeyConditionExpression": "#status = :status AND #created >= :since",
            "ExpressionAttributeNames": {
                "#status": REVIEW_TASK_TABLE.status_index_partition_key,
                "#created": REVIEW_TASK_TABLE.status_index_sort_key,
            },
            "ExpressionAttributeValues": {":status": {"S": str(status)}, ":since": {"S": created_since}},
        }
        for page in self._client.get_paginator("query").paginate(**request):
            yield from (self.table.task(from_attributes(i)) for i in page.get("Items", []))

    def queue_counts(self, now: str) -> tuple[int, int]:
        """(open tasks in the queue, of which claimed with a lease running at `now`), read off the index."""
        open_count = claimed = 0
        start: dict[str, Any] | None = None
        while True:
            items, start = self.queue_candidates(1000, start)
            open_count += len(items)
            claimed += sum(1 for i in items if i.get("lease_expires_at") and str(i["lease_expires_at"]) > now)
            if start is None:
                return open_count, claimed

    def oldest_open(self) -> str | None:
        """The creation time of the oldest open task."""
        page = self.table.page(TaskStatus.IN_PROGRESS, limit=1)
        return page.tasks[0].created_at if page.tasks else None
