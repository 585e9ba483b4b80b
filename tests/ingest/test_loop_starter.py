"""The scheduled loop starter: built from the function's environment, it starts what the budget allows
and reports the budget's state in the review service's metrics."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from hitl_core.config import config_to_env
from hitl_ingest import loop_starter
from ingest.budgeted_a2i import TABLE, Clock, budgeted, expect_start, ingest_doubtful, spend_this_hour
from ingest.builders import LambdaContextStub
from ingest.conftest import BUS, FLOW_ARN, TRAINING_BUCKET, IngestWorld


def emitted(capsys: pytest.CaptureFixture[str]) -> dict:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line][-1]


def test_a_run_starts_the_waiting_loops_the_budget_allows_and_reports_its_state(
    world: IngestWorld, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    loops = budgeted(world, clock, per_hour=1, per_day=10)
    spend_this_hour(loops, clock, 1)
    name = ingest_doubtful(world, "incoming/cat.jpg", 0.3)
    clock.now += timedelta(hours=1)
    expect_start(world, name)
    monkeypatch.setattr(loop_starter, "pending_loops", lambda: loops)

    summary = loop_starter.handler({"detail-type": "Scheduled Event"}, LambdaContextStub())

    assert summary == {"started": 1, "budget_spent": False, "waiting": 0}
    metrics = emitted(capsys)
    assert (metrics["BudgetUsedThisHour"], metrics["BudgetLimitPerHour"], metrics["LoopsWaitingStarted"]) == (
        [1.0],
        [1.0],
        [1.0],
    )
    assert metrics["BudgetLimitPerDay"] == [10.0]


def test_the_starter_is_built_from_the_environment_the_stack_deploys(
    world: IngestWorld, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    budgeted(world, Clock(), per_day=3)
    config = world.config.model_copy(
        update={"review": world.config.review.model_validate({"budget": {"per_day": 3}})}
    )
    for name, value in {
        "HITL_CONFIG": config_to_env(config),
        "REVIEW_BACKEND": "a2i",
        "FLOW_DEFINITION_ARN": FLOW_ARN,
        "EVENT_BUS_NAME": BUS,
        "TRAINING_BUCKET": TRAINING_BUCKET,
        "PENDING_LOOPS_TABLE": TABLE,
    }.items():
        monkeypatch.setenv(name, value)
    loop_starter.pending_loops.cache_clear()
    try:
        assert loop_starter.handler({}, LambdaContextStub()) == {
            "started": 0,
            "budget_spent": False,
            "waiting": 0,
        }
        assert loop_starter.pending_loops().budget.per_day == 3
    finally:
        loop_starter.pending_loops.cache_clear()
    assert emitted(capsys)["BudgetLimitPerDay"] == [3.0]
