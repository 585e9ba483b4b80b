"""The lifecycle sweep: expiry after the availability lifetime, run-out leases back to the queue, metrics."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from hitl_aws.review_task_table import ReviewTaskTable
from hitl_core import review_tasks
from hitl_core.review_tasks import EXPIRED, ReviewTask, TaskStatus
from hitl_review_service import lifecycle, outbox
from hitl_review_service.task_store import TaskStore
from review_service.builders import ANA, AVAILABILITY_SECONDS, LEASE_SECONDS, OUTPUT_BUCKET, REGION, Clock
from review_service.conftest import FakeLambdaContext, StatusTap, TableStream
from review_service.test_outbox import RefusingEvents
from review_service.test_task_store import answer_as

AddTask = Callable[..., ReviewTask]


def test_a_run_out_lease_returns_to_the_queue(store: TaskStore, add_task: AddTask, clock: Clock) -> None:
    add_task("cat-1")
    store.claim("cat-1", ANA.sub)
    clock.advance(LEASE_SECONDS - 1)
    assert store.sweep().leases_returned == 0
    assert store.get("cat-1").lease_owner == ANA.sub
    clock.advance(1)
    result = store.sweep()
    assert (result.leases_returned, result.expired, result.waiting) == (1, 0, 1)
    task = store.get("cat-1")
    assert (task.status, task.lease_owner, task.audit[-1]["action"]) == (
        TaskStatus.IN_PROGRESS,
        None,
        "lease-returned",
    )


def test_tasks_past_their_lifetime_fail_expired(store: TaskStore, add_task: AddTask, clock: Clock) -> None:
    add_task("old-1")
    clock.advance(600)
    add_task("new-2")
    clock.advance(AVAILABILITY_SECONDS - 600)
    result = store.sweep()
    assert (result.expired, result.waiting, result.oldest_age_seconds) == (1, 1, AVAILABILITY_SECONDS - 600)
    old = store.get("old-1")
    assert (old.status, old.failure_code) == (TaskStatus.FAILED, EXPIRED)
    assert store.get("new-2").status is TaskStatus.IN_PROGRESS
    assert store.sweep().expired == 0


def test_a_task_changed_during_the_sweep_is_left_for_the_next(
    store: TaskStore, add_task: AddTask, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_task("cat-1")
    clock.advance(AVAILABILITY_SECONDS)
    monkeypatch.setattr(store.table, "replace", lambda version, task: False)
    result = store.sweep()
    assert (result.expired, result.skipped, result.waiting) == (0, 1, 1)


def test_handler_sweeps_and_reports_metrics(
    service_env: Callable[..., None],
    add_task: AddTask,
    lambda_context: FakeLambdaContext,
    capsys: pytest.CaptureFixture[str],
) -> None:
    service_env(REVIEW_TASK_AVAILABILITY_SECONDS="60")
    add_task("cat-1")
    lifecycle.store.cache_clear()
    try:
        summary = lifecycle.handler(
            {"source": "aws.events", "detail-type": "Scheduled Event"}, lambda_context
        )
    finally:
        lifecycle.store.cache_clear()
    assert summary["expired"] == 1
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    emitted: dict[str, Any] = metrics[-1]
    assert emitted["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "HitlPipeline"
    assert (emitted["TasksExpired"], emitted["TasksWaiting"]) == ([1.0], [0.0])
    assert emitted["service"] == "review-service"


@pytest.fixture
def run_lifecycle(
    service_env: Callable[..., None],
    store: TaskStore,
    lambda_context: FakeLambdaContext,
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[[], dict[str, Any]]:
    """The lifecycle handler on the test's store (and clock), announcing with the real outbox."""
    service_env()
    monkeypatch.setattr(lifecycle, "store", lambda: store)
    outbox.outbox.cache_clear()
    return lambda: lifecycle.handler(
        {"source": "aws.events", "detail-type": "Scheduled Event"}, lambda_context
    )


def completed(store: TaskStore, add_task: AddTask, name: str = "cat-1") -> ReviewTask:
    add_task(name)
    store.claim(name, ANA.sub)
    return store.answer(name, answer_as(ANA.sub))


def test_the_sweep_announces_a_final_task_whose_stream_record_was_lost(
    store: TaskStore,
    add_task: AddTask,
    clock: Clock,
    status_tap: StatusTap,
    run_lifecycle: Callable[[], dict[str, Any]],
) -> None:
    """The stream's on-failure destination keeps only metadata: the table is what re-announces."""
    done = completed(store, add_task)
    add_task("dog-2", "dog.jpg")
    store.stop("dog-2", "boss")
    clock.advance(review_tasks.ANNOUNCE_GRACE.total_seconds() - 1)
    assert run_lifecycle()["announced"] == 0
    assert status_tap.drain() == []

    clock.advance(1)
    summary = run_lifecycle()

    assert (summary["announced"], summary["announce_failed"]) == (2, 0)
    details = {e["detail"]["humanLoopName"]: e["detail"] for e in status_tap.drain()}
    assert (details["cat-1"]["humanLoopStatus"], details["dog-2"]["humanLoopStatus"]) == (
        "Completed",
        "Stopped",
    )
    uri = details["cat-1"]["humanLoopOutput"]["outputS3Uri"]
    body = boto3.client("s3", region_name=REGION).get_object(Bucket=OUTPUT_BUCKET, Key=uri.split("/", 3)[3])
    assert json.loads(body["Body"].read())["humanAnswers"] == list(done.answers)
    assert store.get("cat-1").announced_at is not None
    assert run_lifecycle()["announced"] == 0
    assert status_tap.drain() == []


