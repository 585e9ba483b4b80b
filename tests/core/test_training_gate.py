"""The evaluation gate: scores read from the service answers, and the deploy decision."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hitl_core.training_gate import F1_METRIC, MAP_METRIC, final_metric, judge, rekognition_f1

scores = st.floats(min_value=0, max_value=1)


def test_the_map_is_read_from_the_final_metric_list():
    metrics = [
        {"MetricName": "train:progress", "Value": 100.0},
        {"MetricName": "validation:mAP", "Value": 0.4125, "Timestamp": "2026-01-01T00:00:00Z"},
    ]
    assert final_metric(metrics) == 0.4125
    assert final_metric(metrics[:1]) is None


def test_the_f1_is_read_from_the_evaluation_result():
    assert rekognition_f1({"EvaluationResult": {"F1Score": 0.8}}) == pytest.approx(0.8)
    assert rekognition_f1({"Status": "TRAINING_IN_PROGRESS"}) is None


@pytest.mark.parametrize(
    ("new", "current", "decision"),
    [
        (0.55, 0.50, "deploy"),
        (0.505, 0.50, "keep-current"),
        (0.45, 0.50, "keep-current"),
        (0.50, 0.50, "keep-current"),
        (None, 0.50, "no-score"),
        (0.50, None, "no-score"),
    ],
)
def test_a_model_is_deployed_only_when_better_by_the_minimum(new, current, decision):
    result = judge(new, current, 0.01, MAP_METRIC)
    assert result.decision == decision
    assert (result.new_score, result.current_score, result.metric) == (new, current, MAP_METRIC)


@given(scores, scores, st.floats(min_value=0, max_value=0.2))
def test_deploy_means_strictly_better_by_at_least_the_minimum(new, current, minimum):
    result = judge(new, current, minimum, F1_METRIC)
    assert (result.decision == "deploy") == (new > current and new - current >= minimum)
    assert result.to_dict()["min_improvement"] == minimum
