"""The review budget: at most so many reviews an hour, a day, and per reviewer a day.

A review is counted when a reviewer takes a task (a claim that is not a renewal), in the same
transaction as the claim, each counter on the condition that it is still below its limit; a lease
given back returns its count. Counters are keyed by the UTC hour and day they count, so a new
window starts at zero without any reset.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

COUNTER_PREFIX = "~budget/"
"""Counter items share the task table; no loop name can start with '~' (A2I's names are [a-z0-9-])."""


@dataclass(frozen=True)
class BudgetWindow:
    """One counter a claim must stay within: its item key and its limit."""

    key: str
    limit: int


@dataclass(frozen=True)
class ReviewBudget:
    """Limits (None: unlimited) on reviews per UTC hour, per UTC day, and per reviewer per UTC day."""

    per_hour: int | None = None
    per_day: int | None = None
    per_reviewer_day: int | None = None

    def __post_init__(self) -> None:
        for name in ("per_hour", "per_day", "per_reviewer_day"):
            limit = getattr(self, name)
            if limit is not None and limit < 1:
                raise ValueError(f"{name} must be at least 1 (or left out for no limit)")

    @property
    def limited(self) -> bool:
        return any(v is not None for v in (self.per_hour, self.per_day, self.per_reviewer_day))

    def windows(self, reviewer: str, now: datetime) -> list[BudgetWindow]:
        """The counters one claim by `reviewer` at `now` counts against (limited ones only)."""
        found = []
        if self.per_hour is not None:
            found.append(BudgetWindow(hour_key(now), self.per_hour))
        if self.per_day is not None:
            found.append(BudgetWindow(day_key(now), self.per_day))
        if self.per_reviewer_day is not None:
            found.append(BudgetWindow(reviewer_day_key(reviewer, now), self.per_reviewer_day))
        return found


def hour_key(now: datetime) -> str:
    return f"{COUNTER_PREFIX}hour/{now.astimezone(UTC):%Y-%m-%dT%H}"


def day_key(now: datetime) -> str:
    return f"{COUNTER_PREFIX}day/{now.astimezone(UTC):%Y-%m-%d}"


def reviewer_day_key(reviewer: str, now: datetime) -> str:
    return f"{COUNTER_PREFIX}reviewer/{now.astimezone(UTC):%Y-%m-%d}/{reviewer}"


def is_counter_key(name: str) -> bool:
    """True for a counter item's key (never a task)."""
    return name.startswith(COUNTER_PREFIX)


def team_counter_keys(now: datetime) -> list[str]:
    """The counters of the team's UTC hour and day at `now` (read for the budget's metrics)."""
    return [hour_key(now), day_key(now)]


def budget_metrics(budget: ReviewBudget, now: datetime, used: Mapping[str, int]) -> dict[str, int]:
    """The budget's state as the dashboard shows it: reviews counted this UTC hour and today (`used`
    holds the `team_counter_keys` counters), and the limits when set."""
    hour, day = team_counter_keys(now)
    found = {"BudgetUsedThisHour": used.get(hour, 0), "BudgetUsedToday": used.get(day, 0)}
    if budget.per_hour is not None:
        found["BudgetLimitPerHour"] = budget.per_hour
    if budget.per_day is not None:
        found["BudgetLimitPerDay"] = budget.per_day
    return found


OVER_BUDGET = "over-budget"
"""The reason a prediction record and its event give for an image accepted because the budget is spent."""


@dataclass(frozen=True)
class OverBudgetRule:
    """`review.budget.when_spent`: with `accept`, an image routed to review while the team's budget is
    spent is accepted instead; audit samples stay outside the budget (`audit_outside`) and still queue."""

    budget: ReviewBudget
    accept: bool = False
    audit_outside: bool = True

    def team_windows(self, now: datetime) -> list[BudgetWindow]:
        """The team's counters (the hour's, the day's) to read at `now`; none when nothing is accepted."""
        if not self.accept:
            return []
        return [w for w in self.budget.windows("", now) if not w.key.startswith(f"{COUNTER_PREFIX}reviewer/")]

    def accepts(self, windows: list[BudgetWindow], used: dict[str, int], condition_results: dict) -> bool:
        """True when a window's counted reviews reached its limit and the image is not an audit sample
        kept outside the budget: no reviewer could take the task before the window turns."""
        spent = any(used.get(w.key, 0) >= w.limit for w in windows)
        return spent and not (self.audit_outside and audit_sampled(condition_results))


def audit_sampled(condition_results: dict) -> bool:
    """True when a top-level `Sampling` condition (routing's independent audit) sent the image to review."""
    return any(
        c.get("ConditionType") == "Sampling" and c.get("EvaluationResult") is True
        for c in condition_results.get("Conditions", [])
    )
