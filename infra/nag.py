"""cdk-nag acknowledgments: each finding kept on purpose, acknowledged where it arises, with a reason.

Wildcard (IAM5) findings are acknowledged one resource at a time, in cdk-nag's own notation.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Acknowledgment, Stack, Validations
from constructs import IConstruct


def acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    """Acknowledge `rule` (e.g. 'AwsSolutions-COG8') on `scope` and everything under it."""
    if not reason.strip():
        raise ValueError(f"acknowledging {rule} needs a reason")
    Validations.of(scope).acknowledge(Acknowledgment(id=rule, reason=reason))


def _nag_text(value: Any) -> str:
    """A resolved CloudFormation value as cdk-nag prints it: `<Logical.Arn>`, `<AWS::Region>`, joins."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Ref":
            return f"<{argument}>"
        if function == "Fn::GetAtt":
            return f"<{argument[0]}.{argument[1]}>"
        if function == "Fn::Join":
            separator, parts = argument
            return separator.join(_nag_text(part) for part in parts)
    raise ValueError(f"cannot name {value!r} the way cdk-nag does")


def acknowledge_wildcards(scope: IConstruct, resources: list[str], reason: str) -> None:
    """Acknowledge AwsSolutions-IAM5 for exactly these wildcard resource ARNs (tokens allowed)."""
    stack = Stack.of(scope)
    for resource in resources:
        text = _nag_text(stack.resolve(resource))
        acknowledge(scope, f"AwsSolutions-IAM5[Resource::{text}]", reason)


def acknowledge_wildcard_actions(scope: IConstruct, actions: list[str], reason: str) -> None:
    """Acknowledge AwsSolutions-IAM5 for wildcard actions (e.g. 's3:GetObject*' granted by a CDK helper)."""
    for action in actions:
        acknowledge(scope, f"AwsSolutions-IAM5[Action::{action}]", reason)


_BASIC_ROLE = (
    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]"
)
_ASSET_OBJECTS = "arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-<AWS::Region>/*"
_DEPLOYMENT_GRANTS = (
    "CDK's BucketDeployment helper syncs the review app into its bucket (read, list, replace, prune) "
    "with the action groups CDK's grant helpers use."
)
_CDK_HELPERS = {
    "BucketNotificationsHandler": {
        _BASIC_ROLE: "CDK's helper turning on the input bucket's EventBridge notifications logs only.",
    },
    "AWS679f53fac002430cb0da5b7982bd2287": {
        _BASIC_ROLE: "CDK's AwsCustomResource helper (failed-loops log group policy) logs only.",
        "AwsSolutions-L1": "CDK's AwsCustomResource helper runs on the Node.js runtime aws-cdk-lib pins.",
    },
    "EventsLogGroupPolicy": {
        "AwsSolutions-IAM5[Resource::*]": (
            "logs:PutResourcePolicy has no resource-level permissions; CDK needs it so EventBridge may write "
            "failed human loops into their log group."
        ),
    },
    "Custom::CDKBucketDeployment": {
        _BASIC_ROLE: "CDK's BucketDeployment helper (uploads the review app) logs only.",
        "AwsSolutions-L1": "CDK's BucketDeployment helper runs on the Python runtime aws-cdk-lib pins.",
        "AwsSolutions-IAM5[Action::s3:GetObject*]": _DEPLOYMENT_GRANTS,
        "AwsSolutions-IAM5[Action::s3:GetBucket*]": _DEPLOYMENT_GRANTS,
        "AwsSolutions-IAM5[Action::s3:List*]": _DEPLOYMENT_GRANTS,
        "AwsSolutions-IAM5[Action::s3:DeleteObject*]": _DEPLOYMENT_GRANTS,
        "AwsSolutions-IAM5[Action::s3:Abort*]": _DEPLOYMENT_GRANTS,
        f"AwsSolutions-IAM5[Resource::{_ASSET_OBJECTS}]": (
            "CDK's BucketDeployment helper reads the uploaded site files from the bootstrap asset bucket."
        ),
        "AwsSolutions-IAM5[Resource::*]": (
            "CDK's BucketDeployment helper invalidates the review app's CloudFront cache after an upload; "
            "CDK grants the invalidation actions without naming the distribution."
        ),
    },
    "Custom::S3AutoDeleteObjectsCustomResourceProvider": {
        _BASIC_ROLE: "CDK's helper emptying buckets on stack deletion (removal_policy 'destroy') logs only.",
    },
}


def acknowledge_cdk_helpers(stack: Stack) -> None:
    """Findings on helpers CDK adds at the stack's root (their ids carry a hash)."""
    for child in stack.node.children:
        for prefix, rules in _CDK_HELPERS.items():
            if child.node.id.startswith(prefix):
                for rule, reason in rules.items():
                    acknowledge(child, rule, reason)
