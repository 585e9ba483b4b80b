"""The detector in each mode: a hosted model (instance or serverless), an existing endpoint, Rekognition."""

from __future__ import annotations

import json

import pytest
from aws_cdk import App, Environment, Stack
from aws_cdk.assertions import Template
from cdk_scenarios import MODEL_PACKAGE, PROJECT_VERSION, only, policy_statements, resources, statement_for

from infra.deploy_config import DeployConfigError, load_deploy_config
from infra.model_endpoint import OBJECT_DETECTION_REGISTRIES, ModelEndpoint, ModelEndpointProps

# One synthesized app per worker: keep the tests that read it on one worker.
pytestmark = pytest.mark.xdist_group("cdk")

SAGEMAKER_TYPES = ("AWS::SageMaker::Model", "AWS::SageMaker::EndpointConfig", "AWS::SageMaker::Endpoint")


def region_rules(template: dict) -> list[list[dict]]:
    """Assertions of the template's rules other than CDK's bootstrap-version check."""
    rules = template.get("Rules", {})
    return [rule["Assertions"] for name, rule in rules.items() if name != "CheckBootstrapVersion"]


def test_existing_endpoint_and_rekognition_create_no_endpoint(synthesized) -> None:
    for scenario in ("Default", "Rekognition"):
        template = synthesized.templates[scenario]
        for resource_type in (*SAGEMAKER_TYPES, "AWS::ApplicationAutoScaling::ScalableTarget"):
            assert not resources(template, resource_type), (scenario, resource_type)


def test_model_artifact_defaults_to_the_regions_built_in_image(synthesized) -> None:
    template = synthesized.templates["ModelArtifact"]
    model = only(template, "AWS::SageMaker::Model")["Properties"]
    (mapping,) = template["Mappings"].values()

    container = model["PrimaryContainer"]
    assert container["ModelDataUrl"] == "s3://team-models/detector/model.tar.gz"
    image = json.dumps(container["Image"])
    assert "Fn::FindInMap" in image and "/object-detection:1" in image
    assert mapping["us-east-1"] == {"account": "811284229777"}
    assert {region: m["account"] for region, m in mapping.items()} == OBJECT_DETECTION_REGISTRIES
    assert model["EnableNetworkIsolation"] is True


def test_model_role_reads_only_the_model_artifact_and_its_image(synthesized) -> None:
    template = synthesized.templates["ModelArtifact"]
    statements = policy_statements(template, "DetectorModelRole")

    assert statement_for(statements, "s3:GetObject")["Resource"] == {
        "Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":s3:::team-models/detector/model.tar.gz"]]
    }
    assert "repository/object-detection" in json.dumps(
        statement_for(statements, "ecr:BatchGetImage")["Resource"]
    )


def test_instance_variant_autoscales_on_invocations_per_instance(synthesized) -> None:
    template = synthesized.templates["ModelArtifact"]
    (variant,) = only(template, "AWS::SageMaker::EndpointConfig")["Properties"]["ProductionVariants"]
    target = only(template, "AWS::ApplicationAutoScaling::ScalableTarget")["Properties"]
    policy = only(template, "AWS::ApplicationAutoScaling::ScalingPolicy")["Properties"]

    assert variant["InstanceType"] == "ml.g4dn.xlarge"
    assert variant["InitialInstanceCount"] == 1
    assert only(template, "AWS::SageMaker::Endpoint")["Properties"]["EndpointName"] == "hitl-object-detector"
    assert target["ResourceId"] == "endpoint/hitl-object-detector/variant/AllTraffic"
    assert (target["MinCapacity"], target["MaxCapacity"]) == (1, 4)
    tracking = policy["TargetTrackingScalingPolicyConfiguration"]
    assert tracking["PredefinedMetricSpecification"] == {
        "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
    }
    assert tracking["TargetValue"] == 100


