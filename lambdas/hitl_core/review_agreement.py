"""How far the reviewers of one task agree, and when one more reviewer is asked.

Agreement between two answers is the share of their boxes matched one-to-one by label and IoU
(`review_comparison.compare_boxes`, the project's one matcher): 2 x matched / (boxes of both),
1.0 when both drew nothing. A task's agreement is the mean over every pair of its answers. The
consolidated line itself is `manifest.consolidate` (Ground Truth's bounding-box consolidation).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

from hitl_core.detections import Box, Detection
from hitl_core.review_comparison import compare_boxes

AGREEMENT_DECIMALS = 4
AnswerBox = Mapping[str, Any] | tuple[str, Box]
"""A reviewer's box: an A2I `boundingBoxes` entry, or `(label, Box)` as the manifest reads it."""


@dataclass(frozen=True)
class AgreementRule:
    """Below `threshold` agreement (task count >= 2) one more reviewer is asked, up to `max_reviewers`."""

    threshold: float = 0.8
    max_reviewers: int = 3
    iou_threshold: float = 0.5

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold <= 1.0 or not 0.0 < self.iou_threshold <= 1.0:
            raise ValueError("threshold and iou_threshold must lie in (0, 1]")
        if self.max_reviewers < 1:
            raise ValueError("max_reviewers must be at least 1")


def _as_detection(item: AnswerBox) -> Detection:
    if isinstance(item, tuple):
        return Detection(str(item[0]), 1.0, item[1])
    box = Box(int(item["left"]), int(item["top"]), int(item["width"]), int(item["height"]))
    return Detection(str(item["label"]), 1.0, box)


def pair_agreement(first: Sequence[AnswerBox], second: Sequence[AnswerBox], iou: float) -> float:
    """2 x boxes matched by label and IoU / boxes of both; 1.0 when neither drew a box."""
    if not first and not second:
        return 1.0
    matched = compare_boxes([_as_detection(b) for b in first], list(second), iou).true_positives
    return round(2 * matched / (len(first) + len(second)), AGREEMENT_DECIMALS)


def agreement(answers: Sequence[Sequence[AnswerBox]], iou: float) -> float | None:
    """Mean pairwise agreement of the answers' boxes (one sequence per answer); None under two answers."""
    if len(answers) < 2:
        return None
    pairs = [pair_agreement(a, b, iou) for a, b in combinations(answers, 2)]
    return round(sum(pairs) / len(pairs), AGREEMENT_DECIMALS)


def is_complete(answers: Sequence[Sequence[AnswerBox]], task_count: int, rule: AgreementRule | None) -> bool:
    """Enough answers: `task_count`, and with a rule and task count >= 2, agreement at its threshold
    or `max_reviewers` answers."""
    if len(answers) < task_count:
        return False
    if rule is None or task_count < 2:
        return True
    measured = agreement(answers, rule.iou_threshold)
    enough = len(answers) >= max(rule.max_reviewers, task_count)
    return measured is None or measured >= rule.threshold or enough
