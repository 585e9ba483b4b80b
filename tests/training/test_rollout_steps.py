"""The rollout steps against moto's SageMaker: requests from the endpoint's current config, settling."""

from __future__ import annotations

import dataclasses
import json

import boto3
import pytest
from review.builders import BUS_NAME, REGION

from hitl_aws.publisher import EventPublisher
from hitl_training.rollout_steps import Rollout

from .conftest import make_settings

ROLE = "arn:aws:iam::123456789012:role/hitl-model"
IMAGE = "685385470294.dkr.ecr.eu-west-1.amazonaws.com/object-detection:1"


def served_endpoint(sagemaker) -> str:
    """The stack's endpoint on its first model, and an approved package of the group; its ARN."""
    sagemaker.create_model(
        ModelName="initial",
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": "s3://m/1.tar.gz"},
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName="initial",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "initial",
                "InitialInstanceCount": 2,
                "InstanceType": "ml.m5.xlarge",
            }
        ],
    )
    sagemaker.create_endpoint(EndpointName="hitl-object-detector", EndpointConfigName="initial")
    group = sagemaker.create_model_package_group(ModelPackageGroupName="hitl-detector")
    assert group["ModelPackageGroupArn"]
    package = sagemaker.create_model_package(
        ModelPackageGroupName="hitl-detector",
        InferenceSpecification={
            "Containers": [{"Image": IMAGE, "ModelDataUrl": "s3://m/2.tar.gz"}],
            "SupportedContentTypes": ["image/jpeg"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
        ModelApprovalStatus="Approved",
        CustomerMetadataProperties={"run_id": "r-1", "metric": "validation:mAP", "score": "0.61"},
    )
    return package["ModelPackageArn"]


def finish_update(sagemaker, prepared) -> None:
    """What the workflow's own tasks leave: moto has no UpdateEndpoint, so the endpoint is recreated
    on the new config, as a finished update leaves it."""
    sagemaker.create_model(**prepared["model"])
    sagemaker.create_endpoint_config(**prepared["endpoint_config"])
    sagemaker.delete_endpoint(EndpointName="hitl-object-detector")
    sagemaker.create_endpoint(
        EndpointName="hitl-object-detector", EndpointConfigName=prepared["update"]["EndpointConfigName"]
    )


@pytest.fixture
def endpoint(aws):
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    return sagemaker, served_endpoint(sagemaker)


def rollout(files, sagemaker):
    return Rollout(
        make_settings(),
        sagemaker,
        files,
        EventPublisher(boto3.client("events", region_name=REGION), BUS_NAME),
        boto3.client("ssm", region_name=REGION),
    )


def test_the_new_config_copies_the_variants_and_the_update_rolls_back_on_the_alarms(
    files, endpoint, event_tap
):
    sagemaker, package = endpoint
    prepared = rollout(files, sagemaker).prepare(package, "arn:aws:states:us-east-1:1:execution:m:abc")
    assert prepared["model"]["PrimaryContainer"] == {"ModelPackageName": package}
    variant = prepared["endpoint_config"]["ProductionVariants"][0]
    assert (variant["InstanceType"], variant["InitialInstanceCount"]) == ("ml.m5.xlarge", 2)
    assert variant["ModelName"] == prepared["model"]["ModelName"]
    assert prepared["update"]["DeploymentConfig"]["AutoRollbackConfiguration"] == {
        "Alarms": [{"AlarmName": "hitl-errors"}]
    }
    assert prepared["previous_endpoint_config"] == "initial"


def test_a_finished_update_records_the_served_model_for_the_next_run_and_the_stack(
    files, endpoint, event_tap
):
    sagemaker, package = endpoint
    steps = rollout(files, sagemaker)
    prepared = steps.prepare(package, "arn:aws:states:us-east-1:1:execution:m:abc")
    finish_update(sagemaker, prepared)
    assert steps.settle(prepared) == {"settled": True, "outcome": "deployed"}
    served = files.read_json("training-runs/current-model.json")
    assert (served["model_data_uri"], served["score"]) == ("s3://m/2.tar.gz", 0.61)
    parameter = boto3.client("ssm", region_name=REGION).get_parameter(Name="/hitl/detector/deployed-model")
    assert json.loads(parameter["Parameter"]["Value"])["model_data_uri"] == "s3://m/2.tar.gz"
    assert [e["detail-type"] for e in event_tap.drain()] == ["Model Deployed"]


def test_an_endpoint_back_on_its_old_config_is_a_rollback(files, endpoint, event_tap):
    sagemaker, package = endpoint
    steps = rollout(files, sagemaker)
    prepared = steps.prepare(package, "arn:aws:states:us-east-1:1:execution:m:abc")
    assert steps.settle(prepared) == {"settled": True, "outcome": "rolled-back"}
    event = event_tap.drain()[0]
    assert event["detail-type"] == "Deployment Rolled Back"
    assert "serves initial again" in event["detail"]["reason"]
    assert files.read_json("training-runs/current-model.json") is None


@pytest.mark.parametrize("isolated", [True, False])
def test_the_rollouts_model_has_the_network_isolation_of_the_endpoints_model(files, endpoint, isolated):
    """Serverless endpoints refuse network isolation: the setting comes from the endpoint construct."""
    sagemaker, package = endpoint
    settings = dataclasses.replace(make_settings(), network_isolation=isolated)
    steps = Rollout(
        settings, sagemaker, files, EventPublisher(boto3.client("events", region_name=REGION), BUS_NAME)
    )
    prepared = steps.prepare(package, "arn:aws:states:us-east-1:1:execution:m:abc")
    assert prepared["model"]["EnableNetworkIsolation"] is isolated


def test_a_duplicate_approval_event_starts_no_second_rollout(files, endpoint, event_tap):
    sagemaker, package = endpoint
    steps = rollout(files, sagemaker)
    first = steps.prepare(package, "arn:aws:states:us-east-1:1:execution:m:first")
    duplicate = steps.prepare(package, "arn:aws:states:us-east-1:1:execution:m:second")
    assert first["action"] == "rollout"
    assert duplicate["action"] == "skip"
    assert "execution:m:first rolls this approval" in duplicate["reason"]
    # A retried step of the first execution goes on with the same requests.
    assert steps.prepare(package, "arn:aws:states:us-east-1:1:execution:m:first") == first


def test_an_endpoint_serving_or_updating_to_the_package_is_left_alone(files, endpoint, event_tap):
    sagemaker, package = endpoint
    steps = rollout(files, sagemaker)
    prepared = steps.prepare(package, "arn:aws:states:us-east-1:1:execution:m:abc")
    finish_update(sagemaker, prepared)
    later = steps.prepare(package, "arn:aws:states:us-east-1:1:execution:m:later")
    assert later == {"action": "skip", "reason": f"the endpoint serves {package}"}
    updating = {
        "EndpointName": "hitl-object-detector",
        "EndpointConfigName": "initial",
        "PendingDeploymentSummary": {"EndpointConfigName": prepared["update"]["EndpointConfigName"]},
    }
    assert steps._serving(updating, package) == "is updating to"


def test_a_served_model_deleted_since_does_not_stop_the_rollout(files, endpoint, event_tap):
    """SageMaker keeps serving a model whose definition was deleted; describing it is refused."""
    sagemaker, package = endpoint
    sagemaker.delete_model(ModelName="initial")
    prepared = rollout(files, sagemaker).prepare(package, "arn:aws:states:us-east-1:1:execution:m:abc")
    assert prepared["action"] == "rollout"
