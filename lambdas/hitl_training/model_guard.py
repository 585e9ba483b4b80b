"""Custom resource that keeps `cdk deploy` from rolling the endpoint back to an older model.

The rollout writes the model it deployed to an SSM parameter. The stack's endpoint depends on
this resource, whose properties change whenever the endpoint's config would: before
CloudFormation touches the endpoint, the guard compares the template's model with the deployed
one and fails the deployment (CloudFormation rolls back, the endpoint is untouched) when they
differ, naming the setting to change. No parameter yet means no rollout yet: nothing to guard.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import boto3

logger = logging.getLogger()
logger.setLevel(logging.INFO)
_client: Any = None


class OlderModelError(RuntimeError):
    """The template would serve another model than the one the rollout deployed."""


def ssm() -> Any:
    global _client
    if _client is None:
        _client = boto3.client("ssm")
    return _client


def deployed_model(parameter_name: str) -> str | None:
    """The model data URL the rollout recorded, or None before the first rollout."""
    try:
        value = ssm().get_parameter(Name=parameter_name)["Parameter"]["Value"]
    except ssm().exceptions.ParameterNotFound:
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


def on_event(event: dict[str, Any], _context: Any = None) -> dict[str, Any]:
    """Create/Update: check agreement; Delete: nothing to undo."""
    logger.info("%s %s", event["RequestType"], event.get("ResourceProperties"))
    if event["RequestType"] in ("Create", "Update"):
        check(event["ResourceProperties"])
    return {"PhysicalResourceId": event.get("PhysicalResourceId") or "deployed-model-guard"}
