"""The CDK bootstrap version (SSM /cdk-bootstrap/<qualifier>/version, else the CDKToolkit stack's output)."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3

from hitl.preflight.bootstrap import check_bootstrap
from hitl.preflight.deployment import BootstrapRequirement
from hitl.preflight.result import Status

from .conftest import BOOTSTRAP, make_deployment

PARAMETER = BOOTSTRAP.parameter


def bootstrapped(version: str) -> None:
    boto3.client("ssm").put_parameter(Name=PARAMETER, Value=version, Type="String")


def test_a_current_bootstrap_passes(clients):
    bootstrapped("30")
    result = check_bootstrap(make_deployment(), clients)
    assert result.status is Status.PASS
    assert "bootstrap version 30" in result.message and "requires 6" in result.message


def test_an_account_never_bootstrapped_fails_with_the_command(clients):
    result = check_bootstrap(make_deployment(), clients)
    assert result.status is Status.FAIL
    assert result.fix == "run `npx cdk bootstrap aws://123456789012/us-east-1`"


def test_an_older_bootstrap_than_the_app_needs_fails(clients):
    bootstrapped("5")
    result = check_bootstrap(make_deployment(), clients)
    assert result.status is Status.FAIL
    assert "older than the 6 the app requires" in result.message


def test_without_a_synthesized_app_the_version_is_reported_but_not_compared(clients):
    bootstrapped("30")
    deployment = make_deployment(bootstrap=BootstrapRequirement(PARAMETER, None))
    result = check_bootstrap(deployment, clients)
    assert result.status is Status.WARN
    assert "make synth" in result.fix


def toolkit_stack(outputs: list[dict[str, str]]) -> dict:
    return {
        "Stacks": [
            {
                "StackName": "CDKToolkit",
                "CreationTime": datetime(2026, 1, 1, tzinfo=UTC),
                "StackStatus": "UPDATE_COMPLETE",
                "Outputs": outputs,
            }
        ]
    }


def test_a_refused_parameter_read_falls_back_to_the_toolkit_stack(clients):
    clients.stub("ssm").add_client_error(
        "get_parameter",
        service_error_code="AccessDeniedException",
        service_message="User is not authorized to perform: ssm:GetParameter",
        expected_params={"Name": PARAMETER},
    )
    clients.stub("cloudformation").add_response(
        "describe_stacks",
        toolkit_stack([{"OutputKey": "BootstrapVersion", "OutputValue": "28"}]),
        {"StackName": "CDKToolkit"},
    )
    result = check_bootstrap(make_deployment(), clients)
    assert result.status is Status.PASS
    assert "stack CDKToolkit output BootstrapVersion" in result.message


def test_no_toolkit_stack_either_fails(clients):
    clients.stub("ssm").add_client_error("get_parameter", service_error_code="AccessDeniedException")
    clients.stub("cloudformation").add_client_error(
        "describe_stacks",
        service_error_code="ValidationError",
        service_message="Stack with id CDKToolkit does not exist",
    )
    assert check_bootstrap(make_deployment(), clients).status is Status.FAIL
