"""The a2i backend's budget against the local A2I runtime and moto's server, as the local stack runs
it: a spent budget leaves images waiting, and the loop starter later starts the best waiting one first."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from hitl.local.a2i.loops import FlowDefinition
from hitl_core.pending_loops import create_table_request
from hitl_core.review_budget import ReviewBudget, hour_key
from hitl_core.review_priority import PriorityRule
from hitl_ingest.human_review import HumanReviewStarter
from hitl_ingest.pending_loops import PendingLoops, PendingLoopTable

REGION = "us-east-1"


def test_a_spent_budget_queues_and_the_next_hour_starts_the_best_loop_first(
    moto_server_url: str, a2i: Any, flow: FlowDefinition, input_content: dict[str, Any], unique: str
) -> None:
    dynamodb = boto3.client("dynamodb", endpoint_url=moto_server_url, region_name=REGION)
    table = f"pending-{unique}"
    dynamodb.create_table(**create_table_request(table))
    now = datetime(2026, 12, 7, 15, 10, tzinfo=UTC)
    dynamodb.put_item(TableName=table, Item={"loop_name": {"S": hour_key(now)}, "used": {"N": "1"}})
    # Two images: the dog's top score (0.48) lies nearer the 0.5 threshold than the cat's (0.2).
    contents = {
        f"s3://training/predictions/{name}.json": {**input_content, "initialScores": [score]}
        for name, score in (("cat", 0.2), ("dog", 0.48))
    }
    clock = [now]
    loops = PendingLoops(
        PendingLoopTable(dynamodb, table),
        HumanReviewStarter(a2i, flow.arn).start,
        lambda uri: json.dumps(contents[uri]),
        ReviewBudget(per_hour=1),
        PriorityRule(),
        lambda: clock[0],
    )
    for (uri, content), name in zip(contents.items(), ("cat-loop", "dog-loop"), strict=True):
        assert loops.submit(name, content, uri)

    def started() -> list[str]:
        return [
            s["HumanLoopName"] for s in a2i.list_human_loops(FlowDefinitionArn=flow.arn)["HumanLoopSummaries"]
        ]

    assert started() == []
    clock[0] = now + timedelta(hours=1)
    assert loops.start_waiting(10).spent
    assert started() == ["dog-loop"]
    clock[0] = now + timedelta(hours=2)
    assert loops.start_waiting(10).started == 1
    assert sorted(started()) == ["cat-loop", "dog-loop"]
    assert loops.start_waiting(10).started == 0  # nothing waits: no second start of either loop
