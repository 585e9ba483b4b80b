"""Every custom resource of every scenario has its whole life tested, and its handler's calls are allowed.

Our own handlers' lives (create, update, a rollback's update, delete, delete after a failed create,
with AWS's error codes) are tested beside them; CDK's own custom resources are CDK's, and those
made with `AwsCustomResource` must make no call on delete. A new custom resource type fails here
until its life is tested. Moto serves neither handler's calls, so their boto3 calls are read from
the source and checked against the actions the synthesized role grants.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import pytest
from cdk_scenarios import PROJECT_ROOT, resources

pytestmark = pytest.mark.xdist_group("cdk")
LAMBDAS = PROJECT_ROOT / "lambdas"

# Custom resource type -> where its whole life is tested (or whose it is).
LIFE_TESTED = {
    "Custom::DeployedModelGuard": "tests/training/test_model_guard.py",
    "Custom::A2iFlowDefinition": "tests/infra/test_flow_definition_handler.py",
    "Custom::AWS": "AwsCustomResource: test_sdk_call_resources_delete_nothing_or_accept_it_gone",
    "Custom::CDKBucketDeployment": "CDK's own (aws-s3-deployment)",
    "Custom::S3AutoDeleteObjects": "CDK's own (aws-s3 autoDeleteObjects)",
    "Custom::S3BucketNotifications": "CDK's own (aws-s3 notifications)",
    "Custom::CloudwatchLogResourcePolicy": "CDK's own AwsCustomResource (aws-events-targets log groups)",
}
# Handler source -> (the role's logical-id prefix, the scenario that has it).
HANDLERS = {
    LAMBDAS / "hitl_flow_definition" / "handler.py": ("HumanReviewFlowDefinitionHandlerRole", "A2i"),
    LAMBDAS / "hitl_training" / "model_guard.py": ("TrainingModelGuardRole", "ModelArtifact"),
}
# boto3 service name -> IAM prefix, where they differ.
IAM_PREFIX = {"sagemaker-a2i-runtime": "sagemaker"}
# Calls that need a second permission besides their own.
ALSO_NEEDS = {"sagemaker:CreateFlowDefinition": ["iam:PassRole"]}


def custom_resources(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        logical: resource
        for logical, resource in template["Resources"].items()
        if resource["Type"].startswith("Custom::")
        or resource["Type"] == "AWS::CloudFormation::CustomResource"
    }


def test_every_custom_resource_has_its_life_tested(synthesized) -> None:
    found = {
        r["Type"] for template in synthesized.templates.values() for r in custom_resources(template).values()
    }
    assert found - LIFE_TESTED.keys() == set(), "a new custom resource: test its whole life and list it here"
    for where in LIFE_TESTED.values():
        if where.startswith("tests/"):
            assert (PROJECT_ROOT / where).is_file()


def test_sdk_call_resources_delete_nothing_or_accept_it_gone(synthesized) -> None:
    """An AwsCustomResource's delete (after a failed create too) makes no call, or one that ignores
    "not found"; its Update repeats its Create, so a rollback's update makes the old call again."""
    checked = 0
    for template in synthesized.templates.values():
        for resource in custom_resources(template).values():
            properties = resource["Properties"]
            if "Create" not in properties and "Update" not in properties:
                continue
            if "Delete" in properties:
                assert "NotFound" in json.dumps(properties["Delete"]), resource
            checked += 1
    assert checked >= 1


def boto3_calls(source: Path) -> set[str]:
    """IAM actions of a handler's boto3 calls (`client("svc").op()`, `sagemaker().op()`, paginators)."""
    tree = ast.parse(source.read_text())
    services = {"sagemaker": "sagemaker"}
    clients = {  # `name = client("svc")`
        node.targets[0].id: node.value.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        and isinstance(node.targets[0], ast.Name)
        and isinstance(node.value, ast.Call)
        and isinstance(node.value.func, ast.Name)
        and node.value.func.id == "client"
        and isinstance(node.value.args[0], ast.Constant)
    }
    actions = set()
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        target, operation = node.func.value, node.func.attr
        service = clients.get(target.id) if isinstance(target, ast.Name) else None
        if isinstance(target, ast.Call) and isinstance(target.func, ast.Name):
            if target.func.id == "client" and target.args and isinstance(target.args[0], ast.Constant):
                service = target.args[0].value
            elif target.func.id in services:
                service = services[target.func.id]
        if service is None:
            continue
        if operation == "get_paginator":
            operation = node.args[0].value  # type: ignore[attr-defined]
        if operation == "exceptions":
            continue
        pascal = "".join(part.capitalize() for part in operation.split("_"))
        actions.add(f"{IAM_PREFIX.get(service, service)}:{pascal}")
    return actions


def granted_actions(template: dict[str, Any], role_prefix: str) -> set[str]:
    (role,) = [k for k in resources(template, "AWS::IAM::Role") if k.startswith(role_prefix)]
    actions: set[str] = set()
    for policy in resources(template, "AWS::IAM::Policy").values():
        if {"Ref": role} in policy["Properties"]["Roles"]:
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                found = statement["Action"]
                actions.update([found] if isinstance(found, str) else found)
    return actions


@pytest.mark.parametrize("source", sorted(HANDLERS), ids=lambda p: p.parent.name)
def test_every_call_a_custom_resource_handler_makes_is_granted_to_its_role(synthesized, source: Path) -> None:
    role_prefix, scenario = HANDLERS[source]
    calls = boto3_calls(source)
    assert calls, "no boto3 call found: the reader no longer understands the handler"
    needed = calls | {extra for call in calls for extra in ALSO_NEEDS.get(call, [])}
    granted = {a.lower() for a in granted_actions(synthesized.templates[scenario], role_prefix)}
    assert sorted(a for a in needed if a.lower() not in granted) == []


def test_the_reader_finds_the_calls_it_is_meant_to(synthesized) -> None:
    guard = boto3_calls(LAMBDAS / "hitl_training" / "model_guard.py")
    assert guard == {"ssm:GetParameter", "cloudformation:DescribeStacks"}
    flow = boto3_calls(LAMBDAS / "hitl_flow_definition" / "handler.py")
    assert {
        "sagemaker:ListFlowDefinitions",
        "sagemaker:ListHumanLoops",
        "sagemaker:CreateFlowDefinition",
    } <= flow
    assert not re.search(
        r"boto3\.client\(\"\w+\"\)\.\w+\(", json.dumps([str(p.read_text()) for p in HANDLERS])
    )
