"""The deployed-model guard through its whole life (create, update, a rollback's update with the old
properties, delete, delete after a failed create), against Stubbers of SSM and CloudFormation with
AWS's own error codes: a deployment serving an older model fails, nothing wedges the stack."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from review.builders import REGION

from hitl_training import model_guard

PARAMETER = "/hitl/detector/deployed-model"
STACK_ID = "arn:aws:cloudformation:us-east-1:123456789012:stack/Hitl/1b2c3d4e"
# What CDK's Provider framework sends as the id of a resource whose create failed.
CREATE_FAILED = "AWSCDK::CustomResourceProviderFramework::CREATE_FAILED"


class Stubs:
    def __init__(self) -> None:
        self.ssm = Stubber(boto3.client("ssm", region_name=REGION))
        self.cloudformation = Stubber(boto3.client("cloudformation", region_name=REGION))

    def stack(self, status: str) -> None:
        stack = {"StackName": "Hitl", "StackId": STACK_ID, "CreationTime": "2026-01-01T00:00:00Z"}
        self.cloudformation.add_response(
            "describe_stacks", {"Stacks": [stack | {"StackStatus": status}]}, {"StackName": STACK_ID}
        )

    def deployed(self, model: str | None) -> None:
        if model is None:
            self.ssm.add_client_error("get_parameter", "ParameterNotFound", http_status_code=400)
            return
        value = json.dumps({"model_data_uri": model})
        self.ssm.add_response(
            "get_parameter",
            {"Parameter": {"Name": PARAMETER, "Type": "String", "Value": value}},
            {"Name": PARAMETER},
        )


@pytest.fixture
def stubs(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubs]:
    stubs = Stubs()
    monkeypatch.setattr(
        model_guard, "_clients", {"ssm": stubs.ssm.client, "cloudformation": stubs.cloudformation.client}
    )
    with stubs.ssm, stubs.cloudformation:
        yield stubs
        stubs.ssm.assert_no_pending_responses()
        stubs.cloudformation.assert_no_pending_responses()


def event(kind: str, model: str, physical_id: str | None = "deployed-model-guard", **extra: Any) -> dict:
    found = {
        "RequestType": kind,
        "StackId": STACK_ID,
        "ResourceProperties": {"ModelDataUrl": model, "ParameterName": PARAMETER},
        **extra,
    }
    if physical_id is not None:
        found["PhysicalResourceId"] = physical_id
    return found


def test_before_any_rollout_every_model_passes(stubs: Stubs) -> None:
    stubs.stack("CREATE_IN_PROGRESS")
    stubs.deployed(None)
    result = model_guard.on_event(event("Create", "s3://m/1.tar.gz", physical_id=None))
    assert result == {"PhysicalResourceId": "deployed-model-guard"}


def test_an_update_to_the_deployed_model_passes_and_one_to_another_fails_naming_the_setting(
    stubs: Stubs,
) -> None:
    stubs.stack("UPDATE_IN_PROGRESS")
    stubs.deployed("s3://m/2.tar.gz")
    model_guard.on_event(event("Update", "s3://m/2.tar.gz"))
    stubs.stack("UPDATE_IN_PROGRESS")
    stubs.deployed("s3://m/2.tar.gz")
    with pytest.raises(
        model_guard.OlderModelError, match=r"Set hitl-deploy\.endpoint\.model_data_url to s3://m/2\.tar\.gz"
    ):
        model_guard.on_event(event("Update", "s3://m/1.tar.gz"))


def test_a_rollbacks_update_with_the_old_properties_succeeds_without_checking(stubs: Stubs) -> None:
    """The old model differs from the deployed one too: checking would leave UPDATE_ROLLBACK_FAILED."""
    stubs.stack("UPDATE_ROLLBACK_IN_PROGRESS")
    old = {"ModelDataUrl": "s3://m/0.tar.gz", "ParameterName": PARAMETER}
    rollback = event(
        "Update", "s3://m/0.tar.gz", OldResourceProperties=old | {"ModelDataUrl": "s3://m/1.tar.gz"}
    )
    assert model_guard.on_event(rollback) == {"PhysicalResourceId": "deployed-model-guard"}


@pytest.mark.parametrize("physical_id", ["deployed-model-guard", CREATE_FAILED, None])
def test_delete_succeeds_without_a_call_even_after_a_failed_create(
    stubs: Stubs, physical_id: str | None
) -> None:
    result = model_guard.on_event(event("Delete", "s3://m/1.tar.gz", physical_id=physical_id))
    assert result == {"PhysicalResourceId": physical_id or "deployed-model-guard"}


@pytest.mark.parametrize(
    ("code", "status"), [("Throttling", 400), ("AccessDenied", 403), ("ValidationError", 400)]
)
def test_a_stack_status_cloudformation_does_not_give_never_fails_the_request(
    stubs: Stubs, code: str, status: int
) -> None:
    """Unknown status: the request may be a rollback's, so the guard stands aside rather than wedge it."""
    stubs.cloudformation.add_client_error("describe_stacks", code, http_status_code=status)
    assert model_guard.on_event(event("Update", "s3://m/1.tar.gz"))["PhysicalResourceId"]


def test_a_parameter_that_cannot_be_read_fails_a_forward_update_only(stubs: Stubs) -> None:
    stubs.stack("UPDATE_IN_PROGRESS")
    stubs.ssm.add_client_error("get_parameter", "AccessDeniedException", http_status_code=400)
    with pytest.raises(Exception, match="AccessDeniedException"):
        model_guard.on_event(event("Update", "s3://m/1.tar.gz"))
    stubs.stack("UPDATE_ROLLBACK_IN_PROGRESS")
    assert model_guard.on_event(event("Update", "s3://m/0.tar.gz"))["PhysicalResourceId"]
