"""Gold loops with the a2i backend: after an image's loop starts, a gold loop starts when gold falls
below its share of the loops started (`hitl_core.gold_loops`).

Each image loop is counted once, in one transaction that marks it counted (naming the gold loop it
brings, if any), moves the counter on from the value read, and writes the gold loop's record with its
known boxes; then the gold loop starts under its deterministic name. A redelivery finds the mark and
starts the same gold loop again, which A2I answers with ConflictException (started before). Gold loops
are not counted against the review budget (docs/review-team.md).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from hitl_aws.review_task_table import ReviewTaskTable, TeamRecords, to_attributes
from hitl_core.gold_loops import (
    GOLD_COUNT_KEY,
    LoopCount,
    after_image_loop,
    counted_key,
    gold_line_for,
    gold_loop_key,
    gold_loop_name,
)
from hitl_core.gold_tasks import GoldLine, GoldRule
from hitl_core.human_loop import serialize_input_content
from hitl_core.pending_loops import PARTITION_KEY
from hitl_core.review_tasks import iso_millis
from hitl_ingest.human_review import HumanReviewStarter

logger = Logger()  # the function's service name, from POWERTOOLS_SERVICE_NAME
MAX_ATTEMPTS = 10
"""Concurrent ingests move the one counter on from the value each read; a loser reads again."""
UNREADABLE = frozenset({"NoSuchKey", "NoSuchBucket", "AccessDenied"})
"""S3 answers that no retry mends: the manifest is not there or not this function's to read."""


@dataclass(frozen=True)
class GoldLoop:
    name: str
    line: GoldLine


class GoldLoopTable:
    """The gold counters and records, in the a2i backend's pending-loop table (under `~gold/` keys)."""

    def __init__(self, dynamodb_client: Any, table_name: str) -> None:
        self._client = dynamodb_client
        self.table_name = table_name
        self._records = TeamRecords(ReviewTaskTable(dynamodb_client, table_name))

    def count_image_loop(
        self, image_loop: str, rule: GoldRule, lines: Sequence[GoldLine], now: datetime
    ) -> GoldLoop | None:
        """Count an image loop once; the gold loop its count brings (also on a redelivery), or None."""
        for _ in range(MAX_ATTEMPTS):
            mark = self._records.record(counted_key(image_loop))
            if mark:
                return self._brought(mark, lines)
            counter = self._records.record(GOLD_COUNT_KEY)
            read = LoopCount(int(counter.get("started", 0)), int(counter.get("gold", 0)))
            count, number = after_image_loop(rule, read)
            gold = (
                None
                if number is None
                else GoldLoop(gold_loop_name(line := gold_line_for(lines, number), number), line)
            )
            try:
                self._client.transact_write_items(
                    TransactItems=self._count_items(image_loop, read, count, gold, now)
                )
            except ClientError as err:
                if err.response["Error"]["Code"] != "TransactionCanceledException":
                    raise
                continue  # another ingest counted first (or this one did): read again
            return gold
        raise RuntimeError(f"the gold count kept changing while loop {image_loop} was counted; retried")

    def _count_items(
        self, image_loop: str, read: LoopCount, count: LoopCount, gold: GoldLoop | None, now: datetime
    ) -> list[dict[str, Any]]:
        mark: dict[str, Any] = {PARTITION_KEY: counted_key(image_loop), "counted_at": iso_millis(now)}
        items: list[dict[str, Any]] = []
        if gold is not None:
            mark |= {"gold_loop": gold.name, "gold_id": gold.line.gold_id}
            record = {
                PARTITION_KEY: gold_loop_key(gold.name),
                "gold_id": gold.line.gold_id,
                "gold": json.dumps(gold.line.boxes, separators=(",", ":")),
                "created_at": iso_millis(now),
            }
            items.append(self._put_new(record))
        items.append(self._put_new(mark))
        moved = {
            "TableName": self.table_name,
            "Key": {PARTITION_KEY: {"S": GOLD_COUNT_KEY}},
            "UpdateExpression": "SET #started = :started, #gold = :gold",
            "ExpressionAttributeNames": {"#started": "started", "#gold": "gold"},
            "ExpressionAttributeValues": {
                ":started": {"N": str(count.started)},
                ":gold": {"N": str(count.gold)},
            },
        }
        if read.started:
            moved["ConditionExpression"] = "#started = :read"
            moved["ExpressionAttributeValues"][":read"] = {"N": str(read.started)}
        else:
            moved["ConditionExpression"] = "attribute_not_exists(#started)"
        return [*items, {"Update": moved}]

    def _put_new(self, item: dict[str, Any]) -> dict[str, Any]:
        return {
            "Put": {
                "TableName": self.table_name,
                "Item": to_attributes(item),
                "ConditionExpression": "attribute_not_exists(#key)",
                "ExpressionAttributeNames": {"#key": PARTITION_KEY},
            }
        }

    @staticmethod
    def _brought(mark: dict[str, Any], lines: Sequence[GoldLine]) -> GoldLoop | None:
        """The gold loop a counted image loop brought, its line found by id (None: none, or its line left
        the manifest since, so it cannot be started again)."""
        if "gold_loop" not in mark:
            return None
        line = next((line for line in lines if line.gold_id == mark["gold_id"]), None)
        return None if line is None else GoldLoop(str(mark["gold_loop"]), line)


class GoldLoopStarter:
    """A2I's starter that starts a gold loop after the image loops that bring gold to its share; the gold
    lines are read on the first start (`read_lines`), not when the function is built. A manifest that
    cannot be used turns gold loops off for the execution environment (an error log says why) while
    image loops go on: a gold file must not stop the reviews."""

    backend = "a2i"

    def __init__(
        self,
        a2i: HumanReviewStarter,
        table: GoldLoopTable,
        read_lines: Callable[[], Sequence[GoldLine]],
        rule: GoldRule,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._a2i = a2i
        self._table = table
        self._read_lines = read_lines
        self._lines: list[GoldLine] | None = None
        self._rule = rule
        self._clock = clock
        self.flow_definition_arn = a2i.flow_definition_arn

    def lines(self) -> list[GoldLine]:
        """The gold lines, read once; none when the manifest is refused or missing."""
        if self._lines is None:
            try:
                lines = list(self._read_lines())
                if not lines:
                    raise ValueError("the gold manifest holds no lines")
            except ValueError as err:  # ConfigError too: a line refused
                lines = self._off(str(err))
            except ClientError as err:
                if err.response.get("Error", {}).get("Code") not in UNREADABLE:
                    raise  # throttling or a fault: the message is retried
                lines = self._off(f"the gold manifest cannot be read: {err}")
            self._lines = lines
        return self._lines

    @staticmethod
    def _off(problem: str) -> list[GoldLine]:
        logger.error("gold loops are off: the gold manifest was refused", extra={"problem": problem})
        return []

    def start(self, loop_name: str, input_content: str, record_uri: str = "") -> bool:
        """Start the image's loop, count it, and start the gold loop the count brings; True when this call
        started the image's loop."""
        lines = self.lines()
        started = self._a2i.start(loop_name, input_content)
        if not lines:
            return started
        gold = self._table.count_image_loop(loop_name, self._rule, lines, self._clock())
        if gold is not None:
            self._a2i.start(gold.name, serialize_input_content(gold.line.input_content))
        return started

    def over_budget(self, condition_results: dict[str, Any]) -> bool:
        return self._a2i.over_budget(condition_results)
