"""The threshold advisor on traffic whose answers are known: uniform scores, wrong exactly below 0.3."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hitl_core.detections import Box, Detection, ImageDetections, ImageSize
from hitl_core.quality_estimates import Selection
from hitl_core.quality_sample import ReviewAnswer, ScoredImage
from hitl_core.review_comparison import ClassCounts, ReviewComparison
from hitl_core.routing import RoutingPolicy, preset_policy
from hitl_core.threshold_advisor import advise, policy_at, without_sampling

WHEN = datetime(2026, 12, 1, tzinfo=UTC)
SIZE = ImageSize(100, 100)
RIGHT = ReviewComparison(0.5, {"cat": ClassCounts(1, 0, 0)})
WRONG = ReviewComparison(0.5, {"cat": ClassCounts(0, 1, 1)})


def traffic(count: int = 1000) -> list[ScoredImage]:
    """Scores spread evenly over (0, 1); the model is wrong exactly when its score is under 0.3.

    As routed by top-score-below (review under 0.5) with a 10% audit: every image under 0.5 is
    answered, and every tenth image from 0.5 up is audited and answered.
    """
    images = []
    for number in range(count):
        score = (number + 0.5) / count
        detections = ImageDetections(SIZE, (Detection("cat", score, Box(1, 1, 20, 20)),))
        kind = "threshold" if score < 0.5 else "audit" if number % 10 == 0 else "accepted"
        answer = None
        if kind != "accepted":
            answer = ReviewAnswer(f"loop-{number}", WHEN, WRONG if score < 0.3 else RIGHT)
        images.append(
            ScoredImage(
                f"s3://in/{number}.jpg#v", WHEN, "accept", detections, Selection(kind, 10.0), None, answer
            )
        )
    return images


POLICY = preset_policy("top-score-below", 10)


def test_each_threshold_reviews_its_share_and_lets_through_the_known_errors():
    advice = advise(traffic(), POLICY, target=0.05, min_audited=20, thresholds=[0.1, 0.2, 0.3, 0.7])
    by_threshold = {c.threshold: c for c in advice.candidates}
    for threshold, outcome in by_threshold.items():
        assert outcome.review_rate == pytest.approx(threshold + (1 - threshold) * 0.1)
    # Accepted from 0.1 up: 200 wrong of the 400 answered under 0.5, plus 50 right audits worth 500.
    assert by_threshold[0.1].accepted_error.rate == pytest.approx(200 / 900)
    assert by_threshold[0.2].accepted_error.rate == pytest.approx(100 / 800)
    assert by_threshold[0.3].accepted_error.rate == 0.0
    assert by_threshold[0.1].errors_let_through == pytest.approx(200 / 900 * (1 - 0.19))
    assert advice.current.review_rate == pytest.approx(0.55)
    assert advice.current.accepted_error.rate == 0.0
    assert advice.current.accepted_error.count == 50
    assert advice.audited == 50 and advice.enough


def test_it_names_the_lowest_review_rate_whose_interval_meets_the_target():
    advice = advise(traffic(), POLICY, target=0.05, min_audited=20)
    assert advice.recommended is not None
    assert advice.recommended.threshold == 0.3
    assert advice.recommended.review_rate == pytest.approx(0.37)
    assert advice.recommended.accepted_error.high <= 0.05
    assert "threshold 0.3 reviews 37.0% of images" in advice.reason
    # 0.25 lets 50 of 750 weighted images through wrong: above the target.
    quarter = next(c for c in advice.candidates if c.threshold == 0.25)
    assert quarter.accepted_error.rate == pytest.approx(50 / 750)
    assert advice.to_dict()["recommended"]["threshold"] == 0.3


def test_it_says_when_too_few_images_were_audited():
    advice = advise(traffic(), POLICY, target=0.05, min_audited=60)
    assert advice.recommended is None and not advice.enough
    assert advice.reason == "too few audited images to answer: 50 answered audit(s), 60 needed"
    none = advise(traffic(), POLICY, target=0.0001, min_audited=20)
    assert none.recommended is None
    assert none.reason.startswith("no candidate threshold keeps")
    with pytest.raises(ValueError, match="no scored images"):
        advise([], POLICY, target=0.05, min_audited=1)


def test_policy_at_moves_every_review_below_bound_and_keeps_the_rest():
    band = policy_at(preset_policy("band", 5), 0.7)
    document = band.model_dump(exclude_none=True)
    assert document["MinDisplayScore"] == 0.4
    assert document["Conditions"][0]["ConditionParameters"]["ConfidenceLessThan"] == 0.7
    assert document["Conditions"][1]["ConditionType"] == "Sampling"
    assert [c["ConditionType"] for c in without_sampling(band).model_dump()["Conditions"]] == [
        "ModelConfidenceCheck"
    ]
    nothing = RoutingPolicy.model_validate({"Conditions": [{"ConditionType": "NoDetections"}]})
    with pytest.raises(ValueError, match="no ModelConfidenceCheck"):
        policy_at(nothing, 0.5)
