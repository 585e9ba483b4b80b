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


STACK_ID = "arn:aws:cloudformation:us-east-1:123456789012:stack/HitlPipeline/1b2c3d4e"


class Stubs:
    """Stubbed SageMaker, A2I runtime and CloudFormation clients (each checks the real API model)."""

    def __init__(self) -> None:
        self.sagemaker = Stubber(boto3.client("sagemaker", region_name="us-east-1"))
        self.a2i = Stubber(boto3.client("sagemaker-a2i-runtime", region_name="us-east-1"))
        self.cloudformation = Stubber(boto3.client("cloudformation", region_name="us-east-1"))
        self.all = (self.sagemaker, self.a2i, self.cloudformation)

    # The sagemaker stubber is the one most tests use: let them call it as `stub.add_response`.
    def add_response(self, *args: Any, **kwargs: Any) -> None:
        self.sagemaker.add_response(*args, **kwargs)

    def add_client_error(self, *args: Any, **kwargs: Any) -> None:
        self.sagemaker.add_client_error(*args, **kwargs)


@pytest.fixture
def slept(handler: ModuleType) -> list[float]:
    delays: list[float] = []
    handler.sleep = delays.append
    return delays


@pytest.fixture
def stub(handler: ModuleType, slept: list[float]) -> Iterator[Stubs]:
    stubs = Stubs()
    handler._clients = {
        "sagemaker": stubs.sagemaker.client,
        "sagemaker-a2i-runtime": stubs.a2i.client,
        "cloudformation": stubs.cloudformation.client,
    }
    for stubber in stubs.all:
        stubber.activate()
    yield stubs
    for stubber in stubs.all:
        stubber.assert_no_pending_responses()
        stubber.deactivate()


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


def test_create_sends_numbers_as_numbers(handler: ModuleType, stub: Stubs) -> None:
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


def test_a_retried_create_adopts_the_existing_flow_definition(handler: ModuleType, stub: Stubs) -> None:
    name = handler.flow_definition_name(properties())
    stub.add_client_error("create_flow_definition", service_error_code="ResourceInUse", http_status_code=400)
    stub.add_response("describe_flow_definition", describe("Active", name), {"FlowDefinitionName": name})

    result = handler.on_event({"RequestType": "Create", "ResourceProperties": properties()})

    assert result == {"PhysicalResourceId": name}


def test_adopting_a_definition_that_is_still_deleting_fails_at_once(handler: ModuleType, stub: Stubs) -> None:
    name = handler.flow_definition_name(properties())
    stub.add_client_error("create_flow_definition", service_error_code="ResourceInUse", http_status_code=400)
    stub.add_response("describe_flow_definition", describe("Deleting", name), {"FlowDefinitionName": name})

    with pytest.raises(RuntimeError, match=f"{name} .* is still being deleted.*task time limit"):
        handler.on_event({"RequestType": "Create", "ResourceProperties": properties()})


ROLE_NOT_VISIBLE = f"Unable to assume role {ROLE}; check that the role exists and trusts SageMaker"


def test_creation_is_retried_while_a_new_role_propagates(
    handler: ModuleType, stub: Stubs, slept: list[float]
) -> None:
    name = handler.flow_definition_name(properties())
    for _ in range(2):
        stub.add_client_error(
            "create_flow_definition", "ValidationException", ROLE_NOT_VISIBLE, http_status_code=400
        )
    stub.add_response("create_flow_definition", {"FlowDefinitionArn": ARN_PREFIX + name})

    assert handler.on_event({"RequestType": "Create", "ResourceProperties": properties()}) == {
        "PhysicalResourceId": name
    }
    assert slept == [5, 10]


def test_creation_gives_up_after_about_a_minute(handler: ModuleType, stub: Stubs, slept: list[float]) -> None:
    for _ in range(len(handler.CREATE_RETRY_DELAYS) + 1):
        stub.add_client_error(
            "create_flow_definition", "ValidationException", ROLE_NOT_VISIBLE, http_status_code=400
        )

    with pytest.raises(Exception, match="Unable to assume role"):
        handler.on_event({"RequestType": "Create", "ResourceProperties": properties()})
    assert sum(slept) == 60


def test_other_create_errors_fail_the_resource(handler: ModuleType, stub: Stubs, slept: list[float]) -> None:
    stub.add_client_error(
        "create_flow_definition", service_error_code="ResourceLimitExceeded", http_status_code=400
    )

    with pytest.raises(Exception, match="ResourceLimitExceeded"):
        handler.on_event({"RequestType": "Create", "ResourceProperties": properties()})
    assert slept == []


