"""Replay the routing policy at other confidence thresholds over images a person answered: each
threshold's review rate against the share of accepted images the model got wrong.

The review rate is counted on every scored image (the policy needs only the detections). The
error rate of the images a threshold would accept is estimated from the answered ones among them,
each weighted by how it was selected (`quality_estimates`): threshold reviews stand for themselves,
audited images for the accepted images they were drawn from. So it leans on the audit sample.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from hitl_core.detections import ImageDetections
from hitl_core.quality_estimates import ShareEstimate, WeightedTally
from hitl_core.quality_sample import ScoredImage
from hitl_core.routing import RoutingPolicy, needs_review

DEFAULT_THRESHOLDS = tuple(round(0.05 * step, 2) for step in range(1, 20))
_UPPER_BOUNDS = ("ConfidenceLessThan", "ConfidenceLessThanEquals")


def _rebound(node: Any, threshold: float) -> tuple[Any, int]:
    """The policy document with every review-below bound set to `threshold`, and how many there were."""
    if isinstance(node, list):
        pairs = [_rebound(item, threshold) for item in node]
        return [item for item, _ in pairs], sum(n for _, n in pairs)
    if not isinstance(node, dict):
        return node, 0
    if node.get("ConditionType") == "ModelConfidenceCheck":
        parameters = dict(node["ConditionParameters"])
        bounds = [key for key in _UPPER_BOUNDS if parameters.get(key) is not None]
        for key in bounds:
            parameters[key] = threshold
        return {**node, "ConditionParameters": parameters}, len(bounds)
    pairs = {key: _rebound(value, threshold) for key, value in node.items()}
    return {key: value for key, (value, _) in pairs.items()}, sum(n for _, n in pairs.values())


def policy_at(policy: RoutingPolicy, threshold: float) -> RoutingPolicy:
    """`policy` with each ModelConfidenceCheck's upper bound (review below it) moved to `threshold`."""
    document, bounds = _rebound(policy.model_dump(exclude_none=True), threshold)
    if not bounds:
        raise ValueError(
            "the policy has no ModelConfidenceCheck with a ConfidenceLessThan(Equals) bound to move"
        )
    return RoutingPolicy.model_validate(document)


def without_sampling(policy: RoutingPolicy) -> RoutingPolicy:
    """The policy's threshold part: its top-level Sampling conditions left out."""
    document = policy.model_dump(exclude_none=True)
    kept = [c for c in document["Conditions"] if c.get("ConditionType") != "Sampling"]
    if not kept:
        raise ValueError("the policy is only a Sampling condition: it has no threshold")
    return RoutingPolicy.model_validate({**document, "Conditions": kept})


@dataclass(frozen=True)
class ThresholdOutcome:
    """What one threshold would do: the share of images a person sees, and the accepted images' errors.

    `review_rate` includes the audit sample of what the threshold accepts; `errors_let_through`
    is the share of all images accepted unseen and wrong.
    """

    threshold: float | None
    review_rate: float
    accepted_error: ShareEstimate | None

    @property
    def errors_let_through(self) -> float | None:
        if self.accepted_error is None:
            return None
        return self.accepted_error.rate * (1.0 - self.review_rate)

    def to_dict(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold,
            "review_rate": self.review_rate,
            "accepted_error": self.accepted_error.to_dict() if self.accepted_error else None,
            "errors_let_through": self.errors_let_through,
        }


@dataclass(frozen=True)
class Advice:
    """Every candidate threshold's outcome, today's, and the lowest review rate that meets the target.

    `recommended` is None when too few images were audited or no candidate's interval stays at or
    below the target; `reason` says which.
    """

    target: float
    audited: int
    min_audited: int
    current: ThresholdOutcome
    candidates: list[ThresholdOutcome]
    recommended: ThresholdOutcome | None
    reason: str

    @property
    def enough(self) -> bool:
        return self.audited >= self.min_audited

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "audited": self.audited,
            "min_audited": self.min_audited,
            "enough": self.enough,
            "current": self.current.to_dict(),
            "candidates": [c.to_dict() for c in self.candidates],
            "recommended": self.recommended.to_dict() if self.recommended else None,
            "reason": self.reason,
        }


