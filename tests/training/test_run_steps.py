"""The workflow's run steps against faked S3 and EventBridge: dataset, claims, gate, records."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import boto3
import pytest
from core.test_training_dataset import line as gt_line
from review.builders import REGION

from .conftest import MODEL_URI, make_settings, put_manifests, training_run


def lines(count: int, prefix: str = "i", date: str = "2026-01-01T00:00:00.000Z"):
    return [gt_line(f"{prefix}{n}", date, (n % 3,)) for n in range(count)]


IMAGE = "685385470294.dkr.ecr.eu-west-1.amazonaws.com/object-detection:1"


def trained(score: float | None) -> dict:
    metrics = [] if score is None else [{"MetricName": "validation:mAP", "Value": score}]
    return {
        "FinalMetricDataList": metrics,
        "ModelArtifacts": {
            "S3ModelArtifacts": "s3://hitl-training-test/training-runs/r/output/job/model.tar.gz"
        },
        "AlgorithmSpecification": {
            "TrainingImage": "685385470294.dkr.ecr.eu-west-1.amazonaws.com/object-detection:1"
        },
    }


def test_the_dataset_of_the_sealed_manifests_is_written_and_training_starts(files, event_tap):
    put_manifests(lines(20), lines(10, "j"), open_generation=2)
    run = training_run(files, make_settings()).build("exec-1")
    assert run["action"] == "sagemaker"
    stats = files.read_json(f"training-runs/{run['run_id']}/stats.json")
    assert stats["images"] == 20  # generation 2 is still open: not used
    train = files.read_text(f"training-runs/{run['run_id']}/train.manifest").splitlines()
    assert (
        len(train)
        == stats["train"]["images"]
        == int(run["request"]["HyperParameters"]["num_training_samples"])
    )
    assert run["request"]["InputDataConfig"][2]["DataSource"]["S3DataSource"]["S3Uri"] == MODEL_URI
    record = files.read_json(f"training-runs/{run['run_id']}/run.json")
    assert (record["status"], record["execution"]) == ("starting", "exec-1")
    events = [e["detail-type"] for e in event_tap.drain()]
    assert events == ["Training Dataset Built", "Training Started"]


def test_a_redelivered_trigger_starts_nothing_twice_but_a_retry_of_the_same_execution_goes_on(
    files, event_tap
):
    put_manifests(lines(20))
    steps = training_run(files, make_settings())
    first = steps.build("exec-1")
    assert steps.build("exec-1")["run_id"] == first["run_id"]
    duplicate = steps.build("exec-2")
    assert duplicate["action"] == "stop"
    assert "is starting" in duplicate["reason"]


def test_a_failed_run_may_be_retried_as_a_new_attempt(files, event_tap):
    put_manifests(lines(20))
    steps = training_run(files, make_settings())
    first = steps.build("exec-1")
    steps.failed(first, "Train", {"Error": "SageMaker.ResourceLimitExceeded", "Cause": "quota"})
    retry = steps.build("exec-2")
    assert retry["run_id"] == first["run_id"] + "-2"
    failed = files.read_json(f"training-runs/{first['run_id']}/run.json")
    assert (failed["status"], failed["failed_step"]) == ("failed", "Train")
    kinds = [e["detail-type"] for e in event_tap.drain()]
    assert "Training Failed" in kinds


def test_too_few_new_answers_build_the_dataset_but_start_nothing(files, event_tap):
    put_manifests(lines(3))
    run = training_run(files, make_settings()).build("exec-1")
    assert run["action"] == "stop"
    assert "fewer than training.min_new_answers (5)" in run["reason"]
    built = event_tap.drain()[0]
    assert (built["detail-type"], built["detail"]["training"]) == (
        "Training Dataset Built",
        "too-few-answers",
    )


def test_new_answers_are_counted_against_the_last_completed_run(files, event_tap):
    put_manifests(lines(20))
    steps = training_run(files, make_settings())
    run = steps.build("exec-1")
    evaluation = steps.evaluate(run, trained(0.3))
    steps.completed(
        run,
        evaluation,
        {"ModelPackageArn": "arn:aws:sagemaker:us-east-1:1:model-package/hitl-detector/1"},
        trained(0.3),
    )
    put_manifests(lines(20), lines(3, "k"))
    again = steps.build("exec-2")
    assert again["action"] == "stop"
    assert again["reason"].startswith("3 new answer(s)")


def test_marketplace_and_existing_endpoints_get_their_dataset_announced(files, event_tap):
    put_manifests(lines(20))
    run = training_run(files, make_settings("existing-endpoint")).build("exec-1")
    assert run["action"] == "stop"
    event = event_tap.drain()[0]
    assert event["detail"]["training"] == "not-retrainable"
    pointer = files.read_json("training-runs/last-dataset.json")
    assert pointer["run_id"] == run["run_id"]


def test_the_base_manifest_is_folded_first(files, event_tap):
    base = "".join(json.dumps(line) + "\n" for line in lines(4, "base"))
    files.write_text("base/base.manifest", base)
    put_manifests(lines(20))
    settings = make_settings(base_manifest="s3://hitl-training-test/base/base.manifest")
    run = training_run(files, settings).build("exec-1")
    assert files.read_json(f"training-runs/{run['run_id']}/stats.json")["images"] == 24


def test_the_gate_registers_a_better_model_pending_approval_and_not_a_worse_one(files, event_tap):
    put_manifests(lines(20))
    steps = training_run(files, make_settings())
    files.write_json("training-runs/current-model.json", {"model_data_uri": MODEL_URI, "score": 0.5})
    run = steps.build("exec-1")
    better = steps.evaluate(run, trained(0.6))
    assert better["register"] is True
    assert better["request"]["ModelApprovalStatus"] == "PendingManualApproval"
    assert better["request"]["ModelPackageGroupName"] == "hitl-detector"
    worse = steps.evaluate(run, trained(0.505))
    assert (worse["register"], worse["gate"]["decision"]) == (False, "keep-current")
    steps.completed(run, worse, None, trained(0.505))
    event = next(e for e in event_tap.drain() if e["detail-type"] == "Training Completed")["detail"]
    assert (event["new_score"], event["current_score"], event["decision"]) == (0.505, 0.5, "keep-current")
    assert event["next_step"] == "nothing: the current model stays"


def test_auto_approve_approves_only_a_model_that_passed_the_gate(files, event_tap):
    put_manifests(lines(20))
    steps = training_run(files, make_settings(auto_approve=True))
    run = steps.build("exec-1")
    no_baseline = steps.evaluate(run, trained(0.6))
    assert no_baseline["request"]["ModelApprovalStatus"] == "PendingManualApproval"
    files.write_json("training-runs/current-model.json", {"model_data_uri": MODEL_URI, "score": 0.5})
    assert steps.evaluate(run, trained(0.6))["request"]["ModelApprovalStatus"] == "Approved"


class FakeRekognition:
    def __init__(self, f1: float) -> None:
        self.f1 = f1
        self.calls: list[dict] = []

    def describe_project_versions(self, **kwargs):
        self.calls.append(kwargs)
        return {"ProjectVersionDescriptions": [{"EvaluationResult": {"F1Score": self.f1}}]}


def test_rekognition_versions_are_judged_on_f1_and_never_started(files, event_tap):
    project = "arn:aws:rekognition:us-east-1:123456789012:project/hitl/1700000000000"
    settings = make_settings("rekognition-custom-labels", rekognition_project_arn=project)
    settings = type(settings)(
        **{**vars(settings), "rekognition_project_version_arn": f"{project.rsplit('/', 1)[0]}/version/v1/1"}
    )
    fake = FakeRekognition(0.7)
    put_manifests(lines(20))
    steps = training_run(files, settings, fake)
    run = steps.build("exec-1")
    assert run["action"] == "rekognition"
    description = {
        "EvaluationResult": {"F1Score": 0.8},
        "ProjectVersionArn": f"{project}/version/{run['job_name']}/2",
    }
    evaluation = steps.evaluate(run, description)
    assert (evaluation["gate"]["decision"], evaluation["register"]) == ("deploy", False)
    assert fake.calls == [{"ProjectArn": project, "VersionNames": ["v1"]}]
    result = steps.completed(run, evaluation, None, description)
    assert result["decision"] == "deploy"
    completed = next(e for e in event_tap.drain() if e["detail-type"] == "Training Completed")["detail"]
    assert "aws rekognition start-project-version" in completed["next_step"]


# -- incremental training keeps the current model's shape -------------------------------------
JOB_MODEL = "s3://models/jobs/detector-2025/output/model.tar.gz"


def trained_job(hyperparameters: dict[str, str]) -> Any:
    """A SageMaker (moto) training job named as JOB_MODEL's folder says, with these hyperparameters."""
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    sagemaker.create_training_job(
        TrainingJobName="detector-2025",
        AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "Pipe"},
        RoleArn="arn:aws:iam::123456789012:role/hitl-training",
        HyperParameters=hyperparameters,
        OutputDataConfig={"S3OutputPath": "s3://models/jobs/"},
        ResourceConfig={"InstanceType": "ml.p3.2xlarge", "InstanceCount": 1, "VolumeSizeInGB": 50},
        StoppingCondition={"MaxRuntimeInSeconds": 3600},
    )
    return sagemaker


