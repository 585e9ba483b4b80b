"""The lifecycle sweep: expiry after the availability lifetime, run-out leases back to the queue, metrics."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from hitl_core.review_tasks import EXPIRED, ReviewTask, TaskStatus
from hitl_review_service import lifecycle
from hitl_review_service.task_store import TaskStore
from review_service.builders import ANA, AVAILABILITY_SECONDS, LEASE_SECONDS, Clock
from review_service.conftest import FakeLambdaContext

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
