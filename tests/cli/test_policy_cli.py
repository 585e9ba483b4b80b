"""`hitl policy explain`: the decision for one image, with each condition's result."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from hitl.cli import cli


def explain(*args: str):
    return CliRunner().invoke(cli, ["policy", "explain", *args])


def write(path: Path, data: Any) -> str:
    path.write_text(json.dumps(data))
    return str(path)


def detections(*scored: tuple[str, float]) -> dict[str, Any]:
    return {
        "image_size": {"width": 640, "height": 480, "depth": 3},
        "detections": [
            {"label": label, "score": score, "left": 10, "top": 10, "width": 50, "height": 50}
            for label, score in scored
        ],
    }


def test_a_preset_decision_with_its_condition_results(tmp_path):
    found = write(tmp_path / "d.json", detections(("cat", 0.45), ("dog", 0.3)))
    result = explain("--policy", "top-score-below", "--detections", found)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {
        "outcome": "review",
        "hidden_count": 0,
        "condition_results": {
            "Conditions": [
                {
                    "ConditionType": "ModelConfidenceCheck",
                    "ConditionParameters": {"LabelName": "*", "ConfidenceLessThan": 0.5, "Aggregate": "Max"},
                    "EvaluationResult": True,
                }
            ]
        },
        "shown": detections(("cat", 0.45), ("dog", 0.3))["detections"],
    }


def test_band_hides_low_scores_and_accepts_the_confident_rest(tmp_path):
    found = write(tmp_path / "d.json", detections(("cat", 0.95), ("dog", 0.2)))
    decision = json.loads(explain("--policy", "band", "--detections", found).output)
    assert decision["outcome"] == "accept"
    assert decision["hidden_count"] == 1
    assert [d["label"] for d in decision["shown"]] == ["cat"]


def test_a_preset_with_sampling_shows_the_sampling_condition(tmp_path):
    found = write(tmp_path / "d.json", detections(("cat", 0.95)))
    result = explain(
        "--policy", "top-score-below+sampling=100", "--detections", found, "--identity", "s3://b/k#v"
    )
    decision = json.loads(result.output)
    assert decision["outcome"] == "review"
    sampled = decision["condition_results"]["Conditions"][1]
    assert sampled["ConditionType"] == "Sampling" and sampled["EvaluationResult"] is True


def test_sampling_depends_on_the_identity_only(tmp_path):
    found = write(tmp_path / "d.json", detections(("cat", 0.95)))
    outcomes = {
        identity: json.loads(
            explain("--policy", "band+sampling=50", "--detections", found, "--identity", identity).output
        )["outcome"]
        for identity in (f"s3://b/{n}.jpg#v" for n in range(40))
    }
    assert set(outcomes.values()) == {"accept", "review"}
    again = explain("--policy", "band+sampling=50", "--detections", found, "--identity", "s3://b/7.jpg#v")
    assert json.loads(again.output)["outcome"] == outcomes["s3://b/7.jpg#v"]


def test_a_policy_file_with_and_or(tmp_path):
    policy = write(
        tmp_path / "policy.json",
        {
            "Conditions": [
                {
                    "And": [
                        {
                            "ConditionType": "ModelConfidenceCheck",
                            "ConditionParameters": {"LabelName": "cat", "ConfidenceLessThan": 0.9},
                        },
                        {
                            "Or": [
                                {"ConditionType": "NoDetections"},
                                {
                                    "ConditionType": "ModelConfidenceCheck",
                                    "ConditionParameters": {"LabelName": "dog", "ConfidenceGreaterThan": 0.5},
                                },
                            ]
                        },
                    ]
                }
            ]
        },
    )
    found = write(tmp_path / "d.json", detections(("cat", 0.8), ("dog", 0.6)))
    decision = json.loads(explain("--policy", policy, "--detections", found).output)
    assert decision["outcome"] == "review"
    both = decision["condition_results"]["Conditions"][0]
    assert both["EvaluationResult"] is True
    assert [c["EvaluationResult"] for c in both["And"][1]["Or"]] == [False, True]


def test_an_image_level_detection_is_shown_without_a_box(tmp_path):
    found = write(
        tmp_path / "d.json",
        {"image_size": {"width": 10, "height": 10}, "detections": [{"label": "indoor", "score": 0.3}]},
    )
    decision = json.loads(explain("--policy", "any-label-below", "--detections", found).output)
    assert decision["outcome"] == "review"
    assert decision["shown"] == [{"label": "indoor", "score": 0.3}]


@pytest.mark.parametrize(
    ("policy", "problem"),
    [
        ("band+sampling=lots", "could not convert"),
        ("band+sampling=0", "RandomSamplingPercentage"),
        ("strictest", "cannot read policy strictest"),
    ],
)
def test_bad_policy_specs_are_named(tmp_path, policy, problem):
    found = write(tmp_path / "d.json", detections(("cat", 0.5)))
    result = explain("--policy", policy, "--detections", found)
    assert result.exit_code == 1
    assert problem in result.output


def test_an_invalid_policy_file_is_named(tmp_path):
    policy = write(tmp_path / "policy.json", {"Conditions": [{"ConditionType": "Magic"}]})
    found = write(tmp_path / "d.json", detections(("cat", 0.5)))
    result = explain("--policy", policy, "--detections", found)
    assert result.exit_code == 1
    assert f"policy {policy} is not valid" in result.output
    assert "ConditionType ModelConfidenceCheck, NoDetections or Sampling" in result.output


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"detections": []}, "lacks 'image_size'"),
        ({"image_size": {"width": 10, "height": 10}, "detections": [{"score": 0.5}]}, "lacks 'label'"),
        ({"image_size": {"width": 0, "height": 10}, "detections": []}, "image size must be positive"),
        (
            {"image_size": {"width": 10, "height": 10}, "detections": [{"label": "cat", "score": 2}]},
            "score must lie in 0..1",
        ),
        (
            {
                "image_size": {"width": 10, "height": 10},
                "detections": [{"label": "cat", "score": 0.5, "left": 5, "top": 5, "width": 9, "height": 1}],
            },
            "lies outside the 10x10 image",
        ),
    ],
)
def test_bad_detections_are_named(tmp_path, data, problem):
    found = write(tmp_path / "d.json", data)
    result = explain("--policy", "band", "--detections", found)
    assert result.exit_code == 1
    assert f"detections {found}: " in result.output
    assert problem in result.output


def test_detections_that_are_not_json(tmp_path):
    found = tmp_path / "d.json"
    found.write_text("{")
    result = explain("--policy", "band", "--detections", str(found))
    assert result.exit_code == 1
    assert "is not JSON" in result.output
