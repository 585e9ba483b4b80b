"""A run's plan per detector mode, its id and layout, and the lines the CLI and demo print."""

from __future__ import annotations

import pytest

from hitl_core.config import load_config
from hitl_core.training_dataset import SourceManifest, build_dataset, manifest_text
from hitl_core.training_plan import RunLayout, describe_plan, plan_run, run_id_for

from .test_training_dataset import ATTR, LABELS, line

PROJECT = "arn:aws:rekognition:eu-west-1:111122223333:project/hitl/1700000000000"


def config(**training):
    return load_config({"labels": LABELS, "training": {"validation_fraction": 0.3, **training}})


def dataset(count=30, previous=None):
    lines = [line(f"i{n}", class_ids=(n % 3,)) for n in range(count)]
    return build_dataset(
        base=None,
        sealed=[SourceManifest("s3://t/00000001.manifest", manifest_text(lines))],
        attribute=ATTR,
        validation_fraction=0.3,
        num_classes=len(LABELS),
        previous=previous,
    )


def plan(mode, settings=None, data=None, model="s3://models/model.tar.gz"):
    data = data or dataset()
    settings = settings or config(min_new_answers=10)
    layout = RunLayout("training", "training-runs/", run_id_for(data, settings))
    return plan_run(
        dataset=data,
        config=settings,
        layout=layout,
        mode=mode,
        name_prefix="hitl",
        region="eu-west-1",
        role_arn="arn:aws:iam::111122223333:role/t",
        current_model_uri=model,
    )


def test_the_run_id_follows_the_data_and_settings_only():
    settings = config()
    assert run_id_for(dataset(), settings) == run_id_for(dataset(), settings)
    assert run_id_for(dataset(31), settings) != run_id_for(dataset(), settings)
    assert run_id_for(dataset(), config(min_new_answers=5)) != run_id_for(dataset(), settings)
    assert run_id_for(dataset(), settings, attempt=2).endswith("-2")


def test_the_built_in_detector_trains_on_from_the_current_model():
    result = plan("model-artifact")
    assert result.training == "starting"
    assert result.request["TrainingJobName"] == result.job_name
    assert result.job_name.startswith("hitl-r-")
    assert result.request["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"].endswith(
        "/train.manifest"
    )
    assert (
        result.request["InputDataConfig"][2]["DataSource"]["S3DataSource"]["S3Uri"]
        == "s3://models/model.tar.gz"
    )


def test_rekognition_trains_a_new_version_only_with_a_project():
    assert plan("rekognition-custom-labels").training == "not-retrainable"
    result = plan("rekognition-custom-labels", config(min_new_answers=10, rekognition_project_arn=PROJECT))
    assert result.training == "starting"
    assert result.request["ProjectArn"] == PROJECT
    assert result.request["VersionName"] == result.job_name


@pytest.mark.parametrize("mode", ["marketplace-model-package", "existing-endpoint"])
def test_modes_the_stack_cannot_retrain_still_get_their_dataset(mode):
    result = plan(mode)
    assert (result.training, result.request) == ("not-retrainable", None)
    assert "dataset is ready" in result.reason


def test_too_few_new_answers_stop_the_run_before_training():
    data = dataset()
    again = dataset(previous=data.lines)
    result = plan("model-artifact", data=again)
    assert result.training == "too-few-answers"
    assert "0 new answer(s)" in result.reason


def test_the_description_counts_and_says_what_would_happen():
    data = dataset()
    lines = describe_plan(plan("model-artifact", data=data), data.stats(LABELS))
    assert lines[0].startswith("Dataset: 30 image(s); train ")
    assert "Since the last run: 30 added, 0 re-answered" in lines
    assert lines[-1].startswith("Training (model-artifact): would start: 30 new answer(s)")
