"""The SageMaker detector: an existing endpoint (moto), a Marketplace package (Stubber), the image map."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
import pytest

from hitl.preflight.endpoint import check_builtin_image, check_existing_endpoint, check_model_package
from hitl.preflight.result import Status

from .conftest import make_deployment, model_artifact

PACKAGE_ARN = "arn:aws:sagemaker:us-east-1:865070037744:model-package/gluoncv-ssd-resnet50-1-abc"
ROLE = "arn:aws:iam::123456789012:role/sagemaker"


def hosted_endpoint(name: str = "hitl-object-detector", variant: str = "AllTraffic") -> None:
    sagemaker = boto3.client("sagemaker")
    sagemaker.create_model(
        ModelName="detector",
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/detector:1"},
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName="detector-config",
        ProductionVariants=[
            {
                "VariantName": variant,
                "ModelName": "detector",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.xlarge",
            }
        ],
    )
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName="detector-config")


def test_an_endpoint_in_service_with_its_variant_passes(clients):
    hosted_endpoint()
    result = check_existing_endpoint(make_deployment(), clients)
    assert result.status is Status.PASS
    assert result.message == "endpoint hitl-object-detector is InService with variant AllTraffic"


def test_a_missing_endpoint_fails(clients):
    result = check_existing_endpoint(make_deployment(), clients)
    assert result.status is Status.FAIL
    assert "does not exist in us-east-1" in result.message


def test_an_endpoint_without_the_configured_variant_fails(clients):
    hosted_endpoint(variant="Blue")
    result = check_existing_endpoint(make_deployment(), clients)
    assert result.status is Status.FAIL
    assert "has no variant AllTraffic (it has ['Blue'])" in result.message


def described_endpoint(status: str) -> dict:
    return {
        "EndpointName": "hitl-object-detector",
        "EndpointArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint/hitl-object-detector",
        "EndpointConfigName": "detector-config",
        "ProductionVariants": [{"VariantName": "AllTraffic"}],
        "EndpointStatus": status,
        "CreationTime": datetime(2026, 1, 1, tzinfo=UTC),
        "LastModifiedTime": datetime(2026, 1, 1, tzinfo=UTC),
    }


@pytest.mark.parametrize(("status", "expected"), [("Updating", Status.WARN), ("Failed", Status.FAIL)])
def test_an_endpoint_not_in_service(clients, status, expected):
    clients.stub("sagemaker").add_response(
        "describe_endpoint", described_endpoint(status), {"EndpointName": "hitl-object-detector"}
    )
    result = check_existing_endpoint(make_deployment(), clients)
    assert (result.status, result.message) == (expected, f"endpoint hitl-object-detector is {status}")


def marketplace(instance_type: str = "ml.m5.xlarge") -> dict:
    return {
        "endpoint": {
            "mode": "marketplace-model-package",
            "model_package_arn": PACKAGE_ARN,
            "variant": {"kind": "instance", "instance_type": instance_type},
        }
    }


def described_package(status: str, instance_types: list[str]) -> dict:
    return {
        "ModelPackageName": "gluoncv-ssd-resnet50-1-abc",
        "ModelPackageArn": PACKAGE_ARN,
        "CreationTime": datetime(2026, 1, 1, tzinfo=UTC),
        "ModelPackageStatus": status,
        "ModelPackageStatusDetails": {"ValidationStatuses": []},
        "InferenceSpecification": {
            "Containers": [{"Image": "865070037744.dkr.ecr.us-east-1.amazonaws.com/gluoncv:1"}],
            "SupportedRealtimeInferenceInstanceTypes": instance_types,
            "SupportedContentTypes": ["image/jpeg"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
    }


def test_a_package_serving_the_instance_type_passes(clients):
    clients.stub("sagemaker").add_response(
        "describe_model_package",
        described_package("Completed", ["ml.m5.xlarge", "ml.g4dn.xlarge"]),
        {"ModelPackageName": PACKAGE_ARN},
    )
    assert check_model_package(make_deployment(marketplace()), clients).status is Status.PASS


def test_a_package_that_cannot_serve_the_instance_type_fails(clients):
    clients.stub("sagemaker").add_response(
        "describe_model_package", described_package("Completed", ["ml.g4dn.xlarge"])
    )
    result = check_model_package(make_deployment(marketplace()), clients)
    assert result.status is Status.FAIL
    assert "does not serve on ml.m5.xlarge (it supports ml.g4dn.xlarge)" in result.message


def test_a_package_this_account_cannot_see_fails(clients):
    clients.stub("sagemaker").add_client_error(
        "describe_model_package",
        service_error_code="ValidationException",
        service_message=f"ModelPackage {PACKAGE_ARN} does not exist.",
    )
    result = check_model_package(make_deployment(marketplace()), clients)
    assert result.status is Status.FAIL
    assert "subscribe" in result.fix


def test_the_built_in_image_is_mapped_for_the_region(clients):
    assert check_builtin_image(make_deployment(model_artifact()), clients).status is Status.PASS


def test_a_region_the_image_map_lacks_fails(clients):
    result = check_builtin_image(make_deployment(model_artifact(), region="ap-southeast-3"), clients)
    assert result.status is Status.FAIL
    assert (
        "no built-in object-detection image for ap-southeast-3 (hosting and retraining use it)"
        in result.message
    )


def test_an_own_image_in_another_region_warns(clients):
    deploy = model_artifact()
    deploy["endpoint"]["image_uri"] = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/detector:2"
    result = check_builtin_image(make_deployment(deploy), clients)
    assert result.status is Status.WARN


def test_an_endpoint_managed_elsewhere_needs_no_image(clients):
    assert check_builtin_image(make_deployment(), clients) is None
    assert check_model_package(make_deployment(), clients) is None
    assert check_existing_endpoint(make_deployment(model_artifact()), clients) is None
