"""Run a function's real AWS calls with only the permissions the synthesized template gives its role.

Two checks, because moto's IAM simulation is partial:
- moto enforces IAM on the calls that reach it (`enable_iam_authentication`), with the role's
  policies loaded into moto IAM and the call made with the role's assumed credentials. Moto
  checks the action of every call but the resource only for S3 (and SQS), and it cannot
  evaluate condition keys such as `s3:prefix` (it denies such a statement): statements with a
  condition are loaded without it, and the condition is checked by the second check instead.
- `evaluate` re-checks every recorded call (including those to stubbed clients moto does not
  serve, e.g. A2I and the endpoint) against the policies: action, resource ARN and the
  `s3:prefix` condition. A read of a missing object must also be allowed `s3:ListBucket` with
  the key as `s3:prefix`, or real S3 answers 403 instead of 404.
"""

from __future__ import annotations

import copy
import fnmatch
import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
from cdk_scenarios import resources
from moto.core.authorization import enable_iam_authentication

REGION = "us-east-1"
ACCOUNT = "123456789012"
PSEUDO = {
    "AWS::Partition": "aws",
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT,
    "AWS::URLSuffix": "amazonaws.com",
}


@dataclass(frozen=True)
class Names:
    """What the test's moto resources are called, by the template's logical-id prefix.

    `refs`: logical-id prefix -> the resource's name (Ref); `attributes`: (prefix, attribute) ->
    value; `literals`: names written into the template as text -> the test's names.
    """

    refs: Mapping[str, str]
    attributes: Mapping[tuple[str, str], str]
    literals: Mapping[str, str] = field(default_factory=dict)

    def ref(self, logical: str) -> str:
        if logical in PSEUDO:
            return PSEUDO[logical]
        return self._lookup(self.refs, logical, "Ref")

    def attribute(self, logical: str, name: str) -> str:
        matches = [
            v for (prefix, attr), v in self.attributes.items() if logical.startswith(prefix) and attr == name
        ]
        if len(matches) != 1:
            raise KeyError(f"the harness has no name for {logical}.{name}: add it to the test's Names")
        return matches[0]

    def _lookup(self, table: Mapping[str, str], logical: str, what: str) -> str:
        matches = [v for prefix, v in table.items() if logical.startswith(prefix)]
        if len(matches) != 1:
            raise KeyError(f"the harness has no name for {what} {logical}: add it to the test's Names")
        return matches[0]


def resolve(value: Any, names: Names) -> Any:
    """CloudFormation intrinsics (Ref, Fn::GetAtt, Fn::Join) with the test's names filled in."""
    if isinstance(value, str):
        for literal, replacement in names.literals.items():
            value = value.replace(literal, replacement)
        return value
    if isinstance(value, list):
        return [resolve(v, names) for v in value]
    if isinstance(value, dict) and len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Ref":
            return names.ref(argument)
        if function == "Fn::GetAtt":
            return names.attribute(*argument)
        if function == "Fn::Join":
            separator, parts = argument
            return resolve(separator.join(str(resolve(p, names)) for p in parts), names)
    if isinstance(value, dict):
        return {k: resolve(v, names) for k, v in value.items()}
    return value


def function_policies(template: dict[str, Any], handler: str, names: Names) -> list[dict[str, Any]]:
    """The resolved policy documents of the role of the function with this handler."""
    (function,) = [
        f
        for f in resources(template, "AWS::Lambda::Function").values()
        if f["Properties"]["Handler"] == handler
    ]
    role = function["Properties"]["Role"]["Fn::GetAtt"][0]
    documents = [
        p["Properties"]["PolicyDocument"]
        for p in resources(template, "AWS::IAM::Policy").values()
        if {"Ref": role} in p["Properties"]["Roles"]
    ]
    return [resolve(document, names) for document in documents]


def without(policies: list[dict[str, Any]], action: str) -> list[dict[str, Any]]:
    """The policies minus every statement that grants this action: a run with them must be refused."""
    return [
        {**d, "Statement": [s for s in d["Statement"] if action not in json.dumps(s["Action"])]}
        for d in policies
    ]


@dataclass(frozen=True)
class Call:
    """One AWS call a function made: the IAM action, the resource it needs, the s3:prefix, the outcome."""

    action: str
    resource: str
    prefix: str | None = None
    error: str | None = None


