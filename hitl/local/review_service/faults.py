"""Failures injected into a review service function on the local stack, for the load benchmark: a
share of its batches fail as a crashed execution environment would, half before the function ran
and half after it did its work (the checkpoint lost), so the stream hands the batch over again.
The failing calls are spread evenly, not drawn at random, so a run can be repeated."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping
from typing import Any

from hitl.local.worker import Handler

FAILURE_FRACTION = "HITL_LOCAL_OUTBOX_FAILURE_FRACTION"
"""The environment variable naming the share (0 to 1) of the outbox's batches that fail."""
INJECTED = "injected failure"
"""What each injected failure's log line says, so a benchmark can count them."""


class InjectedFailure(RuntimeError):
    """A failure the local stack injected on purpose."""


def failing_sometimes(
    handler: Handler, function: str, fraction: float, on_line: Callable[[str], None]
) -> Handler:
    """`handler`, except that `fraction` of its calls fail, spread evenly (with 0.2, every fifth),
    the first before it runs, the next after it ran, and so on."""
    if not 0 <= fraction < 1:
        raise ValueError(f"a failure fraction is at least 0 and below 1, not {fraction}")
    calls = itertools.count(1)
    failures = itertools.count(1)

    def handle(event: dict[str, Any], context: Any) -> Any:
        call = next(calls)
        failing = math.floor(call * fraction) > math.floor((call - 1) * fraction)
        before = failing and next(failures) % 2 == 1
        if before:
            on_line(f"[{function}] {INJECTED} before the function ran")
            raise InjectedFailure("before the function ran")
        result = handler(event, context)
        if failing:
            on_line(f"[{function}] {INJECTED} after the function ran")
            raise InjectedFailure("after the function ran")
        return result

    return handle


def with_injected_failures(
    handler: Handler, function: str, environ: Mapping[str, str], on_line: Callable[[str], None]
) -> Handler:
    """`handler` failing as `environ` asks (FAILURE_FRACTION), or unchanged."""
    fraction = environ.get(FAILURE_FRACTION)
    return failing_sometimes(handler, function, float(fraction), on_line) if fraction else handler