def test_the_first_run_keeps_the_network_and_image_shape_of_the_job_that_trained_the_model(files, event_tap):
    sagemaker = trained_job({"base_network": "vgg-16", "num_classes": "3", "image_shape": "300"})
    put_manifests(lines(20))
    settings = make_settings(model_uri=JOB_MODEL, hyperparameters={})
    run = training_run(files, settings, sagemaker=sagemaker).build("exec-1")
    hyperparameters = run["request"]["HyperParameters"]
    assert (hyperparameters["base_network"], hyperparameters["image_shape"]) == ("vgg-16", "300")
    assert hyperparameters["num_classes"] == "3"


def test_a_model_with_another_class_count_is_not_trained_on(files, event_tap):
    sagemaker = trained_job({"base_network": "resnet-50", "num_classes": "5", "image_shape": "512"})
    put_manifests(lines(20))
    run = training_run(files, make_settings(model_uri=JOB_MODEL), sagemaker=sagemaker).build("exec-1")
    assert run["action"] == "stop"
    assert "num_classes 5 (configured 3)" in run["reason"]


def test_a_model_of_unknown_shape_fails_the_run_naming_the_settings(files, event_tap):
    put_manifests(lines(20))
    settings = make_settings(hyperparameters={})
    steps = training_run(files, settings, sagemaker=boto3.client("sagemaker", region_name=REGION))
    with pytest.raises(ValueError, match=r"set training\.hyperparameters\.base_network and image_shape"):
        steps.build("exec-1")


