"""The evaluation gate: a retrained model replaces the current one only when its validation score
(built-in detector: validation:mAP; Rekognition Custom Labels: F1) beats the current model's by
`training.min_improvement`. Both scores are recorded whatever the decision.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

MAP_METRIC = "validation:mAP"
F1_METRIC = "F1"

Decision = Literal["deploy", "keep-current", "no-score"]


@dataclass(frozen=True)
class GateResult:
    """The decision, why, and both scores (None where a score is unknown)."""

    decision: Decision
    reason: str
    metric: str
    new_score: float | None
    current_score: float | None
    min_improvement: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def final_metric(final_metrics: Sequence[Mapping[str, Any]], name: str = MAP_METRIC) -> float | None:
    """A metric from DescribeTrainingJob's FinalMetricDataList, or None when the job did not emit it."""
    for item in final_metrics:
        if item.get("MetricName") == name:
            return float(item["Value"])
    return None


def rekognition_f1(description: Mapping[str, Any]) -> float | None:
    """F1 of one DescribeProjectVersions entry (its EvaluationResult), or None before evaluation."""
    value = description.get("EvaluationResult", {}).get("F1Score")
    return None if value is None else float(value)


def judge(
    new_score: float | None, current_score: float | None, min_improvement: float, metric: str
) -> GateResult:
    """Deploy when the new score is at least `min_improvement` above the current one (and above it).

    Without a new score nothing is deployed. Without a current score (the first model has no
    recorded score) the new model is registered for a person to approve: never auto-deployed.
    """

    def result(decision: Decision, reason: str) -> GateResult:
        return GateResult(decision, reason, metric, new_score, current_score, min_improvement)

    if new_score is None:
        return result("no-score", f"the new model has no {metric}; nothing is deployed")
    if current_score is None:
        return result("no-score", f"no {metric} is recorded for the current model; approval decides")
    gain = new_score - current_score
    if gain > 0 and gain >= min_improvement:
        return result("deploy", f"{metric} {new_score:.4f} beats {current_score:.4f} by {gain:.4f}")
    return result(
        "keep-current",
        f"{metric} {new_score:.4f} vs {current_score:.4f}: a gain of {gain:.4f} is below "
        f"training.min_improvement ({min_improvement})",
    )
