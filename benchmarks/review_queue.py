"""What `POST tasks/next` costs with 1,000 and with 100,000 open tasks (prints figures).

The review service's TaskStore against moto's DynamoDB (in process), with the task table laid out
as deployed (the by-queue index). Each size gets a table of its own, filled with open tasks of
mixed priority and age; then reviewers call `next` one after another, each claiming a task (and
counting it in the hour's, the day's and their own day's budget), so later calls pass over the
tasks the earlier ones hold, as a busy team's do. Cost is what DynamoDB
bills: the calls made and the capacity units they use, worked out from the bytes each call reads
and writes (4 KB read units, half for the index's eventually consistent query; 1 KB write units,
doubled in a transaction). moto answers an index query by looking at every item of the table,
so its wall time grows with the table where DynamoDB's does not: it is printed beside, not judged.
Run: `.venv/bin/python -m benchmarks.review_queue`.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from moto import mock_aws

from hitl_aws.review_task_table import ReviewTaskTable
from hitl_core import review_tasks
from hitl_core.review_budget import ReviewBudget
from hitl_core.review_priority import PriorityRule
from hitl_core.review_tasks import ReviewTiming
from hitl_core.wiring import REVIEW_TASK_TABLE
from hitl_review_service.task_store import TaskStore

SIZES = (1_000, 100_000)
CALLS = 5
REGION = "us-east-1"
START = datetime(2024, 1, 1, tzinfo=UTC)
TIMING = ReviewTiming(lease_seconds=3600, availability_seconds=30 * 86_400)
RULE = PriorityRule(threshold=0.5, aging_seconds=3600)
BUDGET = ReviewBudget(per_hour=10**6, per_day=10**6, per_reviewer_day=10**6)
"""Limits never reached: every claim counts in three windows, as a deployment with a budget does."""


def _attribute_bytes(value: dict[str, Any]) -> int:
    """DynamoDB's size of one attribute value (strings and numbers by their text, close enough)."""
    ((kind, inner),) = value.items()
    if kind in ("S", "N", "B"):
        return len(str(inner).encode())
    if kind in ("L",):
        return 3 + sum(_attribute_bytes(v) for v in inner)
    if kind == "M":
        return 3 + sum(len(k) + _attribute_bytes(v) for k, v in inner.items())
    return 1


def item_bytes(item: dict[str, Any]) -> int:
    """An item's size as DynamoDB counts it: names plus values."""
    return sum(len(name) + _attribute_bytes(value) for name, value in item.items())


class CostMeter:
    """Counts a DynamoDB client's calls and the capacity units they would use."""

    def __init__(self, client: Any) -> None:
        self.calls = 0
        self.read_units = 0.0
        self.write_units = 0.0
        client.meta.events.register("after-call.dynamodb", self._after)
        self._pending: dict[str, Any] = {}
        client.meta.events.register("before-parameter-build.dynamodb", self._before)

    def reset(self) -> None:
        self.calls, self.read_units, self.write_units = 0, 0.0, 0.0

    def _before(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self._pending = {"operation": model.name, "params": params}

    def _after(self, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        self.calls += 1
        operation, params = model.name, self._pending.get("params", {})
        if operation == "Query":
            read = sum(item_bytes(i) for i in parsed.get("Items", []))
            self.read_units += max(1, math.ceil(read / 4096)) * 0.5
        elif operation == "GetItem":
            self.read_units += max(1, math.ceil(item_bytes(parsed.get("Item", {})) / 4096))
        elif operation == "PutItem":
            self.write_units += max(1, math.ceil(item_bytes(params["Item"]) / 1024))
        elif operation == "TransactWriteItems":
            for entry in params["TransactItems"]:
                written = entry.get("Put", {}).get("Item") or entry.get("Update", {}).get("Key", {})
                self.write_units += 2 * max(1, math.ceil(item_bytes(written) / 1024))


def _content(number: int) -> str:
    score = (number * 7919 % 1000) / 1000
    return json.dumps(
        {
            "taskObject": f"s3://benchmark-input/incoming/{number:08d}.jpg",
            "labels": ["person", "car", "cat"],
            "initialValue": [{"label": "cat", "left": 10, "top": 20, "width": 100, "height": 80}],
            "initialScores": [score],
            "imageSize": {"width": 640, "height": 480, "depth": 3},
        }
    )


def fill(client: Any, table_name: str, tasks: int) -> None:
    """`tasks` open tasks, one a second from START, priorities spread over 0-1."""
    pending: list[dict[str, Any]] = []
    serializer = boto3.dynamodb.types.TypeSerializer()
    for number in range(tasks):
        task = review_tasks.new_task(
            f"t-{number:08d}", _content(number), START + timedelta(seconds=number), RULE
        )
        item = {k: serializer.serialize(v) for k, v in task.to_item().items()}
        pending.append({"PutRequest": {"Item": item}})
        if len(pending) == 25 or number == tasks - 1:
            client.batch_write_item(RequestItems={table_name: pending})
            pending = []


def measure(tasks: int, calls: int) -> dict[str, Any]:
    """The cost of `calls` next calls (one per reviewer) on a table of `tasks` open tasks."""
    client = boto3.client("dynamodb", region_name=REGION)
    name = f"benchmark-tasks-{uuid.uuid4().hex[:8]}"
    request = REVIEW_TASK_TABLE.create_table_request(name)
    del request["StreamSpecification"]  # moto keeps every stream record in memory; next reads none
    client.create_table(**request)
    fill(client, name, tasks)
    meter = CostMeter(client)
    now = START + timedelta(seconds=tasks + 60)
    store = TaskStore(ReviewTaskTable(client, name), TIMING, lambda: now, BUDGET)
    per_call: list[dict[str, float]] = []
    served: list[str] = []
    for reviewer in range(calls):
        meter.reset()
        began = time.perf_counter()
        task = store.next(f"reviewer-{reviewer}").task
        seconds = time.perf_counter() - began
        assert task is not None, "every call finds a free task"
        served.append(task.loop_name)
        per_call.append(
            {
                "calls": meter.calls,
                "read_units": meter.read_units,
                "write_units": meter.write_units,
                "s": seconds,
            }
        )
    first_priority = store.get(served[0]).priority
    client.delete_table(TableName=name)
    if len(set(served)) != len(served):
        raise AssertionError("a task was served twice")

    def median(key: str) -> float:
        return round(statistics.median(c[key] for c in per_call), 3)

    return {
        "open_tasks": tasks,
        "next_calls": calls,
        "dynamodb_calls": median("calls"),
        "read_units": median("read_units"),
        "write_units": median("write_units"),
        "capacity_units": round(median("read_units") + median("write_units"), 3),
        "moto_ms": round(median("s") * 1000, 2),
        "first_served_priority": round(first_priority, 3),
    }


def run(sizes: Sequence[int] = SIZES, calls: int = CALLS) -> dict[str, Any]:
    """Both sizes, and the ratio of the larger's cost to the smaller's (the goal: at most 1.2x)."""
    with mock_aws():
        rows = [measure(size, calls) for size in sizes]
    small, large = rows[0], rows[-1]
    return {
        "sizes": rows,
        "ratio": round(large["capacity_units"] / small["capacity_units"], 3),
        "calls_ratio": round(large["dynamodb_calls"] / small["dynamodb_calls"], 3),
        "moto_ratio": round(large["moto_ms"] / small["moto_ms"], 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--calls", type=int, default=CALLS)
    args = parser.parse_args(argv)
    print(json.dumps(run(args.sizes, args.calls), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
