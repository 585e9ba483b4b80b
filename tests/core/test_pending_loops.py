"""Waiting images for the a2i backend's budget: ranked as review tasks are, counted per team window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hitl_core.pending_loops import PENDING_INDEX, create_table_request, loop_windows, pending_loop
from hitl_core.review_budget import ReviewBudget, day_key, hour_key
from hitl_core.review_priority import PriorityRule

NOW = datetime(2026, 12, 7, 15, 30, tzinfo=UTC)
RECORD = "s3://training/predictions/incoming/cat.jpg/v1.json"


def content(*scores: float) -> dict:
    return {"taskObject": "s3://in/cat.jpg", "initialScores": list(scores)}


def test_a_waiting_image_is_ranked_by_the_priority_rule_and_ages() -> None:
    rule = PriorityRule(threshold=0.5, aging_seconds=600)
    unsure = pending_loop("unsure", content(0.45), RECORD, NOW, rule)
    sure = pending_loop("sure", content(0.05), RECORD, NOW, rule)
    older_sure = pending_loop("older", content(0.05), RECORD, NOW - timedelta(seconds=600), rule)

    assert (unsure.priority, sure.priority) == (0.9, 0.1)
    assert unsure.queue_rank < sure.queue_rank
    # Ten minutes of waiting is worth one whole priority point: the older sure image goes first.
    assert older_sure.queue_rank < unsure.queue_rank


def test_an_item_is_in_the_waiting_index_until_its_loop_starts_and_reads_back_the_same() -> None:
    from dataclasses import replace

    from hitl_core.pending_loops import PendingLoop

    loop = pending_loop("cat-1", content(0.3), RECORD, NOW, PriorityRule())
    assert loop.to_item()["queue"] == "waiting"
    assert PendingLoop.from_item(loop.to_item()) == loop
    started = replace(loop, counted_at="2026-12-07T15:30:01.000Z", started_at="2026-12-07T15:30:02.000Z")
    assert "queue" not in started.to_item()
    assert PendingLoop.from_item(started.to_item()) == started


def test_a_loop_counts_against_the_teams_hour_and_day_only() -> None:
    windows = loop_windows(ReviewBudget(per_hour=3, per_day=10, per_reviewer_day=2), NOW)
    assert [(w.key, w.limit) for w in windows] == [(hour_key(NOW), 3), (day_key(NOW), 10)]


def test_the_table_has_one_sparse_index_sorted_by_rank() -> None:
    request = create_table_request("pending")
    [index] = request["GlobalSecondaryIndexes"]
    assert index["IndexName"] == PENDING_INDEX
    assert [k["AttributeName"] for k in index["KeySchema"]] == ["queue", "queue_rank"]
