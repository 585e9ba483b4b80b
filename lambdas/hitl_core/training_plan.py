"""One retraining run's plan: its id, where its files go, what it does in the deployed detector's
mode and the exact request it sends. Shared by the workflow's dataset step, `hitl train plan`
and the local demo, so all three show the same thing.

A run's id is a digest of its dataset and settings: a redelivered Manifest Sealed event builds
the same dataset, finds the run already claimed, and starts nothing twice.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from hitl_core.config import PipelineConfig
from hitl_core.training_dataset import Dataset, SourceManifest, build_dataset, manifest_text, training_blocker
from hitl_core.training_requests import (
    DatasetLocation,
    project_version_request,
    resource_name,
    shape_mismatch,
    training_job_request,
)

DetectorMode = Literal[
    "model-artifact", "rekognition-custom-labels", "marketplace-model-package", "existing-endpoint"
]
Training = Literal["starting", "too-few-answers", "not-retrainable"]
LAST_DATASET = "last-dataset.json"
CURRENT_MODEL = "current-model.json"


def configured_dataset(
    config: PipelineConfig,
    *,
    base: SourceManifest | None,
    sealed: Sequence[SourceManifest],
    previous: Sequence[Mapping[str, Any]] | None,
) -> Dataset:
    """The dataset the configuration asks for: its attribute, labels and validation fraction."""
    return build_dataset(
        base=base,
        sealed=sealed,
        attribute=config.manifest_attribute,
        validation_fraction=config.training.validation_fraction,
        num_classes=len(config.labels),
        previous=previous,
    )


def run_id_for(dataset: Dataset, config: PipelineConfig, attempt: int = 1) -> str:
    """`r-` + 16 hex digits of the folded manifest and the training settings, `-N` for a retry."""
    digest = hashlib.sha256(manifest_text(dataset.lines).encode("utf-8"))
    digest.update(config.training.model_dump_json().encode("utf-8"))
    return f"r-{digest.hexdigest()[:16]}" + (f"-{attempt}" if attempt > 1 else "")


@dataclass(frozen=True)
class RunLayout:
    """Where one run's files live in the training-data bucket: `<prefix><run_id>/<name>`."""

    bucket: str
    prefix: str
    run_id: str

    def key(self, name: str) -> str:
        return f"{self.prefix}{self.run_id}/{name}"

    def uri(self, name: str) -> str:
        return f"s3://{self.bucket}/{self.key(name)}"

    @property
    def last_dataset_key(self) -> str:
        """The pointer to the folded manifest the next run compares itself with."""
        return f"{self.prefix}{LAST_DATASET}"

    @property
    def current_model_key(self) -> str:
        """The model the endpoint serves and its score, written by the rollout."""
        return f"{self.prefix}{CURRENT_MODEL}"

    def location(self, dataset: Dataset) -> DatasetLocation:
        return DatasetLocation(
            train_uri=self.uri("train.manifest"),
            validation_uri=self.uri("validation.manifest"),
            train_images=len(dataset.train),
        )


@dataclass(frozen=True)
class RunPlan:
    """What a run does: start training (with this request), or stop after the dataset and why."""

    mode: DetectorMode
    training: Training
    reason: str
    job_name: str | None = None
    request: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "training": self.training,
            "reason": self.reason,
            "job_name": self.job_name,
            "request": self.request,
        }


def plan_run(
    *,
    dataset: Dataset,
    config: PipelineConfig,
    layout: RunLayout,
    mode: DetectorMode,
    name_prefix: str,
    region: str,
    role_arn: str,
    current_model_uri: str | None,
    model_hyperparameters: Mapping[str, str] | None = None,
) -> RunPlan:
    """The run's plan in `mode`: the built-in detector trains on from `current_model_uri` (keeping its
    `model_hyperparameters` when known: None is a preview's "not looked up"), a Rekognition project
    gets a new version; other modes cannot be retrained by the stack."""
    settings = config.training
    if mode in ("marketplace-model-package", "existing-endpoint"):
        return RunPlan(
            mode, "not-retrainable", f"a {mode} detector is not retrained by the stack; the dataset is ready"
        )
    if mode == "rekognition-custom-labels" and settings.rekognition_project_arn is None:
        return RunPlan(mode, "not-retrainable", "set training.rekognition_project_arn to train new versions")
    if mode == "model-artifact" and current_model_uri is None:
        return RunPlan(mode, "not-retrainable", "no current model artifact to train on from")
    if mode == "model-artifact" and model_hyperparameters is not None:
        mismatch = shape_mismatch(model_hyperparameters, settings, config.labels)
        if mismatch is not None:
            return RunPlan(mode, "not-retrainable", mismatch)
    blocker = training_blocker(dataset, settings.min_new_answers)
    if blocker is not None:
        return RunPlan(mode, "too-few-answers", blocker)
    job_name = resource_name(name_prefix, layout.run_id)
    if mode == "rekognition-custom-labels":
        assert settings.rekognition_project_arn is not None
        request = project_version_request(
            project_arn=settings.rekognition_project_arn,
            version_name=job_name,
            dataset=layout.location(dataset),
            output_uri=layout.uri("output/"),
        )
    else:
        assert current_model_uri is not None
        request = training_job_request(
            job_name=job_name,
            region=region,
            role_arn=role_arn,
            dataset=layout.location(dataset),
            attribute=dataset.attribute,
            labels=config.labels,
            current_model_uri=current_model_uri,
            output_uri=layout.uri("output/"),
            checkpoint_uri=layout.uri("checkpoints/"),
            settings=settings,
            model_hyperparameters=model_hyperparameters,
        )
    sizes = f"{len(dataset.train)} train, {len(dataset.validation)} validation"
    reason = f"{dataset.changes.new_answers} new answer(s); {sizes}"
    return RunPlan(mode, "starting", reason, job_name, request)


def describe_dataset(stats: dict[str, Any]) -> list[str]:
    """A few human lines about a dataset's stats.json: counts, changes, train boxes per class."""
    train, validation = stats["train"], stats["validation"]
    lines = [
        f"Dataset: {stats['images']} image(s); train {train['images']} ({train['boxes']} boxes), "
        f"validation {validation['images']} ({validation['boxes']} boxes); "
        f"{stats['empty_images']} without boxes (not trained on); "
        f"{len(stats['invalid_lines'])} invalid line(s) left out",
        f"Since the last run: {stats['changes']['added']} added, {stats['changes']['updated']} re-answered",
    ]
    if train["boxes_per_class"]:
        lines.append("Train boxes per class: " + json.dumps(train["boxes_per_class"]))
    return lines


def describe_plan(plan: RunPlan, stats: dict[str, Any]) -> list[str]:
    """The dataset's lines and what a run would do (for the CLI)."""
    verdict = {
        "starting": "would start",
        "too-few-answers": "would not start",
        "not-retrainable": "cannot train",
    }
    return [*describe_dataset(stats), f"Training ({plan.mode}): {verdict[plan.training]}: {plan.reason}"]
