"""Fixtures for the training steps: faked S3/EventBridge/SSM, settings, manifests, an event tap."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from core.test_training_dataset import LABELS
from moto import mock_aws
from review.builders import BUS_NAME, REGION, TRAINING_BUCKET, EventTap

from hitl_aws.publisher import EventPublisher
from hitl_core.config import load_config
from hitl_core.training_dataset import manifest_text
from hitl_training.run_files import RunFiles
from hitl_training.run_steps import TrainingRun
from hitl_training.settings import TrainingSettings

MODEL_URI = "s3://models/initial/model.tar.gz"
# The configured model's shape (a model no training job of the account wrote must be described so).
MODEL_SHAPE = {"base_network": "resnet-50", "image_shape": "512"}


def put_manifests(*generations: list[dict[str, Any]], open_generation: int | None = None) -> None:
    """Write generations 1..N under manifests/ and point open.json past the sealed ones."""
    s3 = boto3.client("s3", region_name=REGION)
    for number, lines in enumerate(generations, start=1):
        s3.put_object(
            Bucket=TRAINING_BUCKET, Key=f"manifests/{number:08d}.manifest", Body=manifest_text(lines)
        )
    pointer = open_generation or len(generations) + 1
    s3.put_object(Bucket=TRAINING_BUCKET, Key="manifests/open.json", Body=f'{{"generation": {pointer}}}')


def make_settings(
    mode: str = "model-artifact", model_uri: str = MODEL_URI, **training: Any
) -> TrainingSettings:
    config = load_config(
        {
            "labels": LABELS,
            "training": {
                "validation_fraction": 0.25,
                "min_new_answers": 5,
                "hyperparameters": MODEL_SHAPE,
                **training,
            },
        }
    )
    return TrainingSettings(
        config=config,
        event_bus_name=BUS_NAME,
        training_bucket=TRAINING_BUCKET,
        mode=mode,  # type: ignore[arg-type]
        name_prefix="hitl",
        region=REGION,
        training_role_arn="arn:aws:iam::123456789012:role/hitl-training",
        configured_model_uri=model_uri if mode == "model-artifact" else None,
        endpoint_name="hitl-object-detector",
        rollback_alarms=("hitl-errors",),
        model_role_arn="arn:aws:iam::123456789012:role/hitl-model",
        deployed_model_parameter="/hitl/detector/deployed-model",
    )


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        boto3.client("s3", region_name=REGION).create_bucket(Bucket=TRAINING_BUCKET)
        yield


@pytest.fixture
def event_tap(aws: None) -> EventTap:
    return EventTap()


@pytest.fixture
def files(aws: None) -> RunFiles:
    return RunFiles(boto3.client("s3", region_name=REGION), TRAINING_BUCKET)


def training_run(
    files: RunFiles, settings: TrainingSettings, rekognition: Any = None, sagemaker: Any = None
) -> TrainingRun:
    publisher = EventPublisher(boto3.client("events", region_name=REGION), BUS_NAME)
    return TrainingRun(settings, files, publisher, rekognition, sagemaker)
