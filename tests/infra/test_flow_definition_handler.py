"""The flow-definition custom resource handler against botocore's Stubber (SageMaker's real API model)."""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

HANDLER = Path(__file__).resolve().parents[2] / "lambdas" / "hitl_flow_definition" / "handler.py"
ROLE = "arn:aws:iam::123456789012:role/a2i"
ARN_PREFIX = "arn:aws:sagemaker:us-east-1:123456789012:flow-definition/"


def load_handler() -> ModuleType:
    spec = importlib.util.spec_from_file_location("flow_definition_handler", HANDLER)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def handler() -> ModuleType:
    return load_handler()


@pytest.fixture
def stub(handler: ModuleType) -> Iterator[Stubber]:
    client = boto3.client("sagemaker", region_name="us-east-1")
    handler._client = client
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def properties(**loop_overrides: Any) -> dict[str, Any]:
    """ResourceProperties as CloudFormation delivers them: numbers arrive as strings."""
    loop = {
        "WorkteamArn": "arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/reviewers",
        "HumanTaskUiArn": "arn:aws:sagemaker:us-east-1:123456789012:human-task-ui/hitl-task-ui-abc",
        "TaskTitle": "Check the boxes",
        "TaskDescription": "Fix the boxes",
        "TaskCount": "1",
        "TaskAvailabilityLifetimeInSeconds": "86400",
        "TaskTimeLimitInSeconds": "3600",
    }
    loop.update(loop_overrides)
    return {
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:provider",
        "NamePrefix": "hitl-flow",
        "RoleArn": ROLE,
        "HumanLoopConfig": loop,
        "OutputConfig": {"S3OutputPath": "s3://review-output/a2i-output/"},
    }


def test_name_is_stable_for_the_same_content_and_changes_with_it(handler: ModuleType) -> None:
    name = handler.flow_definition_name(properties())

    assert name == handler.flow_definition_name({**properties(), "ServiceToken": "another-token"})
    assert name != handler.flow_definition_name(properties(TaskCount="2"))
    assert name.startswith("hitl-flow-") and len(name) <= 63
    assert re.fullmatch(r"[a-z0-9](-*[a-z0-9])*", name), "not a valid flow definition name"


def test_long_prefix_is_cut_to_fit_sixty_three_characters(handler: ModuleType) -> None:
    name = handler.flow_definition_name({**properties(), "NamePrefix": "x" * 80})

    assert len(name) == 63


def test_create_sends_numbers_as_numbers(handler: ModuleType, stub: Stubber) -> None:
    name = handler.flow_definition_name(properties())
    loop = {**properties()["HumanLoopConfig"], "TaskCount": 1, "TaskAvailabilityLifetimeInSeconds": 86400}
    expected = {
        "FlowDefinitionName": name,
        "HumanLoopConfig": {**loop, "TaskTimeLimitInSeconds": 3600},
        "OutputConfig": {"S3OutputPath": "s3://review-output/a2i-output/"},
        "RoleArn": ROLE,
    }
    stub.add_response("create_flow_definition", {"FlowDefinitionArn": ARN_PREFIX + name}, expected)

    result = handler.on_event({"RequestType": "Create", "ResourceProperties": properties()})

    assert result == {"PhysicalResourceId": name}


def test_a_retried_create_adopts_the_existing_flow_definition(handler: ModuleType, stub: Stubber) -> None:
    stub.add_client_error("create_flow_definition", service_error_code="ResourceInUse", http_status_code=400)

    result = handler.on_event({"RequestType": "Create", "ResourceProperties": properties()})

    assert result == {"PhysicalResourceId": handler.flow_definition_name(properties())}


def test_other_create_errors_fail_the_resource(handler: ModuleType, stub: Stubber) -> None:
    stub.add_client_error(
        "create_flow_definition", service_error_code="ResourceLimitExceeded", http_status_code=400
    )

    with pytest.raises(Exception, match="ResourceLimitExceeded"):
        handler.on_event({"RequestType": "Create", "ResourceProperties": properties()})


def test_update_without_content_change_keeps_the_flow_definition(handler: ModuleType, stub: Stubber) -> None:
    name = handler.flow_definition_name(properties())

    result = handler.on_event(
        {"RequestType": "Update", "PhysicalResourceId": name, "ResourceProperties": properties()}
    )

    assert result == {"PhysicalResourceId": name}


