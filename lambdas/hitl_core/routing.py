"""Routing policy: decide `accept` or `review` for an image, and record why.

Policies use the grammar of A2I's human-loop activation conditions: a top-level
`Conditions` list whose members are independent (review when any holds), each a simple
condition or an `And` / `Or` of conditions, nested two levels deep at most. The decision
carries every condition's result in the shape of A2I's `humanTaskActivationConditionResults`.
"""

from __future__ import annotations

import hashlib
import operator
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

from hitl_core.detections import ImageDetections

MAX_NESTING = 2
Score = Annotated[float, Field(ge=0.0, le=1.0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ConfidenceParameters(_Strict):
    LabelName: str = "*"
    ConfidenceLessThan: Score | None = None
    ConfidenceLessThanEquals: Score | None = None
    ConfidenceGreaterThan: Score | None = None
    ConfidenceGreaterThanEquals: Score | None = None
    Aggregate: Literal["Max"] | None = None

    @model_validator(mode="after")
    def _has_a_comparison(self) -> ConfidenceParameters:
        if all(v is None for v in self._comparisons().values()):
            raise ValueError("ModelConfidenceCheck needs at least one Confidence* bound")
        return self

    def _comparisons(self) -> dict[Callable[[float, float], bool], float | None]:
        return {
            operator.lt: self.ConfidenceLessThan,
            operator.le: self.ConfidenceLessThanEquals,
            operator.gt: self.ConfidenceGreaterThan,
            operator.ge: self.ConfidenceGreaterThanEquals,
        }

    def meets(self, score: float) -> bool:
        """True when `score` satisfies every bound given."""
        return all(
            compare(score, bound) for compare, bound in self._comparisons().items() if bound is not None
        )


class ModelConfidenceCheck(_Strict):
    ConditionType: Literal["ModelConfidenceCheck"]
    ConditionParameters: ConfidenceParameters

    def holds(self, shown: ImageDetections, identity: str) -> bool:
        params = self.ConditionParameters
        scores = [d.score for d in shown.detections if params.LabelName in ("*", d.label)]
        if params.Aggregate == "Max":
            return params.meets(max(scores, default=0.0))
        return any(params.meets(s) for s in scores)


class NoDetectionsParameters(_Strict):
    MinConfidence: Score = 0.0


class NoDetections(_Strict):
    ConditionType: Literal["NoDetections"]
    ConditionParameters: NoDetectionsParameters = NoDetectionsParameters()

    def holds(self, shown: ImageDetections, identity: str) -> bool:
        floor = self.ConditionParameters.MinConfidence
        return not any(d.score >= floor for d in shown.detections)


class SamplingParameters(_Strict):
    RandomSamplingPercentage: Annotated[float, Field(ge=0.01, le=100.0)]


class Sampling(_Strict):
    ConditionType: Literal["Sampling"]
    ConditionParameters: SamplingParameters

    def holds(self, shown: ImageDetections, identity: str) -> bool:
        return sampling_point(identity) < self.ConditionParameters.RandomSamplingPercentage


class AndCondition(_Strict):
    And: Annotated[list[Condition], Field(min_length=1)]


class OrCondition(_Strict):
    Or: Annotated[list[Condition], Field(min_length=1)]


def _condition_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        if "And" in value:
            return "And"
        if "Or" in value:
            return "Or"
        return value.get("ConditionType")
    if isinstance(value, AndCondition):
        return "And"
    if isinstance(value, OrCondition):
        return "Or"
    return getattr(value, "ConditionType", None)


Condition = Annotated[
    (
        Annotated[ModelConfidenceCheck, Tag("ModelConfidenceCheck")]
        | Annotated[NoDetections, Tag("NoDetections")]
        | Annotated[Sampling, Tag("Sampling")]
        | Annotated[AndCondition, Tag("And")]
        | Annotated[OrCondition, Tag("Or")]
    ),
    Discriminator(
        _condition_kind,
        custom_error_type="unknown_condition",
        custom_error_message=(
            "a condition is And, Or, or has ConditionType ModelConfidenceCheck, NoDetections or Sampling"
        ),
    ),
]
AndCondition.model_rebuild()
OrCondition.model_rebuild()


def _depth(condition: Condition) -> int:
    if isinstance(condition, AndCondition):
        return 1 + max(_depth(c) for c in condition.And)
    if isinstance(condition, OrCondition):
        return 1 + max(_depth(c) for c in condition.Or)
    return 0


class RoutingPolicy(_Strict):
    """A parsed, validated routing policy."""

    Conditions: Annotated[list[Condition], Field(min_length=1)]
    MinDisplayScore: Score = 0.0

    @model_validator(mode="after")
    def _nesting(self) -> RoutingPolicy:
        deepest = max(_depth(c) for c in self.Conditions)
        if deepest > MAX_NESTING:
            raise ValueError(f"And/Or may nest {MAX_NESTING} levels deep at most, found {deepest}")
        return self


def sampling_point(identity: str) -> float:
    """A stable pseudo-random point in [0, 100) for an image identity (retries decide alike)."""
    digest = hashlib.sha256(f"hitl-sampling:{identity}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 * 100.0


@dataclass(frozen=True)
class RoutingDecision:
    """The outcome for one image, the detections a reviewer is shown, and why."""

    outcome: Literal["accept", "review"]
    shown: ImageDetections
    hidden_count: int
    condition_results: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "hidden_count": self.hidden_count,
            "condition_results": self.condition_results,
        }


def _evaluate(condition: Condition, shown: ImageDetections, identity: str) -> tuple[bool, dict[str, Any]]:
    if isinstance(condition, AndCondition | OrCondition):
        operator = "And" if isinstance(condition, AndCondition) else "Or"
        members = condition.And if operator == "And" else condition.Or
        evaluated = [_evaluate(c, shown, identity) for c in members]
        combine = all if operator == "And" else any
        result = combine(holds for holds, _ in evaluated)
        return result, {operator: [r for _, r in evaluated], "EvaluationResult": result}
    result = condition.holds(shown, identity)
    return result, {
        "ConditionType": condition.ConditionType,
        "ConditionParameters": condition.ConditionParameters.model_dump(exclude_none=True),
        "EvaluationResult": result,
    }


def decide(policy: RoutingPolicy, detections: ImageDetections, identity: str) -> RoutingDecision:
    """Apply `policy` to an image's detections; `identity` (source URI + version) seeds sampling."""
    shown = detections.at_least(policy.MinDisplayScore)
    evaluated = [_evaluate(c, shown, identity) for c in policy.Conditions]
    review = any(holds for holds, _ in evaluated)
    return RoutingDecision(
        outcome="review" if review else "accept",
        shown=shown,
        hidden_count=len(detections.detections) - len(shown.detections),
        condition_results={"Conditions": [r for _, r in evaluated]},
    )


def _holds(condition: Condition, shown: ImageDetections, identity: str) -> bool:
    if isinstance(condition, AndCondition):
        return all(_holds(c, shown, identity) for c in condition.And)
    if isinstance(condition, OrCondition):
        return any(_holds(c, shown, identity) for c in condition.Or)
    return condition.holds(shown, identity)


def needs_review(policy: RoutingPolicy, shown: ImageDetections, identity: str) -> bool:
    """`decide`'s outcome for detections already cut at MinDisplayScore, without recording why.

    For replaying many policies over many images (the threshold advisor).
    """
    return any(_holds(c, shown, identity) for c in policy.Conditions)


PresetName = Literal["top-score-below", "any-label-below", "band"]

PRESETS: dict[str, dict[str, Any]] = {
    # Review when the image's top score is below 0.5 (an image with nothing found counts as 0).
    "top-score-below": {
        "Conditions": [
            {
                "ConditionType": "ModelConfidenceCheck",
                "ConditionParameters": {"LabelName": "*", "ConfidenceLessThan": 0.5, "Aggregate": "Max"},
            }
        ]
    },
    # Review when any detected label scores below 0.6.
    "any-label-below": {
        "Conditions": [
            {
                "ConditionType": "ModelConfidenceCheck",
                "ConditionParameters": {"LabelName": "*", "ConfidenceLessThan": 0.6},
            }
        ]
    },
    # Drop below 0.4, accept when everything left is >= 0.9, review what lies between.
    "band": {
        "MinDisplayScore": 0.4,
        "Conditions": [
            {
                "ConditionType": "ModelConfidenceCheck",
                "ConditionParameters": {"LabelName": "*", "ConfidenceLessThan": 0.9},
            }
        ],
    },
}


@cache
def preset_policy(name: str, sampling_percentage: float | None = None) -> RoutingPolicy:
    """A shipped preset, plus an independent audit `Sampling` condition when a percentage is given.

    Built once per preset and percentage (the policy is frozen): ingest asks for it per image.
    """
    if name not in PRESETS:
        raise ValueError(f"unknown routing preset {name!r}; known: {', '.join(PRESETS)}")
    document = dict(PRESETS[name])
    if sampling_percentage is not None:
        document["Conditions"] = [
            *document["Conditions"],
            {
                "ConditionType": "Sampling",
                "ConditionParameters": {"RandomSamplingPercentage": sampling_percentage},
            },
        ]
    return RoutingPolicy.model_validate(document)
