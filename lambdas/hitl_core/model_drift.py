"""Per-class precision and recall from the reviews, and drift: a class that got worse between windows.

Counts are weighted by how each answered image was selected (an audited image stands for
100/percentage accepted ones), so the measures describe all traffic, not only the doubtful images
the threshold sent to a person. Without an audit sample they describe the reviewed images only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from hitl_core.review_comparison import ReviewComparison, precision, recall

Metric = Literal["precision", "recall"]


@dataclass(frozen=True)
class ClassQuality:
    """One label's weighted counts over some reviews; `reviews` counts the answered images behind them."""

    label: str
    reviews: int
    true_positives: float
    false_positives: float
    false_negatives: float

    @property
    def precision(self) -> float | None:
        return precision(self.true_positives, self.false_positives)

    @property
    def recall(self) -> float | None:
        return recall(self.true_positives, self.false_negatives)

    def value(self, metric: Metric) -> float | None:
        return self.precision if metric == "precision" else self.recall


def class_quality(answered: Iterable[tuple[ReviewComparison, float]]) -> dict[str, ClassQuality]:
    """Sum `(comparison, weight)` pairs per label; a label counts a review where either side drew it."""
    sums: dict[str, list[float]] = {}
    for comparison, weight in answered:
        for label, counts in comparison.per_class.items():
            tally = sums.setdefault(label, [0, 0.0, 0.0, 0.0])
            tally[0] += 1
            tally[1] += weight * counts.true_positives
            tally[2] += weight * counts.false_positives
            tally[3] += weight * counts.false_negatives
    return {label: ClassQuality(label, int(t[0]), t[1], t[2], t[3]) for label, t in sorted(sums.items())}


@dataclass(frozen=True)
class Windows:
    """The recent window and the baseline just before it, as [start, end) times."""

    baseline_start: datetime
    recent_start: datetime
    end: datetime

    @classmethod
    def ending(cls, end: datetime, recent_days: int, baseline_days: int) -> Windows:
        recent_start = end - timedelta(days=recent_days)
        return cls(recent_start - timedelta(days=baseline_days), recent_start, end)

    def which(self, moment: datetime) -> Literal["baseline", "recent"] | None:
        if self.baseline_start <= moment < self.recent_start:
            return "baseline"
        if self.recent_start <= moment < self.end:
            return "recent"
        return None

    def to_dict(self) -> dict[str, str]:
        return {
            "baseline_start": self.baseline_start.isoformat(),
            "recent_start": self.recent_start.isoformat(),
            "end": self.end.isoformat(),
        }


@dataclass(frozen=True)
class QualityDrop:
    """A class whose precision or recall fell by more than the margin from baseline to recent."""

    label: str
    metric: Metric
    baseline: float
    recent: float
    baseline_reviews: int
    recent_reviews: int

    @property
    def drop(self) -> float:
        return self.baseline - self.recent


def quality_drops(
    baseline: dict[str, ClassQuality],
    recent: dict[str, ClassQuality],
    *,
    margin: float,
    min_reviews: int,
) -> list[QualityDrop]:
    """Every (class, metric) that dropped by more than `margin`, with `min_reviews` behind each window."""
    drops = []
    for label in sorted(baseline.keys() & recent.keys()):
        before, after = baseline[label], recent[label]
        if before.reviews < min_reviews or after.reviews < min_reviews:
            continue
        for metric in ("precision", "recall"):
            old, new = before.value(metric), after.value(metric)
            if old is not None and new is not None and old - new > margin:
                drops.append(QualityDrop(label, metric, old, new, before.reviews, after.reviews))
    return drops


def drift(
    answered: Iterable[tuple[datetime, ReviewComparison, float]],
    windows: Windows,
    *,
    margin: float,
    min_reviews: int,
) -> list[QualityDrop]:
    """Split `(answered at, comparison, weight)` into the two windows and compare them per class."""
    split: dict[str, list[tuple[ReviewComparison, float]]] = {"baseline": [], "recent": []}
    for moment, comparison, weight in answered:
        window = windows.which(moment)
        if window is not None:
            split[window].append((comparison, weight))
    return quality_drops(
        class_quality(split["baseline"]),
        class_quality(split["recent"]),
        margin=margin,
        min_reviews=min_reviews,
    )
