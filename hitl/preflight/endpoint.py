"""The SageMaker detector the configuration names: an endpoint managed elsewhere, a Marketplace
model package, and the built-in algorithm image for the region (SageMaker DescribeEndpoint,
DescribeModelPackage; the project's image map)."""

from __future__ import annotations

from botocore.exceptions import ClientError

from hitl.preflight.clients import ClientFactory, error_code
from hitl.preflight.deployment import Deployment
from hitl.preflight.result import CheckResult, failed, passed, warned
from hitl_core.algorithm_images import OBJECT_DETECTION_REGISTRIES
from infra.deploy_config import ExistingEndpoint, MarketplaceEndpoint, ModelArtifactEndpoint

ENDPOINT_NAME = "existing-endpoint"
PACKAGE_NAME = "model-package"
IMAGE_NAME = "built-in-image"
NOT_FOUND = ("ValidationException", "ResourceNotFound")
SETTLING = ("Creating", "Updating", "SystemUpdating", "RollingBack", "UpdateRollbackFailed")


def check_existing_endpoint(deployment: Deployment, clients: ClientFactory) -> CheckResult | None:
    """`existing-endpoint` is only invoked, so it must be in service with the configured variant."""
    endpoint = deployment.deploy.endpoint
    if not isinstance(endpoint, ExistingEndpoint):
        return None
    name = endpoint.endpoint_name
    try:
        found = clients("sagemaker").describe_endpoint(EndpointName=name)
    except ClientError as err:
        if error_code(err) not in NOT_FOUND:
            raise
        return failed(
            ENDPOINT_NAME,
            f"endpoint {name} does not exist in {deployment.region}",
            "create it first, fix hitl-deploy.endpoint.endpoint_name, or let the stack host a model "
            "(endpoint.mode 'model-artifact')",
        )
    status = found["EndpointStatus"]
    variants = [v["VariantName"] for v in found.get("ProductionVariants", [])]
    if endpoint.variant_name not in variants:
        return failed(
            ENDPOINT_NAME,
            f"endpoint {name} has no variant {endpoint.variant_name} (it has {variants})",
            "set hitl-deploy.endpoint.variant_name to one of them",
        )
    if status in SETTLING:
        return warned(
            ENDPOINT_NAME, f"endpoint {name} is {status}", "wait until it is InService, then deploy"
        )
    if status != "InService":
        return failed(
            ENDPOINT_NAME, f"endpoint {name} is {status}", "repair or recreate the endpoint before deploying"
        )
    return passed(ENDPOINT_NAME, f"endpoint {name} is InService with variant {endpoint.variant_name}")


def check_model_package(deployment: Deployment, clients: ClientFactory) -> CheckResult | None:
    """The Marketplace package must be visible to this account and serve the configured instance type."""
    endpoint = deployment.deploy.endpoint
    if not isinstance(endpoint, MarketplaceEndpoint):
        return None
    arn = endpoint.model_package_arn
    try:
        package = clients("sagemaker").describe_model_package(ModelPackageName=arn)
    except ClientError as err:
        if error_code(err) not in NOT_FOUND:
            raise
        return failed(
            PACKAGE_NAME,
            f"model package {arn} is not visible to this account",
            "subscribe to the listing in AWS Marketplace from this account, or fix model_package_arn",
        )
    status = package.get("ModelPackageStatus")
    if status != "Completed":
        return failed(
            PACKAGE_NAME, f"model package status is {status}", "use a package whose status is Completed"
        )
    instance_type = getattr(endpoint.variant, "instance_type", None)
    supported = package.get("InferenceSpecification", {}).get("SupportedRealtimeInferenceInstanceTypes", [])
    if instance_type is not None and supported and instance_type not in supported:
        return failed(
            PACKAGE_NAME,
            f"the package does not serve on {instance_type} (it supports {', '.join(supported)})",
            "set hitl-deploy.endpoint.variant.instance_type to a supported type",
        )
    return passed(PACKAGE_NAME, f"model package {package.get('ModelPackageName', arn)} is Completed")


def check_builtin_image(deployment: Deployment, clients: ClientFactory) -> CheckResult | None:
    """The built-in object-detection image hosts the artifact (unless image_uri is set) and retrains it."""
    endpoint = deployment.deploy.endpoint
    if not isinstance(endpoint, ModelArtifactEndpoint):
        return None
    region = deployment.region
    if region not in OBJECT_DETECTION_REGISTRIES:
        uses = "retraining" if endpoint.image_uri else "hosting and retraining"
        return failed(
            IMAGE_NAME,
            f"the project's image map has no built-in object-detection image for {region} ({uses} use it)",
            "deploy to a region of lambdas/hitl_core/algorithm_images.py, or add this region's "
            "registry there",
        )
    if endpoint.image_uri is not None:
        image_region = endpoint.image_uri.split(".dkr.ecr.", 1)[1].split(".", 1)[0]
        if image_region != region:
            return warned(
                IMAGE_NAME,
                f"hitl-deploy.endpoint.image_uri is in {image_region}, the endpoint in {region}",
                f"use an image in {region}",
            )
    return passed(IMAGE_NAME, f"the built-in object-detection image is mapped for {region}")
