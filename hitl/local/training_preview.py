"""What a retraining run would use, from the manifests the local stack wrote. The run itself needs
SageMaker and is not faked: the preview builds the same dataset the workflow's first step builds."""

from __future__ import annotations

from typing import Any

from hitl_core.config import PipelineConfig
from hitl_core.training_dataset import DatasetError, training_blocker
from hitl_core.training_plan import configured_dataset, describe_dataset
from hitl_training.run_files import RunFiles


def training_preview(s3: Any, bucket: str, config: PipelineConfig) -> list[str]:
    """A few summary lines: the dataset of every manifest so far (the open one too) and the gate."""
    manifests = RunFiles(s3, bucket).sealed_manifests(config.prefixes.manifests, include_open=True)
    if not manifests:
        return ["Retraining: no manifest yet"]
    try:
        dataset = configured_dataset(config, base=None, sealed=manifests, previous=None)
    except DatasetError as err:
        return [f"Retraining: the manifests cannot make a dataset: {err}"]
    gate = training_blocker(dataset, config.training.min_new_answers) or "a run would start"
    lines = describe_dataset(dataset.stats(config.labels))
    return [
        f"Retraining preview ({len(manifests)} manifest(s); training itself needs SageMaker):",
        f"  {lines[0]}",
        f"  gate: {gate}",
        "  hitl train plan MANIFEST --config cdk.json   (prints the exact training request)",
    ]
