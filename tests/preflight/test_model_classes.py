"""The built-in detector's classes and shape: from the training job that wrote the artifact
(Stubber: moto has no such job), else the artifact's hyperparams.json (a real tar.gz in moto S3)."""

from __future__ import annotations

import gzip
import io
import json
import random
import tarfile

import boto3

from hitl.preflight.model_classes import check_model_classes, hyperparameters_in
from hitl.preflight.result import Status

from .conftest import ARTIFACT, make_deployment, model_artifact

JOB_ARTIFACT = "s3://models-bucket/training-runs/hitl-r-1/output/model.tar.gz"
SHAPE = {"num_classes": "80", "base_network": "resnet-50", "image_shape": "512", "epochs": "30"}


def artifact_bytes(hyperparameters: dict | None, before: bytes = b"") -> bytes:
    """A model.tar.gz as the built-in algorithm writes it: hyperparams.json and the parameters."""
    members = []
    if before:
        members.append(("model_algo_1-0000.params", before))
    if hyperparameters is not None:
        members.append(("hyperparams.json", json.dumps(hyperparameters).encode()))
    members.append(("model_algo_1-symbol.json", b"{}"))
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue())


def stored_artifact(body: bytes, url: str = ARTIFACT) -> None:
    bucket, _, key = url.removeprefix("s3://").partition("/")
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key=key, Body=body)


def written_by_job(clients, hyperparameters: dict) -> None:
    clients.stub("sagemaker").add_response(
        "describe_training_job",
        {
            "TrainingJobName": "hitl-r-1",
            "TrainingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:training-job/hitl-r-1",
            "ModelArtifacts": {"S3ModelArtifacts": JOB_ARTIFACT},
            "TrainingJobStatus": "Completed",
            "SecondaryStatus": "Completed",
            "HyperParameters": hyperparameters,
            "AlgorithmSpecification": {"TrainingInputMode": "Pipe"},
            "ResourceConfig": {"InstanceCount": 1, "VolumeSizeInGB": 50},
            "StoppingCondition": {},
            "CreationTime": "2026-01-01T00:00:00Z",
        },
        {"TrainingJobName": "hitl-r-1"},
    )


def job_deployment(**pipeline):
    deploy = model_artifact()
    deploy["endpoint"]["model_data_url"] = JOB_ARTIFACT
    return make_deployment(deploy, pipeline)


def test_the_training_jobs_shape_matches_the_configuration(clients):
    written_by_job(clients, SHAPE)
    result = check_model_classes(job_deployment(), clients)
    assert result.status is Status.PASS
    assert result.message == "training job hitl-r-1: 80 classes as in hitl.labels, resnet-50, image_shape 512"


def test_more_classes_than_labels_fails_for_ingest_and_training(clients):
    written_by_job(clients, SHAPE | {"num_classes": "91"})
    result = check_model_classes(job_deployment(), clients)
    assert result.status is Status.FAIL
    assert "the model has 91 classes, hitl.labels 80; ingest rejects" in result.message
    assert result.fix == "make hitl.labels the model's 91 classes, in class-id order"


def test_fewer_classes_than_labels_fails_for_training(clients):
    written_by_job(clients, SHAPE | {"num_classes": "20"})
    result = check_model_classes(job_deployment(), clients)
    assert result.status is Status.FAIL
    assert "ingest" not in result.message


def test_another_network_than_configured_fails(clients):
    written_by_job(clients, SHAPE)
    result = check_model_classes(
        job_deployment(training={"hyperparameters": {"base_network": "vgg-16"}}), clients
    )
    assert result.status is Status.FAIL
    assert "base_network resnet-50 (configured vgg-16)" in result.message


def test_without_the_job_the_artifacts_own_hyperparameters_tell(clients):
    clients.stub("sagemaker").add_client_error(
        "describe_training_job",
        service_error_code="ValidationException",
        service_message="Requested resource not found.",
    )
    stored_artifact(artifact_bytes(SHAPE), JOB_ARTIFACT)
    result = check_model_classes(job_deployment(), clients)
    assert result.status is Status.PASS
    assert result.message.startswith("the artifact's hyperparams.json: 80 classes")


def test_an_artifact_not_written_by_a_job_is_read_at_its_head(clients):
    stored_artifact(artifact_bytes(SHAPE | {"num_classes": "3"}))
    result = check_model_classes(make_deployment(model_artifact()), clients)
    assert result.status is Status.FAIL
    assert clients.operations == ["GetObject"]


def test_hyperparameters_past_the_first_mib_cannot_be_read(clients):
    weights = random.Random(0).randbytes(2 << 20)  # incompressible: stays past the first MiB
    stored_artifact(artifact_bytes(SHAPE, before=weights))
    result = check_model_classes(make_deployment(model_artifact()), clients)
    assert result.status is Status.WARN
    assert "not in the artifact's first MiB" in result.message


def test_an_artifact_that_does_not_say_its_network_warns(clients):
    stored_artifact(artifact_bytes({"num_classes": "80"}))
    result = check_model_classes(make_deployment(model_artifact()), clients)
    assert result.status is Status.WARN
    assert result.fix == "set hitl.training.hyperparameters base_network and image_shape to the model's"


def test_a_truncated_archive_yields_nothing():
    whole = artifact_bytes(SHAPE, before=b"x" * 4096)
    assert hyperparameters_in(whole) == SHAPE
    assert hyperparameters_in(whole[: len(whole) // 3]) is None


def test_only_the_built_in_algorithm_is_read(clients):
    own_image = model_artifact()
    own_image["endpoint"]["image_uri"] = "123456789012.dkr.ecr.us-east-1.amazonaws.com/detector:2"
    assert check_model_classes(make_deployment(own_image), clients) is None
    assert check_model_classes(make_deployment(), clients) is None
