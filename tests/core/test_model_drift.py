"""Per-class precision and recall, weighted, and drift between two windows with a known drop."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hitl_core.model_drift import Windows, class_quality, drift, quality_drops
from hitl_core.review_comparison import ClassCounts, ReviewComparison

END = datetime(2026, 12, 7, tzinfo=UTC)


def comparison(**per_class: tuple[int, int, int]) -> ReviewComparison:
    return ReviewComparison(0.5, {label: ClassCounts(*counts) for label, counts in per_class.items()})


def test_class_quality_sums_weighted_counts_per_label():
    quality = class_quality(
        [
            (comparison(cat=(1, 0, 0), dog=(0, 1, 0)), 1.0),
            (comparison(cat=(0, 0, 1)), 10.0),  # an audited image standing for ten
        ]
    )
    assert quality["cat"].reviews == 2 and quality["dog"].reviews == 1
    assert quality["cat"].precision == 1.0
    assert quality["cat"].recall == pytest.approx(1 / 11)
    assert quality["dog"].precision == 0.0 and quality["dog"].recall is None


def test_windows_split_the_last_week_from_the_four_before():
    windows = Windows.ending(END, recent_days=7, baseline_days=28)
    assert windows.which(END - timedelta(days=1)) == "recent"
    assert windows.which(END - timedelta(days=7, seconds=1)) == "baseline"
    assert windows.which(END - timedelta(days=35, seconds=1)) is None
    assert windows.which(END) is None


def _reviews(start: datetime, days: int, count: int, hits: int, label: str = "dog"):
    """`count` reviews spread over `days`, the first `hits` right, the rest missed by the model."""
    step = timedelta(days=days) / count
    return [
        (start + step * n, comparison(**{label: (1, 0, 0) if n < hits else (0, 0, 1)}), 1.0)
        for n in range(count)
    ]


def test_a_known_recall_drop_is_found_and_a_small_one_is_not():
    windows = Windows.ending(END, recent_days=7, baseline_days=28)
    baseline = _reviews(windows.baseline_start, 28, 100, 90)  # recall 0.9
    dropped = _reviews(windows.recent_start, 7, 40, 28)  # recall 0.7
    steady = _reviews(windows.recent_start, 7, 40, 34)  # recall 0.85

    drops = drift(baseline + dropped, windows, margin=0.1, min_reviews=30)
    assert [(d.label, d.metric) for d in drops] == [("dog", "recall")]
    assert drops[0].baseline == pytest.approx(0.9) and drops[0].recent == pytest.approx(0.7)
    assert drops[0].drop == pytest.approx(0.2)
    assert (drops[0].baseline_reviews, drops[0].recent_reviews) == (100, 40)
    assert drift(baseline + steady, windows, margin=0.1, min_reviews=30) == []


def test_too_few_reviews_in_a_window_judge_nothing():
    windows = Windows.ending(END, recent_days=7, baseline_days=28)
    baseline = _reviews(windows.baseline_start, 28, 100, 90)
    few = _reviews(windows.recent_start, 7, 10, 0)  # recall 0, but only ten reviews
    assert drift(baseline + few, windows, margin=0.1, min_reviews=30) == []
    assert quality_drops(class_quality([]), class_quality([]), margin=0.1, min_reviews=1) == []
