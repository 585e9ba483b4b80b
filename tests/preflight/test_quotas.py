"""SageMaker instance quotas (Service Quotas for `sagemaker`, which moto lacks: botocore Stubber)."""

from __future__ import annotations

from hitl.preflight.quotas import check_endpoint_quota, check_training_quota
from hitl.preflight.result import Status

from .conftest import make_deployment, model_artifact

SAGEMAKER = {"ServiceCode": "sagemaker"}


def quota(name: str, value: float) -> dict:
    return {"ServiceCode": "sagemaker", "QuotaName": name, "QuotaCode": "L-0000", "Value": value}


def applied(clients, *quotas: dict) -> None:
    clients.stub("service-quotas").add_response("list_service_quotas", {"Quotas": list(quotas)}, SAGEMAKER)


def defaults(clients, *quotas: dict) -> None:
    clients.stub("service-quotas").add_response(
        "list_aws_default_service_quotas", {"Quotas": list(quotas)}, SAGEMAKER
    )


def test_an_endpoint_quota_of_0_fails(clients):
    applied(clients, quota("ml.m5.xlarge for endpoint usage", 0))
    result = check_endpoint_quota(make_deployment(model_artifact()), clients)
    assert result.status is Status.FAIL
    assert "'ml.m5.xlarge for endpoint usage' is 0, the endpoint starts 1" in result.message
    assert result.fix == (
        "request 'ml.m5.xlarge for endpoint usage' of at least 2 in Service Quotas (us-east-1)"
    )


def test_a_quota_below_the_autoscaling_maximum_warns(clients):
    applied(clients, quota("ml.m5.xlarge for endpoint usage", 1))
    assert check_endpoint_quota(make_deployment(model_artifact()), clients).status is Status.WARN


def test_a_quota_never_changed_is_read_from_the_defaults(clients):
    applied(clients, quota("ml.g4dn.xlarge for endpoint usage", 0))
    defaults(
        clients, quota("ml.g4dn.xlarge for endpoint usage", 0), quota("ml.g5.xlarge for endpoint usage", 4)
    )
    deployment = make_deployment(model_artifact(instance_type="ml.g5.xlarge", max_instance_count=4))
    assert check_endpoint_quota(deployment, clients).status is Status.PASS


def test_an_instance_type_without_a_quota_warns(clients):
    applied(clients)
    defaults(clients)
    result = check_endpoint_quota(make_deployment(model_artifact(instance_type="ml.zz9.huge")), clients)
    assert result.status is Status.WARN
    assert "no SageMaker quota named 'ml.zz9.huge for endpoint usage'" in result.message


def test_endpoints_the_stack_does_not_create_need_no_instance_quota(clients):
    assert check_endpoint_quota(make_deployment(), clients) is None
    serverless = make_deployment(model_artifact(kind="serverless"))
    assert check_endpoint_quota(serverless, clients) is None
    assert clients.operations == []


def test_a_training_quota_of_0_fails(clients):
    applied(clients, quota("ml.p3.2xlarge for training job usage", 0))
    result = check_training_quota(make_deployment(model_artifact()), clients)
    assert result.status is Status.FAIL
    assert "a retraining run needs 1" in result.message


def test_spot_training_reads_the_spot_quota(clients):
    applied(
        clients,
        quota("ml.p3.2xlarge for training job usage", 4),
        quota("ml.p3.2xlarge for spot training job usage", 0),
    )
    pipeline = {"training": {"resources": {"spot": True}}}
    result = check_training_quota(make_deployment(model_artifact(), pipeline), clients)
    assert result.status is Status.FAIL
    assert "'ml.p3.2xlarge for spot training job usage' is 0" in result.message


def test_training_quota_passes_when_the_run_fits(clients):
    applied(clients, quota("ml.p3.2xlarge for training job usage", 2))
    assert check_training_quota(make_deployment(model_artifact()), clients).status is Status.PASS


def test_only_the_built_in_detector_retrains_on_sagemaker(clients):
    assert check_training_quota(make_deployment(), clients) is None
