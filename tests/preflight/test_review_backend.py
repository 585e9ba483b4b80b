"""A2I availability, the private workforce and an existing work team (moto lacks these: Stubber)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hitl.preflight.result import Status
from hitl.preflight.review_backend import (
    A2I_NAME,
    check_a2i_availability,
    check_existing_work_team,
    check_workforce,
)
from hitl.preflight.runner import run_check

from .conftest import a2i, make_deployment

CREATED = datetime(2026, 1, 1, tzinfo=UTC)
POOL = "us-east-1_Reviewers1"
TEAM_ARN = "arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/labelers"


def workteam() -> dict:
    return {
        "WorkteamName": "labelers",
        "WorkteamArn": TEAM_ARN,
        "Description": "reviewers",
        "MemberDefinitions": [
            {"CognitoMemberDefinition": {"UserPool": POOL, "UserGroup": "reviewers", "ClientId": "client1"}}
        ],
    }


def a2i_resources(clients, teams: int = 0, flows: int = 0, uis: int = 0, forces: int = 0) -> None:
    stubber = clients.stub("sagemaker")
    stubber.add_response("list_workteams", {"Workteams": [workteam()] * teams}, {"MaxResults": 10})
    flow = {
        "FlowDefinitionName": "f",
        "FlowDefinitionArn": "arn:aws:sagemaker:us-east-1:123456789012:flow-definition/f",
        "FlowDefinitionStatus": "Active",
        "CreationTime": CREATED,
    }
    stubber.add_response(
        "list_flow_definitions", {"FlowDefinitionSummaries": [flow] * flows}, {"MaxResults": 10}
    )
    ui = {
        "HumanTaskUiName": "ui",
        "HumanTaskUiArn": "arn:aws:sagemaker:us-east-1:123456789012:human-task-ui/ui",
        "CreationTime": CREATED,
    }
    stubber.add_response("list_human_task_uis", {"HumanTaskUiSummaries": [ui] * uis}, {"MaxResults": 10})
    stubber.add_response("list_workforces", {"Workforces": [workforce()] * forces}, {"MaxResults": 10})


def test_an_account_already_using_a2i_passes(clients):
    a2i_resources(clients, teams=1, flows=10)
    result = check_a2i_availability(make_deployment(a2i()), clients)
    assert result.status is Status.PASS
    assert "(work teams: 1, flow definitions: 10+)" in result.message


def test_an_account_with_a_ground_truth_workforce_is_an_existing_customer(clients):
    a2i_resources(clients, forces=1)
    result = check_a2i_availability(make_deployment(a2i()), clients)
    assert result.status is Status.PASS
    assert "(workforces: 1)" in result.message


def test_an_account_without_a2i_resources_cannot_be_told_apart_read_only(clients):
    a2i_resources(clients)
    result = check_a2i_availability(make_deployment(a2i()), clients)
    assert result.status is Status.WARN
    assert "cannot be known from a read-only call" in result.message
    assert "'builtin'" in result.fix


def test_a_refused_listing_is_a_warning_naming_it(clients):
    clients.stub("sagemaker").add_client_error(
        "list_workteams",
        service_error_code="AccessDeniedException",
        service_message="User is not authorized to perform: sagemaker:ListWorkteams",
    )
    result = run_check(A2I_NAME, check_a2i_availability, make_deployment(a2i()), clients)
    assert result.status is Status.WARN
    assert result.message == "could not check: ListWorkteams was refused (AccessDeniedException)"


def workforces(clients, *found: dict) -> None:
    clients.stub("sagemaker").add_response("list_workforces", {"Workforces": list(found)}, {"MaxResults": 10})


def workforce(pool: str | None = POOL) -> dict:
    found = {
        "WorkforceName": "default",
        "WorkforceArn": "arn:aws:sagemaker:us-east-1:123456789012:workforce/default",
    }
    if pool is None:
        found["OidcConfig"] = {"ClientId": "oidc", "Issuer": "https://idp.example.com"}
    else:
        found["CognitoConfig"] = {"UserPool": pool, "ClientId": "client1"}
    return found


@pytest.mark.parametrize(
    ("settings", "existing", "status", "says"),
    [
        ({"create_workforce": True}, [workforce()], Status.FAIL, "already exists"),
        ({"create_workforce": True}, [], Status.PASS, "create_workforce makes one"),
        ({}, [], Status.FAIL, "no private workforce"),
        ({}, [workforce()], Status.PASS, f"joins workforce default (user pool {POOL})"),
        ({}, [workforce(pool=None)], Status.FAIL, "OIDC"),
        (
            {"user_pool_id": "us-east-1_Other", "app_client_id": "c2"},
            [workforce()],
            Status.FAIL,
            "not the configured",
        ),
        (
            {"user_pool_id": POOL, "app_client_id": "client1"},
            [],
            Status.PASS,
            "the first work team makes one",
        ),
    ],
)
def test_the_workforce_against_create_workforce(clients, settings, existing, status, says):
    workforces(clients, *existing)
    result = check_workforce(make_deployment(a2i(**settings)), clients)
    assert result.status is status
    assert says in result.message


def existing_team(arn: str = TEAM_ARN) -> dict:
    return {"review": {"backend": "a2i"}, "work_team": {"mode": "existing", "arn": arn}}


def test_an_existing_work_team_passes(clients):
    clients.stub("sagemaker").add_response(
        "describe_workteam", {"Workteam": workteam()}, {"WorkteamName": "labelers"}
    )
    assert check_existing_work_team(make_deployment(existing_team()), clients).status is Status.PASS


def test_a_missing_work_team_fails(clients):
    clients.stub("sagemaker").add_client_error(
        "describe_workteam", service_error_code="ResourceNotFound", service_message="Workteam not found"
    )
    result = check_existing_work_team(make_deployment(existing_team()), clients)
    assert (result.status, result.message) == (Status.FAIL, "work team labelers does not exist")


def test_a_work_team_of_another_account_fails(clients):
    other = TEAM_ARN.replace("123456789012", "210987654321")
    result = check_existing_work_team(make_deployment(existing_team(other)), clients)
    assert result.status is Status.FAIL
    assert clients.operations == []


def test_the_builtin_backend_needs_no_a2i(clients):
    deployment = make_deployment()
    for check in (check_a2i_availability, check_workforce, check_existing_work_team):
        assert check(deployment, clients) is None
    assert clients.operations == []
