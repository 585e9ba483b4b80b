"""Everything the quality report shows and the daily run announces, computed once from a sample.

The errors let through are estimated over the recent window (what an alarm should be about), the
advisor replays the policy over both windows, the time series cover every image given.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from hitl_core.config import PipelineConfig
from hitl_core.model_drift import ClassQuality, QualityDrop, Windows, class_quality, drift
from hitl_core.quality_estimates import AcceptedErrorEstimate, ShareEstimate, accepted_error_estimate
from hitl_core.quality_sample import QualitySample, ScoredImage
from hitl_core.threshold_advisor import Advice, advise

MOST_CHANGED = 10
SERIES_LABELS = 6


@dataclass(frozen=True)
class Period:
    """One bucket of a time series: [start, start + length)."""

    start: datetime
    images: int
    reviewed: int
    classes: dict[str, ClassQuality]
    accepted_error: AcceptedErrorEstimate

    @property
    def review_rate(self) -> float | None:
        return self.reviewed / self.images if self.images else None


@dataclass(frozen=True)
class QualityAssessment:
    """The model measured by its reviews: errors let through, drift, the advisor and the series."""

    generated_at: datetime
    windows: Windows
    images: int
    answered: int
    accepted_error: AcceptedErrorEstimate
    max_accepted_error_rate: float
    drops: list[QualityDrop]
    drift_margin: float
    advice: Advice | None
    advice_problem: str | None
    days: list[Period]
    weeks: list[Period]
    most_changed: list[ScoredImage]
    skipped: list[tuple[str, str]]

    @property
    def error_exceeded(self) -> bool:
        return self.accepted_error.exceeds(self.max_accepted_error_rate)

    @property
    def series_labels(self) -> list[str]:
        """The labels with the most reviews over the weeks, most first (at most six)."""
        totals: dict[str, int] = defaultdict(int)
        for week in self.weeks:
            for label, quality in week.classes.items():
                totals[label] += quality.reviews
        return sorted(totals, key=lambda label: (-totals[label], label))[:SERIES_LABELS]

    def summary_lines(self) -> list[str]:
        """Three lines: the errors let through, drift, and the advisor's answer."""
        return [_error_line(self.accepted_error), _drift_line(self.drops), _advice_line(self)]


def _share(estimate: ShareEstimate) -> str:
    return f"{estimate.rate:.1%} (95% interval {estimate.low:.1%}-{estimate.high:.1%})"


def _error_line(error: AcceptedErrorEstimate) -> str:
    if error.estimate is None or not error.enough:
        return (
            f"Errors let through: not estimated, {error.audited} audited image(s) answered in the "
            f"recent window ({error.min_audited} needed)"
        )
    return (
        f"Errors let through: {_share(error.estimate)} of accepted images wrong, from {error.audited} audited"
    )


def _drift_line(drops: list[QualityDrop]) -> str:
    if not drops:
        return "Drift: no class's precision or recall dropped beyond the margin"
    worst = max(drops, key=lambda d: d.drop)
    return (
        f"Drift: {len(drops)} drop(s); worst {worst.label} {worst.metric} "
        f"{worst.baseline:.2f} -> {worst.recent:.2f}"
    )


def _advice_line(assessment: QualityAssessment) -> str:
    if assessment.advice is None:
        return f"Advisor: {assessment.advice_problem}"
    return f"Advisor: {assessment.advice.reason}"


def _answers(images: list[ScoredImage]) -> list[tuple[ScoredImage, float]]:
    """Answered images a person could have been chosen for, with their weights."""
    return [
        (i, i.selection.weight) for i in images if i.comparison is not None and i.selection.kind != "accepted"
    ]


def _periods(
    images: list[ScoredImage], start: datetime, length: timedelta, count: int, min_audited: int
) -> list[Period]:
    buckets: list[list[ScoredImage]] = [[] for _ in range(count)]
    for image in images:
        index = (image.processed_at - start) // length
        if 0 <= index < count:
            buckets[index].append(image)
    return [
        Period(
            start=start + length * n,
            images=len(bucket),
            reviewed=sum(1 for image in bucket if image.outcome == "review"),
            classes=class_quality((i.comparison, w) for i, w in _answers(bucket)),
            accepted_error=accepted_error_estimate(
                ((i.selection, i.comparison.image_wrong) for i, _ in _answers(bucket)), min_audited
            ),
        )
        for n, bucket in enumerate(buckets)
    ]


def _changes(image: ScoredImage) -> int:
    comparison = image.comparison
    assert comparison is not None
    return comparison.false_positives + comparison.false_negatives


def assess(sample: QualitySample, config: PipelineConfig, now: datetime) -> QualityAssessment:
    """Measure the model over the windows ending at `now` (the recent window and the baseline)."""
    quality = config.quality
    windows = Windows.ending(now, quality.recent_days, quality.baseline_days)
    in_windows = [image for image in sample.images if windows.which(image.processed_at) is not None]
    recent = [image for image in in_windows if windows.which(image.processed_at) == "recent"]
    answers = _answers(in_windows)
    advice, problem = None, None
    try:
        advice = advise(
            in_windows,
            config.policy,
            target=quality.max_accepted_error_rate,
            min_audited=quality.min_audited,
        )
    except ValueError as err:
        problem = str(err)
    span = quality.recent_days + quality.baseline_days
    week = timedelta(days=7)
    weeks = -(-span // 7)
    return QualityAssessment(
        generated_at=now,
        windows=windows,
        images=len(in_windows),
        answered=len(answers),
        accepted_error=accepted_error_estimate(
            ((i.selection, i.comparison.image_wrong) for i, _ in _answers(recent)), quality.min_audited
        ),
        max_accepted_error_rate=quality.max_accepted_error_rate,
        drops=drift(
            ((i.processed_at, i.comparison, w) for i, w in answers if i.comparison),
            windows,
            margin=quality.drift_margin,
            min_reviews=quality.min_reviews,
        ),
        drift_margin=quality.drift_margin,
        advice=advice,
        advice_problem=problem,
        days=_periods(in_windows, now - timedelta(days=span), timedelta(days=1), span, quality.min_audited),
        weeks=_periods(in_windows, now - week * weeks, week, weeks, quality.min_audited),
        most_changed=sorted(
            (i for i, _ in answers if _changes(i)), key=lambda i: (-_changes(i), i.processed_at)
        )[:MOST_CHANGED],
        skipped=sample.skipped,
    )
