"""The whole preflight on healthy accounts of each kind the configuration allows: every check
passes, and every call it made is a Describe, Get, List or Head."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from hitl.preflight.clients import is_read_only
from hitl.preflight.result import Status, failed, passed, warned
from hitl.preflight.runner import exit_code, run_check, run_preflight

from .conftest import BOOTSTRAP, REGION, WorldClients, make_deployment
from .test_endpoint import PACKAGE_ARN, described_package, hosted_endpoint
from .test_model_classes import SHAPE, artifact_bytes
from .test_quotas import quota
from .test_rekognition import DATASET_ARN, PROJECT_ARN, VERSION_ARN
from .test_review_backend import TEAM_ARN, workteam
from .test_sign_in import ses_pool

CREATED = datetime(2026, 1, 1, tzinfo=UTC)


def bootstrapped() -> None:
    boto3.client("ssm").put_parameter(Name=BOOTSTRAP.parameter, Value="30", Type="String")


def lambda_limits(clients: WorldClients) -> None:
    clients.stub("lambda").add_response(
        "get_account_settings",
        {"AccountLimit": {"ConcurrentExecutions": 1000, "UnreservedConcurrentExecutions": 1000}},
    )


def quotas(clients: WorldClients, *names: str) -> None:
    for name in names:
        clients.stub("service-quotas").add_response("list_service_quotas", {"Quotas": [quota(name, 4)]})


def a2i_in_use(clients: WorldClients) -> None:
    stubber = clients.stub("sagemaker")
    stubber.add_response("list_workteams", {"Workteams": [workteam()]})
    stubber.add_response("list_flow_definitions", {"FlowDefinitionSummaries": []})
    stubber.add_response("list_human_task_uis", {"HumanTaskUiSummaries": []})
    stubber.add_response("list_workforces", {"Workforces": []})


def existing_endpoint_and_builtin(clients: WorldClients) -> tuple[dict, dict]:
    hosted_endpoint()
    lambda_limits(clients)
    return {}, {}


def artifact_with_a2i_and_a_new_workforce(clients: WorldClients) -> tuple[dict, dict]:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="models-bucket")
    s3.put_object(Bucket="models-bucket", Key="detector/model.tar.gz", Body=artifact_bytes(SHAPE))
    s3.put_object(Bucket="models-bucket", Key="base/train.manifest", Body=b"{}")
    quotas(clients, "ml.m5.xlarge for endpoint usage", "ml.p3.2xlarge for spot training job usage")
    lambda_limits(clients)
    a2i_in_use(clients)
    clients.stub("sagemaker").add_response("list_workforces", {"Workforces": []})
    deploy = {
        "endpoint": {"mode": "model-artifact", "model_data_url": "s3://models-bucket/detector/model.tar.gz"},
        "review": {"backend": "a2i"},
        "work_team": {"mode": "private", "create_workforce": True, "reviewers": ["a@x.org", "b@x.org"]},
    }
    training = {"base_manifest": "s3://models-bucket/base/train.manifest", "resources": {"spot": True}}
    return deploy, {"training": training}


def rekognition_with_an_ses_pool(clients: WorldClients) -> tuple[dict, dict]:
    project = {
        "ProjectArn": PROJECT_ARN,
        "CreationTimestamp": CREATED,
        "Datasets": [{"DatasetArn": DATASET_ARN}],
    }
    rekognition = clients.stub("rekognition")
    rekognition.add_response("describe_projects", {"ProjectDescriptions": [project]})
    rekognition.add_response(
        "describe_project_versions",
        {"ProjectVersionDescriptions": [{"ProjectVersionArn": VERSION_ARN, "Status": "RUNNING"}]},
    )
    rekognition.add_response("describe_projects", {"ProjectDescriptions": [project]})
    rekognition.add_response(
        "list_dataset_labels", {"DatasetLabelDescriptions": [{"LabelName": "cat"}, {"LabelName": "dog"}]}
    )
    lambda_limits(clients)
    boto3.client("ses").verify_email_identity(EmailAddress="reviews@example.com")
    clients.stub("sesv2").add_response(
        "get_account", {"ProductionAccessEnabled": True, "SendQuota": {"Max24HourSend": 50_000}}
    )
    pool_id = ses_pool()
    boto3.client("cognito-idp").create_user_pool_domain(Domain="login.example.com", UserPoolId=pool_id)
    deploy = {
        "endpoint": {"mode": "rekognition-custom-labels", "project_version_arn": VERSION_ARN},
        "review": {"backend": "builtin", "user_pool_id": pool_id, "user_pool_domain": "login.example.com"},
        "work_team": {"mode": "private", "reviewers": ["a@x.org"]},
    }
    pipeline = {"adapter": "rekognition-custom-labels", "labels": ["cat", "dog"], "review_labels": None}
    return deploy, pipeline


def marketplace_with_an_existing_work_team(clients: WorldClients) -> tuple[dict, dict]:
    sagemaker = clients.stub("sagemaker")
    sagemaker.add_response("describe_model_package", described_package("Completed", ["ml.m5.xlarge"]))
    quotas(clients, "ml.m5.xlarge for endpoint usage")
    lambda_limits(clients)
    a2i_in_use(clients)
    sagemaker.add_response("describe_workteam", {"Workteam": workteam()})
    deploy = {
        "endpoint": {"mode": "marketplace-model-package", "model_package_arn": PACKAGE_ARN},
        "review": {"backend": "a2i"},
        "work_team": {"mode": "existing", "arn": TEAM_ARN},
    }
    return deploy, {}


SCENARIOS = {
    existing_endpoint_and_builtin: [
        "credentials", "cdk-bootstrap", "existing-endpoint", "lambda-concurrency", "sign-in-domain",
    ],
    artifact_with_a2i_and_a_new_workforce: [
        "credentials", "cdk-bootstrap", "built-in-image", "model-artifact", "model-classes",
        "endpoint-instance-quota", "training-instance-quota", "base-manifest", "lambda-concurrency",
        "a2i-availability", "a2i-workforce", "invitation-email", "sign-in-domain",
    ],
    rekognition_with_an_ses_pool: [
        "credentials", "cdk-bootstrap", "rekognition-model", "detector-labels", "lambda-concurrency",
        "invitation-email", "sign-in-domain",
    ],
    marketplace_with_an_existing_work_team: [
        "credentials", "cdk-bootstrap", "model-package", "endpoint-instance-quota", "lambda-concurrency",
        "a2i-availability", "a2i-work-team",
    ],
}  # fmt: skip


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda scenario: scenario.__name__)
def test_a_healthy_account_passes_every_check_with_read_only_calls(clients, scenario):
    bootstrapped()
    deploy, pipeline = scenario(clients)
    deployment = make_deployment(deploy, pipeline)
    results = run_preflight(deployment.pipeline, deployment.deploy, BOOTSTRAP, REGION, clients)
    assert [(r.name, r.status, r.fix) for r in results] == [
        (name, Status.PASS, None) for name in SCENARIOS[scenario]
    ]
    assert clients.operations[0] == "GetCallerIdentity"
    assert [op for op in clients.operations if not is_read_only(op)] == []


def test_without_usable_credentials_nothing_else_runs(clients):
    deployment = make_deployment()
    results = run_preflight(deployment.pipeline, deployment.deploy, BOOTSTRAP, None, clients)
    assert [(r.name, r.status) for r in results] == [("credentials", Status.FAIL)]


def raising(error: Exception):
    def check(deployment, clients):
        raise error

    return check


def client_error(code: str, message: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


def test_a_refused_call_becomes_a_warning_naming_the_operation():
    check = raising(client_error("AccessDenied", "not allowed", "HeadObject"))
    result = run_check("model-artifact", check, make_deployment(), WorldClients())
    assert (result.name, result.status) == ("model-artifact", Status.WARN)
    assert result.message == "could not check: HeadObject was refused (AccessDenied)"
    assert "allow HeadObject" in result.fix


def test_any_other_service_error_becomes_a_warning_with_its_code():
    check = raising(client_error("ThrottlingException", "Rate exceeded", "ListServiceQuotas"))
    result = run_check("endpoint-instance-quota", check, make_deployment(), WorldClients())
    assert result.status is Status.WARN
    assert result.message == "could not check: ListServiceQuotas answered ThrottlingException Rate exceeded"


def test_an_unreachable_service_becomes_a_warning():
    check = raising(EndpointConnectionError(endpoint_url="https://rekognition.xx-east-1.amazonaws.com"))
    result = run_check("rekognition-model", check, make_deployment(), WorldClients())
    assert result.status is Status.WARN
    assert "Could not connect" in result.message


def test_only_failures_fail_unless_strict():
    ok, doubt, bad = passed("a", "ok"), warned("b", "maybe", "look"), failed("c", "no", "fix")
    assert exit_code([ok, doubt], strict=False) == 0
    assert exit_code([ok, doubt], strict=True) == 1
    assert exit_code([ok, bad], strict=False) == 1
    assert exit_code([ok], strict=True) == 0
