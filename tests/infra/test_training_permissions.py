"""The retraining functions' real calls succeed with only the permissions their roles get in the template.

As test_permissions.py does for ingest and review: the role's policies are loaded into moto IAM,
the steps run with the role's credentials while moto enforces IAM, and every recorded call is
re-checked against the policies (`iam_harness.evaluate`: resources, `s3:prefix`, S3's 403 for
missing keys). A run of the dataset, judge and record steps, and a rollout's prepare and settle.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from iam_harness import REGION, CallRecorder, Names, as_role, evaluate, function_policies, without
from moto import mock_aws
from review.builders import BUS_NAME, TRAINING_BUCKET
from training.conftest import make_settings, put_manifests
from training.test_rollout_steps import finish_update, served_endpoint
from training.test_run_steps import lines, trained

from hitl_aws.publisher import EventPublisher
from hitl_training.rollout_steps import Rollout
from hitl_training.run_files import RunFiles
from hitl_training.run_steps import TrainingRun
from infra.training import ROLLOUT_HANDLER, TRAINING_HANDLER

pytestmark = pytest.mark.xdist_group("cdk")
ACCOUNT = "123456789012"


def names() -> Names:
    arn = f"arn:aws:{{}}:{REGION}:{ACCOUNT}:"
    return Names(
        refs={"PipelineBus": BUS_NAME, "MonitoringEndpoint": "alarm"},
        attributes={
            ("StorageTrainingData", "Arn"): f"arn:aws:s3:::{TRAINING_BUCKET}",
            ("PipelineBus", "Arn"): arn.format("events") + f"event-bus/{BUS_NAME}",
            ("TrainingStepsLogs", "Arn"): arn.format("logs") + "log-group:steps:*",
            ("TrainingRolloutStepsLogs", "Arn"): arn.format("logs") + "log-group:rollout:*",
            ("TrainingModelGuardLogs", "Arn"): arn.format("logs") + "log-group:guard:*",
        },
    )


@pytest.fixture
def world() -> Iterator[None]:
    with mock_aws():
        boto3.client("s3", region_name=REGION).create_bucket(Bucket=TRAINING_BUCKET)
        boto3.client("events", region_name=REGION).create_event_bus(Name=BUS_NAME)
        yield


def policies(synthesized: Any, handler: str) -> list[dict[str, Any]]:
    return function_policies(synthesized.templates["ModelArtifact"], handler, names())


def test_a_run_builds_judges_and_records_with_only_its_roles_permissions(synthesized, world: None) -> None:
    granted = policies(synthesized, TRAINING_HANDLER)
    put_manifests(lines(20))
    recorder = CallRecorder()

    with as_role(granted, "steps") as session:
        s3, events = recorder.attach(session.client("s3")), recorder.attach(session.client("events"))
        steps = TrainingRun(make_settings(), RunFiles(s3, TRAINING_BUCKET), EventPublisher(events, BUS_NAME))
        run = steps.build("exec-1")
        evaluation = steps.evaluate(run, trained(0.6))
        steps.completed(run, evaluation, None, trained(0.6))
        steps.failed(run, "TrainingJob", {"Error": "SageMaker.AmazonSageMakerException", "Cause": "quota"})

    assert run["action"] == "sagemaker"
    assert {"s3:GetObject", "s3:PutObject", "s3:ListBucket", "events:PutEvents"} <= {
        c.action for c in recorder.calls
    }
    assert evaluate(granted, recorder.calls) == []


def test_the_run_may_describe_the_job_that_trained_the_current_model(synthesized, world: None) -> None:
    """No recorded shape: it comes from DescribeTrainingJob on the job that wrote the model."""
    granted = policies(synthesized, TRAINING_HANDLER)
    recorder = CallRecorder()
    model = f"s3://{TRAINING_BUCKET}/training-runs/r-1/output/hitl-r-1/output/model.tar.gz"

    with as_role(granted, "steps-describe") as session:
        steps = TrainingRun(
            make_settings(model_uri=model),
            RunFiles(session.client("s3"), TRAINING_BUCKET),
            EventPublisher(session.client("events"), BUS_NAME),
            sagemaker=recorder.attach(session.client("sagemaker")),
        )
        # moto has no such job: the configured shape is the fallback.
        assert steps._model_shape({}, model)["base_network"] == "resnet-50"

    assert [c.resource for c in recorder.calls] == [
        f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:training-job/hitl-r-1"
    ]
    assert evaluate(granted, recorder.calls) == []


@pytest.fixture
def endpoint(world: None) -> str:
    return served_endpoint(boto3.client("sagemaker", region_name=REGION))


def test_a_rollout_prepares_claims_and_settles_with_only_its_roles_permissions(
    synthesized, endpoint: str
) -> None:
    granted = policies(synthesized, ROLLOUT_HANDLER)
    recorder = CallRecorder()
    sagemaker_admin = boto3.client("sagemaker", region_name=REGION)

    def steps(session: Any) -> Rollout:
        return Rollout(
            make_settings(),
            recorder.attach(session.client("sagemaker")),
            RunFiles(recorder.attach(session.client("s3")), TRAINING_BUCKET),
            EventPublisher(recorder.attach(session.client("events")), BUS_NAME),
            recorder.attach(session.client("ssm")),
        )

    with as_role(granted, "rollout") as session:
        prepared = steps(session).prepare(endpoint, "arn:aws:states:us-east-1:1:execution:m:abc")
        duplicate = steps(session).prepare(endpoint, "arn:aws:states:us-east-1:1:execution:m:other")
    finish_update(sagemaker_admin, prepared)
    with as_role(granted, "rollout-settle") as session:
        settled = steps(session).settle(prepared)

    assert (prepared["action"], duplicate["action"], settled["outcome"]) == ("rollout", "skip", "deployed")
    actions = {c.action for c in recorder.calls}
    assert {
        "sagemaker:DescribeEndpoint",
        "sagemaker:DescribeModel",
        "ssm:PutParameter",
        "s3:PutObject",
    } <= actions
    assert evaluate(granted, recorder.calls) == []
    assert evaluate(without(granted, "sagemaker:DescribeModel"), recorder.calls) != []
    assert (
        json.loads(
            boto3.client("ssm", region_name=REGION).get_parameter(Name="/hitl/detector/deployed-model")[
                "Parameter"
            ]["Value"]
        )["model_data_uri"]
        == "s3://m/2.tar.gz"
    )
