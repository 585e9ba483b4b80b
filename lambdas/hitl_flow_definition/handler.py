"""Custom resource for an A2I flow definition (CloudFormation has no resource type for it).

Runs on CDK's Provider framework: `on_event` starts the change, `is_complete` is polled until
SageMaker is done. A flow definition cannot be updated, so its name carries a hash of its
content: any change creates a new one, and CloudFormation then deletes the old one.

Deleting a flow definition stops and deletes its open human loops, so an old definition is
only deleted while an update cleans up when none of its loops is in progress; otherwise it
is kept ("retired") and deleted by a later deployment once its loops are done, or when the
stack is deleted. A definition in `Deleting` counts as deleted: it can stay so for as long
as workers hold its tasks.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import boto3
from botocore.exceptions import ClientError

logger = logging.getLogger()
logger.setLevel(logging.INFO)

MAX_NAME = 63
HASH_CHARS = 12
_NUMBERS = ("TaskCount", "TaskAvailabilityLifetimeInSeconds", "TaskTimeLimitInSeconds")
# A new A2I role may not be visible to SageMaker yet (IAM propagation): retry for about a minute.
CREATE_RETRY_DELAYS = (5, 10, 15, 30)
OPEN_LOOP_STATUSES = ("InProgress", "Stopping")
_GONE = ("Deleting",)
_clients: dict[str, Any] = {}


def client(service: str) -> Any:
    if service not in _clients:
        _clients[service] = boto3.client(service)
    return _clients[service]


def sagemaker() -> Any:
    return client("sagemaker")


def sleep(seconds: float) -> None:
    time.sleep(seconds)


def flow_definition_name(properties: dict[str, Any]) -> str:
    """`<NamePrefix>-<hash of everything else>`: the same content always gets the same name."""
    content = {k: v for k, v in properties.items() if k not in ("ServiceToken", "NamePrefix")}
    digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:HASH_CHARS]
    return f"{name_prefix(properties)}{digest}"


def name_prefix(properties: dict[str, Any]) -> str:
    """What every flow definition name of this resource starts with (hyphen included)."""
    return str(properties["NamePrefix"])[: MAX_NAME - HASH_CHARS - 1].rstrip("-") + "-"


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


def _role_not_visible_yet(err: ClientError) -> bool:
    """SageMaker refusing a role it cannot assume yet: a new role's IAM propagation."""
    message = str(err.response.get("Error", {}).get("Message", "")).lower()
    return _error_code(err) == "ValidationException" and "role" in message


def _create(properties: dict[str, Any]) -> str:
    name = flow_definition_name(properties)
    request = create_request(name, properties)
    for delay in (*CREATE_RETRY_DELAYS, None):
        try:
            sagemaker().create_flow_definition(**request)
            logger.info("creating flow definition %s", name)
            return name
        except ClientError as err:
            if _error_code(err) == "ResourceInUse":
                # Same name means same content: adopt what an earlier attempt or deployment made.
                _check_adoptable(name)
                logger.info("flow definition %s already exists; adopting it", name)
                return name
            if delay is None or not _role_not_visible_yet(err):
                raise
            logger.info("role not usable yet (%s); retrying in %s s", err, delay)
            sleep(delay)
    raise AssertionError("unreachable")


def _check_adoptable(name: str) -> None:
    """An existing definition of the same name is adoptable unless it is being deleted."""
    status = sagemaker().describe_flow_definition(FlowDefinitionName=name)["FlowDefinitionStatus"]
    if status in _GONE:
        raise RuntimeError(
            f"flow definition {name} (same content as this deployment's) is still being deleted: SageMaker "
            "finishes only when workers have released its tasks (up to the task time limit). Deploy again "
            "once it is gone, or change a review setting so the new definition gets another name."
        )


def _flow_definitions(prefix: str) -> Iterator[dict[str, Any]]:
    """This deployment's flow definitions: every one whose name starts with the prefix."""
    for page in sagemaker().get_paginator("list_flow_definitions").paginate():
        for summary in page["FlowDefinitionSummaries"]:
            if summary["FlowDefinitionName"].startswith(prefix):
                yield summary


def _has_open_loops(arn: str) -> bool:
    pages = client("sagemaker-a2i-runtime").get_paginator("list_human_loops").paginate(FlowDefinitionArn=arn)
    for page in pages:
        if any(loop["HumanLoopStatus"] in OPEN_LOOP_STATUSES for loop in page["HumanLoopSummaries"]):
            return True
    return False