def test_the_shape_of_a_rolled_out_model_is_carried_from_its_training_job_to_the_next_run(files, event_tap):
    put_manifests(lines(20))
    shape = {"base_network": "vgg-16", "num_classes": "3", "image_shape": "300"}
    first = training_run(files, make_settings())
    run = first.build("exec-1")
    metadata = first.evaluate(run, trained(0.6) | {"HyperParameters": shape | {"epochs": "30"}})["request"][
        "CustomerMetadataProperties"
    ]
    assert {k: metadata[k] for k in shape} == shape
    # What the rollout records from the package's metadata (test_rollout_steps.py)
    rolled_out = {"model_data_uri": MODEL_URI, "score": 0.6, "hyperparameters": shape}
    files.write_json("training-runs/current-model.json", rolled_out)
    put_manifests(lines(30))
    again = training_run(files, make_settings(hyperparameters={})).build("exec-2")
    assert again["request"]["HyperParameters"]["base_network"] == "vgg-16"


def test_images_outside_what_training_may_read_fail_the_run_before_it_is_claimed(files, event_tap):
    put_manifests(lines(20))
    settings = dataclasses.replace(make_settings(), image_locations=("s3://hitl-input/incoming/",))
    steps = training_run(files, settings)
    with pytest.raises(PermissionError, match=r"20 image\(s\) .* e\.g\. s3://images/i0\.jpg"):
        steps.build("exec-1")
    readable = dataclasses.replace(settings, image_locations=("s3://hitl-input/incoming/", "s3://images/"))
    assert training_run(files, readable).build("exec-1")["action"] == "sagemaker"


def test_a_job_that_set_no_network_or_shape_trained_the_algorithms_defaults(files, event_tap):
    """The built-in algorithm's own defaults are vgg-16 and 300 (not the configuration's resnet-50)."""
    sagemaker = trained_job({"num_classes": "3"})
    put_manifests(lines(20))
    settings = make_settings(model_uri=JOB_MODEL, hyperparameters={})
    hyperparameters = training_run(files, settings, sagemaker=sagemaker).build("exec-1")["request"][
        "HyperParameters"
    ]
    assert (hyperparameters["base_network"], hyperparameters["image_shape"]) == ("vgg-16", "300")
