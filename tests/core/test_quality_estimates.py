"""Selection from routing results, Wilson intervals checked by simulation, weighting with a known truth."""

from __future__ import annotations

import random

import pytest

from hitl_core.detections import Detection, ImageDetections, ImageSize
from hitl_core.quality_estimates import (
    Selection,
    UnknownSelection,
    accepted_error_estimate,
    selection_of,
    weighted_share,
    wilson_interval,
)
from hitl_core.routing import RoutingPolicy, decide, preset_policy

SIZE = ImageSize(100, 100)


def _results(policy: RoutingPolicy, score: float, identity: str) -> dict:
    detections = ImageDetections(SIZE, (Detection("cat", score, None),))
    return decide(policy, detections, identity).condition_results


def test_selection_follows_the_routing_decision_of_a_preset_with_an_audit_sample():
    policy = preset_policy("top-score-below", 30)
    kinds = {}
    for number in range(200):
        for score in (0.2, 0.8):
            selection = selection_of(_results(policy, score, f"s3://b/{number}.jpg#v"))
            assert selection.audit_percentage == 30
            kinds.setdefault(score, []).append(selection.kind)
    assert set(kinds[0.2]) == {"threshold"}
    audited = kinds[0.8].count("audit")
    assert set(kinds[0.8]) == {"audit", "accepted"}
    assert 40 <= audited <= 80  # 30% of 200, give or take
    assert Selection("audit", 30).weight == pytest.approx(100 / 30)
    assert Selection("threshold", 30).weight == 1.0


def test_without_an_audit_sample_accepted_images_are_never_seen():
    selection = selection_of(_results(preset_policy("top-score-below"), 0.9, "x"))
    assert selection == Selection("accepted", 0.0)
    with pytest.raises(UnknownSelection):
        _ = selection.weight


def test_a_sampling_condition_inside_and_is_refused():
    policy = RoutingPolicy.model_validate(
        {
            "Conditions": [
                {
                    "And": [
                        {"ConditionType": "NoDetections"},
                        {"ConditionType": "Sampling", "ConditionParameters": {"RandomSamplingPercentage": 5}},
                    ]
                }
            ]
        }
    )
    with pytest.raises(UnknownSelection, match="inside And/Or"):
        selection_of(_results(policy, 0.9, "x"))
    with pytest.raises(UnknownSelection, match="no Conditions"):
        selection_of({})


def test_wilson_interval_known_values():
    # 0 of 20: the upper bound is z^2 / (n + z^2); 1 of 20 as tabulated by Newcombe (1998).
    assert wilson_interval(0, 20) == pytest.approx((0.0, 0.16113), abs=1e-5)
    assert wilson_interval(1, 20) == pytest.approx((0.00889, 0.23613), abs=1e-5)
    assert wilson_interval(20, 20)[1] == 1.0
    with pytest.raises(ValueError):
        wilson_interval(3, 2)
    with pytest.raises(ValueError):
        wilson_interval(0, 0)


@pytest.mark.parametrize("rate", [0.05, 0.2])
def test_wilson_interval_covers_the_true_rate_about_95_percent_of_the_time_for_20_images(rate):
    draws, n = 20_000, 20
    generator = random.Random(20261207)
    covered = 0
    for _ in range(draws):
        wrong = sum(generator.random() < rate for _ in range(n))
        low, high = wilson_interval(wrong, n)
        covered += low <= rate <= high
    coverage = covered / draws
    # Wilson's coverage oscillates around 95% for small n (about 92% at n=20, p=0.05); a Wald
    # interval would cover only about 64% there.
    assert 0.91 <= coverage <= 0.985, coverage


def test_equal_weights_give_the_plain_share_and_its_wilson_interval():
    estimate = weighted_share([(True, 4.0)] * 3 + [(False, 4.0)] * 17)
    assert estimate is not None
    assert estimate.count == 20 and estimate.effective_count == pytest.approx(20)
    assert estimate.rate == pytest.approx(0.15)
    assert (estimate.low, estimate.high) == pytest.approx(wilson_interval(3, 20))
    assert weighted_share([]) is None


def test_unequal_weights_widen_the_interval():
    equal = weighted_share([(True, 1.0)] * 10 + [(False, 1.0)] * 90)
    unequal = weighted_share([(True, 1.0)] * 10 + [(False, 1.0)] * 80 + [(False, 9.0)] * 10)
    assert equal is not None and unequal is not None
    assert unequal.effective_count < 100
    assert unequal.high - unequal.low > equal.high - equal.low


def _population(generator: random.Random, size: int) -> list[tuple[Selection, bool]]:
    """Doubtful images (30%) are wrong 40% of the time and always reviewed; confident ones are
    wrong 5% of the time and audited at 10%. Returns every image with its selection and truth."""
    images = []
    for _ in range(size):
        doubtful = generator.random() < 0.3
        wrong = generator.random() < (0.4 if doubtful else 0.05)
        kind = "threshold" if doubtful else "audit" if generator.random() < 0.1 else "accepted"
        images.append((Selection(kind, 10.0), wrong))
    return images


def test_weighting_recovers_the_error_rate_of_all_images_where_a_plain_share_does_not():
    generator = random.Random(7)
    covered, runs = 0, 200
    for _ in range(runs):
        images = _population(generator, 2_000)
        truth = sum(wrong for _, wrong in images) / len(images)
        answered = [(wrong, s.weight) for s, wrong in images if s.kind != "accepted"]
        weighted = weighted_share(answered)
        assert weighted is not None
        covered += weighted.low <= truth <= weighted.high
    plain = sum(wrong for wrong, _ in answered) / len(answered)
    assert abs(weighted.rate - truth) < 0.02
    assert plain - truth > 0.15  # the reviewed images are the doubtful ones: a plain share overstates
    assert covered / runs >= 0.9


def test_accepted_error_estimate_uses_only_the_audit_and_alarms_on_its_lower_bound():
    generator = random.Random(11)
    images = _population(generator, 20_000)
    estimate = accepted_error_estimate(images, min_audited=20)
    assert estimate.audited == sum(1 for s, _ in images if s.kind == "audit")
    assert estimate.enough and estimate.estimate is not None
    accepted = [wrong for s, wrong in images if s.kind != "threshold"]
    truth = sum(accepted) / len(accepted)
    assert estimate.estimate.low <= truth <= estimate.estimate.high
    assert not estimate.exceeds(estimate.estimate.low)
    assert estimate.exceeds(0.01)
    few = accepted_error_estimate([(Selection("audit", 10.0), True)] * 5, min_audited=20)
    assert few.estimate is not None and few.estimate.low > 0.5
    assert not few.enough and not few.exceeds(0.01)  # too few audited images to raise an alarm
    none = accepted_error_estimate([(Selection("threshold", 0.0), True)], min_audited=1)
    assert none.estimate is None and not none.enough
    assert none.to_dict()["estimate"] is None
