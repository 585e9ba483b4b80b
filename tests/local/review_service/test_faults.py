"""Failures injected into the local outbox: the share asked for, half before and half after the
function's work, and nothing at all when the environment does not ask."""

from __future__ import annotations

from typing import Any

import pytest

from hitl.local.review_service.faults import (
    FAILURE_FRACTION,
    INJECTED,
    InjectedFailure,
    failing_sometimes,
    with_injected_failures,
)


class Counting:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self.calls += 1
        return {"batchItemFailures": []}


def test_every_fifth_batch_fails_first_before_then_after_the_work() -> None:
    handler, lines = Counting(), []
    wrapped = failing_sometimes(handler, "review-outbox", 0.2, lines.append)
    outcomes = []
    for _ in range(20):
        ran_before = handler.calls
        try:
            wrapped({"Records": []}, None)
            outcomes.append("ok")
        except InjectedFailure:
            outcomes.append("after" if handler.calls > ran_before else "before")
    assert outcomes == (["ok"] * 4 + ["before"] + ["ok"] * 4 + ["after"]) * 2
    assert handler.calls == 18
    assert len(lines) == 4 and all(INJECTED in line for line in lines)


def test_only_the_environment_turns_failures_on() -> None:
    handler = Counting()
    assert with_injected_failures(handler, "review-outbox", {}, print) is handler
    half = with_injected_failures(handler, "review-outbox", {FAILURE_FRACTION: "0.5"}, lambda line: None)
    half({"Records": []}, None)
    with pytest.raises(InjectedFailure):
        half({"Records": []}, None)
    # Every batch failing would never let the stream move on.
    with pytest.raises(ValueError, match="below 1"):
        with_injected_failures(handler, "review-outbox", {FAILURE_FRACTION: "1"}, print)