def _s3_call(operation: str, params: dict[str, Any]) -> list[Call]:
    bucket, key = params.get("Bucket", ""), params.get("Key", "")
    if operation in ("GetObject", "HeadObject"):
        action = "s3:GetObjectVersion" if params.get("VersionId") else "s3:GetObject"
        return [Call(action, f"arn:aws:s3:::{bucket}/{key}")]
    if operation == "PutObject":
        return [Call("s3:PutObject", f"arn:aws:s3:::{bucket}/{key}")]
    if operation in ("ListObjectsV2", "ListObjects", "ListObjectVersions"):
        action = "s3:ListBucketVersions" if operation == "ListObjectVersions" else "s3:ListBucket"
        return [Call(action, f"arn:aws:s3:::{bucket}", prefix=params.get("Prefix", ""))]
    raise KeyError(operation)


_TRANSACT_ACTIONS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem"}
"""IAM governs a transaction's items by the underlying actions (ConditionCheck has its own)."""


def _dynamodb_call(operation: str, params: dict[str, Any]) -> list[Call]:
    if operation == "TransactWriteItems":
        return [
            Call(
                f"dynamodb:{_TRANSACT_ACTIONS.get(kind, 'ConditionCheckItem')}",
                f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{request['TableName']}",
            )
            for item in params["TransactItems"]
            for kind, request in item.items()
        ]
    table = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{params['TableName']}"
    if params.get("IndexName"):
        table += f"/index/{params['IndexName']}"
    return [Call(f"dynamodb:{operation}", table)]


def _sagemaker_arn(resource: str, name: str) -> str:
    return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:{resource}/{name}"


