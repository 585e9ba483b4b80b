"""The model's boxes against the reviewer's final boxes for one review, counted as detection benchmarks count.

"The model's detections" here are the boxes the reviewer was shown as the task's initial value
(`human_loop.shown_detections`): detections at or above the policy's MinDisplayScore whose label
the task offers. Hidden ones (below MinDisplayScore, or of a label not offered) are left out: the
reviewer could neither keep nor correct them, so counting them would charge the model for boxes
no one judged. The reviewer starts from the model's boxes, so agreement is measured against an
anchored reviewer: a box left as drawn counts as right.

Matching, per class (COCO's rule): model boxes in descending score order (ties keep input order),
each taking the unmatched reviewer box of its label with the highest IoU, if that IoU is at
least the threshold; a match is a true positive, an unmatched model box a false positive, an
unmatched reviewer box a false negative. A relabel is a false-positive model box that overlaps
(IoU >= threshold) a still-unmatched reviewer box of another label, paired greedily in the same
order; it is counted as a relabel besides its false positive and false negative, not instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from hitl_core.detections import Box

DEFAULT_IOU_THRESHOLD = 0.5
IOU_DECIMALS = 4
_BOX_FIELDS = ("left", "top", "width", "height")


class ScoredBox(Protocol):
    """A model detection: `hitl_core.detections.Detection` (one with `box` None is image-level)."""

    @property
    def label(self) -> str: ...

    @property
    def score(self) -> float: ...

    @property
    def box(self) -> Box | None: ...


ReviewerBox = tuple[str, Box] | Mapping[str, Any] | Any
"""A reviewer's box: `(label, Box)`, a mapping with label/left/top/width/height (A2I's
`boundingBoxes` entries) or an object with those attributes (`events.LabeledBox`)."""


def precision(true_positives: float, false_positives: float) -> float | None:
    """Share of the model's boxes the reviewer kept; None when the model drew none."""
    drawn = true_positives + false_positives
    return true_positives / drawn if drawn else None


def recall(true_positives: float, false_negatives: float) -> float | None:
    """Share of the reviewer's boxes the model had; None when the reviewer has none."""
    wanted = true_positives + false_negatives
    return true_positives / wanted if wanted else None


@dataclass(frozen=True)
class ClassCounts:
    """One label's counts in one review (or summed over many with `+`)."""

    true_positives: int = 0
    false_positives: int = 0
    false_negatives: int = 0

    def __add__(self, other: ClassCounts) -> ClassCounts:
        return ClassCounts(
            self.true_positives + other.true_positives,
            self.false_positives + other.false_positives,
            self.false_negatives + other.false_negatives,
        )

    @property
    def precision(self) -> float | None:
        return precision(self.true_positives, self.false_positives)

    @property
    def recall(self) -> float | None:
        return recall(self.true_positives, self.false_negatives)

    def to_dict(self) -> dict[str, int]:
        return {
            "true_positives": self.true_positives,
            "false_positives": self.false_positives,
            "false_negatives": self.false_negatives,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ClassCounts:
        return cls(int(data["true_positives"]), int(data["false_positives"]), int(data["false_negatives"]))


@dataclass(frozen=True)
class ReviewComparison:
    """What the reviewer did to the model's boxes in one review, at one IoU threshold."""

    iou_threshold: float
    per_class: dict[str, ClassCounts]
    matched_ious: tuple[float, ...] = ()
    relabels: tuple[tuple[str, str], ...] = ()
    changed: bool = False
    _totals: ClassCounts = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "per_class", dict(sorted(self.per_class.items())))
        object.__setattr__(self, "matched_ious", tuple(round(i, IOU_DECIMALS) for i in self.matched_ious))
        object.__setattr__(self, "relabels", tuple((str(a), str(b)) for a, b in self.relabels))
        object.__setattr__(self, "_totals", sum(self.per_class.values(), ClassCounts()))

    @property
    def true_positives(self) -> int:
        return self._totals.true_positives

    @property
    def false_positives(self) -> int:
        return self._totals.false_positives

    @property
    def false_negatives(self) -> int:
        return self._totals.false_negatives

    @property
    def image_wrong(self) -> bool:
        """True when the model missed a box or drew a false one at the threshold."""
        return self.false_positives > 0 or self.false_negatives > 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe, for review records and events; `from_dict` reads it back."""
        return {
            "iou_threshold": self.iou_threshold,
            "true_positives": self.true_positives,
            "false_positives": self.false_positives,
            "false_negatives": self.false_negatives,
            "image_wrong": self.image_wrong,
            "changed": self.changed,
            "per_class": {label: counts.to_dict() for label, counts in self.per_class.items()},
            "matched_ious": list(self.matched_ious),
            "relabels": [{"from_label": a, "to_label": b} for a, b in self.relabels],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReviewComparison:
        """Read `to_dict`'s shape; the totals are derived from `per_class`, not read."""
        return cls(
            iou_threshold=float(data["iou_threshold"]),
            per_class={str(k): ClassCounts.from_dict(v) for k, v in data["per_class"].items()},
            matched_ious=tuple(float(i) for i in data.get("matched_ious", ())),
            relabels=tuple((r["from_label"], r["to_label"]) for r in data.get("relabels", ())),
            changed=bool(data["changed"]),
        )