def test_a_reannouncement_repeats_the_streams_event_exactly(
    store: TaskStore,
    add_task: AddTask,
    clock: Clock,
    table_stream: TableStream,
    status_tap: StatusTap,
    run_lifecycle: Callable[[], dict[str, Any]],
    lambda_context: FakeLambdaContext,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Announced, but the mark was not written: the sweep's second event is the same event (same
    output.json bytes and key), which review-complete settles as the same manifest version."""
    completed(store, add_task)
    monkeypatch.setattr(ReviewTaskTable, "mark_announced", lambda self, task, at: False)
    outbox.handler(table_stream.event(), lambda_context)
    (first,) = status_tap.drain()
    key = first["detail"]["humanLoopOutput"]["outputS3Uri"].split("/", 3)[3]
    s3 = boto3.client("s3", region_name=REGION)
    written = s3.get_object(Bucket=OUTPUT_BUCKET, Key=key)["Body"].read()
    monkeypatch.undo()
    monkeypatch.setattr(lifecycle, "store", lambda: store)
    clock.advance(review_tasks.ANNOUNCE_GRACE.total_seconds())

    assert run_lifecycle()["announced"] == 1

    (second,) = status_tap.drain()
    assert second["detail"] == first["detail"]
    assert s3.get_object(Bucket=OUTPUT_BUCKET, Key=key)["Body"].read() == written


def test_a_refused_reannouncement_is_counted_and_tried_again_next_sweep(
    store: TaskStore,
    add_task: AddTask,
    clock: Clock,
    status_tap: StatusTap,
    run_lifecycle: Callable[[], dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    completed(store, add_task)
    clock.advance(review_tasks.ANNOUNCE_GRACE.total_seconds())
    real = outbox.outbox()
    monkeypatch.setattr(
        outbox, "outbox", lambda: outbox.Outbox(real.settings, real.s3, RefusingEvents("cat-1"), real.table)
    )

    assert run_lifecycle()["announce_failed"] == 1
    assert store.get("cat-1").announced_at is None

    monkeypatch.setattr(outbox, "outbox", lambda: real)
    assert run_lifecycle()["announced"] == 1
    assert [e["detail"]["humanLoopName"] for e in status_tap.drain()] == ["cat-1"]


def test_the_sweep_reports_the_budgets_use_and_limits(
    service_env: Callable[..., None],
    table: Any,
    clock: Any,
    add_task: AddTask,
    lambda_context: FakeLambdaContext,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from hitl_core.review_budget import ReviewBudget
    from review_service.conftest import TIMING

    service_env(REVIEW_TEAM=json.dumps({"budget": {"per_hour": 5}}))
    store = TaskStore(table, TIMING, clock, ReviewBudget(per_hour=5))
    add_task("cat-1")
    add_task("cat-2")
    store.next(ANA.sub)
    store.next("sub-ben")
    monkeypatch.setattr(lifecycle, "store", lambda: store)
    outbox.outbox.cache_clear()
    lifecycle.handler({"source": "aws.events", "detail-type": "Scheduled Event"}, lambda_context)
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line][-1]
    assert (emitted["BudgetUsedThisHour"], emitted["BudgetUsedToday"], emitted["BudgetLimitPerHour"]) == (
        [2.0],
        [0.0],
        [5.0],
    )
    assert "BudgetLimitPerDay" not in emitted


def legacy_task(table: ReviewTaskTable, clock: Clock, name: str) -> None:
    """A task as the service wrote it before the by-queue index: no `queue`, `queue_rank`, `priority`."""
    from hitl_aws.review_task_table import to_attributes
    from review_service.builders import input_content

    item = review_tasks.new_task(name, json.dumps(input_content()), clock()).to_item()
    legacy = {k: v for k, v in item.items() if k not in ("queue", "queue_rank", "priority")}
    table._client.put_item(TableName=table.table_name, Item=to_attributes(legacy))


def test_the_sweep_puts_tasks_from_before_the_queue_index_in_it_once(
    table: ReviewTaskTable, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hitl_core.review_priority import PriorityRule
    from hitl_review_service import task_store
    from review_service.conftest import TIMING

    rule = PriorityRule(threshold=0.5, aging_seconds=600)
    store = TaskStore(table, TIMING, clock, priority=rule)
    legacy_task(table, clock, "old-1")
    legacy_task(table, clock, "old-2")
    assert store.next(ANA.sub).task is None, "not in the index: next cannot serve it"

    monkeypatch.setattr(task_store, "QUEUE_BACKFILL_PER_SWEEP", 1)
    first = store.sweep()
    assert (first.queued, first.left_unqueued, first.waiting) == (1, 1, 2)
    second = store.sweep()
    assert (second.queued, second.left_unqueued) == (1, 0)
    fixed = {name: store.get(name) for name in ("old-1", "old-2")}
    assert all(t.priority == rule.base_priority([0.41]) and t.queue_rank is not None for t in fixed.values())

    again = store.sweep()
    assert (again.queued, again.left_unqueued, again.skipped) == (0, 0, 0)
    assert {name: store.get(name) for name in fixed} == fixed, "a second pass changes nothing"
    served = store.next(ANA.sub).task
    assert served is not None and served.loop_name in fixed


def test_handler_reports_the_tasks_it_queued(
    table: ReviewTaskTable,
    clock: Clock,
    run_lifecycle: Callable[[], dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    legacy_task(table, clock, "old-1")
    assert run_lifecycle()["queued"] == 1
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert emitted[-1]["TasksQueued"] == [1.0]
    assert run_lifecycle()["queued"] == 0