def _answer(image: ScoredImage) -> tuple[bool, float] | None:
    """(image wrong, weight) of an image a person answered and could have been chosen for."""
    if image.comparison is None or image.selection.kind == "accepted":
        return None
    return image.comparison.image_wrong, image.selection.weight


def _first_review(policies: Sequence[RoutingPolicy], shown: ImageDetections, identity: str) -> int:
    """The index of the first policy (thresholds rising) that sends the image to review; len when none.

    Moving a review-below bound up only adds reviews (And/Or keep that), so a bisection finds it.
    """
    low, high = 0, len(policies)
    while low < high:
        middle = (low + high) // 2
        if needs_review(policies[middle], shown, identity):
            high = middle
        else:
            low = middle + 1
    return low


def _outcomes(
    thresholds: Sequence[float | None],
    policies: Sequence[RoutingPolicy],
    images: Sequence[ScoredImage],
    audit_share: float,
) -> list[ThresholdOutcome]:
    """Each threshold's outcome: an image is reviewed from its first reviewing threshold up, and
    counts among the accepted below it. One bisection per image, one running tally per threshold."""
    first_counts = [0] * (len(policies) + 1)
    first_answers = [WeightedTally() for _ in range(len(policies) + 1)]
    minimum = policies[0].MinDisplayScore
    for image in images:
        first = _first_review(policies, image.detections.at_least(minimum), image.image)
        first_counts[first] += 1
        answer = _answer(image)
        if answer is not None:
            first_answers[first] = first_answers[first].add(*answer)
    outcomes = []
    reviewed, accepted = 0, sum(first_answers, WeightedTally())
    for index, threshold in enumerate(thresholds):
        reviewed += first_counts[index]
        accepted = accepted - first_answers[index]
        share = reviewed / len(images)
        outcomes.append(ThresholdOutcome(threshold, share + (1.0 - share) * audit_share, accepted.estimate()))
    return outcomes


def advise(
    images: Sequence[ScoredImage],
    policy: RoutingPolicy,
    *,
    target: float,
    min_audited: int,
    thresholds: Iterable[float] = DEFAULT_THRESHOLDS,
) -> Advice:
    """Replay `policy` at each threshold over `images` (scored ones; answered ones carry a comparison)."""
    if not images:
        raise ValueError("no scored images to replay the policy over")
    audit_share = max(image.selection.audit_percentage for image in images) / 100.0
    audited = sum(1 for image in images if image.selection.kind == "audit" and image.comparison is not None)
    (current,) = _outcomes([None], [without_sampling(policy)], images, audit_share)
    rising = sorted(thresholds)
    candidates = _outcomes(
        rising, [without_sampling(policy_at(policy, t)) for t in rising], images, audit_share
    )
    recommended, reason = None, ""
    if audited < min_audited:
        reason = f"too few audited images to answer: {audited} answered audit(s), {min_audited} needed" + (
            "" if audit_share else " (the policy has no Sampling condition: add an audit sample)"
        )
    else:
        meeting = [c for c in candidates if c.accepted_error is not None and c.accepted_error.high <= target]
        if meeting:
            recommended = min(meeting, key=lambda c: (c.review_rate, -(c.threshold or 0.0)))
            reason = (
                f"threshold {recommended.threshold:g} reviews {recommended.review_rate:.1%} of images; "
                f"the accepted images' error interval stays at or below {target:.1%}"
            )
        else:
            reason = (
                f"no candidate threshold keeps the accepted images' error interval at or below {target:.1%}"
            )
    return Advice(target, audited, min_audited, current, candidates, recommended, reason)