def test_marketplace_package_runs_isolated_on_instances(synthesized) -> None:
    template = synthesized.templates["Marketplace"]
    model = only(template, "AWS::SageMaker::Model")["Properties"]
    (variant,) = only(template, "AWS::SageMaker::EndpointConfig")["Properties"]["ProductionVariants"]

    assert model["PrimaryContainer"] == {"ModelPackageName": MODEL_PACKAGE}
    assert model["EnableNetworkIsolation"] is True
    assert variant["InstanceType"] == "ml.c5.xlarge"


def test_serverless_variant_has_no_network_isolation_and_no_autoscaling(synthesized) -> None:
    template = synthesized.templates["Serverless"]
    model = only(template, "AWS::SageMaker::Model")["Properties"]
    (variant,) = only(template, "AWS::SageMaker::EndpointConfig")["Properties"]["ProductionVariants"]

    assert "EnableNetworkIsolation" not in model
    assert variant["ServerlessConfig"] == {"MaxConcurrency": 3, "MemorySizeInMB": 4096}
    assert "InstanceType" not in variant
    assert not resources(template, "AWS::ApplicationAutoScaling::ScalableTarget")
    assert "RetainAllVariantProperties" not in only(template, "AWS::SageMaker::Endpoint")["Properties"]


def test_an_update_keeps_the_instance_count_autoscaling_set(synthesized) -> None:
    for scenario in ("ModelArtifact", "Marketplace"):
        endpoint = only(synthesized.templates[scenario], "AWS::SageMaker::Endpoint")["Properties"]
        assert endpoint["RetainAllVariantProperties"] is True, scenario


def test_an_unknown_region_with_the_built_in_image_fails_at_synth() -> None:
    settings = load_deploy_config(
        {"endpoint": {"mode": "model-artifact", "model_data_url": "s3://team-models/detector/model.tar.gz"}}
    ).endpoint
    stack = Stack(App(), "Unmapped", env=Environment(account="123456789012", region="ap-southeast-7"))
    with pytest.raises(DeployConfigError, match=r"ap-southeast-7: set hitl-deploy\.endpoint\.image_uri"):
        ModelEndpoint(stack, "Detector", ModelEndpointProps(settings=settings))


def test_a_known_region_or_an_image_uri_synthesizes_without_a_region_rule() -> None:
    artifact = {"mode": "model-artifact", "model_data_url": "s3://team-models/detector/model.tar.gz"}
    image = "123456789012.dkr.ecr.ap-southeast-7.amazonaws.com/detector:1"
    for region, endpoint in (("eu-west-1", artifact), ("ap-southeast-7", {**artifact, "image_uri": image})):
        stack = Stack(App(), "Mapped", env=Environment(account="123456789012", region=region))
        ModelEndpoint(
            stack,
            "Detector",
            ModelEndpointProps(settings=load_deploy_config({"endpoint": endpoint}).endpoint),
        )
        assert region_rules(Template.from_stack(stack).to_json()) == [], region


def test_an_environment_agnostic_stack_checks_the_region_before_creating_anything(synthesized) -> None:
    ((assertion,),) = region_rules(synthesized.templates["ModelArtifact"])

    assert assertion["Assert"] == {
        "Fn::Contains": [sorted(OBJECT_DETECTION_REGISTRIES), {"Ref": "AWS::Region"}]
    }
    assert "image_uri" in assertion["AssertDescription"]


def test_ingest_may_invoke_only_its_endpoint(synthesized) -> None:
    for scenario in ("Default", "ModelArtifact", "Marketplace", "Serverless"):
        statements = policy_statements(synthesized.templates[scenario], "PipelineIngestFunctionRole")

        resource = statement_for(statements, "sagemaker:InvokeEndpoint")["Resource"]

        assert json.dumps(resource).endswith(':endpoint/hitl-object-detector"]]}'), scenario


def test_rekognition_mode_grants_only_its_project_version(synthesized) -> None:
    statements = policy_statements(synthesized.templates["Rekognition"], "PipelineIngestFunctionRole")

    assert statement_for(statements, "rekognition:DetectCustomLabels")["Resource"] == PROJECT_VERSION
    assert not [s for s in statements if "sagemaker:InvokeEndpoint" in json.dumps(s)]
