"""A handler from `lambdas/` as every function here runs: arm64, newest Python, traced, own role and logs.

The role starts empty: each construct adds the statements its function needs, naming resources.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.lambda_bundling import python_function_code
from infra.nag import acknowledge


@dataclass(frozen=True)
class PythonFunctionProps:
    package: str
    handler: str
    role_description: str
    timeout: Duration
    memory_size: int
    environment: dict[str, str]
    log_retention: logs.RetentionDays
    removal_policy: RemovalPolicy
    reserved_concurrency: int | None = None
    description: str | None = None
    snap_start: bool = False  # SnapStart on published versions (invoke them through an alias)


def python_function(scope: Construct, construct_id: str, props: PythonFunctionProps) -> lambda_.Function:
    """The function `construct_id` in `scope`, with `<id>Role` and `<id>Logs` beside it."""
    role = iam.Role(
        scope,
        f"{construct_id}Role",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=props.role_description,
    )
    log_group = logs.LogGroup(
        scope, f"{construct_id}Logs", retention=props.log_retention, removal_policy=props.removal_policy
    )
    log_group.grant_write(role)
    function = lambda_.Function(
        scope,
        construct_id,
        description=props.description,
        runtime=lambda_.Runtime.PYTHON_3_14,
        architecture=lambda_.Architecture.ARM_64,
        code=python_function_code(props.package),
        handler=props.handler,
        role=role,
        log_group=log_group,
        timeout=props.timeout,
        memory_size=props.memory_size,
        reserved_concurrent_executions=props.reserved_concurrency,
        tracing=lambda_.Tracing.ACTIVE,
        snap_start=lambda_.SnapStartConf.ON_PUBLISHED_VERSIONS if props.snap_start else None,
        environment=props.environment,
    )
    acknowledge(
        role,
        "AwsSolutions-IAM5[Resource::*]",
        "X-Ray tracing (xray:PutTraceSegments, PutTelemetryRecords) has no resource-level permissions.",
    )
    return function
