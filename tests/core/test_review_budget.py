from datetime import UTC, datetime

import pytest

from hitl_core.review_budget import BudgetWindow, ReviewBudget, is_counter_key

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
