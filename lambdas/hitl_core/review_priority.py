"""Which open review task is served first: a base priority from the model's scores, aged by waiting time.

Effective priority = base + age / aging_seconds. Since every task ages at the same rate, ordering by
it equals ordering by `queue_rank = created_ms - base * aging_seconds * 1000` (smaller is served
first), a number fixed at creation: an index sorted on it serves the best task first, with no scan
and no re-ranking sweep, and a task waiting `aging_seconds` longer than another outranks it by one
whole priority point, so nothing starves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

PriorityBasis = Literal["threshold-distance", "lowest-score"]
RANK_OFFSET_MS = 10**15
"""Added to every rank so it stays positive (and fits a DynamoDB number) for any priority in [0, 1]."""


@dataclass(frozen=True)
class PriorityRule:
    """How a task's base priority (0 to 1, higher first) is derived, and how fast waiting tasks age."""

    basis: PriorityBasis = "threshold-distance"
    threshold: float = 0.5
    aging_seconds: int = 3600

    def __post_init__(self) -> None:
        if self.aging_seconds <= 0:
            raise ValueError("aging_seconds must be positive")
        if not 0.0 < self.threshold < 1.0:
            raise ValueError("threshold must lie in (0, 1)")

    def base_priority(self, scores: Sequence[float]) -> float:
        """1 for the image the model is least sure of, 0 for the one it is surest of.

        `threshold-distance`: how close the top score (0 when nothing was found) lies to the
        threshold, relative to the farthest a score can lie on that side; `lowest-score`: 1 minus
        the lowest score (1 when nothing was found).
        """
        if self.basis == "lowest-score":
            return round(1.0 - min(scores, default=0.0), 6)
        top = max(scores, default=0.0)
        span = self.threshold if top <= self.threshold else 1.0 - self.threshold
        return round(max(0.0, 1.0 - abs(top - self.threshold) / span), 6)

    def queue_rank(self, created_at: datetime, priority: float) -> int:
        """The index sort key: smaller is served first; equal to ordering by effective priority."""
        return queue_rank(created_at, priority, self.aging_seconds)

    def effective_priority(self, created_at: datetime, priority: float, now: datetime) -> float:
        """base + age / aging_seconds: what the rank orders by (for views and tests)."""
        return priority + (now - created_at).total_seconds() / self.aging_seconds


def queue_rank(created_at: datetime, priority: float, aging_seconds: int) -> int:
    """RANK_OFFSET_MS + creation in ms - priority x aging period in ms (see the module docstring)."""
    created_ms = int(created_at.timestamp() * 1000)
    return RANK_OFFSET_MS + created_ms - round(priority * aging_seconds * 1000)


def content_scores(input_content: dict[str, Any]) -> list[float]:
    """The scores of the boxes the reviewer is shown (InputContent's `initialScores`)."""
    scores = input_content.get("initialScores")
    return [float(s) for s in scores] if isinstance(scores, list) else []