def compare_boxes(
    model: Sequence[ScoredBox],
    reviewer: Sequence[ReviewerBox],
    iou_threshold: float = DEFAULT_IOU_THRESHOLD,
) -> ReviewComparison:
    """Match the model's boxes to the reviewer's final boxes by the module docstring's rule.

    Image-level detections (no box) take no part. Cost: model boxes x reviewer boxes, at most.
    """
    if math.isnan(iou_threshold) or not 0.0 < iou_threshold <= 1.0:
        raise ValueError(f"the IoU threshold must lie in (0, 1], got {iou_threshold!r}")
    boxed = [(d.score, index, d.label, d.box) for index, d in enumerate(model) if d.box is not None]
    ranked = [(label, box) for _, _, label, box in sorted(boxed, key=lambda d: (-d[0], d[1]))]
    truth = [_reviewer_box(item) for item in reviewer]
    unmatched = dict.fromkeys(range(len(truth)))
    counts: dict[str, list[int]] = {}
    ious: list[float] = []
    false_positives: list[tuple[str, Box]] = []
    for label, box in ranked:
        tally = counts.setdefault(label, [0, 0, 0])
        best, overlap = _best(box, truth, unmatched, iou_threshold, lambda other, label=label: other == label)
        if best is None:
            tally[1] += 1
            false_positives.append((label, box))
        else:
            tally[0] += 1
            ious.append(overlap)
            del unmatched[best]
    for index in unmatched:
        counts.setdefault(truth[index][0], [0, 0, 0])[2] += 1
    relabels = []
    for label, box in false_positives:
        best, _ = _best(box, truth, unmatched, iou_threshold, lambda other, label=label: other != label)
        if best is not None:
            relabels.append((label, truth[best][0]))
            del unmatched[best]
    return ReviewComparison(
        iou_threshold=iou_threshold,
        per_class={label: ClassCounts(*tally) for label, tally in counts.items()},
        matched_ious=tuple(ious),
        relabels=tuple(relabels),
        changed=_sorted_boxes(ranked) != _sorted_boxes(truth),
    )


def _best(
    box: Box,
    truth: list[tuple[str, Box]],
    candidates: Iterable[int],
    threshold: float,
    label_fits: Callable[[str], bool],
) -> tuple[int | None, float]:
    """The candidate of a fitting label with the highest IoU >= threshold (the first on ties)."""
    best, best_iou = None, 0.0
    for index in candidates:
        label, other = truth[index]
        if label_fits(label):
            overlap = box.iou(other)
            if overlap >= threshold and overlap > best_iou:
                best, best_iou = index, overlap
    return best, best_iou


def _reviewer_box(item: ReviewerBox) -> tuple[str, Box]:
    if isinstance(item, tuple):
        label, box = item
        return str(label), box
    if isinstance(item, Mapping):
        return str(item["label"]), Box(*(int(item[k]) for k in _BOX_FIELDS))
    return str(item.label), Box(*(int(getattr(item, k)) for k in _BOX_FIELDS))


def _sorted_boxes(boxes: Iterable[tuple[str, Box]]) -> list[tuple[str, int, int, int, int]]:
    return sorted((label, box.left, box.top, box.width, box.height) for label, box in boxes)
