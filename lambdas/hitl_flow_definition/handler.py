"""Custom resource for an A2I flow definition (CloudFormation has no resource type for it).

Runs on CDK's Provider framework: `on_event` starts the change, `is_complete` is polled until
SageMaker is done. A flow definition cannot be updated, so its name carries a hash of its
content: any change creates a new one, and CloudFormation then deletes the old one.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

import boto3
from botocore.exceptions import ClientError

logger = logging.getLogger()
logger.setLevel(logging.INFO)

MAX_NAME = 63
HASH_CHARS = 12
_NUMBERS = ("TaskCount", "TaskAvailabilityLifetimeInSeconds", "TaskTimeLimitInSeconds")
_client: Any = None


def sagemaker() -> Any:
    global _client
    if _client is None:
        _client = boto3.client("sagemaker")
    return _client


def flow_definition_name(properties: dict[str, Any]) -> str:
    """`<NamePrefix>-<hash of everything else>`: the same content always gets the same name."""
    content = {k: v for k, v in properties.items() if k not in ("ServiceToken", "NamePrefix")}
    digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:HASH_CHARS]
    prefix = str(properties["NamePrefix"])[: MAX_NAME - HASH_CHARS - 1].rstrip("-")
    return f"{prefix}-{digest}"


def create_request(name: str, properties: dict[str, Any]) -> dict[str, Any]:
    """CreateFlowDefinition's parameters; CloudFormation passes numbers as strings."""
    loop_config = dict(properties["HumanLoopConfig"])
    for field in _NUMBERS:
        if field in loop_config:
            loop_config[field] = int(loop_config[field])
    return {
        "FlowDefinitionName": name,
        "HumanLoopConfig": loop_config,
        "OutputConfig": dict(properties["OutputConfig"]),
        "RoleArn": properties["RoleArn"],
    }


def _error_code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def _create(properties: dict[str, Any]) -> str:
    name = flow_definition_name(properties)
    try:
        sagemaker().create_flow_definition(**create_request(name, properties))
        logger.info("creating flow definition %s", name)
    except ClientError as err:
        # Same name means same content: a retried create adopts what the first attempt made.
        if _error_code(err) != "ResourceInUse":
            raise
        logger.info("flow definition %s already exists; adopting it", name)
    return name


def on_event(event: dict[str, Any], _context: Any = None) -> dict[str, Any]:
    """Start creating, replacing or deleting the flow definition."""
    request = event["RequestType"]
    if request == "Create":
        return {"PhysicalResourceId": _create(event["ResourceProperties"])}
    if request == "Update":
        name = flow_definition_name(event["ResourceProperties"])
        if name == event["PhysicalResourceId"]:
            return {"PhysicalResourceId": name}
        return {"PhysicalResourceId": _create(event["ResourceProperties"])}
    if request == "Delete":
        name = event["PhysicalResourceId"]
        try:
            sagemaker().delete_flow_definition(FlowDefinitionName=name)
            logger.info("deleting flow definition %s", name)
        except ClientError as err:
            if _error_code(err) != "ResourceNotFound":
                raise
        return {"PhysicalResourceId": name}
    raise ValueError(f"unknown RequestType {request!r}")


def is_complete(event: dict[str, Any], _context: Any = None) -> dict[str, Any]:
    """Done when the flow definition is Active (create) or gone (delete); a Failed one fails the stack."""
    name = event["PhysicalResourceId"]
    try:
        described = sagemaker().describe_flow_definition(FlowDefinitionName=name)
    except ClientError as err:
        if _error_code(err) == "ResourceNotFound" and event["RequestType"] == "Delete":
            return {"IsComplete": True}
        raise
    status = described["FlowDefinitionStatus"]
    if event["RequestType"] == "Delete":
        return {"IsComplete": False}
    if status == "Failed":
        raise RuntimeError(
            f"flow definition {name} failed: {described.get('FailureReason', 'no reason given')}"
        )
    if status != "Active":
        return {"IsComplete": False}
    return {
        "IsComplete": True,
        "Data": {"FlowDefinitionArn": described["FlowDefinitionArn"], "FlowDefinitionName": name},
    }
