"""The assessment of synthetic traffic with a known drift: the estimate's window, the drop, the advisor."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hitl.quality_traffic import Traffic, traffic_documents
from hitl_core.config import load_config
from hitl_core.quality_assessment import assess
from hitl_core.quality_sample import build_sample

END = datetime(2026, 12, 7, tzinfo=UTC)
CONFIG = load_config(
    {"labels": ["person", "car", "dog"], "routing": {"preset": "top-score-below", "sampling_percentage": 10}}
)


@pytest.fixture(scope="module")
def drifting():
    return build_sample(traffic_documents(Traffic(4_000, end=END, drift_extra=0.5)))


def test_the_estimate_covers_the_recent_window_only(drifting):
    assessment = assess(drifting, CONFIG, END)
    recent_audits = [
        image
        for image in drifting.answered
        if image.selection.kind == "audit" and image.processed_at >= assessment.windows.recent_start
    ]
    assert assessment.accepted_error.audited == len(recent_audits) > 20
    assert assessment.accepted_error.wrong == sum(i.comparison.image_wrong for i in recent_audits)
    assert assessment.images == 4_000 and assessment.answered == len(drifting.answered)


def test_a_known_drift_on_one_class_is_found_and_named_in_the_summary(drifting):
    assessment = assess(drifting, CONFIG, END)
    assert {d.label for d in assessment.drops} == {"dog"}
    assert all(d.drop > CONFIG.quality.drift_margin for d in assessment.drops)
    errors, drift_line, advisor = assessment.summary_lines()
    assert errors.startswith("Errors let through: ") and "audited" in errors
    assert drift_line.startswith("Drift: ") and "worst dog" in drift_line
    assert advisor.startswith("Advisor: ")
    steady = build_sample(traffic_documents(Traffic(4_000, end=END, drift_label=None)))
    assert assess(steady, CONFIG, END).drops == []


def test_the_series_bucket_every_image_once(drifting):
    assessment = assess(drifting, CONFIG, END)
    assert len(assessment.days) == 35 and len(assessment.weeks) == 5
    assert sum(day.images for day in assessment.days) == 4_000
    assert sum(week.images for week in assessment.weeks) == 4_000
    assert sum(day.reviewed for day in assessment.days) == sum(i.outcome == "review" for i in drifting.images)
    assert sorted(assessment.series_labels) == ["car", "dog", "person"]
    changes = [i.comparison.false_positives + i.comparison.false_negatives for i in assessment.most_changed]
    assert len(changes) == 10 and changes == sorted(changes, reverse=True) and changes[-1] > 0


def test_a_policy_without_a_threshold_is_reported_not_advised(drifting):
    config = load_config(
        {
            "labels": ["person", "car", "dog"],
            "routing": {"policy": {"Conditions": [{"ConditionType": "NoDetections"}]}},
        }
    )
    assessment = assess(drifting, config, END)
    assert assessment.advice is None
    assert "no ModelConfidenceCheck" in assessment.summary_lines()[2]