# How each operation the functions call maps to IAM (action, resource); a new call must be added here.
RESOURCE_RULES: dict[tuple[str, str], Callable[[dict[str, Any]], list[Call]]] = {
    ("events", "PutEvents"): lambda p: [
        Call("events:PutEvents", f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{e['EventBusName']}")
        for e in p["Entries"]
    ],
    ("sagemaker-runtime", "InvokeEndpoint"): lambda p: [
        Call(
            "sagemaker:InvokeEndpoint",
            f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/{p['EndpointName'].lower()}",
        )
    ],
    ("sagemaker-a2i-runtime", "StartHumanLoop"): lambda p: [
        Call("sagemaker:StartHumanLoop", p["FlowDefinitionArn"])
    ],
    ("sagemaker", "DescribeEndpoint"): lambda p: [
        Call("sagemaker:DescribeEndpoint", _sagemaker_arn("endpoint", p["EndpointName"].lower()))
    ],
    ("sagemaker", "DescribeEndpointConfig"): lambda p: [
        Call("sagemaker:DescribeEndpointConfig", _sagemaker_arn("endpoint-config", p["EndpointConfigName"]))
    ],
    ("sagemaker", "DescribeModel"): lambda p: [
        Call("sagemaker:DescribeModel", _sagemaker_arn("model", p["ModelName"]))
    ],
    ("sagemaker", "DescribeModelPackage"): lambda p: [
        Call("sagemaker:DescribeModelPackage", p["ModelPackageName"])
    ],
    ("sagemaker", "DescribeTrainingJob"): lambda p: [
        Call("sagemaker:DescribeTrainingJob", _sagemaker_arn("training-job", p["TrainingJobName"]))
    ],
    ("ssm", "PutParameter"): lambda p: [
        Call("ssm:PutParameter", f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/{p['Name'].lstrip('/')}")
    ],
    ("sagemaker-a2i-runtime", "DescribeHumanLoop"): lambda p: [
        Call(
            "sagemaker:DescribeHumanLoop",
            f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:human-loop/{p['HumanLoopName']}",
        )
    ],
}


class CallRecorder:
    """Records every call made through the clients it is attached to, with its error code if any."""

    def __init__(self) -> None:
        self.calls: list[Call] = []

    def attach(self, client: Any) -> Any:
        client.meta.events.register("before-parameter-build", self._before)
        client.meta.events.register("after-call", self._after)
        return client

    def _before(self, model: Any, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        service = model.service_model.service_name
        if service == "s3":
            context["hitl_calls"] = _s3_call(model.name, params)
            return
        if service == "dynamodb":
            context["hitl_calls"] = _dynamodb_call(model.name, params)
            return
        rule = RESOURCE_RULES.get((service, model.name))
        if rule is None:
            raise AssertionError(f"the permission harness has no IAM rule for {service} {model.name}")
        context["hitl_calls"] = rule(params)

    def _after(self, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        error = parsed.get("Error", {}).get("Code") if isinstance(parsed, dict) else None
        for call in context.pop("hitl_calls", []):
            self.calls.append(Call(call.action, call.resource, call.prefix, error))


def _matches(patterns: Any, value: str) -> bool:
    return any(fnmatch.fnmatchcase(value, p) for p in ([patterns] if isinstance(patterns, str) else patterns))


def _condition_holds(condition: dict[str, Any] | None, prefix: str | None) -> bool:
    if not condition:
        return True
    for operator, keys in condition.items():
        for key, expected in keys.items():
            if key != "s3:prefix" or operator not in ("StringLike", "StringEquals") or prefix is None:
                return False
            test = (
                _matches if operator == "StringLike" else lambda e, v: v in ([e] if isinstance(e, str) else e)
            )
            if not test(expected, prefix):
                return False
    return True


def allowed(policies: list[dict[str, Any]], action: str, resource: str, prefix: str | None = None) -> bool:
    """Whether an Allow statement grants the action on the resource (conditions: s3:prefix only)."""
    for document in policies:
        for statement in document["Statement"]:
            if (
                statement["Effect"] == "Allow"
                and _matches(statement["Action"], action)
                and _matches(statement["Resource"], resource)
                and _condition_holds(statement.get("Condition"), prefix)
            ):
                return True
    return False


def evaluate(policies: list[dict[str, Any]], calls: list[Call]) -> list[str]:
    """What real IAM would refuse of the recorded calls (empty when everything is allowed)."""
    refused = []
    for call in calls:
        if not allowed(policies, call.action, call.resource, call.prefix):
            refused.append(
                f"{call.action} on {call.resource}"
                + (f" prefix {call.prefix!r}" if call.prefix is not None else "")
            )
        missing = call.error in ("NoSuchKey", "404")
        if missing and call.action in ("s3:GetObject", "s3:GetObjectVersion"):
            bucket, _, key = call.resource.removeprefix("arn:aws:s3:::").partition("/")
            if not allowed(policies, "s3:ListBucket", f"arn:aws:s3:::{bucket}", key):
                refused.append(
                    f"s3:ListBucket on {bucket} prefix {key!r} (S3 answers 403, not 404, without it)"
                )
    return refused


# Services whose calls moto authorizes against a resource ARN; for the others it checks the action only.
MOTO_RESOURCE_CHECKED = ("s3:", "sqs:")


def moto_loadable(policies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The policies as moto can take them; `evaluate` checks what is loosened here.

    Conditions are removed (moto denies a statement whose condition keys it cannot evaluate), and
    statements of services moto authorizes with resource "*" get that resource.
    """
    loadable = copy.deepcopy(policies)
    for document in loadable:
        for statement in document["Statement"]:
            statement.pop("Condition", None)
            actions = [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
            if not all(a.startswith(MOTO_RESOURCE_CHECKED) for a in actions):
                statement["Resource"] = "*"
            if {"dynamodb:PutItem", "dynamodb:UpdateItem"} & set(actions):
                # moto checks a transaction as the action dynamodb:TransactWriteItems, which IAM does
                # not have; IAM checks each item's own action, as `evaluate` does.
                statement["Action"] = [*actions, "dynamodb:TransactWriteItems"]
    return loadable


@contextmanager
def as_role(policies: list[dict[str, Any]], name: str) -> Iterator[boto3.session.Session]:
    """A session with the credentials of a moto role holding exactly these policies, IAM enforced."""
    iam = boto3.client("iam", region_name=REGION)
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sts:AssumeRole"}],
    }
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    for index, document in enumerate(moto_loadable(policies)):
        iam.put_role_policy(RoleName=name, PolicyName=f"policy-{index}", PolicyDocument=json.dumps(document))
    credentials = boto3.client("sts", region_name=REGION).assume_role(
        RoleArn=role["Arn"], RoleSessionName="fn"
    )["Credentials"]
    session = boto3.session.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=REGION,
    )
    with enable_iam_authentication():
        yield session
