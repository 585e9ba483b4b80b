from datetime import UTC, datetime

import pytest

from hitl_core.review_budget import BudgetWindow, OverBudgetRule, ReviewBudget, audit_sampled, is_counter_key

NOW = datetime(2026, 12, 7, 13, 45, tzinfo=UTC)


def test_windows_name_the_hour_the_day_and_the_reviewer_day() -> None:
    budget = ReviewBudget(per_hour=10, per_day=100, per_reviewer_day=30)
    assert budget.windows("alice", NOW) == [
        BudgetWindow("~budget/hour/2026-12-07T13", 10),
        BudgetWindow("~budget/day/2026-12-07", 100),
        BudgetWindow("~budget/reviewer/2026-12-07/alice", 30),
    ]
    assert all(is_counter_key(w.key) for w in budget.windows("alice", NOW))
    assert not is_counter_key("cat-0001")


def test_only_limited_windows_count() -> None:
    assert ReviewBudget(per_day=5).windows("bob", NOW) == [BudgetWindow("~budget/day/2026-12-07", 5)]
    assert ReviewBudget().windows("bob", NOW) == []
    assert not ReviewBudget().limited


def test_windows_are_in_utc() -> None:
    from datetime import timedelta, timezone

    local = NOW.astimezone(timezone(timedelta(hours=-14)))
    assert ReviewBudget(per_hour=1).windows("x", local)[0].key == "~budget/hour/2026-12-07T13"


def test_a_limit_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="per_hour"):
        ReviewBudget(per_hour=0)


def condition(kind: str, held: bool) -> dict:
    return {"ConditionType": kind, "ConditionParameters": {}, "EvaluationResult": held}


CONFIDENCE = {"Conditions": [condition("ModelConfidenceCheck", True), condition("Sampling", False)]}
AUDIT = {"Conditions": [condition("ModelConfidenceCheck", False), condition("Sampling", True)]}


def test_over_budget_reads_the_teams_hour_and_day_never_a_reviewers_day() -> None:
    budget = ReviewBudget(per_hour=10, per_day=100, per_reviewer_day=30)
    assert OverBudgetRule(budget, accept=True).team_windows(NOW) == [
        BudgetWindow("~budget/hour/2026-12-07T13", 10),
        BudgetWindow("~budget/day/2026-12-07", 100),
    ]
    assert OverBudgetRule(budget, accept=False).team_windows(NOW) == []
    assert OverBudgetRule(ReviewBudget(per_reviewer_day=3), accept=True).team_windows(NOW) == []


def test_an_image_is_accepted_once_a_window_has_counted_its_limit() -> None:
    rule = OverBudgetRule(ReviewBudget(per_hour=10, per_day=100), accept=True)
    windows = rule.team_windows(NOW)
    hour, day = (w.key for w in windows)
    assert not rule.accepts(windows, {hour: 9, day: 50}, CONFIDENCE)
    assert rule.accepts(windows, {hour: 10, day: 50}, CONFIDENCE)
    assert rule.accepts(windows, {hour: 0, day: 100}, CONFIDENCE)
    assert not rule.accepts(windows, {}, CONFIDENCE)


def test_audit_samples_stay_outside_the_budget_unless_told_otherwise() -> None:
    budget = ReviewBudget(per_hour=1)
    spent = {"~budget/hour/2026-12-07T13": 1}
    outside = OverBudgetRule(budget, accept=True)
    inside = OverBudgetRule(budget, accept=True, audit_outside=False)
    assert not outside.accepts(outside.team_windows(NOW), spent, AUDIT)
    assert inside.accepts(inside.team_windows(NOW), spent, AUDIT)


def test_only_a_top_level_sampling_condition_that_held_is_an_audit() -> None:
    assert audit_sampled(AUDIT)
    assert not audit_sampled(CONFIDENCE)
    nested = {"Conditions": [{"Or": [condition("Sampling", True)], "EvaluationResult": True}]}
    assert not audit_sampled(nested)
    assert not audit_sampled({})


def test_budget_metrics_report_the_teams_use_and_the_limits_set() -> None:
    from hitl_core.review_budget import budget_metrics, team_counter_keys

    now = datetime(2026, 12, 7, 15, 30, tzinfo=UTC)
    hour, day = team_counter_keys(now)
    assert budget_metrics(ReviewBudget(per_day=40), now, {hour: 3, day: 12}) == {
        "BudgetUsedThisHour": 3,
        "BudgetUsedToday": 12,
        "BudgetLimitPerDay": 40,
    }
    assert budget_metrics(ReviewBudget(per_hour=5), now, {}) == {
        "BudgetUsedThisHour": 0,
        "BudgetUsedToday": 0,
        "BudgetLimitPerHour": 5,
    }