def test_update_without_content_change_keeps_the_flow_definition(handler: ModuleType, stub: Stubs) -> None:
    name = handler.flow_definition_name(properties())

    result = handler.on_event(
        {"RequestType": "Update", "PhysicalResourceId": name, "ResourceProperties": properties()}
    )

    assert result == {"PhysicalResourceId": name}


def summary(name: str, status: str = "Active") -> dict[str, Any]:
    return {
        "FlowDefinitionName": name,
        "FlowDefinitionArn": ARN_PREFIX + name,
        "FlowDefinitionStatus": status,
        "CreationTime": "2026-01-01T00:00:00Z",
    }


def loops(flow: str, *statuses: str) -> dict[str, Any]:
    return {
        "HumanLoopSummaries": [
            {
                "HumanLoopName": f"loop-{i}",
                "HumanLoopStatus": status,
                "CreationTime": "2026-01-01T00:00:00Z",
                "FlowDefinitionArn": ARN_PREFIX + flow,
            }
            for i, status in enumerate(statuses)
        ]
    }


def expect_loops(stub: Stubs, flow: str, *statuses: str) -> None:
    stub.a2i.add_response(
        "list_human_loops", loops(flow, *statuses), {"FlowDefinitionArn": ARN_PREFIX + flow}
    )


