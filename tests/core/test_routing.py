"""Routing policy: A2I activation-condition grammar, presets, and the recorded reasons."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from hitl_core.detections import Box, Detection, ImageDetections, ImageSize
from hitl_core.routing import PRESETS, RoutingPolicy, decide, needs_review, preset_policy, sampling_point

SIZE = ImageSize(100, 100)


def image(*scored: tuple[str, float]) -> ImageDetections:
    return ImageDetections(SIZE, tuple(Detection(label, score, Box(0, 0, 10, 10)) for label, score in scored))


def confidence(**params: Any) -> dict[str, Any]:
    return {"ConditionType": "ModelConfidenceCheck", "ConditionParameters": params}


def sampling(percentage: float) -> dict[str, Any]:
    return {"ConditionType": "Sampling", "ConditionParameters": {"RandomSamplingPercentage": percentage}}


def policy(*conditions: dict[str, Any], **extra: Any) -> RoutingPolicy:
    return RoutingPolicy.model_validate({"Conditions": list(conditions), **extra})


def outcome(routing: RoutingPolicy, found: ImageDetections, identity: str = "s3://b/k#v") -> str:
    return decide(routing, found, identity).outcome


# --- ModelConfidenceCheck -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bound", "score", "holds"),
    [
        ("ConfidenceLessThan", 0.49, True),
        ("ConfidenceLessThan", 0.5, False),
        ("ConfidenceLessThanEquals", 0.5, True),
        ("ConfidenceLessThanEquals", 0.51, False),
        ("ConfidenceGreaterThan", 0.5, False),
        ("ConfidenceGreaterThan", 0.51, True),
        ("ConfidenceGreaterThanEquals", 0.5, True),
        ("ConfidenceGreaterThanEquals", 0.49, False),
    ],
)
def test_each_comparison_at_its_boundary(bound, score, holds):
    routing = policy(confidence(**{bound: 0.5}))
    assert outcome(routing, image(("cat", score))) == ("review" if holds else "accept")


def test_bounds_combine_into_a_band():
    routing = policy(confidence(ConfidenceGreaterThanEquals=0.3, ConfidenceLessThan=0.7))
    assert outcome(routing, image(("cat", 0.2))) == "accept"
    assert outcome(routing, image(("cat", 0.5))) == "review"
    assert outcome(routing, image(("cat", 0.7))) == "accept"


def test_a_named_label_only_looks_at_that_label():
    routing = policy(confidence(LabelName="dog", ConfidenceLessThan=0.5))
    assert outcome(routing, image(("cat", 0.1), ("dog", 0.9))) == "accept"
    assert outcome(routing, image(("cat", 0.9), ("dog", 0.1))) == "review"
    assert outcome(routing, image(("cat", 0.1))) == "accept"


def test_star_means_any_label():
    routing = policy(confidence(LabelName="*", ConfidenceLessThan=0.5))
    assert outcome(routing, image(("cat", 0.9), ("dog", 0.2))) == "review"
    assert outcome(routing, image(("cat", 0.9), ("dog", 0.6))) == "accept"


def test_aggregate_max_compares_the_images_top_score():
    routing = policy(confidence(ConfidenceLessThan=0.5, Aggregate="Max"))
    assert outcome(routing, image(("cat", 0.9), ("dog", 0.2))) == "accept"
    assert outcome(routing, image(("cat", 0.4), ("dog", 0.2))) == "review"
    assert outcome(routing, image()) == "review", "nothing found counts as a top score of 0"


def test_whole_number_scores_compare_as_numbers():
    routing = preset_policy("top-score-below")
    found = ImageDetections(SIZE, (Detection("cat", 1, None),))
    assert outcome(routing, found) == "accept"


# --- NoDetections and Sampling --------------------------------------------------------------


def test_no_detections():
    routing = policy({"ConditionType": "NoDetections"})
    assert outcome(routing, image()) == "review"
    assert outcome(routing, image(("cat", 0.01))) == "accept"


def test_no_detections_with_a_floor():
    routing = policy({"ConditionType": "NoDetections", "ConditionParameters": {"MinConfidence": 0.3}})
    assert outcome(routing, image(("cat", 0.2))) == "review"
    assert outcome(routing, image(("cat", 0.3))) == "accept"


@given(identity=st.text(max_size=200), percentage=st.floats(0.01, 100))
def test_sampling_is_deterministic_per_image(identity, percentage):
    routing = policy(sampling(percentage))
    first = decide(routing, image(("cat", 0.9)), identity)
    assert decide(routing, image(("cat", 0.9)), identity) == first
    assert 0.0 <= sampling_point(identity) < 100.0


def test_sampling_picks_about_the_given_share_of_images():
    routing = policy(sampling(10))
    picked = sum(outcome(routing, image(), f"s3://in/incoming/{n}.jpg#v1") == "review" for n in range(4000))
    assert 320 <= picked <= 480
    assert all(outcome(policy(sampling(100)), image(), f"id-{n}") == "review" for n in range(200))


def test_sampling_differs_between_images():
    assert len({sampling_point(f"s3://in/{n}.jpg#v") for n in range(100)}) == 100


# --- And / Or and the recorded results ------------------------------------------------------


def test_and_or_and_the_results_in_a2i_shape():
    routing = policy(
        {
            "Or": [
                {"ConditionType": "NoDetections"},
                {
                    "And": [
                        confidence(LabelName="cat", ConfidenceLessThan=0.8),
                        confidence(LabelName="dog", ConfidenceGreaterThan=0.5),
                    ]
                },
            ]
        },
        confidence(ConfidenceLessThan=0.1, Aggregate="Max"),
    )
    decision = decide(routing, image(("cat", 0.7), ("dog", 0.6)), "id")
    assert decision.outcome == "review"
    assert decision.condition_results == {
        "Conditions": [
            {
                "Or": [
                    {
                        "ConditionType": "NoDetections",
                        "ConditionParameters": {"MinConfidence": 0.0},
                        "EvaluationResult": False,
                    },
                    {
                        "And": [
                            {
                                "ConditionType": "ModelConfidenceCheck",
                                "ConditionParameters": {"LabelName": "cat", "ConfidenceLessThan": 0.8},
                                "EvaluationResult": True,
                            },
                            {
                                "ConditionType": "ModelConfidenceCheck",
                                "ConditionParameters": {"LabelName": "dog", "ConfidenceGreaterThan": 0.5},
                                "EvaluationResult": True,
                            },
                        ],
                        "EvaluationResult": True,
                    },
                ],
                "EvaluationResult": True,
            },
            {
                "ConditionType": "ModelConfidenceCheck",
                "ConditionParameters": {"LabelName": "*", "ConfidenceLessThan": 0.1, "Aggregate": "Max"},
                "EvaluationResult": False,
            },
        ]
    }
    assert decide(routing, image(("cat", 0.7), ("dog", 0.4)), "id").outcome == "accept"


def test_top_level_conditions_are_independent():
    routing = policy(confidence(LabelName="cat", ConfidenceLessThan=0.5), {"ConditionType": "NoDetections"})
    assert outcome(routing, image()) == "review"
    assert outcome(routing, image(("cat", 0.4))) == "review"
    assert outcome(routing, image(("cat", 0.6))) == "accept"


# --- MinDisplayScore ------------------------------------------------------------------------


def test_min_display_score_hides_detections_from_review_and_from_the_conditions():
    routing = policy(confidence(ConfidenceLessThan=0.5), MinDisplayScore=0.3)
    decision = decide(routing, image(("cat", 0.9), ("dog", 0.2), ("cow", 0.1)), "id")
    assert decision.outcome == "accept", "hidden low scores are not counted"
    assert [d.label for d in decision.shown.detections] == ["cat"]
    assert decision.hidden_count == 2
    assert decision.to_dict()["hidden_count"] == 2


def test_min_display_score_can_leave_nothing_detected():
    routing = policy({"ConditionType": "NoDetections"}, MinDisplayScore=0.5)
    assert outcome(routing, image(("cat", 0.4))) == "review"


# --- presets --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scores", "expected"),
    [((0.49,), "review"), ((0.5,), "accept"), ((0.9, 0.1), "accept"), ((), "review")],
)
def test_top_score_below_preset(scores, expected):
    found = image(*(("cat", s) for s in scores))
    assert outcome(preset_policy("top-score-below"), found) == expected


@pytest.mark.parametrize(
    ("scores", "expected"),
    [((0.59,), "review"), ((0.6,), "accept"), ((0.9, 0.59), "review"), ((), "accept")],
)
def test_any_label_below_preset(scores, expected):
    found = image(*(("cat", s) for s in scores))
    assert outcome(preset_policy("any-label-below"), found) == expected


@pytest.mark.parametrize(
    ("scores", "expected", "shown"),
    [
        ((0.95, 0.9), "accept", 2),
        ((0.95, 0.89), "review", 2),
        ((0.95, 0.39), "accept", 1),
        ((0.4,), "review", 1),
        ((0.1,), "accept", 0),
    ],
)
def test_band_preset(scores, expected, shown):
    decision = decide(preset_policy("band"), image(*(("cat", s) for s in scores)), "id")
    assert decision.outcome == expected
    assert len(decision.shown.detections) == shown


def test_a_preset_with_sampling_reviews_a_sample_of_confident_images():
    routing = preset_policy("top-score-below", sampling_percentage=50)
    outcomes = [outcome(routing, image(("cat", 0.99)), f"id-{n}") for n in range(200)]
    assert 60 < outcomes.count("review") < 140
    assert routing.Conditions[-1].ConditionType == "Sampling"
    assert "Sampling" not in str(PRESETS["top-score-below"]), "the preset itself is left alone"


def test_the_default_preset_is_top_score_below():
    assert preset_policy("top-score-below") == RoutingPolicy.model_validate(PRESETS["top-score-below"])


def test_an_unknown_preset_is_named():
    with pytest.raises(ValueError, match="unknown routing preset 'strict'; known: top-score-below"):
        preset_policy("strict")


@pytest.mark.parametrize("percentage", [0.001, 0, 100.5])
def test_sampling_percentage_is_bounded(percentage):
    with pytest.raises(ValidationError, match="RandomSamplingPercentage"):
        preset_policy("band", sampling_percentage=percentage)


# --- policies refused -----------------------------------------------------------------------

BAD_POLICIES: list[tuple[dict[str, Any], str]] = [
    ({"Conditions": []}, "at least 1 item"),
    ({}, "Conditions"),
    ({"Conditions": [{"ConditionType": "Moderation"}]}, "ConditionType ModelConfidenceCheck"),
    ({"Conditions": [{"ConditionParameters": {}}]}, "ConditionType ModelConfidenceCheck"),
    ({"Conditions": [confidence(LabelName="cat")]}, "at least one Confidence"),
    ({"Conditions": [confidence(ConfidenceLessThan=1.5)]}, "ConfidenceLessThan"),
    ({"Conditions": [confidence(ConfidenceLessThan=0.5, Aggregate="Min")]}, "Aggregate"),
    ({"Conditions": [confidence(ConfidenceLessThan=0.5, Threshold=3)]}, "Threshold"),
    ({"Conditions": [{"ConditionType": "Sampling", "ConditionParameters": {}}]}, "RandomSamplingPercentage"),
    ({"Conditions": [{"And": []}]}, "at least 1 item"),
    ({"Conditions": [{"And": [sampling(5)], "Or": [sampling(5)]}]}, "Or"),
    ({"Conditions": [sampling(5)], "MinDisplayScore": 2}, "MinDisplayScore"),
    ({"Conditions": [sampling(5)], "Extra": 1}, "Extra"),
]


@pytest.mark.parametrize(("document", "problem"), BAD_POLICIES)
def test_bad_policies_are_refused_naming_the_problem(document, problem):
    with pytest.raises(ValidationError, match=problem):
        RoutingPolicy.model_validate(document)


def test_and_or_nest_two_levels_deep_at_most():
    two = {"And": [{"Or": [sampling(5), {"ConditionType": "NoDetections"}]}, sampling(1)]}
    assert RoutingPolicy.model_validate({"Conditions": [two]})
    three = {"Or": [{"And": [{"Or": [sampling(5)]}]}]}
    with pytest.raises(ValidationError, match="2 levels deep at most, found 3"):
        RoutingPolicy.model_validate({"Conditions": [three]})


def test_a_policy_round_trips_through_json():
    routing = policy(
        {"Or": [sampling(5), confidence(LabelName="cat", ConfidenceLessThan=0.5)]}, MinDisplayScore=0.2
    )
    assert RoutingPolicy.model_validate_json(routing.model_dump_json()) == routing


def test_a_preset_is_built_once_per_name_and_percentage() -> None:
    assert preset_policy("band", 5) is preset_policy("band", 5)
    assert preset_policy("band", 5) != preset_policy("band")
    with pytest.raises(ValidationError):
        preset_policy("band", 5).MinDisplayScore = 0.5  # type: ignore[misc]


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_needs_review_agrees_with_decide(name):
    policy = preset_policy(name, 20)
    generator = random.Random(name)
    for number in range(300):
        size = ImageSize(100, 100)
        found = tuple(
            Detection("cat", round(generator.random(), 3), Box(1, 1, 10, 10))
            for _ in range(generator.randint(0, 3))
        )
        detections = ImageDetections(size, found)
        identity = f"s3://b/{number}.jpg#v"
        shown = detections.at_least(policy.MinDisplayScore)
        assert needs_review(policy, shown, identity) == (
            decide(policy, detections, identity).outcome == "review"
        )
