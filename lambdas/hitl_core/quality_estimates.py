"""How likely a person was to see an image, and honest shares with 95% intervals (Wilson score).

Images the routing policy accepted are seen by a person only through its top-level `Sampling`
condition (the random audit), so the audited images stand for all the accepted ones. Images a
threshold condition sent to review are a different population: each answered image is weighted
by the inverse of the chance it was seen (1 for a threshold review, 100/percentage for an audit).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

Z_95 = 1.959963984540054
"""The standard normal quantile of 0.975: a two-sided 95% interval."""

SelectionKind = Literal["threshold", "audit", "accepted"]
NESTED_SAMPLING = "a Sampling condition inside And/Or is not a random audit of accepted images"


class UnknownSelection(ValueError):
    """The record's conditions do not say how likely a person was to see the image."""


@dataclass(frozen=True, slots=True)
class Selection:
    """How a human came to see an image (or not), and the chance they would.

    `threshold`: a non-sampling condition held (always reviewed); `audit`: only the random audit
    sample held; `accepted`: nothing held. `audit_percentage` is the policy's audit rate (0: none).
    """

    kind: SelectionKind
    audit_percentage: float

    @property
    def probability(self) -> float:
        """The chance an image routed like this one is seen by a person."""
        return 1.0 if self.kind == "threshold" else self.audit_percentage / 100.0

    @property
    def weight(self) -> float:
        """How many images of its population one answered image stands for."""
        if self.probability <= 0:
            raise UnknownSelection("an image no person could see has no weight")
        return 1.0 / self.probability


def _nested_sampling(result: Mapping[str, Any]) -> bool:
    members = result.get("And") or result.get("Or") or []
    return any(m.get("ConditionType") == "Sampling" or _nested_sampling(m) for m in members)


def selection_of(condition_results: Mapping[str, Any]) -> Selection:
    """The selection a prediction record's `decision.condition_results` describe.

    Raises UnknownSelection when a Sampling condition sits inside And/Or: then the chance of a
    review depends on the other members and the audit does not stand for the accepted images.
    """
    conditions = condition_results.get("Conditions")
    if not isinstance(conditions, list):
        raise UnknownSelection("condition_results has no Conditions list")
    # Every Sampling condition draws against the same per-image point: the largest rate is the audit's.
    percentage, audited, reviewed = 0.0, False, False
    for condition in conditions:
        if condition.get("ConditionType") == "Sampling":
            rate = float(condition["ConditionParameters"]["RandomSamplingPercentage"])
            percentage = max(percentage, rate)
            audited = audited or bool(condition.get("EvaluationResult"))
            continue
        if ("And" in condition or "Or" in condition) and _nested_sampling(condition):
            raise UnknownSelection(
                "a Sampling condition inside And/Or is not a random audit of accepted images"
            )
        reviewed = reviewed or bool(condition.get("EvaluationResult"))
    kind: SelectionKind = "threshold" if reviewed else "audit" if audited else "accepted"
    return Selection(kind, percentage)


def wilson_interval(successes: float, trials: float, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval of a proportion: stays inside [0, 1] and holds for small samples."""
    if trials <= 0:
        raise ValueError(f"a proportion needs at least one trial, got {trials}")
    if not 0 <= successes <= trials:
        raise ValueError(f"successes must lie in [0, {trials}], got {successes}")
    share = successes / trials
    z2 = z * z
    denominator = 1 + z2 / trials
    centre = (share + z2 / (2 * trials)) / denominator
    half = z * math.sqrt(share * (1 - share) / trials + z2 / (4 * trials * trials)) / denominator
    # The interval always holds the share; min/max only undo rounding at 0 and 1.
    return min(max(0.0, centre - half), share), max(min(1.0, centre + half), share)


@dataclass(frozen=True)
class ShareEstimate:
    """A weighted share with its 95% interval; `effective_count` is Kish's effective sample size.

    With equal weights it is the plain share and the Wilson interval of `count` images.
    """

    count: int
    effective_count: float
    rate: float
    low: float
    high: float

    def to_dict(self) -> dict[str, float | int]:
        return {
            "count": self.count,
            "effective_count": round(self.effective_count, 3),
            "rate": self.rate,
            "low": self.low,
            "high": self.high,
        }


@dataclass(frozen=True)
class WeightedTally:
    """Running sums of weighted yes/no items; tallies add up, so groups can be summed once each."""

    count: int = 0
    total: float = 0.0
    hits: float = 0.0
    squares: float = 0.0

    def add(self, holds: bool, weight: float) -> WeightedTally:
        return WeightedTally(
            self.count + 1,
            self.total + weight,
            self.hits + (weight if holds else 0.0),
            self.squares + weight**2,
        )

    def __add__(self, other: WeightedTally) -> WeightedTally:
        return WeightedTally(
            self.count + other.count,
            self.total + other.total,
            self.hits + other.hits,
            self.squares + other.squares,
        )

    def __sub__(self, other: WeightedTally) -> WeightedTally:
        return WeightedTally(
            self.count - other.count,
            self.total - other.total,
            self.hits - other.hits,
            self.squares - other.squares,
        )

    def estimate(self) -> ShareEstimate | None:
        """The weighted share with Wilson's interval on Kish's effective sample size (sum w)^2 / sum w^2
        (unequal weights widen it, as they should); None when nothing was tallied."""
        if self.count == 0 or self.total <= 0:
            return None
        rate = self.hits / self.total
        effective = self.total * self.total / self.squares
        low, high = wilson_interval(rate * effective, effective)
        return ShareEstimate(self.count, effective, rate, low, high)


def weighted_share(items: Iterable[tuple[bool, float]]) -> ShareEstimate | None:
    """The weighted share of `(holds, weight)` items that hold, or None when there are none."""
    tally = WeightedTally()
    for holds, weight in items:
        tally = tally.add(holds, weight)
    return tally.estimate()


@dataclass(frozen=True)
class AcceptedErrorEstimate:
    """The share of accepted images the model got wrong, from the audited ones.

    `estimate` is None when no image was audited; `enough` says whether `min_audited` were.
    """

    audited: int
    wrong: int
    audit_percentage: float
    min_audited: int
    estimate: ShareEstimate | None

    @property
    def enough(self) -> bool:
        return self.estimate is not None and self.audited >= self.min_audited

    def exceeds(self, max_rate: float) -> bool:
        """True only when enough images were audited and even the interval's lower bound passes `max_rate`."""
        return self.enough and self.estimate is not None and self.estimate.low > max_rate

    def to_dict(self) -> dict[str, Any]:
        return {
            "audited": self.audited,
            "wrong": self.wrong,
            "audit_percentage": self.audit_percentage,
            "min_audited": self.min_audited,
            "enough": self.enough,
            "estimate": self.estimate.to_dict() if self.estimate else None,
        }


def accepted_error_estimate(
    audited: Iterable[tuple[Selection, bool]], min_audited: int
) -> AcceptedErrorEstimate:
    """Estimate from `(selection, image_wrong)` of answered images; only audit selections count.

    While the audit rate stays the same every audited image has one weight, so this is the plain
    share of the audited images that were wrong with its Wilson interval; a rate changed midway
    weights each image by its own rate.
    """
    outcomes = [(wrong, selection) for selection, wrong in audited if selection.kind == "audit"]
    return AcceptedErrorEstimate(
        audited=len(outcomes),
        wrong=sum(1 for wrong, _ in outcomes if wrong),
        audit_percentage=max((s.audit_percentage for _, s in outcomes), default=0.0),
        min_audited=min_audited,
        estimate=weighted_share((wrong, selection.weight) for wrong, selection in outcomes),
    )
