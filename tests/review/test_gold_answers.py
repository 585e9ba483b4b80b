"""A2I gold loops at review-complete: each worker's answer scored against the known boxes, kept in
their reviewer record once, never in the manifest; a worker below min_score is announced."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from hitl_core.config import load_config
from hitl_core.gold_loops import gold_loop_key
from hitl_core.gold_tasks import reviewer_record_key
from hitl_core.pending_loops import create_table_request

from .builders import (
    LABELS,
    REGION,
    TRAINING_BUCKET,
    EventTap,
    box,
    human_answer,
    output_json,
    put_output,
    status_event,
)
from .test_handler import MANIFEST_1, Configure, invoke, manifest_lines, only

TABLE = "pending-loops"
GOLD = "person-3f2a9c"
KNOWN = [box("cat", 10, 20, 100, 80), box("dog", 300, 200, 50, 60)]


@pytest.fixture
def gold_table(function_env: Configure, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The function with `review.gold` (min_score 0.7 over 1 answer) and a gold loop's record in its table."""
    gold = {"share": 0.1, "min_score": 0.7, "min_tasks": 1, "manifest": "s3://team-gold/gold/lines.jsonl"}
    function_env(load_config({"labels": LABELS, "review": {"gold": gold}}))
    monkeypatch.setenv("PENDING_LOOPS_TABLE", TABLE)
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    dynamodb.create_table(**create_table_request(TABLE))
    record = {
        "loop_name": {"S": gold_loop_key(GOLD)},
        "gold": {"S": json.dumps(KNOWN)},
        "gold_id": {"S": "g1"},
    }
    dynamodb.put_item(TableName=TABLE, Item=record)
    return dynamodb


def _answer(worker: str, boxes: list[dict[str, Any]]) -> dict[str, Any]:
    return {**human_answer(boxes, "2026-12-07T10:00:00.000Z"), "workerId": worker}


def _gold_standing(dynamodb: Any, worker: str) -> tuple[int, float]:
    """The worker's gold answers and score sum, as their reviewer record keeps them."""
    key = {"loop_name": {"S": reviewer_record_key(worker)}}
    item = dynamodb.get_item(TableName=TABLE, Key=key, ConsistentRead=True)["Item"]
    return int(item["gold_answers"]["N"]), float(item["gold_score_sum"]["N"])


def test_a_gold_loops_answers_are_scored_per_worker_once_and_kept_out_of_the_manifest(
    gold_table: Any, event_tap: EventTap
) -> None:
    answers = [_answer("w-half", [KNOWN[0]]), _answer("w-right", KNOWN)]
    put_output(GOLD, output_json(GOLD, "gold.jpg", answers))
    put_output("cat-loop", output_json("cat-loop", "cat.jpg"))

    assert invoke(status_event(GOLD), status_event("cat-loop")) == {"batchItemFailures": []}
    assert invoke(status_event(GOLD)) == {"batchItemFailures": []}  # redelivered: scored once

    assert [line["source-ref"].rsplit("/", 1)[1] for line in manifest_lines(MANIFEST_1)] == ["cat.jpg"]
    assert _gold_standing(gold_table, "w-half") == (1, 0.6667)
    assert _gold_standing(gold_table, "w-right") == (1, 1.0)
    events = event_tap.drain()
    assert [e["loop_name"] for e in only(events, "Review Completed")] == ["cat-loop"]
    low = only(events, "Reviewer Gold Score Low")
    assert {e["reviewer"] for e in low} == {"w-half"}  # announced by each delivery (at least once)
    assert low[0]["gold_score"] == 0.6667 and low[0]["gold_tasks"] == 1 and low[0]["min_score"] == 0.7


def test_a_gold_answer_without_a_worker_is_quarantined_not_trained_on(
    gold_table: Any, event_tap: EventTap
) -> None:
    answer = _answer("w", KNOWN)
    del answer["workerId"]
    put_output(GOLD, output_json(GOLD, "gold.jpg", [answer]))

    assert invoke(status_event(GOLD)) == {"batchItemFailures": []}

    [quarantined] = only(event_tap.drain(), "Answer Quarantined")
    assert quarantined["reason_code"] == "invalid-answer" and "workerId" in quarantined["reason"]
    s3 = boto3.client("s3", region_name=REGION)
    assert s3.list_objects_v2(Bucket=TRAINING_BUCKET, Prefix="manifests/").get("KeyCount") == 0


def test_with_gold_and_no_table_the_function_refuses_to_start(function_env: Configure) -> None:
    from hitl_core.config import ConfigError
    from hitl_review import handler

    gold = {"manifest": "s3://team-gold/gold/lines.jsonl"}
    function_env(load_config({"labels": LABELS, "review": {"gold": gold}}))
    with pytest.raises(ConfigError, match="PENDING_LOOPS_TABLE"):  # gold answers would reach the manifest
        handler.completion()
