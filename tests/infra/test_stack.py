"""The whole stack in every endpoint mode: cdk-nag and cfn-lint clean, wildcards only where AWS needs them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from aws_cdk import Stack, Validations
from cdk_scenarios import (
    A2I_SCENARIOS,
    BUILTIN_SCENARIOS,
    CDK_JSON,
    PROJECT_VERSION,
    SCENARIOS,
    USER_POOL_ID,
    resources,
)

from hitl_core.config import ConfigError, load_config
from infra.deploy_config import DeployConfigError, load_deploy_config
from infra.nag import acknowledge
from infra.stack import check_compatible, configurations

# One synthesized app per worker: keep the tests that read it on one worker.
pytestmark = pytest.mark.xdist_group("cdk")

# Actions AWS offers no resource-level permission for, and who asks for them.
NO_RESOURCE_LEVEL = {
    "xray:PutTraceSegments": "function tracing",
    "xray:PutTelemetryRecords": "function tracing",
    "ecr:GetAuthorizationToken": "SageMaker pulling the model image",
    "cloudwatch:PutMetricData": "the model container's metrics (namespace condition)",
    "logs:CreateLogDelivery": "Step Functions logging of the Provider framework's waiter",
    "logs:GetLogDelivery": "Step Functions logging",
    "logs:UpdateLogDelivery": "Step Functions logging",
    "logs:DeleteLogDelivery": "Step Functions logging",
    "logs:ListLogDeliveries": "Step Functions logging",
    "logs:CreateLogStream": "Step Functions logging (CDK grants it with the delivery actions)",
    "logs:PutLogEvents": "Step Functions logging (CDK grants it with the delivery actions)",
    "logs:PutResourcePolicy": "letting EventBridge write failed human loops into their log group",
    "logs:DeleteResourcePolicy": "letting EventBridge write failed human loops into their log group",
    "logs:DescribeResourcePolicies": "Step Functions logging",
    "logs:DescribeLogGroups": "Step Functions logging",
    "sagemaker:ListWorkforces": "finding the region's one private workforce to join",
    "sagemaker:ListFlowDefinitions": "finding this deployment's replaced flow definitions (by name prefix)",
    "sagemaker:ListHumanLoops": "deleting a replaced flow definition only once its loops are done",
    "dynamodb:ListStreams": "the outbox's stream event source (CDK grants it with the stream reads)",
    "xray:GetSamplingRules": "Step Functions tracing of the retraining workflows",
    "xray:GetSamplingTargets": "Step Functions tracing of the retraining workflows",
}
# CDK's BucketDeployment helper (uploads the review app) grants itself action groups such as s3:GetObject*.
CDK_HELPER_POLICIES = ("CustomCDKBucketDeployment",)


def test_every_scenario_passes_cdk_nag_aws_solutions(synthesized) -> None:
    assert synthesized.nag_failure is None, synthesized.nag_failure


def test_every_acknowledgment_gives_a_reason(synthesized) -> None:
    key = Validations.ACKNOWLEDGED_RULES_METADATA_KEY
    acknowledged = {}
    for stack in synthesized.stacks.values():
        for construct in stack.node.find_all():
            for entry in construct.node.metadata:
                if entry.type == key:
                    acknowledged.update(
                        {f"{construct.node.path}: {rule}": r for rule, r in entry.data.items()}
                    )

    assert acknowledged, "no acknowledgments found: the metadata key changed?"
    assert {k: r for k, r in acknowledged.items() if len(r.strip()) < 20} == {}


def test_an_acknowledgment_without_reason_is_refused(synthesized) -> None:
    with pytest.raises(ValueError, match="needs a reason"):
        acknowledge(synthesized.stacks["Default"], "AwsSolutions-S1", "  ")


def test_cfn_lint_finds_no_problem_in_any_template(synthesized) -> None:
    templates = [str(synthesized.outdir / f"{scenario}.template.json") for scenario in SCENARIOS]

    # W3005: CDK writes DependsOn on a role that a GetAtt already implies; harmless and not ours to change.
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), "--ignore-checks", "W3005", "--", *templates],
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr


def as_list(value: object) -> list:
    return value if isinstance(value, list) else [value]


def test_wildcard_resources_only_for_actions_without_resource_level_permissions(synthesized) -> None:
    offenders = []
    for scenario, template in synthesized.templates.items():
        for name, policy in resources(template, "AWS::IAM::Policy").items():
            if name.startswith(CDK_HELPER_POLICIES):
                continue
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                listed = (
                    statement["Resource"]
                    if isinstance(statement["Resource"], list)
                    else [statement["Resource"]]
                )
                actions = (
                    statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                )
                if "*" in listed:
                    offenders += [f"{scenario}/{name}: {a}" for a in actions if a not in NO_RESOURCE_LEVEL]
                offenders += [f"{scenario}/{name}: action {a}" for a in actions if "*" in a.split(":")[1]]

    assert offenders == []


CDK_HELPER_ROLES = (
    "HumanReviewFlowDefinitionProviderframework",
    "BucketNotificationsHandler",
    "AWS679f53fac",
    "CustomS3AutoDeleteObjects",
    "CustomCDKBucketDeployment",
    "TrainingModelGuardProviderframework",
)


def test_no_role_uses_a_managed_policy_except_cdks_own_helpers(synthesized) -> None:
    for scenario, template in synthesized.templates.items():
        for name, role in resources(template, "AWS::IAM::Role").items():
            if role["Properties"].get("ManagedPolicyArns"):
                assert name.startswith(CDK_HELPER_ROLES), (scenario, name)


def test_outputs_tell_ops_where_to_drop_images(synthesized) -> None:
    outputs = synthesized.templates["A2i"]["Outputs"]

    assert outputs["IncomingPrefix"]["Value"] == "incoming/"
    for name in ("InputBucket", "TrainingDataBucket", "EventBusName", "FlowDefinitionArn", "EndpointName"):
        assert name in outputs
    assert "EndpointName" not in synthesized.templates["Rekognition"]["Outputs"]


def test_configurations_come_from_both_context_keys() -> None:
    config, deploy = configurations(CDK_JSON["context"])

    assert config.labels[0] == "person"
    assert deploy == load_deploy_config(SCENARIOS["Default"])


def test_bad_pipeline_configuration_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="routing"):
        configurations(
            {**CDK_JSON["context"], "hitl": {**CDK_JSON["context"]["hitl"], "routing": {"preset": "x"}}}
        )
    with pytest.raises(ConfigError, match="no 'hitl' key"):
        configurations({})


def test_serverless_endpoint_needs_a_payload_limit_it_can_take() -> None:
    config = load_config(CDK_JSON["context"]["hitl"])
    endpoint = {"mode": "model-artifact", "model_data_url": "s3://team-models/detector/model.tar.gz"}
    deploy = load_deploy_config({"endpoint": {**endpoint, "variant": {"kind": "serverless"}}})

    with pytest.raises(DeployConfigError, match=r"hitl\.endpoint_payload_limit"):
        check_compatible(config, deploy)


@pytest.mark.parametrize(
    ("adapter", "endpoint"),
    [
        ("rekognition-custom-labels", {"mode": "existing-endpoint"}),
        (
            "sagemaker-object-detection",
            {"mode": "rekognition-custom-labels", "project_version_arn": PROJECT_VERSION},
        ),
    ],
)
def test_adapter_must_match_the_detector(adapter: str, endpoint: dict) -> None:
    config = load_config({**CDK_JSON["context"]["hitl"], "adapter": adapter})

    with pytest.raises(DeployConfigError, match=r"hitl\.adapter"):
        check_compatible(config, load_deploy_config({"endpoint": endpoint}))


@pytest.mark.parametrize(("backend", "refused"), [("a2i", True), ("builtin", False)])
def test_only_the_a2i_backend_limits_the_labels_reviewers_are_offered(backend: str, refused: bool) -> None:
    hitl = {key: value for key, value in CDK_JSON["context"]["hitl"].items() if key != "review_labels"}
    config = load_config({**hitl, "labels": [f"voc-{i}" for i in range(20)]})
    deploy = load_deploy_config({"review": {"backend": backend}})

    if refused:
        with pytest.raises(ConfigError, match=r"labels has 20 labels; A2I's crowd-bounding-box"):
            check_compatible(config, deploy)
    else:
        check_compatible(config, deploy)


def test_stack_is_environment_agnostic(synthesized) -> None:
    stack = synthesized.stacks["Default"]

    assert Stack.of(stack).resolve(stack.region) == {"Ref": "AWS::Region"}


SAGEMAKER_REVIEW_TYPES = (
    "AWS::SageMaker::HumanTaskUi",
    "AWS::SageMaker::Workteam",
    "AWS::SageMaker::Workforce",
    "Custom::A2iFlowDefinition",
)


def test_builtin_backend_creates_no_sagemaker_human_review_resources(synthesized) -> None:
    for scenario in BUILTIN_SCENARIOS:
        template = synthesized.templates[scenario]
        for resource_type in SAGEMAKER_REVIEW_TYPES:
            assert not resources(template, resource_type), (scenario, resource_type)
        assert not [k for k in template["Resources"] if k.startswith("HumanReview")], scenario
        machines = resources(template, "AWS::StepFunctions::StateMachine")
        assert not [k for k in machines if not k.startswith("Training")], scenario  # the provider's waiter
        for resource_type in (
            "AWS::DynamoDB::Table",
            "AWS::ApiGatewayV2::Api",
            "AWS::CloudFront::Distribution",
        ):
            assert len(resources(template, resource_type)) == 1, (scenario, resource_type)


def test_a2i_backend_creates_the_human_review_resources_and_no_review_service(synthesized) -> None:
    for scenario in A2I_SCENARIOS:
        template = synthesized.templates[scenario]
        assert resources(template, "AWS::SageMaker::HumanTaskUi"), scenario
        assert resources(template, "Custom::A2iFlowDefinition"), scenario
        assert not [k for k in template["Resources"] if k.startswith("ReviewService")], scenario
        for resource_type in ("AWS::ApiGatewayV2::Api", "AWS::CloudFront::Distribution"):
            assert not resources(template, resource_type), (scenario, resource_type)
        # A table only for the review budget's waiting images (the A2i scenario sets a budget).
        tables = [k.startswith("LoopBudgetPendingLoops") for k in resources(template, "AWS::DynamoDB::Table")]
        assert tables == ([True] if scenario == "A2i" else []), scenario


def test_outputs_name_the_review_page_api_and_user_pool_with_the_builtin_backend(synthesized) -> None:
    outputs = synthesized.templates["Builtin"]["Outputs"]

    for name in ("ReviewPageUrl", "ReviewApiUrl", "ReviewUserPoolId", "ReviewTasksTable", "InputBucket"):
        assert name in outputs
    assert "FlowDefinitionArn" not in outputs and "WorkTeamArn" not in outputs
    assert outputs["ReviewPageUrl"]["Value"]["Fn::Join"][1][0] == "https://"
    existing = synthesized.templates["BuiltinExistingPool"]["Outputs"]
    assert existing["ReviewUserPoolId"]["Value"] == USER_POOL_ID
