"""The `training` section of the pipeline configuration: how reviewed answers become a dataset,
when a retraining run starts, how it trains and when its model may replace the current one.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# Hyperparameters the dataset and the incremental-training setup decide; configuration may not set them.
DERIVED_HYPERPARAMETERS = frozenset({"num_classes", "num_training_samples", "use_pretrained_model"})
DEFAULT_HYPERPARAMETERS = {
    "base_network": "resnet-50",
    "epochs": "30",
    "mini_batch_size": "16",
    "learning_rate": "0.001",
    "optimizer": "sgd",
    "momentum": "0.9",
    "weight_decay": "0.0005",
    "image_shape": "512",
}
_S3_OBJECT = r"^s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]/.+$"
_PROJECT_ARN = r"^arn:aws[a-z\-]*:rekognition:[a-z0-9\-]+:\d{12}:project/[^/]+/\d+$"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TrainingResources(_Section):
    """The training job's compute: instances, runtime limit, optional managed spot training."""

    instance_type: Annotated[str, Field(pattern=r"^ml\.[a-z0-9]+\.[a-z0-9]+$")] = "ml.p3.2xlarge"
    instance_count: Annotated[int, Field(ge=1, le=16)] = 1
    volume_size_gb: Annotated[int, Field(ge=1, le=16_384)] = 50
    max_runtime_seconds: Annotated[int, Field(ge=600, le=2_419_200)] = 86_400
    spot: bool = False
    max_wait_seconds: Annotated[int, Field(ge=600, le=2_419_200)] | None = None

    @model_validator(mode="after")
    def _spot_wait(self) -> TrainingResources:
        if self.max_wait_seconds is not None and not self.spot:
            raise ValueError("max_wait_seconds goes with spot training; set spot: true or drop it")
        if self.spot and (self.max_wait_seconds or self.max_runtime_seconds) < self.max_runtime_seconds:
            raise ValueError("max_wait_seconds must be at least max_runtime_seconds")
        return self

    @property
    def wait_seconds(self) -> int | None:
        """MaxWaitTimeInSeconds for a spot job (default: twice the runtime limit, capped at 28 days)."""
        if not self.spot:
            return None
        return self.max_wait_seconds or min(2 * self.max_runtime_seconds, 2_419_200)


class TrainingConfig(_Section):
    """See the README's "Retraining" section; every field has a default."""

    base_manifest: Annotated[str, Field(pattern=_S3_OBJECT)] | None = None
    validation_fraction: Annotated[float, Field(ge=0.01, le=0.5)] = 0.1
    min_new_answers: Annotated[int, Field(ge=1)] = 100
    min_improvement: Annotated[float, Field(ge=0, le=1)] = 0.01
    auto_approve: bool = False
    hyperparameters: dict[str, str] = {}
    resources: TrainingResources = TrainingResources()
    rekognition_project_arn: Annotated[str, Field(pattern=_PROJECT_ARN)] | None = None

    @field_validator("hyperparameters")
    @classmethod
    def _not_derived(cls, values: dict[str, str]) -> dict[str, str]:
        derived = sorted(DERIVED_HYPERPARAMETERS & values.keys())
        if derived:
            raise ValueError(f"{derived} are set from the dataset and the current model, not configured")
        return values

    @property
    def all_hyperparameters(self) -> dict[str, str]:
        """The defaults overlaid with the configured hyperparameters (derived ones excluded)."""
        return DEFAULT_HYPERPARAMETERS | self.hyperparameters
