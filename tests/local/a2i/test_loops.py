"""StartHumanLoop checks, flow definitions' ARNs and output layout, and the loop record."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from hitl.local.a2i.errors import ValidationException
from hitl.local.a2i.loops import (
    FlowDefinition,
    HumanLoop,
    HumanLoopStatus,
    validate_start_request,
)

FLOW_ARN = "arn:aws:sagemaker:eu-west-1:111122223333:flow-definition/reviews"
CONTENT = json.dumps({"taskObject": "s3://b/k.jpg"})


def request(**changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "HumanLoopName": "img-1",
        "FlowDefinitionArn": FLOW_ARN,
        "HumanLoopInput": {"InputContent": CONTENT},
    }
    body.update(changes)
    return body


def test_a_valid_request_is_taken_as_sent() -> None:
    classifiers = {"ContentClassifiers": ["FreeOfAdultContent"]}
    checked = validate_start_request(request(DataAttributes=classifiers))
    assert (checked.name, checked.flow_definition_arn, checked.input_content) == ("img-1", FLOW_ARN, CONTENT)
    assert checked.data_attributes == classifiers


@pytest.mark.parametrize("name", ["", "Upper", "-lead", "trail-", "under_score", "a" * 64, None, 7])
def test_names_outside_a2i_rules_are_refused(name: object) -> None:
    with pytest.raises(ValidationException, match="humanLoopName"):
        validate_start_request(request(HumanLoopName=name))


@pytest.mark.parametrize("name", ["a", "a--b", "0", "a" * 63])
def test_names_inside_a2i_rules_are_taken(name: str) -> None:
    assert validate_start_request(request(HumanLoopName=name)).name == name


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:sagemaker:us-east-1:123:flow-definition/x",
        "arn:aws:sagemaker:us-east-1:123456789012:human-loop/x",
        "flow-definition/x",
        None,
    ],
)
def test_flow_definition_arns_must_match_the_model_pattern(arn: object) -> None:
    with pytest.raises(ValidationException, match="flowDefinitionArn"):
        validate_start_request(request(FlowDefinitionArn=arn))


@pytest.mark.parametrize(
    ("human_loop_input", "message"),
    [
        ({}, "inputContent"),
        ({"InputContent": 3}, "inputContent"),
        ({"InputContent": "{not json"}, "not valid JSON"),
        ({"InputContent": "[1, 2]"}, "JSON object"),
        ({"InputContent": json.dumps({"x": "y" * 3_145_728})}, "less than or equal to 3145728"),
    ],
)
def test_input_content_must_be_a_json_object_within_the_limit(human_loop_input: object, message: str) -> None:
    with pytest.raises(ValidationException, match=message):
        validate_start_request(request(HumanLoopInput=human_loop_input))


def test_input_content_of_exactly_the_limit_is_taken() -> None:
    padding = 3_145_728 - len(json.dumps({"x": ""}))
    content = json.dumps({"x": "y" * padding})
    assert len(content) == 3_145_728
    assert validate_start_request(request(HumanLoopInput={"InputContent": content})).input_content == content


@pytest.mark.parametrize(
    "attributes", [{}, {"ContentClassifiers": ["FreeOfViruses"]}, {"ContentClassifiers": "x"}]
)
def test_content_classifiers_must_be_the_known_ones(attributes: object) -> None:
    with pytest.raises(ValidationException, match="contentClassifiers"):
        validate_start_request(request(DataAttributes=attributes))


def test_a_flow_definition_names_loops_in_its_partition_region_and_account() -> None:
    flow = FlowDefinition(arn=FLOW_ARN, output_path="s3://out/a2i/")
    assert flow.name == "reviews"
    assert flow.human_loop_arn("img-1") == "arn:aws:sagemaker:eu-west-1:111122223333:human-loop/img-1"
    china = FlowDefinition(
        arn="arn:aws-cn:sagemaker:cn-north-1:111122223333:flow-definition/f", output_path="s3://o"
    )
    assert china.human_loop_arn("x") == "arn:aws-cn:sagemaker:cn-north-1:111122223333:human-loop/x"


@pytest.mark.parametrize("output_path", ["s3://out/a2i/", "s3://out/a2i", "s3://out"])
def test_output_uri_follows_a2i_layout_dated_by_creation(output_path: str) -> None:
    flow = FlowDefinition(arn=FLOW_ARN, output_path=output_path)
    created = datetime(2024, 2, 3, 4, 5, 6, 789000, tzinfo=timezone(timedelta(hours=2)))
    base = output_path.rstrip("/")
    assert flow.output_uri("img-1", created) == f"{base}/reviews/2024/02/03/02/05/06/img-1/output.json"


@pytest.mark.parametrize(
    "changes",
    [
        {"arn": "nope"},
        {"output_path": "/tmp/out"},
        {"output_path": "s3://"},
        {"task_count": 0},
        {"task_count": 4},
    ],
)
def test_flow_definitions_refuse_unusable_settings(changes: dict[str, object]) -> None:
    settings: dict[str, object] = {"arn": FLOW_ARN, "output_path": "s3://out/"} | changes
    with pytest.raises(ValueError):
        FlowDefinition(**settings)  # type: ignore[arg-type]


def test_a_started_loop_is_in_progress_with_millisecond_creation_time() -> None:
    flow = FlowDefinition(arn=FLOW_ARN, output_path="s3://out/a2i/")
    now = datetime(2024, 2, 3, 4, 5, 6, 789999, tzinfo=UTC)
    loop = HumanLoop.start(validate_start_request(request()), flow, now)
    assert loop.status is HumanLoopStatus.IN_PROGRESS
    assert loop.creation_time == "2024-02-03T04:05:06.789Z"
    assert loop.output_s3_uri == "s3://out/a2i/reviews/2024/02/03/04/05/06/img-1/output.json"
    assert loop.input == {"taskObject": "s3://b/k.jpg"}
    assert HumanLoop.from_json(loop.to_json()) == loop


def test_describe_and_summary_carry_failures_only_when_there_are_some() -> None:
    flow = FlowDefinition(arn=FLOW_ARN, output_path="s3://out/")
    loop = HumanLoop.start(validate_start_request(request()), flow, datetime(2024, 1, 1, tzinfo=UTC))
    assert "FailureReason" not in loop.describe() and "FailureCode" not in loop.describe()
    failed = loop.moved_to(HumanLoopStatus.FAILED, failure_code="Expired", failure_reason="too late")
    assert (failed.describe()["FailureCode"], failed.describe()["FailureReason"]) == ("Expired", "too late")
    assert failed.summary()["FailureReason"] == "too late"
    assert HumanLoop.from_json(failed.to_json()) == failed