def test_any_change_creates_a_new_flow_definition_under_a_new_name(
    handler: ModuleType, stub: Stubber
) -> None:
    old = handler.flow_definition_name(properties())
    changed = properties(TaskTimeLimitInSeconds="600")
    new = handler.flow_definition_name(changed)
    expected = {
        "FlowDefinitionName": new,
        "HumanLoopConfig": stub_loop(changed),
        "OutputConfig": changed["OutputConfig"],
        "RoleArn": ROLE,
    }
    stub.add_response("create_flow_definition", {"FlowDefinitionArn": ARN_PREFIX + new}, expected)

    result = handler.on_event(
        {"RequestType": "Update", "PhysicalResourceId": old, "ResourceProperties": changed}
    )

    assert result == {"PhysicalResourceId": new} and new != old


def stub_loop(props: dict[str, Any]) -> dict[str, Any]:
    loop = dict(props["HumanLoopConfig"])
    for field in ("TaskCount", "TaskAvailabilityLifetimeInSeconds", "TaskTimeLimitInSeconds"):
        loop[field] = int(loop[field])
    return loop


def test_delete_starts_deletion(handler: ModuleType, stub: Stubber) -> None:
    stub.add_response("delete_flow_definition", {}, {"FlowDefinitionName": "hitl-flow-abc"})

    result = handler.on_event({"RequestType": "Delete", "PhysicalResourceId": "hitl-flow-abc"})

    assert result == {"PhysicalResourceId": "hitl-flow-abc"}


def test_deleting_what_is_gone_succeeds(handler: ModuleType, stub: Stubber) -> None:
    stub.add_client_error(
        "delete_flow_definition", service_error_code="ResourceNotFound", http_status_code=400
    )

    assert handler.on_event({"RequestType": "Delete", "PhysicalResourceId": "hitl-flow-abc"})


def describe(status: str, **extra: Any) -> dict[str, Any]:
    return {
        "FlowDefinitionArn": ARN_PREFIX + "hitl-flow-abc",
        "FlowDefinitionName": "hitl-flow-abc",
        "FlowDefinitionStatus": status,
        "CreationTime": "2026-01-01T00:00:00Z",
        "HumanLoopConfig": stub_loop(properties()),
        "OutputConfig": {"S3OutputPath": "s3://review-output/a2i-output/"},
        "RoleArn": ROLE,
        **extra,
    }


@pytest.mark.parametrize("request_type", ["Create", "Update"])
def test_waits_while_initializing(handler: ModuleType, stub: Stubber, request_type: str) -> None:
    stub.add_response(
        "describe_flow_definition", describe("Initializing"), {"FlowDefinitionName": "hitl-flow-abc"}
    )

    assert handler.is_complete({"RequestType": request_type, "PhysicalResourceId": "hitl-flow-abc"}) == {
        "IsComplete": False
    }


def test_complete_when_active_with_its_arn(handler: ModuleType, stub: Stubber) -> None:
    stub.add_response("describe_flow_definition", describe("Active"), {"FlowDefinitionName": "hitl-flow-abc"})

    result = handler.is_complete({"RequestType": "Create", "PhysicalResourceId": "hitl-flow-abc"})

    assert result == {
        "IsComplete": True,
        "Data": {"FlowDefinitionArn": ARN_PREFIX + "hitl-flow-abc", "FlowDefinitionName": "hitl-flow-abc"},
    }


def test_a_failed_flow_definition_fails_with_its_reason(handler: ModuleType, stub: Stubber) -> None:
    stub.add_response(
        "describe_flow_definition",
        describe("Failed", FailureReason="Workteam not found"),
        {"FlowDefinitionName": "hitl-flow-abc"},
    )

    with pytest.raises(RuntimeError, match="Workteam not found"):
        handler.is_complete({"RequestType": "Create", "PhysicalResourceId": "hitl-flow-abc"})


def test_delete_waits_until_the_flow_definition_is_gone(handler: ModuleType, stub: Stubber) -> None:
    stub.add_response(
        "describe_flow_definition", describe("Deleting"), {"FlowDefinitionName": "hitl-flow-abc"}
    )
    stub.add_client_error(
        "describe_flow_definition", service_error_code="ResourceNotFound", http_status_code=400
    )
    event = {"RequestType": "Delete", "PhysicalResourceId": "hitl-flow-abc"}

    assert handler.is_complete(event) == {"IsComplete": False}
    assert handler.is_complete(event) == {"IsComplete": True}


def test_a_vanished_flow_definition_during_create_is_an_error(handler: ModuleType, stub: Stubber) -> None:
    stub.add_client_error(
        "describe_flow_definition", service_error_code="ResourceNotFound", http_status_code=400
    )

    with pytest.raises(Exception, match="ResourceNotFound"):
        handler.is_complete({"RequestType": "Create", "PhysicalResourceId": "hitl-flow-abc"})


def test_unknown_request_types_are_refused(handler: ModuleType) -> None:
    with pytest.raises(ValueError, match="Rollback"):
        handler.on_event({"RequestType": "Rollback", "ResourceProperties": properties()})
