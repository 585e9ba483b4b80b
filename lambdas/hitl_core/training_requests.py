"""The exact AWS requests a retraining run sends, built from the dataset and the configuration:
CreateTrainingJob (built-in object detection, incremental), CreateProjectVersion (Rekognition
Custom Labels), and the rollout's CreateModelPackage, CreateModel, CreateEndpointConfig and
UpdateEndpoint. Pure: the workflow passes these through to the service integrations.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hitl_core.algorithm_images import object_detection_image
from hitl_core.training_config import TrainingConfig

TRAINING_CHANNELS = ("train", "validation")
RECORDIO = "application/x-recordio"
MODEL_CONTENT_TYPE = "application/x-sagemaker-model"
IMAGE_CONTENT_TYPES = ["image/jpeg", "image/png"]
_NAME_PART = re.compile(r"[^a-zA-Z0-9-]+")
# What a model trained on incrementally must keep: the algorithm refuses another network, class count
# or image shape than the model's (and its own default network, vgg-16, is not the configured default).
MODEL_SHAPE = ("base_network", "num_classes", "image_shape")
# What the built-in algorithm uses when a job sets neither (its documented defaults).
ALGORITHM_SHAPE_DEFAULTS = {"base_network": "vgg-16", "image_shape": "300"}
# SageMaker writes a job's model to <S3OutputPath>/<job name>/output/model.tar.gz.
_JOB_OUTPUT = re.compile(
    r"^s3://[^/]+/(?:.*/)?(?P<job>[a-zA-Z0-9](?:-*[a-zA-Z0-9]){0,62})/output/model\.tar\.gz$"
)


@dataclass(frozen=True)
class DatasetLocation:
    """Where one run's training files are and how many images the train file holds."""

    train_uri: str
    validation_uri: str
    train_images: int


def resource_name(prefix: str, run_id: str, max_length: int = 63) -> str:
    """A SageMaker/Rekognition name (letters, digits, hyphens) for one run; the run id's end kept."""
    tail = _NAME_PART.sub("-", run_id).strip("-")
    head = _NAME_PART.sub("-", prefix).strip("-")[: max(1, max_length - len(tail) - 1)]
    return f"{head}-{tail}"[-max_length:].strip("-")


def training_job_of(model_uri: str) -> str | None:
    """The training job that wrote `model_uri`, when it lies where SageMaker writes a job's model."""
    match = _JOB_OUTPUT.match(model_uri)
    return match.group("job") if match else None


def model_shape(hyperparameters: Mapping[str, str]) -> dict[str, str]:
    """The hyperparameters (of a training job) that fix the model's shape."""
    return {key: str(hyperparameters[key]) for key in MODEL_SHAPE if key in hyperparameters}


def job_shape(hyperparameters: Mapping[str, str]) -> dict[str, str]:
    """The shape a training job gave its model: what it set, else the algorithm's own defaults."""
    return model_shape(ALGORITHM_SHAPE_DEFAULTS | dict(hyperparameters))


def shape_mismatch(model: Mapping[str, str], settings: TrainingConfig, labels: Sequence[str]) -> str | None:
    """Why the model cannot be trained on with this configuration, or None when it can."""
    wanted = {"num_classes": str(len(labels))} | model_shape(settings.hyperparameters)
    differing = [
        f"{key} {model[key]} (configured {wanted[key]})"
        for key in wanted
        if model.get(key) not in (None, wanted[key])
    ]
    missing = [key for key in MODEL_SHAPE if key not in model]
    if missing:
        return f"the current model's {', '.join(missing)} are unknown"
    if differing:
        return (
            "incremental training keeps the current model's "
            + ", ".join(differing)
            + "; change the configuration back, or train a new model outside the stack"
        )
    return None


def _augmented_channel(name: str, uri: str, attribute: str) -> dict[str, Any]:
    return {
        "ChannelName": name,
        "DataSource": {
            "S3DataSource": {
                "S3DataType": "AugmentedManifestFile",
                "S3Uri": uri,
                "S3DataDistributionType": "FullyReplicated",
                "AttributeNames": ["source-ref", attribute],
            }
        },
        "ContentType": RECORDIO,
        "RecordWrapperType": "RecordIO",
        "InputMode": "Pipe",
    }


