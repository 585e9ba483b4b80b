"""Gold tasks: images whose answer is known, mixed into a reviewer's tasks to measure the reviewer.

A gold answer is scored by `review_agreement.pair_agreement` against the known boxes (matched by
label and IoU with the project's one matcher), kept per reviewer, and never reaches the training
manifest. Which of a reviewer's tasks is gold is decided from counts alone, so it is the same on
every retry: the n-th task served is gold while gold tasks so far < floor(n x share).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hitl_core.review_agreement import pair_agreement


@dataclass(frozen=True)
class GoldRule:
    """`share` of a reviewer's tasks are gold; a mean gold score below `min_score` (over at least
    `min_tasks` gold answers) is reported."""

    share: float = 0.05
    min_score: float = 0.7
    min_tasks: int = 5
    iou_threshold: float = 0.5

    def __post_init__(self) -> None:
        if not 0.0 <= self.share < 1.0:
            raise ValueError("share must lie in [0, 1)")
        if not 0.0 <= self.min_score <= 1.0 or not 0.0 < self.iou_threshold <= 1.0:
            raise ValueError("min_score must lie in [0, 1], iou_threshold in (0, 1]")
        if self.min_tasks < 1:
            raise ValueError("min_tasks must be at least 1")

    def serve_gold(self, served: int, gold_served: int) -> bool:
        """Whether the reviewer's next task (after `served`, of which `gold_served` gold) is gold."""
        return gold_served < math.floor((served + 1) * self.share)

    def score(self, known: Sequence[Mapping[str, Any]], given: Sequence[Mapping[str, Any]]) -> float:
        """1.0 when the answer has exactly the known boxes (by label and IoU), down to 0."""
        return pair_agreement(known, given, self.iou_threshold)

    def below(self, scores: Sequence[float]) -> bool:
        """True when a reviewer's gold scores are enough to judge and their mean is below `min_score`."""
        return len(scores) >= self.min_tasks and mean_score(scores) < self.min_score


def mean_score(scores: Sequence[float]) -> float | None:
    return round(sum(scores) / len(scores), 4) if scores else None