def _delete(name: str) -> None:
    try:
        sagemaker().delete_flow_definition(FlowDefinitionName=name)
        logger.info("deleting flow definition %s", name)
    except ClientError as err:
        if _error_code(err) != "ResourceNotFound":
            raise
        logger.info("flow definition %s is already gone", name)


def _sweep_retired(prefix: str, keep: set[str]) -> None:
    """Delete this deployment's retired flow definitions whose loops are all done. Best effort: a
    failure here is logged, never fails the update (a rollback's update included); the next sweeps."""
    try:
        _sweep(prefix, keep)
    except ClientError as err:
        logger.warning("sweeping retired flow definitions failed (%s); the next deployment retries", err)


def _sweep(prefix: str, keep: set[str]) -> None:
    for summary in _flow_definitions(prefix):
        name = summary["FlowDefinitionName"]
        if name in keep or summary["FlowDefinitionStatus"] in _GONE:
            continue
        if _has_open_loops(summary["FlowDefinitionArn"]):
            logger.info("retired flow definition %s still has open human loops; kept", name)
            continue
        _delete(name)


def _stack_is_being_deleted(stack_id: str) -> bool:
    stacks = client("cloudformation").describe_stacks(StackName=stack_id)["Stacks"]
    return bool(stacks) and stacks[0]["StackStatus"] == "DELETE_IN_PROGRESS"


def _on_delete(event: dict[str, Any]) -> None:
    name = str(event.get("PhysicalResourceId") or "")
    properties = event["ResourceProperties"]
    ours = name.startswith(name_prefix(properties))
    if not ours:
        # A create that failed before naming a definition (CDK's framework answers most of these itself).
        logger.info("physical id %r names no flow definition of this resource", name)
    if _stack_is_being_deleted(event["StackId"]):
        # Everything goes with the stack, open loops included (A2I stops them).
        for summary in _flow_definitions(name_prefix(properties)):
            if summary["FlowDefinitionName"] != name and summary["FlowDefinitionStatus"] not in _GONE:
                _delete(summary["FlowDefinitionName"])
        if ours:
            _delete(name)
        return
    if not ours:
        return
    try:
        described = sagemaker().describe_flow_definition(FlowDefinitionName=name)
    except ClientError as err:
        if _error_code(err) != "ResourceNotFound":
            raise
        return
    if described["FlowDefinitionStatus"] in _GONE:
        return
    if _has_open_loops(described["FlowDefinitionArn"]):
        logger.info("flow definition %s has open human loops: retired, not deleted", name)
        return
    _delete(name)


def on_event(event: dict[str, Any], _context: Any = None) -> dict[str, Any]:
    """Start creating, replacing or deleting the flow definition."""
    request = event["RequestType"]
    properties = event.get("ResourceProperties", {})
    if request == "Create":
        return {"PhysicalResourceId": _create(properties)}
    if request == "Update":
        name = flow_definition_name(properties)
        if name == event["PhysicalResourceId"]:
            return {"PhysicalResourceId": name}
        name = _create(properties)
        # The replaced one stays until CloudFormation's cleanup (a rollback needs it).
        _sweep_retired(name_prefix(properties), keep={name, event["PhysicalResourceId"]})
        return {"PhysicalResourceId": name}
    if request == "Delete":
        _on_delete(event)
        return {"PhysicalResourceId": event.get("PhysicalResourceId") or name_prefix(properties)}
    raise ValueError(f"unknown RequestType {request!r}")


def is_complete(event: dict[str, Any], _context: Any = None) -> dict[str, Any]:
    """Done when the flow definition is Active (create) or deleting, gone or retired (delete).

    A Failed one fails the stack; so does one found Deleting on create (adopted too late).
    """
    if event["RequestType"] == "Delete":
        return {"IsComplete": True}
    name = event["PhysicalResourceId"]
    described = sagemaker().describe_flow_definition(FlowDefinitionName=name)
    status = described["FlowDefinitionStatus"]
    if status == "Failed":
        raise RuntimeError(
            f"flow definition {name} failed: {described.get('FailureReason', 'no reason given')}"
        )
    if status in _GONE:
        raise RuntimeError(f"flow definition {name} is being deleted; deploy again once it is gone")
    if status != "Active":
        return {"IsComplete": False}
    return {
        "IsComplete": True,
        "Data": {"FlowDefinitionArn": described["FlowDefinitionArn"], "FlowDefinitionName": name},
    }
