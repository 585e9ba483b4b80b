"""The demo's retraining preview: the dataset of the manifests the local stack wrote, and the gate."""

from __future__ import annotations

import boto3
from core.test_training_dataset import ATTR, LABELS, line
from moto import mock_aws

from hitl.local.training_preview import training_preview
from hitl_core.config import load_config
from hitl_core.training_dataset import manifest_text

REGION = "us-east-1"


def preview(*generations, **training):
    config = load_config({"labels": LABELS, "manifest_attribute": ATTR, "training": training})
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket="training")
        for number, lines in enumerate(generations, start=1):
            s3.put_object(
                Bucket="training", Key=f"manifests/{number:08d}.manifest", Body=manifest_text(lines)
            )
        if generations:
            s3.put_object(
                Bucket="training", Key="manifests/open.json", Body=f'{{"generation": {len(generations)}}}'
            )
        return training_preview(s3, "training", config)


def test_the_open_manifest_counts_too_and_the_gate_is_shown():
    lines = preview([line("a"), line("b", class_ids=())], [line("c")], min_new_answers=5)
    assert lines[0].startswith("Retraining preview (2 manifest(s)")
    assert lines[1].startswith("  Dataset: 3 image(s);") and "1 without boxes" in lines[1]
    assert lines[2] == "  gate: 3 new answer(s) since the last run, fewer than training.min_new_answers (5)"


def test_enough_answers_say_a_run_would_start():
    lines = preview([line(f"i{n}") for n in range(40)], min_new_answers=10, validation_fraction=0.2)
    assert lines[2] == "  gate: a run would start"


def test_the_first_manifest_counts_before_any_pointer_exists():
    config = load_config({"labels": LABELS, "manifest_attribute": ATTR})
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket="training")
        s3.put_object(Bucket="training", Key="manifests/00000001.manifest", Body=manifest_text([line("a")]))
        lines = training_preview(s3, "training", config)
    assert lines[1].startswith("  Dataset: 1 image(s);")


def test_no_manifest_yet():
    assert preview() == ["Retraining: no manifest yet"]
