"""A2I with a review budget: an image waits as a pending loop until the budget lets its loop start.

A2I picks the worker and takes loops in its own order, so the budget is spent when a loop starts
(the team's hour and day only) and `review.priority` is the order in which waiting images get
their loops: best first, aged as the review service's queue is (`review_priority.queue_rank`).
A pending item names the prediction record that holds the loop's InputContent, so it stays small.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hitl_core.review_budget import BudgetWindow, ReviewBudget
from hitl_core.review_priority import PriorityRule, content_scores
from hitl_core.review_tasks import iso_millis
from hitl_core.wiring import REVIEW_TASK_TABLE

PENDING_INDEX = "by-rank"
"""Sparse index of the waiting images, best first: only an item with `queue` is in it."""
PARTITION_KEY = REVIEW_TASK_TABLE.partition_key
"""The loop name; budget counters share the table under `review_budget.COUNTER_PREFIX` keys, as in the
review service's task table, so the same counter reads and conditional updates serve both."""
QUEUE_KEY = "queue"
RANK_KEY = "queue_rank"
WAITING = "waiting"


def create_table_request(table_name: str) -> dict[str, Any]:
    """DynamoDB CreateTable parameters of the pending-loop table (the CDK construct builds the same)."""
    return {
        "TableName": table_name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": PARTITION_KEY, "AttributeType": "S"},
            {"AttributeName": QUEUE_KEY, "AttributeType": "S"},
            {"AttributeName": RANK_KEY, "AttributeType": "N"},
        ],
        "KeySchema": [{"AttributeName": PARTITION_KEY, "KeyType": "HASH"}],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": PENDING_INDEX,
                "KeySchema": [
                    {"AttributeName": QUEUE_KEY, "KeyType": "HASH"},
                    {"AttributeName": RANK_KEY, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    }


@dataclass(frozen=True)
class PendingLoop:
    """An image routed to review whose loop waits for the budget; `record_uri` holds its InputContent."""

    loop_name: str
    record_uri: str
    created_at: str
    priority: float
    queue_rank: int
    counted_at: str | None = None
    """When the budget counted its loop (set with the counters, before the loop starts)."""
    started_at: str | None = None

    def to_item(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            PARTITION_KEY: self.loop_name,
            "record_uri": self.record_uri,
            "created_at": self.created_at,
            "priority": str(self.priority),
            RANK_KEY: self.queue_rank,
        }
        if self.started_at is None:
            item[QUEUE_KEY] = WAITING
        else:
            item["started_at"] = self.started_at
        if self.counted_at is not None:
            item["counted_at"] = self.counted_at
        return item

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> PendingLoop:
        return cls(
            loop_name=str(item[PARTITION_KEY]),
            record_uri=str(item["record_uri"]),
            created_at=str(item["created_at"]),
            priority=float(item["priority"]),
            queue_rank=int(item[RANK_KEY]),
            counted_at=item.get("counted_at"),
            started_at=item.get("started_at"),
        )


def pending_loop(
    loop_name: str, input_content: dict[str, Any], record_uri: str, now: datetime, rule: PriorityRule
) -> PendingLoop:
    """The waiting image, ranked by `rule` from the scores its reviewer is shown (as a review task is)."""
    base = rule.base_priority(content_scores(input_content))
    return PendingLoop(loop_name, record_uri, iso_millis(now), base, rule.queue_rank(now, base))


def counts_loops(budget: ReviewBudget) -> bool:
    """True when the a2i backend counts loops started: `per_hour` or `per_day` is set."""
    return budget.per_hour is not None or budget.per_day is not None


def loop_windows(budget: ReviewBudget, now: datetime) -> list[BudgetWindow]:
    """The counters one started loop counts against: the team's hour and day (A2I picks the worker, so
    `per_reviewer_day` cannot apply; the configuration refuses it with the a2i backend)."""
    return ReviewBudget(budget.per_hour, budget.per_day).windows("", now)