def training_job_request(
    *,
    job_name: str,
    region: str,
    role_arn: str,
    dataset: DatasetLocation,
    attribute: str,
    labels: Sequence[str],
    current_model_uri: str,
    output_uri: str,
    checkpoint_uri: str,
    settings: TrainingConfig,
    model_hyperparameters: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """CreateTrainingJob for the built-in object detector, trained on from the current model.

    Pipe mode with augmented-manifest channels `train` and `validation`, and a `model` channel
    holding the current model.tar.gz with use_pretrained_model=0 (incremental training). The
    current model's shape (`model_hyperparameters`, see `MODEL_SHAPE`) wins over the configuration.
    """
    resources = settings.resources
    stopping: dict[str, int] = {"MaxRuntimeInSeconds": resources.max_runtime_seconds}
    if resources.wait_seconds is not None:
        stopping["MaxWaitTimeInSeconds"] = resources.wait_seconds
    hyperparameters = (
        settings.all_hyperparameters
        | model_shape(model_hyperparameters or {})
        | {
            "num_classes": str(len(labels)),
            "num_training_samples": str(dataset.train_images),
            "use_pretrained_model": "0",
        }
    )
    return {
        "TrainingJobName": job_name,
        "AlgorithmSpecification": {
            "TrainingImage": object_detection_image(region),
            "TrainingInputMode": "Pipe",
        },
        "RoleArn": role_arn,
        "HyperParameters": hyperparameters,
        "InputDataConfig": [
            _augmented_channel("train", dataset.train_uri, attribute),
            _augmented_channel("validation", dataset.validation_uri, attribute),
            {
                "ChannelName": "model",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": current_model_uri,
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
                "ContentType": MODEL_CONTENT_TYPE,
                "InputMode": "File",
            },
        ],
        "OutputDataConfig": {"S3OutputPath": output_uri},
        "ResourceConfig": {
            "InstanceType": resources.instance_type,
            "InstanceCount": resources.instance_count,
            "VolumeSizeInGB": resources.volume_size_gb,
        },
        "StoppingCondition": stopping,
        "EnableManagedSpotTraining": resources.spot,
        "CheckpointConfig": {"S3Uri": checkpoint_uri},
    }


def _s3_object(uri: str) -> dict[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return {"Bucket": bucket, "Name": key}


def project_version_request(
    *, project_arn: str, version_name: str, dataset: DatasetLocation, output_uri: str
) -> dict[str, Any]:
    """CreateProjectVersion on the train and validation manifests (the version is not started)."""
    bucket, _, prefix = output_uri.removeprefix("s3://").partition("/")
    return {
        "ProjectArn": project_arn,
        "VersionName": version_name,
        "OutputConfig": {"S3Bucket": bucket, "S3KeyPrefix": prefix},
        "TrainingData": {"Assets": [{"GroundTruthManifest": {"S3Object": _s3_object(dataset.train_uri)}}]},
        "TestingData": {
            "Assets": [{"GroundTruthManifest": {"S3Object": _s3_object(dataset.validation_uri)}}]
        },
    }


def start_model_command(project_version_arn: str, version_name: str, project_arn: str) -> str:
    """The command that starts a trained Rekognition version (billed per hour while running)."""
    return (
        f"aws rekognition start-project-version --project-version-arn {project_version_arn} "
        f"--min-inference-units 1  # then point hitl-deploy.endpoint.project_version_arn at it "
        f"(version {version_name} of {project_arn})"
    )


def model_package_request(
    *,
    group_name: str,
    image_uri: str,
    model_data_uri: str,
    approved: bool,
    description: str,
    metadata: Mapping[str, str],
) -> dict[str, Any]:
    """CreateModelPackage: the trained model in the group, approved or waiting for a person."""
    return {
        "ModelPackageGroupName": group_name,
        "ModelPackageDescription": description[:1000],
        "InferenceSpecification": {
            "Containers": [{"Image": image_uri, "ModelDataUrl": model_data_uri}],
            "SupportedContentTypes": IMAGE_CONTENT_TYPES,
            "SupportedResponseMIMETypes": ["application/json"],
        },
        "ModelApprovalStatus": "Approved" if approved else "PendingManualApproval",
        "CustomerMetadataProperties": dict(metadata),
    }


def model_request(
    *, model_name: str, role_arn: str, model_package_arn: str, network_isolation: bool = True
) -> dict[str, Any]:
    """CreateModel from an approved model package version."""
    return {
        "ModelName": model_name,
        "ExecutionRoleArn": role_arn,
        "PrimaryContainer": {"ModelPackageName": model_package_arn},
        "EnableNetworkIsolation": network_isolation,
    }


def endpoint_config_request(
    *, config_name: str, current: Mapping[str, Any], model_name: str
) -> dict[str, Any]:
    """CreateEndpointConfig: the endpoint's current config (DescribeEndpointConfig) with the new model.

    Every variant keeps its instance type, counts or serverless settings; only the model changes.
    """
    variants = []
    for variant in current["ProductionVariants"]:
        copied = {k: v for k, v in variant.items() if k not in {"ModelName", "VariantStatus"}}
        variants.append(copied | {"ModelName": model_name})
    request = {"EndpointConfigName": config_name, "ProductionVariants": variants}
    for key in ("KmsKeyId", "DataCaptureConfig", "AsyncInferenceConfig", "Tags"):
        if current.get(key):
            request[key] = current[key]
    return request


def update_endpoint_request(
    *, endpoint_name: str, config_name: str, alarm_names: Sequence[str], wait_seconds: int = 300
) -> dict[str, Any]:
    """UpdateEndpoint: blue/green, all traffic at once after a baking wait, rolled back automatically
    when any of `alarm_names` fires; instance counts (autoscaling's) are kept."""
    return {
        "EndpointName": endpoint_name,
        "EndpointConfigName": config_name,
        "RetainAllVariantProperties": True,
        "DeploymentConfig": {
            "BlueGreenUpdatePolicy": {
                "TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": wait_seconds},
                "TerminationWaitInSeconds": wait_seconds,
            },
            "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": name} for name in alarm_names]},
        },
    }
