"""The one configuration: loaded from CDK context, HITL_CONFIG or a file; errors name the key."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hitl_core.config import (
    ENVIRONMENT_VARIABLE,
    ConfigError,
    PipelineConfig,
    check_a2i_labels,
    config_from_env,
    config_from_file,
    config_to_env,
    load_config,
)
from hitl_core.routing import PRESETS, RoutingPolicy, preset_policy

LABELS = ["person", "bicycle", "car"]
VOC_LABELS = [
    *("aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow"),
    *("diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train"),
    "tvmonitor",
]


def test_the_embedded_default_configuration_is_valid(pipeline_config):
    assert pipeline_config.labels[:3] == ["person", "bicycle", "car"]
    assert pipeline_config.adapter == "sagemaker-object-detection"
    assert pipeline_config.policy == preset_policy("top-score-below")
    assert pipeline_config.manifest_attribute == "bounding-box"
    assert set(pipeline_config.offered_labels) <= set(pipeline_config.labels)


def test_defaults_fill_what_is_not_given():
    config = load_config({"labels": LABELS})
    assert config.offered_labels == LABELS
    assert config.policy == preset_policy("top-score-below")
    assert config.prefixes.incoming == "incoming/"
    assert config.rotation.max_lines == 5000


def test_a_preset_with_sampling_and_a_whole_policy():
    config = load_config({"labels": LABELS, "routing": {"preset": "band", "sampling_percentage": 5}})
    assert config.policy == preset_policy("band", 5)
    document = {"Conditions": [{"ConditionType": "NoDetections"}], "MinDisplayScore": 0.3}
    config = load_config({"labels": LABELS, "routing": {"policy": document}})
    assert config.policy == RoutingPolicy.model_validate(document)


BAD_CONFIGS: list[tuple[dict[str, Any], str]] = [
    ({}, "labels: Field required"),
    ({"labels": []}, "labels: List should have at least 1 item"),
    ({"labels": ["a", "a", "b"]}, r"labels: .*repeated: \['a'\]"),
    ({"labels": ["a", " "]}, "labels: .*must not be blank"),
    ({"labels": LABELS, "review_labels": ["cow"]}, r"review_labels not in labels: \['cow'\]"),
    ({"labels": LABELS, "review_labels": []}, "review_labels must name at least one label"),
    ({"labels": LABELS, "adapter": "yolo"}, "adapter: Input should be 'sagemaker-object-detection'"),
    ({"labels": LABELS, "routing": {"preset": "strict"}}, "routing.preset: Input should be"),
    ({"labels": LABELS, "routing": {"sampling_percentage": 0}}, "routing.sampling_percentage"),
    (
        {"labels": LABELS, "routing": {"preset": "band", "policy": PRESETS["band"]}},
        "routing: .*either 'preset' or 'policy'",
    ),
    (
        {"labels": LABELS, "routing": {"policy": PRESETS["band"], "sampling_percentage": 5}},
        "routing: .*'sampling_percentage' goes with a preset",
    ),
    (
        {
            "labels": LABELS,
            "routing": {
                "policy": {
                    "Conditions": [
                        {
                            "ConditionType": "ModelConfidenceCheck",
                            "ConditionParameters": {"ConfidenceLessThan": 2},
                        }
                    ]
                }
            },
        },
        r"routing\.policy\.Conditions\.0\.ModelConfidenceCheck\.ConditionParameters\.ConfidenceLessThan",
    ),
    ({"labels": LABELS, "prefixes": {"incoming": "/abs/"}}, "prefixes.incoming: .*ends with '/'"),
    ({"labels": LABELS, "prefixes": {"manifests": "manifests"}}, "prefixes.manifests"),
    ({"labels": LABELS, "prefixes": {"elsewhere": "x/"}}, "prefixes.elsewhere: Extra inputs"),
    ({"labels": LABELS, "rotation": {"max_lines": 0}}, "rotation.max_lines"),
    ({"labels": LABELS, "rotation": {"max_bytes": 10}}, "rotation.max_bytes"),
    ({"labels": LABELS, "manifest_attribute": "box-metadata"}, "manifest_attribute: .*-metadata"),
    ({"labels": LABELS, "manifest_attribute": "source-ref"}, "manifest_attribute"),
    ({"labels": LABELS, "manifest_attribute": "bad name"}, "manifest_attribute: .*LabelAttributeName"),
    ({"labels": LABELS, "manifest_attribute": ""}, "manifest_attribute"),
    ({"labels": LABELS, "endpoint_payload_limit": 7_000_000}, "endpoint_payload_limit"),
    ({"labels": LABELS, "max_image_bytes": 0}, "max_image_bytes"),
    ({"labels": LABELS, "lables": LABELS}, "lables: Extra inputs are not permitted"),
]


@pytest.mark.parametrize(("data", "problem"), BAD_CONFIGS)
def test_errors_name_the_bad_key(data, problem):
    with pytest.raises(ConfigError, match=f"^here: .*{problem}"):
        load_config(data, "here")


def test_every_bad_key_is_named_at_once():
    with pytest.raises(ConfigError) as caught:
        load_config({"labels": [], "adapter": "yolo"}, "here")
    assert "labels:" in str(caught.value) and "adapter:" in str(caught.value)


@pytest.mark.parametrize(("data", "problem"), [([1], "got list"), ("{oops", "not JSON"), ("[]", "got list")])
def test_something_other_than_an_object_is_refused(data, problem):
    with pytest.raises(ConfigError, match=problem):
        load_config(data, "context 'hitl'")


def test_context_given_as_a_json_string_is_read():
    assert load_config(json.dumps({"labels": LABELS})).labels == LABELS


# --- files --------------------------------------------------------------------------------


def test_a_plain_file_and_a_cdk_json(tmp_path):
    plain = tmp_path / "hitl.json"
    plain.write_text(json.dumps({"labels": LABELS, "adapter": "gluoncv"}))
    assert config_from_file(plain).adapter == "gluoncv"
    cdk = tmp_path / "cdk.json"
    cdk.write_text(json.dumps({"app": "python app.py", "context": {"hitl": {"labels": LABELS}}}))
    assert config_from_file(cdk).labels == LABELS


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "no such file"),
        ("{", "not JSON"),
        ('{"context": {"other": {}}}', "context has no 'hitl' key"),
        ("[1, 2]", "must be a JSON object"),
        ('{"labels": ["a"], "rotation": {"max_lines": -1}}', "rotation.max_lines"),
    ],
)
def test_file_errors_name_the_file(tmp_path, content, problem):
    path = tmp_path / "conf.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError, match=f"{path}: .*{problem}"):
        config_from_file(path)


# --- environment --------------------------------------------------------------------------


def test_environment_errors():
    with pytest.raises(ConfigError, match="HITL_CONFIG is not set"):
        config_from_env({})
    with pytest.raises(ConfigError, match="HITL_CONFIG: not JSON"):
        config_from_env({ENVIRONMENT_VARIABLE: "labels=a"})
    with pytest.raises(ConfigError, match="HITL_CONFIG: labels"):
        config_from_env({ENVIRONMENT_VARIABLE: "{}"})


def round_trip(config: PipelineConfig) -> PipelineConfig:
    return config_from_env({ENVIRONMENT_VARIABLE: config_to_env(config)})


def test_the_default_configuration_round_trips_through_the_environment(pipeline_config):
    assert round_trip(pipeline_config) == pipeline_config
    assert len(config_to_env(pipeline_config)) < 4096, "Lambda environments hold 4 KB in all"


def test_a_custom_policy_and_every_section_round_trip():
    config = load_config(
        {
            "labels": LABELS,
            "review_labels": ["car"],
            "adapter": "rekognition-custom-labels",
            "routing": {
                "policy": {
                    "MinDisplayScore": 0.25,
                    "Conditions": [
                        {
                            "Or": [
                                {"ConditionType": "NoDetections"},
                                {
                                    "And": [
                                        {
                                            "ConditionType": "ModelConfidenceCheck",
                                            "ConditionParameters": {
                                                "LabelName": "car",
                                                "ConfidenceLessThanEquals": 0.7,
                                                "ConfidenceGreaterThan": 0.2,
                                            },
                                        },
                                        {
                                            "ConditionType": "Sampling",
                                            "ConditionParameters": {"RandomSamplingPercentage": 5},
                                        },
                                    ]
                                },
                            ]
                        },
                        {
                            "ConditionType": "ModelConfidenceCheck",
                            "ConditionParameters": {"ConfidenceLessThan": 0.5, "Aggregate": "Max"},
                        },
                    ],
                }
            },
            "prefixes": {"incoming": "drop/", "manifests": "gt/"},
            "manifest_attribute": "boxes",
            "rotation": {"max_lines": 10, "max_bytes": 2048},
            "max_image_bytes": 1000,
            "endpoint_payload_limit": 4_194_304,
        }
    )
    again = round_trip(config)
    assert again == config
    assert again.policy == config.policy


@given(
    preset=st.sampled_from(sorted(PRESETS)),
    sampling=st.none() | st.floats(0.01, 100),
    labels=st.lists(st.text(min_size=1, max_size=20).filter(str.strip), min_size=1, max_size=10, unique=True),
    attribute=st.from_regex(r"[a-z0-9](-?[a-z0-9]){0,20}", fullmatch=True).filter(
        lambda name: name != "source-ref" and not name.endswith("-metadata")
    ),
)
def test_preset_configurations_round_trip(preset, sampling, labels, attribute):
    config = load_config(
        {
            "labels": labels,
            "routing": {"preset": preset, "sampling_percentage": sampling},
            "manifest_attribute": attribute,
        }
    )
    assert round_trip(config) == config
    assert round_trip(config).policy == config.policy


def test_the_quality_section_has_defaults_and_refuses_impossible_rates():
    quality = load_config({"labels": LABELS}).quality
    assert (quality.iou_threshold, quality.max_accepted_error_rate) == (0.5, 0.05)
    assert (quality.recent_days, quality.baseline_days) == (7, 28)
    with pytest.raises(ConfigError, match=r"quality\.max_accepted_error_rate"):
        load_config({"labels": LABELS, "quality": {"max_accepted_error_rate": 1.5}})


@pytest.mark.parametrize("labels", [VOC_LABELS, [f"coco-{i}" for i in range(80)]], ids=["voc-20", "coco-80"])
def test_any_number_of_labels_is_a_valid_configuration(labels: list[str]) -> None:
    config = load_config({"labels": labels})

    assert config.offered_labels == labels


def test_the_a2i_bounding_box_element_takes_ten_labels_at_most() -> None:
    check_a2i_labels(load_config({"labels": VOC_LABELS, "review_labels": VOC_LABELS[:10]}))

    with pytest.raises(ConfigError, match=r"review_labels has 11 labels; A2I's .* at most 10"):
        check_a2i_labels(load_config({"labels": VOC_LABELS, "review_labels": VOC_LABELS[:11]}))
    with pytest.raises(ConfigError, match=r"labels has 20 labels; .* or use the builtin"):
        check_a2i_labels(load_config({"labels": VOC_LABELS}))


def test_the_review_team_section_defaults_to_no_budget_gold_or_escalation() -> None:
    review = load_config({"labels": ["cat"]}).review
    assert not review.budget.budget().limited
    assert review.gold is None and review.agreement is None
    assert review.priority.rule().aging_seconds == 3600


def test_review_team_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match=r"review.budget.per_hour"):
        load_config({"labels": ["cat"], "review": {"budget": {"per_hour": 0}}})
    with pytest.raises(ConfigError, match=r"review.budget.when_spent"):
        load_config({"labels": ["cat"], "review": {"budget": {"when_spent": "drop"}}})
    with pytest.raises(ConfigError, match=r"review.gold.share"):
        load_config({"labels": ["cat"], "review": {"gold": {"share": 1.5}}})


def test_a2i_refuses_what_it_cannot_apply() -> None:
    from hitl_core.config import check_a2i_review_team

    check_a2i_review_team(load_config({"labels": ["cat"]}))
    config = load_config(
        {
            "labels": ["cat"],
            "review": {
                "budget": {"per_reviewer_day": 5},
                "gold": {"share": 0.1, "second_reviewer": True, "manifest": "s3://gold-bucket/gold.jsonl"},
                "agreement": {},
            },
        }
    )
    with pytest.raises(ConfigError) as refused:
        check_a2i_review_team(config)
    message = str(refused.value)
    assert "review.budget.per_reviewer_day: A2I gives a loop to a worker of its own choosing" in message
    assert "review.gold.second_reviewer: an A2I loop finishes" in message
    assert "review.gold.manifest: on AWS the gold manifest lies in a folder" in message
    assert "review.agreement: an A2I loop finishes" in message


@pytest.mark.parametrize("manifest", [None, "gold/lines.jsonl", "s3://gold-bucket/gold/"])
def test_a2i_refuses_gold_without_an_s3_manifest_in_a_folder(manifest: str | None) -> None:
    from hitl_core.config import check_a2i_review_team

    gold = {"share": 0.1} if manifest is None else {"share": 0.1, "manifest": manifest}
    with pytest.raises(ConfigError, match=r"review.gold.manifest: on AWS the gold manifest"):
        check_a2i_review_team(load_config({"labels": ["cat"], "review": {"gold": gold}}))


def test_a2i_applies_gold_as_a_share_of_loops_started() -> None:
    from hitl_core.config import check_a2i_review_team

    gold = {"share": 0.1, "min_score": 0.8, "manifest": "s3://gold-bucket/team/gold.jsonl"}
    check_a2i_review_team(load_config({"labels": ["cat"], "review": {"gold": gold}}))


def test_a2i_applies_the_teams_budget_and_the_priority_of_waiting_images() -> None:
    from hitl_core.config import check_a2i_review_team

    budget = {"per_hour": 20, "per_day": 100, "when_spent": "accept", "audit_outside": False}
    check_a2i_review_team(load_config({"labels": ["cat"], "review": {"budget": budget, "priority": {}}}))


def test_a2i_refuses_a_priority_with_no_budget_to_order_by() -> None:
    from hitl_core.config import check_a2i_review_team

    config = load_config({"labels": ["cat"], "review": {"priority": {"basis": "lowest-score"}}})
    with pytest.raises(ConfigError, match=r"review.priority: with A2I it orders only the images waiting"):
        check_a2i_review_team(config)