def test_any_change_creates_a_new_flow_definition_and_sweeps_retired_ones_whose_loops_are_done(
    handler: ModuleType, stub: Stubs
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
    listed = [
        summary(old),
        summary(new, "Initializing"),
        summary("hitl-flow-000000000001"),
        summary("hitl-flow-000000000002"),
        summary("hitl-flow-000000000003", "Deleting"),
        summary("other-stack-flow-000000000004"),
    ]
    stub.add_response("list_flow_definitions", {"FlowDefinitionSummaries": listed}, {})
    expect_loops(stub, "hitl-flow-000000000001", "Completed", "InProgress")
    expect_loops(stub, "hitl-flow-000000000002", "Completed", "Stopped", "Failed")
    stub.add_response("delete_flow_definition", {}, {"FlowDefinitionName": "hitl-flow-000000000002"})

    result = handler.on_event(
        {"RequestType": "Update", "PhysicalResourceId": old, "ResourceProperties": changed}
    )

    assert result == {"PhysicalResourceId": new} and new != old


def stub_loop(props: dict[str, Any]) -> dict[str, Any]:
    loop = dict(props["HumanLoopConfig"])
    for field in ("TaskCount", "TaskAvailabilityLifetimeInSeconds", "TaskTimeLimitInSeconds"):
        loop[field] = int(loop[field])
    return loop


def delete_event(name: str = "hitl-flow-abc") -> dict[str, Any]:
    return {
        "RequestType": "Delete",
        "PhysicalResourceId": name,
        "StackId": STACK_ID,
        "ResourceProperties": properties(),
    }


def expect_stack_status(stub: Stubs, status: str) -> None:
    stack = {"StackName": "HitlPipeline", "StackId": STACK_ID, "CreationTime": "2026-01-01T00:00:00Z"}
    stub.cloudformation.add_response(
        "describe_stacks", {"Stacks": [{**stack, "StackStatus": status}]}, {"StackName": STACK_ID}
    )


def test_an_updates_cleanup_keeps_a_replaced_definition_with_open_loops(
    handler: ModuleType, stub: Stubs
) -> None:
    expect_stack_status(stub, "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
    stub.add_response("describe_flow_definition", describe("Active"), {"FlowDefinitionName": "hitl-flow-abc"})
    expect_loops(stub, "hitl-flow-abc", "Completed", "InProgress")

    assert handler.on_event(delete_event()) == {"PhysicalResourceId": "hitl-flow-abc"}


def test_an_updates_cleanup_deletes_a_replaced_definition_whose_loops_are_done(
    handler: ModuleType, stub: Stubs
) -> None:
    expect_stack_status(stub, "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
    stub.add_response("describe_flow_definition", describe("Active"), {"FlowDefinitionName": "hitl-flow-abc"})
    expect_loops(stub, "hitl-flow-abc", "Completed")
    stub.add_response("delete_flow_definition", {}, {"FlowDefinitionName": "hitl-flow-abc"})

    assert handler.on_event(delete_event()) == {"PhysicalResourceId": "hitl-flow-abc"}


def test_a_definition_already_deleting_or_gone_counts_as_deleted(handler: ModuleType, stub: Stubs) -> None:
    expect_stack_status(stub, "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS")
    stub.add_response(
        "describe_flow_definition", describe("Deleting"), {"FlowDefinitionName": "hitl-flow-abc"}
    )
    expect_stack_status(stub, "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
    stub.add_client_error(
        "describe_flow_definition", service_error_code="ResourceNotFound", http_status_code=400
    )

    assert handler.on_event(delete_event()) == {"PhysicalResourceId": "hitl-flow-abc"}
    assert handler.on_event(delete_event()) == {"PhysicalResourceId": "hitl-flow-abc"}
    assert handler.is_complete(delete_event()) == {"IsComplete": True}


def test_deleting_the_stack_deletes_every_definition_of_this_deployment(
    handler: ModuleType, stub: Stubs
) -> None:
    expect_stack_status(stub, "DELETE_IN_PROGRESS")
    listed = [
        summary("hitl-flow-abc"),
        summary("hitl-flow-000000000001"),
        summary("hitl-flow-000000000003", "Deleting"),
        summary("other-stack-flow-000000000004"),
    ]
    stub.add_response("list_flow_definitions", {"FlowDefinitionSummaries": listed}, {})
    stub.add_response("delete_flow_definition", {}, {"FlowDefinitionName": "hitl-flow-000000000001"})
    stub.add_client_error(
        "delete_flow_definition", service_error_code="ResourceNotFound", http_status_code=400
    )

    assert handler.on_event(delete_event()) == {"PhysicalResourceId": "hitl-flow-abc"}


def describe(status: str, name: str = "hitl-flow-abc", **extra: Any) -> dict[str, Any]:
    return {
        "FlowDefinitionArn": ARN_PREFIX + name,
        "FlowDefinitionName": name,
        "FlowDefinitionStatus": status,
        "CreationTime": "2026-01-01T00:00:00Z",
        "HumanLoopConfig": stub_loop(properties()),
        "OutputConfig": {"S3OutputPath": "s3://review-output/a2i-output/"},
        "RoleArn": ROLE,
        **extra,
    }


@pytest.mark.parametrize("request_type", ["Create", "Update"])
def test_waits_while_initializing(handler: ModuleType, stub: Stubs, request_type: str) -> None:
    stub.add_response(
        "describe_flow_definition", describe("Initializing"), {"FlowDefinitionName": "hitl-flow-abc"}
    )

    assert handler.is_complete({"RequestType": request_type, "PhysicalResourceId": "hitl-flow-abc"}) == {
        "IsComplete": False
    }


def test_complete_when_active_with_its_arn(handler: ModuleType, stub: Stubs) -> None:
    stub.add_response("describe_flow_definition", describe("Active"), {"FlowDefinitionName": "hitl-flow-abc"})

    result = handler.is_complete({"RequestType": "Create", "PhysicalResourceId": "hitl-flow-abc"})

    assert result == {
        "IsComplete": True,
        "Data": {"FlowDefinitionArn": ARN_PREFIX + "hitl-flow-abc", "FlowDefinitionName": "hitl-flow-abc"},
    }


def test_a_failed_flow_definition_fails_with_its_reason(handler: ModuleType, stub: Stubs) -> None:
    stub.add_response(
        "describe_flow_definition",
        describe("Failed", FailureReason="Workteam not found"),
        {"FlowDefinitionName": "hitl-flow-abc"},
    )

    with pytest.raises(RuntimeError, match="Workteam not found"):
        handler.is_complete({"RequestType": "Create", "PhysicalResourceId": "hitl-flow-abc"})


def test_a_definition_found_deleting_while_creating_fails_at_once(handler: ModuleType, stub: Stubs) -> None:
    stub.add_response(
        "describe_flow_definition", describe("Deleting"), {"FlowDefinitionName": "hitl-flow-abc"}
    )

    with pytest.raises(RuntimeError, match="being deleted"):
        handler.is_complete({"RequestType": "Update", "PhysicalResourceId": "hitl-flow-abc"})


def test_a_vanished_flow_definition_during_create_is_an_error(handler: ModuleType, stub: Stubs) -> None:
    stub.add_client_error(
        "describe_flow_definition", service_error_code="ResourceNotFound", http_status_code=400
    )

    with pytest.raises(Exception, match="ResourceNotFound"):
        handler.is_complete({"RequestType": "Create", "PhysicalResourceId": "hitl-flow-abc"})


def test_unknown_request_types_are_refused(handler: ModuleType) -> None:
    with pytest.raises(ValueError, match="Rollback"):
        handler.on_event({"RequestType": "Rollback", "ResourceProperties": properties()})


# -- the whole life: a rollback's update, failures that must not wedge the stack -----------------
CREATE_FAILED = "AWSCDK::CustomResourceProviderFramework::CREATE_FAILED"


def test_a_rollbacks_update_with_the_old_properties_adopts_the_old_definition(
    handler: ModuleType, stub: Stubs
) -> None:
    """CloudFormation keeps the old definition until cleanup: the rollback's Update finds and adopts it."""
    old, new = properties(), properties(TaskCount="2")
    old_name, new_name = handler.flow_definition_name(old), handler.flow_definition_name(new)
    stub.add_client_error("create_flow_definition", service_error_code="ResourceInUse", http_status_code=400)
    stub.add_response(
        "describe_flow_definition", describe("Active", old_name), {"FlowDefinitionName": old_name}
    )
    stub.add_response(
        "list_flow_definitions", {"FlowDefinitionSummaries": [summary(old_name), summary(new_name)]}, {}
    )
    rollback = {
        "RequestType": "Update",
        "PhysicalResourceId": new_name,
        "StackId": STACK_ID,
        "ResourceProperties": old,
        "OldResourceProperties": new,
    }

    assert handler.on_event(rollback) == {"PhysicalResourceId": old_name}
    stub.add_response(
        "describe_flow_definition", describe("Active", old_name), {"FlowDefinitionName": old_name}
    )
    assert handler.is_complete({**rollback, "PhysicalResourceId": old_name})["IsComplete"] is True


@pytest.mark.parametrize(
    ("code", "status"),
    [("ThrottlingException", 400), ("AccessDeniedException", 400), ("InternalFailure", 500)],
)
def test_a_failing_sweep_never_fails_an_update(
    handler: ModuleType, stub: Stubs, code: str, status: int
) -> None:
    new = properties(TaskCount="2")
    name = handler.flow_definition_name(new)
    stub.add_response("create_flow_definition", {"FlowDefinitionArn": ARN_PREFIX + name})
    stub.add_client_error("list_flow_definitions", service_error_code=code, http_status_code=status)
    update = {"RequestType": "Update", "PhysicalResourceId": "hitl-flow-abc", "ResourceProperties": new}

    assert handler.on_event(update) == {"PhysicalResourceId": name}


@pytest.mark.parametrize("physical_id", [CREATE_FAILED, None, "2c9a7e3e-request-id"])
def test_a_delete_after_a_failed_create_deletes_nothing_it_did_not_make(
    handler: ModuleType, stub: Stubs, physical_id: str | None
) -> None:
    """An odd or missing PhysicalResourceId is no flow definition name to describe or delete."""
    expect_stack_status(stub, "ROLLBACK_IN_PROGRESS")
    event = {**delete_event(), "PhysicalResourceId": physical_id}

    assert handler.on_event(event) == {"PhysicalResourceId": physical_id or "hitl-flow-"}
    assert handler.is_complete(event) == {"IsComplete": True}


def test_deleting_the_stack_after_a_failed_create_still_deletes_this_deployments_definitions(
    handler: ModuleType, stub: Stubs
) -> None:
    expect_stack_status(stub, "DELETE_IN_PROGRESS")
    stub.add_response(
        "list_flow_definitions", {"FlowDefinitionSummaries": [summary("hitl-flow-000000000001")]}, {}
    )
    stub.add_response("delete_flow_definition", {}, {"FlowDefinitionName": "hitl-flow-000000000001"})

    assert handler.on_event({**delete_event(), "PhysicalResourceId": CREATE_FAILED})


def test_a_delete_whose_definition_is_throttled_fails_for_cloudformation_to_retry(
    handler: ModuleType, stub: Stubs
) -> None:
    """Not a wedge: a failed Delete in an update's cleanup is only reported; a stack deletion is retried."""
    expect_stack_status(stub, "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
    stub.add_client_error(
        "describe_flow_definition", service_error_code="ThrottlingException", http_status_code=400
    )

    with pytest.raises(Exception, match="ThrottlingException"):
        handler.on_event(delete_event())
