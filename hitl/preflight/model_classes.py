"""The built-in detector's class count and shape against `hitl.labels` and the training settings:
from the training job that wrote the artifact (SageMaker DescribeTrainingJob), else from the
artifact's own hyperparams.json when it lies in its first MiB (S3 GetObject with a Range)."""

from __future__ import annotations

import json
import tarfile
import zlib
from typing import Any

from botocore.exceptions import ClientError

from hitl.preflight.clients import ClientFactory, error_code
from hitl.preflight.deployment import Deployment
from hitl.preflight.result import CheckResult, failed, passed, warned
from hitl_core.training_requests import MODEL_SHAPE, model_shape, shape_mismatch, training_job_of
from infra.deploy_config import ModelArtifactEndpoint

NAME = "model-classes"
HEAD_BYTES = 1 << 20
HYPERPARAMETERS_FILE = "hyperparams.json"
TAR_BLOCK = 512


def hyperparameters_in(head: bytes) -> dict[str, Any] | None:
    """hyperparams.json from the first bytes of a model.tar.gz, None when it is not wholly in them."""
    data = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS).decompress(head)
    offset = 0
    while offset + TAR_BLOCK <= len(data):
        block = data[offset : offset + TAR_BLOCK]
        if block == bytes(TAR_BLOCK):
            return None
        try:
            member = tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
        except tarfile.TarError:
            return None
        start = offset + TAR_BLOCK
        if member.name.rsplit("/", 1)[-1] == HYPERPARAMETERS_FILE:
            if start + member.size > len(data):
                return None
            return json.loads(data[start : start + member.size])
        offset = start + -(-member.size // TAR_BLOCK) * TAR_BLOCK
    return None


def _job_hyperparameters(clients: ClientFactory, model_data_url: str) -> tuple[dict[str, Any], str] | None:
    job = training_job_of(model_data_url)
    if job is None:
        return None
    try:
        described = clients("sagemaker").describe_training_job(TrainingJobName=job)
    except ClientError as err:
        if error_code(err) not in ("ValidationException", "ResourceNotFound"):
            raise
        return None  # written by another account's job, or one since deleted
    return described.get("HyperParameters", {}), f"training job {job}"


def _artifact_hyperparameters(
    clients: ClientFactory, model_data_url: str
) -> tuple[dict[str, Any], str] | None:
    bucket, _, key = model_data_url.removeprefix("s3://").partition("/")
    try:
        head = (
            clients("s3").get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{HEAD_BYTES - 1}")["Body"].read()
        )
    except ClientError as err:
        if error_code(err) in ("NoSuchKey", "NoSuchBucket", "AccessDenied", "403", "404"):
            return None  # the model-artifact check reports it
        raise
    try:
        found = hyperparameters_in(head)
    except (zlib.error, ValueError):
        return None
    return (found, f"the artifact's {HYPERPARAMETERS_FILE}") if found is not None else None


def check_model_classes(deployment: Deployment, clients: ClientFactory) -> CheckResult | None:
    """The built-in algorithm's class ids index `hitl.labels`, and incremental training keeps the
    model's num_classes, base_network and image_shape: all three must match the configuration."""
    endpoint = deployment.deploy.endpoint
    if not isinstance(endpoint, ModelArtifactEndpoint) or endpoint.image_uri is not None:
        return None
    url = endpoint.model_data_url
    labels = deployment.pipeline.labels
    found = _job_hyperparameters(clients, url) or _artifact_hyperparameters(clients, url)
    if found is None:
        return warned(
            NAME,
            f"the model's class count cannot be read: no training job of this account wrote {url}, and "
            f"its {HYPERPARAMETERS_FILE} is not in the artifact's first MiB",
            f"check that the model has {len(labels)} classes (hitl.labels, in class-id order)",
        )
    hyperparameters, source = found
    shape = model_shape(hyperparameters)
    classes = shape.get("num_classes")
    if classes is not None and classes != str(len(labels)):
        past = (
            "; ingest rejects an image given a class id past the labels"
            if classes.isdigit() and int(classes) > len(labels)
            else ""
        )
        return failed(
            NAME,
            f"{source}: the model has {classes} classes, hitl.labels {len(labels)}{past}; "
            "incremental training refuses another class count",
            f"make hitl.labels the model's {classes} classes, in class-id order",
        )
    missing = [key for key in MODEL_SHAPE if key not in shape]
    if missing:
        settable = [key for key in missing if key != "num_classes"]
        return warned(
            NAME,
            f"{source} does not say the model's {', '.join(missing)}: retraining cannot start from it",
            f"set hitl.training.hyperparameters {' and '.join(settable)} to the model's"
            if settable
            else f"check that the model has {len(labels)} classes (hitl.labels, in class-id order)",
        )
    mismatch = shape_mismatch(shape, deployment.pipeline.training, labels)
    if mismatch is not None:
        return failed(NAME, f"{source}: {mismatch}", "set hitl.training.hyperparameters to the model's")
    return passed(
        NAME,
        f"{source}: {classes} classes as in hitl.labels, {shape['base_network']}, image_shape "
        f"{shape['image_shape']}",
    )
