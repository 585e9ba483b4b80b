"""The retraining requests, checked by botocore's Stubber against the real service API models."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from hitl_core.algorithm_images import OBJECT_DETECTION_REGISTRIES, object_detection_image
from hitl_core.config import load_config
from hitl_core.training_requests import (
    DatasetLocation,
    endpoint_config_request,
    model_package_request,
    model_request,
    project_version_request,
    resource_name,
    training_job_request,
    update_endpoint_request,
)

REGION = "eu-west-1"
ROLE = "arn:aws:iam::111122223333:role/hitl-training"
DATASET = DatasetLocation(
    train_uri="s3://training/training-runs/r1/train.manifest",
    validation_uri="s3://training/training-runs/r1/validation.manifest",
    train_images=917,
)


def sent(service: str, operation: str, request: dict[str, Any], response: dict[str, Any]) -> None:
    """Send `request` through a stubbed client: Stubber refuses parameters the API model rejects."""
    client = boto3.client(service, region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stubber:
        stubber.add_response(operation, response, expected_params=request)
        getattr(client, operation)(**request)
        stubber.assert_no_pending_responses()


def training(**section):
    return load_config({"labels": ["person", "bicycle", "car"], "training": section}).training


def job(**section) -> dict[str, Any]:
    return training_job_request(
        job_name=resource_name("hitl-od", "20260101T000000Z-abc123"),
        region=REGION,
        role_arn=ROLE,
        dataset=DATASET,
        attribute="bounding-box",
        labels=["person", "bicycle", "car"],
        current_model_uri="s3://models/current/model.tar.gz",
        output_uri="s3://training/training-runs/r1/output/",
        checkpoint_uri="s3://training/training-runs/r1/checkpoints/",
        settings=training(**section),
    )


def test_the_training_job_is_incremental_pipe_mode_on_augmented_manifests():
    request = job(hyperparameters={"epochs": "4"})
    sent("sagemaker", "create_training_job", request, {"TrainingJobArn": "arn:aws:sagemaker:eu-west-1:1:x"})
    assert request["AlgorithmSpecification"] == {
        "TrainingImage": f"{OBJECT_DETECTION_REGISTRIES[REGION]}.dkr.ecr.{REGION}.amazonaws.com/"
        "object-detection:1",
        "TrainingInputMode": "Pipe",
    }
    train, validation, model = request["InputDataConfig"]
    assert [c["ChannelName"] for c in request["InputDataConfig"]] == ["train", "validation", "model"]
    for channel, uri in ((train, DATASET.train_uri), (validation, DATASET.validation_uri)):
        source = channel["DataSource"]["S3DataSource"]
        assert source["S3DataType"] == "AugmentedManifestFile"
        assert source["AttributeNames"] == ["source-ref", "bounding-box"]
        assert source["S3Uri"] == uri
        assert (channel["RecordWrapperType"], channel["ContentType"]) == (
            "RecordIO",
            "application/x-recordio",
        )
    assert model["DataSource"]["S3DataSource"]["S3Uri"] == "s3://models/current/model.tar.gz"
    hyperparameters = request["HyperParameters"]
    assert hyperparameters["num_classes"] == "3"
    assert hyperparameters["num_training_samples"] == "917"
    assert hyperparameters["use_pretrained_model"] == "0"
    assert hyperparameters["epochs"] == "4"
    assert request["EnableManagedSpotTraining"] is False
    assert "MaxWaitTimeInSeconds" not in request["StoppingCondition"]


def test_spot_training_sets_a_wait_limit_and_keeps_checkpoints():
    request = job(resources={"spot": True, "max_runtime_seconds": 3600, "instance_type": "ml.g4dn.xlarge"})
    sent("sagemaker", "create_training_job", request, {"TrainingJobArn": "arn:aws:sagemaker:eu-west-1:1:x"})
    assert request["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600, "MaxWaitTimeInSeconds": 7200}
    assert request["CheckpointConfig"] == {"S3Uri": "s3://training/training-runs/r1/checkpoints/"}
    assert request["ResourceConfig"]["InstanceType"] == "ml.g4dn.xlarge"


def test_a_region_without_the_built_in_image_is_refused():
    with pytest.raises(ValueError, match="not offered in xx-east-9"):
        object_detection_image("xx-east-9")
    assert object_detection_image("cn-north-1").endswith(".amazonaws.com.cn/object-detection:1")


def test_names_fit_sagemaker_and_keep_the_run_id():
    name = resource_name("a" * 80, "20260101T000000Z-abc123")
    assert len(name) <= 63 and name.endswith("20260101T000000Z-abc123")
    assert resource_name("hitl od_x", "r:1") == "hitl-od-x-r-1"


def test_the_rekognition_version_trains_on_both_manifests():
    project = "arn:aws:rekognition:eu-west-1:111122223333:project/hitl/1700000000000"
    request = project_version_request(
        project_arn=project,
        version_name="hitl-r1",
        dataset=DATASET,
        output_uri="s3://training/training-runs/r1/",
    )
    sent(
        "rekognition",
        "create_project_version",
        request,
        {"ProjectVersionArn": f"{project}/version/hitl-r1/1"},
    )
    assert request["TrainingData"]["Assets"][0]["GroundTruthManifest"]["S3Object"] == {
        "Bucket": "training",
        "Name": "training-runs/r1/train.manifest",
    }
    assert request["TestingData"]["Assets"][0]["GroundTruthManifest"]["S3Object"]["Name"].endswith(
        "validation.manifest"
    )


@pytest.mark.parametrize(("approved", "status"), [(False, "PendingManualApproval"), (True, "Approved")])
def test_the_model_package_waits_for_approval_unless_auto_approved(approved, status):
    request = model_package_request(
        group_name="hitl-detector",
        image_uri=object_detection_image(REGION),
        model_data_uri="s3://training/training-runs/r1/output/job/output/model.tar.gz",
        approved=approved,
        description="run r1: validation:mAP 0.52 vs 0.48",
        metadata={"run_id": "r1", "validation_mAP": "0.52"},
    )
    sent(
        "sagemaker",
        "create_model_package",
        request,
        {"ModelPackageArn": "arn:aws:sagemaker:eu-west-1:1:mp/x/1"},
    )
    assert request["ModelApprovalStatus"] == status


def test_the_rollout_copies_the_current_variants_and_updates_blue_green_with_rollback():
    package = "arn:aws:sagemaker:eu-west-1:111122223333:model-package/hitl-detector/3"
    model = model_request(model_name="hitl-r1", role_arn=ROLE, model_package_arn=package)
    sent("sagemaker", "create_model", model, {"ModelArn": "arn:aws:sagemaker:eu-west-1:1:model/hitl-r1"})
    current = {
        "EndpointConfigName": "old",
        "EndpointConfigArn": "arn:aws:sagemaker:eu-west-1:1:endpoint-config/old",
        "CreationTime": "2026-01-01T00:00:00Z",
        "ProductionVariants": [
            {
                "VariantName": "AllTraffic",
                "ModelName": "old-model",
                "InitialInstanceCount": 2,
                "InstanceType": "ml.m5.xlarge",
                "InitialVariantWeight": 1.0,
            }
        ],
    }
    config = endpoint_config_request(config_name="hitl-r1", current=current, model_name="hitl-r1")
    sent(
        "sagemaker",
        "create_endpoint_config",
        config,
        {"EndpointConfigArn": "arn:aws:sagemaker:eu-west-1:1:ec/x"},
    )
    assert config["ProductionVariants"] == [
        {
            "VariantName": "AllTraffic",
            "ModelName": "hitl-r1",
            "InitialInstanceCount": 2,
            "InstanceType": "ml.m5.xlarge",
            "InitialVariantWeight": 1.0,
        }
    ]
    update = update_endpoint_request(
        endpoint_name="hitl-object-detector", config_name="hitl-r1", alarm_names=["a", "b"]
    )
    sent("sagemaker", "update_endpoint", update, {"EndpointArn": "arn:aws:sagemaker:eu-west-1:1:endpoint/x"})
    assert update["RetainAllVariantProperties"] is True
    assert update["DeploymentConfig"]["AutoRollbackConfiguration"] == {
        "Alarms": [{"AlarmName": "a"}, {"AlarmName": "b"}]
    }
    assert "BlueGreenUpdatePolicy" in update["DeploymentConfig"]
