"""How far reviewers of one task agree, when one more reviewer is asked, and the consolidated boxes.

Agreement between two answers is the share of their boxes matched one-to-one by label and IoU
(`review_comparison.compare_boxes`, the project's one matcher): 2 x matched / (boxes of both),
1.0 when both drew nothing. A task's agreement is the mean over every pair of its answers.
Consolidation follows Ground Truth's bounding-box consolidation (it finds the most similar boxes
from different workers by their Jaccard index, IoU, and averages them): here each answer's boxes
are clustered greedily with same-label boxes of the other answers at IoU >= the threshold (one
box per answer in a cluster), a cluster drawn by at least half of the reviewers is kept, and its
box is the mean of its members' edges, rounded to whole pixels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

from hitl_core.detections import Box, Detection
from hitl_core.manifest import ANSWER_ELEMENT
from hitl_core.review_comparison import compare_boxes

AGREEMENT_DECIMALS = 4


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


def answer_boxes(human_answer: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The boxes of one `humanAnswers[]` entry."""
    return list(human_answer["answerContent"][ANSWER_ELEMENT]["boundingBoxes"])


def _box(raw: Mapping[str, Any]) -> Box:
    return Box(int(raw["left"]), int(raw["top"]), int(raw["width"]), int(raw["height"]))


def _as_detections(boxes: Sequence[Mapping[str, Any]]) -> list[Detection]:
    return [Detection(str(b["label"]), 1.0, _box(b)) for b in boxes]


def pair_agreement(
    first: Sequence[Mapping[str, Any]], second: Sequence[Mapping[str, Any]], iou: float
) -> float:
    """2 x boxes matched by label and IoU / boxes of both; 1.0 when neither drew a box."""
    if not first and not second:
        return 1.0
    matched = compare_boxes(_as_detections(first), list(second), iou).true_positives
    return round(2 * matched / (len(first) + len(second)), AGREEMENT_DECIMALS)


def agreement(answers: Sequence[Mapping[str, Any]], iou: float) -> float | None:
    """Mean pairwise agreement of the answers' boxes; None with fewer than two answers."""
    if len(answers) < 2:
        return None
    boxes = [answer_boxes(a) for a in answers]
    pairs = [pair_agreement(a, b, iou) for a, b in combinations(boxes, 2)]
    return round(sum(pairs) / len(pairs), AGREEMENT_DECIMALS)


def is_complete(answers: Sequence[Mapping[str, Any]], task_count: int, rule: AgreementRule | None) -> bool:
    """Enough answers: `task_count`, and with a rule and task count >= 2, agreement at its threshold
    or `max_reviewers` answers."""
    if len(answers) < task_count:
        return False
    if rule is None or task_count < 2:
        return True
    measured = agreement(answers, rule.iou_threshold)
    enough = len(answers) >= max(rule.max_reviewers, task_count)
    return measured is None or measured >= rule.threshold or enough


def consolidate(answers: Sequence[Mapping[str, Any]], iou: float) -> list[dict[str, Any]]:
    """The consolidated boxes (see the module docstring), in the order their clusters were started."""
    clusters: list[list[tuple[int, Box, str]]] = []
    for index, human_answer in enumerate(answers):
        for raw in answer_boxes(human_answer):
            label, box = str(raw["label"]), _box(raw)
            best, best_iou = None, 0.0
            for cluster in clusters:
                if cluster[0][2] != label or any(member[0] == index for member in cluster):
                    continue
                overlap = max(box.iou(member[1]) for member in cluster)
                if overlap >= iou and overlap > best_iou:
                    best, best_iou = cluster, overlap
            if best is None:
                clusters.append([(index, box, label)])
            else:
                best.append((index, box, label))
    needed = len(answers) / 2
    consolidated = []
    for cluster in clusters:
        if len(cluster) < needed:
            continue
        n = len(cluster)
        left = round(sum(b.left for _, b, _ in cluster) / n)
        top = round(sum(b.top for _, b, _ in cluster) / n)
        right = round(sum(b.right for _, b, _ in cluster) / n)
        bottom = round(sum(b.bottom for _, b, _ in cluster) / n)
        consolidated.append(
            {"label": cluster[0][2], "left": left, "top": top, "width": right - left, "height": bottom - top}
        )
    return consolidated
