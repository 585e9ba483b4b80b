"""A2I loops started within the team's review budget; the images the budget has no room for wait, best first.

Ingest adds each image routed to review as a pending item (a conditional put: a redelivery adds
nothing), then starts the best waiting image's loop if the budget allows; the loop starter, run on
a schedule, starts the waiting ones best first while it allows. A loop is counted with the budget's
conditional counter updates in one transaction that also marks the item counted, then started (a
deterministic name, so a second start of the same loop is a ConflictException that counts as done),
then the item leaves the waiting index: a start interrupted anywhere is finished by the next run,
counted once and started once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from botocore.exceptions import ClientError

from hitl_aws.review_task_table import (
    ReviewTaskTable,
    TeamRecords,
    WriteOutcome,
    cancelled_outcome,
    counter_update,
    from_attributes,
    to_attributes,
)
from hitl_aws.s3_uri import parse_s3_uri
from hitl_core.human_loop import serialize_input_content
from hitl_core.pending_loops import (
    PARTITION_KEY,
    PENDING_INDEX,
    QUEUE_KEY,
    WAITING,
    PendingLoop,
    loop_windows,
    pending_loop,
)
from hitl_core.records import PredictionRecord
from hitl_core.review_budget import ReviewBudget
from hitl_core.review_priority import PriorityRule
from hitl_core.review_tasks import iso_millis
from hitl_ingest.record_store import RecordStore

_CONDITION_FAILED = "ConditionalCheckFailedException"


def input_content_reader(records: RecordStore) -> Callable[[str], str]:
    """The InputContent text a prediction record (by its s3:// URI) holds, as ingest would start it with."""

    def read(record_uri: str) -> str:
        bucket, key = parse_s3_uri(record_uri)
        if bucket != records.bucket:
            raise ValueError(f"{record_uri} is not in the records' bucket {records.bucket}")
        record = records.load(key, PredictionRecord)
        if record is None or record.human_loop is None:
            raise LookupError(f"{record_uri} holds no human loop to start")
        return serialize_input_content(record.human_loop.input_content)

    return read


class PendingLoopTable:
    """The pending items and the budget's counters in one DynamoDB table (`hitl_core.pending_loops`)."""

    def __init__(self, dynamodb_client: Any, table_name: str) -> None:
        self._client = dynamodb_client
        self.table_name = table_name

    def _key(self, loop_name: str) -> dict[str, Any]:
        return {PARTITION_KEY: {"S": loop_name}}

    def add(self, loop: PendingLoop) -> bool:
        """Add a waiting image; False (nothing written) when its loop was added before."""
        try:
            self._client.put_item(
                TableName=self.table_name,
                Item=to_attributes(loop.to_item()),
                ConditionExpression="attribute_not_exists(#key)",
                ExpressionAttributeNames={"#key": PARTITION_KEY},
            )
        except ClientError as err:
            if err.response["Error"]["Code"] == _CONDITION_FAILED:
                return False
            raise
        return True

    def get(self, loop_name: str) -> PendingLoop | None:
        item = self._client.get_item(
            TableName=self.table_name, Key=self._key(loop_name), ConsistentRead=True
        ).get("Item")
        return PendingLoop.from_item(from_attributes(item)) if item else None

    def _waiting(self) -> dict[str, Any]:
        """A query of the waiting index, best first."""
        return {
            "TableName": self.table_name,
            "IndexName": PENDING_INDEX,
            "KeyConditionExpression": "#queue = :waiting",
            "ExpressionAttributeNames": {"#queue": QUEUE_KEY},
            "ExpressionAttributeValues": {":waiting": {"S": WAITING}},
        }

    def best(self, limit: int) -> list[PendingLoop]:
        """Up to `limit` waiting images, best first (the index's order)."""
        response = self._client.query(**self._waiting(), Limit=limit)
        return [PendingLoop.from_item(from_attributes(i)) for i in response.get("Items", [])]

    def waiting_count(self) -> int:
        """How many images wait for their loop (the index counted, page by page)."""
        pages = self._client.get_paginator("query").paginate(**self._waiting(), Select="COUNT")
        return sum(page["Count"] for page in pages)

    def count(self, loop: PendingLoop, budget: ReviewBudget, at: datetime) -> WriteOutcome:
        """Mark the loop counted and count it in the team's hour and day, all or nothing: CHANGED when
        it was counted (or started) already, SPENT when a window has no loop left."""
        mark = {
            "Update": {
                "TableName": self.table_name,
                "Key": self._key(loop.loop_name),
                "UpdateExpression": "SET #counted = :at",
                "ConditionExpression": "attribute_exists(#key) AND attribute_not_exists(#counted)",
                "ExpressionAttributeNames": {"#key": PARTITION_KEY, "#counted": "counted_at"},
                "ExpressionAttributeValues": {":at": {"S": iso_millis(at)}},
            }
        }
        counters = [counter_update(self.table_name, w.key, 1, w.limit) for w in loop_windows(budget, at)]
        try:
            self._client.transact_write_items(TransactItems=[mark, *counters])
        except ClientError as err:
            return cancelled_outcome(err)
        return WriteOutcome.WRITTEN

    def mark_started(self, loop_name: str, at: datetime) -> None:
        """Take the image out of the waiting index, keeping when its loop started."""
        self._client.update_item(
            TableName=self.table_name,
            Key=self._key(loop_name),
            UpdateExpression="SET #started = :at REMOVE #queue",
            ExpressionAttributeNames={"#started": "started_at", "#queue": QUEUE_KEY},
            ExpressionAttributeValues={":at": {"S": iso_millis(at)}},
        )

    def counters(self, keys: list[str]) -> dict[str, int]:
        """How many loops each budget counter holds, read as the review service reads its own."""
        return TeamRecords(ReviewTaskTable(self._client, self.table_name)).counters(keys)


class StartOutcome(StrEnum):
    STARTED = "started"
    SPENT = "spent"
    SKIPPED = "skipped"
    """Another run counted or started it first."""


@dataclass(frozen=True)
class StarterRun:
    started: int
    spent: bool


class PendingLoops:
    """Starts A2I loops while the budget allows; `start_loop` is A2I's StartHumanLoop (True: started
    now, False: started before) and `read_content` the InputContent a prediction record holds."""

    def __init__(
        self,
        table: PendingLoopTable,
        start_loop: Callable[[str, str], bool],
        read_content: Callable[[str], str],
        budget: ReviewBudget,
        priority: PriorityRule,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.table = table
        self._start_loop = start_loop
        self._read_content = read_content
        self.budget = budget
        self._priority = priority
        self.clock = clock

    def submit(self, loop_name: str, input_content: dict[str, Any], record_uri: str) -> bool:
        """Add the image as waiting, then start the best waiting loop (this image's unless a better one
        waits) if the budget allows; False when an earlier delivery added it."""
        loop = pending_loop(loop_name, input_content, record_uri, self.clock(), self._priority)
        if not self.table.add(loop):
            return False
        # The index may not show the new item yet: it is compared with the best the index shows.
        shown = self.table.best(1)
        self._start(shown[0] if shown and shown[0].queue_rank < loop.queue_rank else loop)
        return True

    def start_waiting(self, limit: int) -> StarterRun:
        """Start up to `limit` waiting loops, best first, until the budget is spent or none waits."""
        started, seen = 0, set[str]()
        while started < limit:
            batch = [loop for loop in self.table.best(25) if loop.loop_name not in seen]
            if not batch:  # none waits, or the index still shows only loops this run handled
                return StarterRun(started, spent=False)
            for loop in batch[: limit - started]:
                seen.add(loop.loop_name)
                outcome = self._start(loop)
                if outcome is StartOutcome.SPENT:
                    return StarterRun(started, spent=True)
                started += outcome is StartOutcome.STARTED
        return StarterRun(started, spent=False)

    def _start(self, loop: PendingLoop) -> StartOutcome:
        now = self.clock()
        outcome = self.table.count(loop, self.budget, now)
        if outcome is WriteOutcome.SPENT:
            return StartOutcome.SPENT
        if outcome is WriteOutcome.CHANGED:
            current = self.table.get(loop.loop_name)
            # Counted by a run that may have stopped before the start: starting again is safe.
            if current is None or current.started_at is not None or current.counted_at is None:
                return StartOutcome.SKIPPED
        self._start_loop(loop.loop_name, self._read_content(loop.record_uri))
        self.table.mark_started(loop.loop_name, now)
        return StartOutcome.STARTED
