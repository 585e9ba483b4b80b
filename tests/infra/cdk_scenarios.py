"""Deployment scenarios of the infra tests and small readers of synthesized templates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CDK_JSON = json.loads((PROJECT_ROOT / "cdk.json").read_text())
MODEL_PACKAGE = "arn:aws:sagemaker:us-east-1:865070037744:model-package/gluoncv-ssd-resnet50"
PROJECT_VERSION = (
    "arn:aws:rekognition:us-east-1:123456789012:project/birds/version/birds.2024-01-01T00.00.00/1700000000000"
)
REKOGNITION_PROJECT = "arn:aws:rekognition:us-east-1:123456789012:project/birds/1690000000000"
REVIEWERS = ["ana@example.com", "bo@example.com"]
WORK_TEAM = "arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/shared-reviewers"
ADMINS = ["lead@example.com", "bo@example.com"]
USER_POOL_ID = "eu-west-1_AbCdEf123"
A2I = {"backend": "a2i"}

# Each scenario is one stack: its deployment settings as ops would write them in cdk.json.
SCENARIOS: dict[str, dict[str, Any]] = {
    "Default": CDK_JSON["context"]["hitl-deploy"],
    # Today's A2I stack: the repository's settings with the A2I backend.
    "A2i": {
        **CDK_JSON["context"]["hitl-deploy"],
        "review": {**CDK_JSON["context"]["hitl-deploy"]["review"], **A2I},
    },
    "ModelArtifact": {
        "endpoint": {
            "mode": "model-artifact",
            "model_data_url": "s3://team-models/detector/model.tar.gz",
            "variant": {"kind": "instance", "instance_type": "ml.g4dn.xlarge", "max_instance_count": 4},
        },
        "work_team": {
            "mode": "private",
            "create_workforce": True,
            "reviewers": ["ana@example.com", "bo@example.com"],
        },
        "alarm_email": "ops@example.com",
        "removal_policy": "destroy",
        "ingest_max_concurrency": 8,
        "ingest_reserved_concurrency": 12,
        "review": {**A2I, "task_count": 2, "task_time_limit_seconds": 600},
    },
    "Marketplace": {
        "endpoint": {
            "mode": "marketplace-model-package",
            "model_package_arn": MODEL_PACKAGE,
            "variant": {"kind": "instance", "instance_type": "ml.c5.xlarge"},
        },
        "work_team": {"mode": "existing", "arn": WORK_TEAM},
        "review": A2I,
    },
    "Serverless": {
        "endpoint": {
            "mode": "model-artifact",
            "model_data_url": "s3://team-models/detector/model.tar.gz",
            "variant": {"kind": "serverless", "memory_size_mb": 4096, "max_concurrency": 3},
        },
        "work_team": {"mode": "existing", "arn": WORK_TEAM},
        "review": A2I,
        "snap_start": True,
    },
    "Rekognition": {
        "endpoint": {"mode": "rekognition-custom-labels", "project_version_arn": PROJECT_VERSION},
        "work_team": {
            "mode": "private",
            "create_workforce": False,
            "user_pool_id": "us-east-1_AbCdEf123",
            "app_client_id": "abcdef123456",
        },
        "review": A2I,
    },
    # The built-in review service: a new user pool, reviewers and admins invited, everything destroyable.
    "Builtin": {
        "work_team": {"mode": "private", "reviewers": REVIEWERS},
        "review": {"backend": "builtin", "admins": ADMINS, "task_count": 2},
        "alarm_email": "ops@example.com",
        "removal_policy": "destroy",
    },
    # The built-in review service signing reviewers in through an existing pool and its domain.
    "BuiltinExistingPool": {
        "review": {
            "backend": "builtin",
            "user_pool_id": USER_POOL_ID,
            "user_pool_domain": "team-login.auth.eu-west-1.amazoncognito.com",
        },
    },
}
A2I_SCENARIOS = [
    name for name, settings in SCENARIOS.items() if settings.get("review", {}).get("backend") == "a2i"
]
BUILTIN_SCENARIOS = [name for name in SCENARIOS if name not in A2I_SCENARIOS]


def resources(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    """The template's resources of one type, by logical id."""
    return {k: v for k, v in template["Resources"].items() if v["Type"] == resource_type}


def only(template: dict[str, Any], resource_type: str) -> dict[str, Any]:
    found = resources(template, resource_type)
    assert len(found) == 1, f"expected one {resource_type}, found {sorted(found)}"
    return next(iter(found.values()))


def policy_statements(template: dict[str, Any], role_logical_prefix: str) -> list[dict[str, Any]]:
    """Statements of the inline policies attached to roles whose logical id starts with the prefix."""
    statements = []
    for policy in resources(template, "AWS::IAM::Policy").values():
        roles = [r.get("Ref", "") for r in policy["Properties"].get("Roles", [])]
        if any(r.startswith(role_logical_prefix) for r in roles):
            statements.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return statements


def actions_of(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


def statement_for(statements: list[dict[str, Any]], action: str) -> dict[str, Any]:
    matching = [s for s in statements if action in actions_of(s)]
    assert matching, f"no statement allows {action}"
    return matching[0]


def deployed_environment(template: dict[str, Any], handler: str) -> dict[str, str]:
    """A function's environment as Lambda would see it: each CloudFormation reference as some name."""
    (function,) = [f["Properties"] for f in resources(template, "AWS::Lambda::Function").values()
                   if f["Properties"].get("Handler") == handler]  # fmt: skip
    variables = function["Environment"]["Variables"]
    return {
        name: value if isinstance(value, str) else f"deployed-{name.lower()}"
        for name, value in variables.items()
    }
