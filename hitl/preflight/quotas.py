"""SageMaker instance quotas for the endpoint the stack creates and the retraining job it runs
(Service Quotas ListServiceQuotas, then ListAWSDefaultServiceQuotas for quotas never changed)."""

from __future__ import annotations

from hitl.preflight.clients import ClientFactory
from hitl.preflight.deployment import Deployment
from hitl.preflight.result import CheckResult, failed, passed, warned
from infra.deploy_config import InstanceVariant, MarketplaceEndpoint, ModelArtifactEndpoint

ENDPOINT_NAME = "endpoint-instance-quota"
TRAINING_NAME = "training-instance-quota"
SERVICE_CODE = "sagemaker"


def quota_value(clients: ClientFactory, quota_name: str) -> float | None:
    """The account's applied value of a SageMaker quota, else its AWS default; None when no such quota."""
    service_quotas = clients("service-quotas")
    for operation in ("list_service_quotas", "list_aws_default_service_quotas"):
        for page in service_quotas.get_paginator(operation).paginate(ServiceCode=SERVICE_CODE):
            for quota in page["Quotas"]:
                if quota["QuotaName"] == quota_name:
                    return float(quota["Value"])
    return None


def _request_increase(quota_name: str, needed: int, region: str) -> str:
    return f"request '{quota_name}' of at least {needed} in Service Quotas ({region})"


def _unknown(name: str, quota_name: str, instance_type: str, region: str) -> CheckResult:
    return warned(
        name,
        f"no SageMaker quota named '{quota_name}' in {region}",
        f"check that SageMaker offers {instance_type} in {region}, or choose another instance type",
    )


def check_endpoint_quota(deployment: Deployment, clients: ClientFactory) -> CheckResult | None:
    """The endpoint's initial instances must fit the quota; its autoscaling maximum should."""
    endpoint = deployment.deploy.endpoint
    if not isinstance(endpoint, ModelArtifactEndpoint | MarketplaceEndpoint):
        return None
    variant = endpoint.variant
    if not isinstance(variant, InstanceVariant):
        return None
    quota_name = f"{variant.instance_type} for endpoint usage"
    value = quota_value(clients, quota_name)
    if value is None:
        return _unknown(ENDPOINT_NAME, quota_name, variant.instance_type, deployment.region)
    fix = _request_increase(quota_name, variant.max_instance_count, deployment.region)
    others = "instances of other endpoints count against it too"
    if value < variant.initial_instance_count:
        return failed(
            ENDPOINT_NAME,
            f"'{quota_name}' is {value:.0f}, the endpoint starts {variant.initial_instance_count}: "
            "creating it fails",
            fix,
        )
    if value < variant.max_instance_count:
        return warned(
            ENDPOINT_NAME,
            f"'{quota_name}' is {value:.0f}, autoscaling may ask for {variant.max_instance_count} ({others})",
            fix,
        )
    return passed(ENDPOINT_NAME, f"'{quota_name}' is {value:.0f} ({others})")


def check_training_quota(deployment: Deployment, clients: ClientFactory) -> CheckResult | None:
    """Built-in object detection retrains on GPU instances, whose quota new accounts often have at 0."""
    if not isinstance(deployment.deploy.endpoint, ModelArtifactEndpoint):
        return None
    resources = deployment.pipeline.training.resources
    kind = "spot training job usage" if resources.spot else "training job usage"
    quota_name = f"{resources.instance_type} for {kind}"
    value = quota_value(clients, quota_name)
    if value is None:
        return _unknown(TRAINING_NAME, quota_name, resources.instance_type, deployment.region)
    if value < resources.instance_count:
        return failed(
            TRAINING_NAME,
            f"'{quota_name}' is {value:.0f}, a retraining run needs {resources.instance_count}: "
            "every run fails",
            _request_increase(quota_name, resources.instance_count, deployment.region),
        )
    return passed(TRAINING_NAME, f"'{quota_name}' is {value:.0f}, a run needs {resources.instance_count}")
