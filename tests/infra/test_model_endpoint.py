"""The detector in each mode: a hosted model (instance or serverless), an existing endpoint, Rekognition."""

from __future__ import annotations

import json

import pytest
from cdk_scenarios import MODEL_PACKAGE, PROJECT_VERSION, only, policy_statements, resources, statement_for

from infra.model_endpoint import OBJECT_DETECTION_REGISTRIES

# One synthesized app per worker: keep the tests that read it on one worker.
pytestmark = pytest.mark.xdist_group("cdk")

SAGEMAKER_TYPES = ("AWS::SageMaker::Model", "AWS::SageMaker::EndpointConfig", "AWS::SageMaker::Endpoint")


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


def test_marketplace_package_on_a_serverless_variant(synthesized) -> None:
    template = synthesized.templates["Marketplace"]
    model = only(template, "AWS::SageMaker::Model")["Properties"]
    (variant,) = only(template, "AWS::SageMaker::EndpointConfig")["Properties"]["ProductionVariants"]

    assert model["PrimaryContainer"] == {"ModelPackageName": MODEL_PACKAGE}
    assert model["EnableNetworkIsolation"] is True
    assert variant["ServerlessConfig"] == {"MaxConcurrency": 3, "MemorySizeInMB": 4096}
    assert "InstanceType" not in variant
    assert not resources(template, "AWS::ApplicationAutoScaling::ScalableTarget")


def test_ingest_may_invoke_only_its_endpoint(synthesized) -> None:
    for scenario in ("Default", "ModelArtifact", "Marketplace"):
        statements = policy_statements(synthesized.templates[scenario], "PipelineIngestFunctionRole")

        resource = statement_for(statements, "sagemaker:InvokeEndpoint")["Resource"]

        assert json.dumps(resource).endswith(':endpoint/hitl-object-detector"]]}'), scenario


def test_rekognition_mode_grants_only_its_project_version(synthesized) -> None:
    statements = policy_statements(synthesized.templates["Rekognition"], "PipelineIngestFunctionRole")

    assert statement_for(statements, "rekognition:DetectCustomLabels")["Resource"] == PROJECT_VERSION
    assert not [s for s in statements if "sagemaker:InvokeEndpoint" in json.dumps(s)]
