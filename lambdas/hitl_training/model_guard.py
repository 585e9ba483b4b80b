"""Custom resource that keeps `cdk deploy` from rolling the endpoint back to an older model.

The rollout writes the model it deployed to an SSM parameter. The stack's endpoint depends on
this resource, whose properties change whenever the endpoint's config would: before
CloudFormation touches the endpoint, the guard compares the template's model with the deployed
one and fails the deployment (CloudFormation rolls back, the endpoint is untouched) when they
differ, naming the setting to change. No parameter yet means no rollout yet: nothing to guard.

It never fails what must not fail: a Delete, and the Update a rollback sends with the old
properties (the request has no rollback flag; the stack's status, UPDATE_ROLLBACK_IN_PROGRESS,
tells). Failing either leaves the stack in UPDATE_ROLLBACK_FAILED or DELETE_FAILED.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import boto3
from botocore.exceptions import ClientError

logger = logging.getLogger()
logger.setLevel(logging.INFO)
PHYSICAL_ID = "deployed-model-guard"
# The stack statuses in which CloudFormation creates or updates forward: only then is there a check.
FORWARD_STATUSES = ("CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS")
_clients: dict[str, Any] = {}


class OlderModelError(RuntimeError):
    """The template would serve another model than the one the rollout deployed."""


def client(service: str) -> Any:
    if service not in _clients:
        _clients[service] = boto3.client(service)
    return _clients[service]


def deployed_model(parameter_name: str) -> str | None:
    """The model data URL the rollout recorded, or None before the first rollout."""
    ssm = client("ssm")
    try:
        value = ssm.get_parameter(Name=parameter_name)["Parameter"]["Value"]
    except ssm.exceptions.ParameterNotFound:
        return None
    return json.loads(value)["model_data_uri"]


def check(properties: dict[str, Any]) -> None:
    configured, parameter = properties["ModelDataUrl"], properties["ParameterName"]
    deployed = deployed_model(parameter)
    if deployed is not None and deployed != configured:
        raise OlderModelError(
            f"the endpoint serves {deployed} (rolled out by the training workflow, recorded in {parameter}); "
            f"this deployment would put {configured} back. Set hitl-deploy.endpoint.model_data_url to "
            f"{deployed} and deploy again (to go back on purpose, delete the parameter first)."
        )


def stack_status(stack_id: str) -> str | None:
    """The stack's status, or None when CloudFormation does not say (the guard then stands aside)."""
    try:
        stacks = client("cloudformation").describe_stacks(StackName=stack_id)["Stacks"]
    except ClientError as err:
        logger.warning("cannot read the status of %s (%s); not checking", stack_id, err)
        return None
    return stacks[0]["StackStatus"] if stacks else None


def on_event(event: dict[str, Any], _context: Any = None) -> dict[str, Any]:
    """Create/Update going forward: check agreement. A rollback's Update, a Delete: succeed."""
    request = event["RequestType"]
    logger.info("%s %s", request, event.get("ResourceProperties"))
    physical_id = {"PhysicalResourceId": event.get("PhysicalResourceId") or PHYSICAL_ID}
    if request not in ("Create", "Update"):
        return physical_id
    status = stack_status(event["StackId"])
    if status in FORWARD_STATUSES:
        check(event["ResourceProperties"])
    else:
        logger.info("stack status %s: not a forward deployment, nothing to check", status)
    return physical_id
