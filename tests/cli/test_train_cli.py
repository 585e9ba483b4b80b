"""`hitl train plan` (local files and s3:// manifests, no SageMaker call) and `hitl train start`."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from click.testing import CliRunner
from core.test_training_dataset import ATTR, LABELS, line
from moto import mock_aws

from hitl.cli import cli
from hitl.commands import manifest_merge
from hitl_core.training_dataset import manifest_text

REGION = "us-east-1"
MODEL = "s3://team-models/detector/model.tar.gz"


def cdk_json(tmp_path: Path, endpoint: dict, **training) -> Path:
    path = tmp_path / "cdk.json"
    context = {
        "hitl": {
            "labels": LABELS,
            "manifest_attribute": ATTR,
            "training": {"min_new_answers": 5, **training},
        },
        "hitl-deploy": {"endpoint": endpoint},
    }
    path.write_text(json.dumps({"context": context}))
    return path


def sealed(tmp_path: Path, name: str, count: int, prefix: str = "i") -> Path:
    path = tmp_path / name
    path.write_text(manifest_text([line(f"{prefix}{n}", class_ids=(n % 3,)) for n in range(count)]))
    return path


def run(*args: str):
    return CliRunner().invoke(cli, ["train", *args], catch_exceptions=False)


def test_plan_prints_the_stats_and_the_exact_training_job_request(tmp_path):
    config = cdk_json(tmp_path, {"mode": "model-artifact", "model_data_url": MODEL})
    result = run(
        "plan", str(sealed(tmp_path, "1.manifest", 30)), str(sealed(tmp_path, "2.manifest", 10, "j")),
        "--config", str(config), "--region", "eu-west-1", "--bucket", "training",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Dataset: 40 image(s); train " in result.output
    assert "Training (model-artifact): would start: 40 new answer(s)" in result.output
    request = json.loads(result.output.split("request (run ", 1)[1].split("\n", 1)[1])
    assert request["AlgorithmSpecification"]["TrainingImage"].startswith("685385470294.dkr.ecr.eu-west-1.")
    assert request["InputDataConfig"][2]["DataSource"]["S3DataSource"]["S3Uri"] == MODEL
    assert request["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"].startswith(
        "s3://training/training-runs/r-"
    )


def test_plan_in_a_mode_the_stack_cannot_retrain_shows_the_dataset_only(tmp_path):
    config = cdk_json(tmp_path, {"mode": "existing-endpoint"})
    result = run("plan", str(sealed(tmp_path, "1.manifest", 30)), "--config", str(config), "--json")
    document = json.loads(result.output)
    assert document["stats"]["images"] == 30
    assert (document["plan"]["training"], document["plan"]["request"]) == ("not-retrainable", None)


def test_plan_counts_changes_against_the_previous_run_and_explains_why_nothing_starts(tmp_path):
    config = cdk_json(tmp_path, {"mode": "model-artifact", "model_data_url": MODEL})
    first = sealed(tmp_path, "1.manifest", 30)
    result = run("plan", str(first), "--config", str(config), "--previous", str(first))
    assert "Since the last run: 0 added, 0 re-answered" in result.output
    assert "would not start: 0 new answer(s) since the last run" in result.output
    assert "request (run" not in result.output


def test_plan_reads_s3_manifests_and_reports_a_bad_line(tmp_path, monkeypatch):
    config = cdk_json(tmp_path, {"mode": "model-artifact", "model_data_url": MODEL})
    with mock_aws():
        manifest_merge._s3.cache_clear()
        monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket="training")
        s3.put_object(
            Bucket="training", Key="manifests/00000001.manifest", Body=sealed(tmp_path, "a", 12).read_bytes()
        )
        s3.put_object(
            Bucket="training", Key="manifests/00000002.manifest", Body=b'{"source-ref": "s3://x/y.jpg"}\n'
        )
        good = run("plan", "s3://training/manifests/00000001.manifest", "--config", str(config), "--json")
        assert json.loads(good.output)["stats"]["images"] == 12
        bad = CliRunner().invoke(
            cli, ["train", "plan", "s3://training/manifests/00000002.manifest", "--config", str(config)]
        )
        manifest_merge._s3.cache_clear()
    assert bad.exit_code != 0
    assert "s3://training/manifests/00000002.manifest line 1:" in bad.output


@pytest.fixture
def state_machine(monkeypatch):
    with mock_aws():
        monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
        sfn = boto3.client("stepfunctions", region_name=REGION)
        arn = sfn.create_state_machine(
            name="training",
            definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
            roleArn="arn:aws:iam::123456789012:role/sfn",
        )["stateMachineArn"]
        yield sfn, arn


def test_start_starts_the_workflow_named_by_arn(state_machine):
    sfn, arn = state_machine
    result = run("start", "--state-machine-arn", arn)
    assert result.output.startswith("started arn:aws:states:")
    (execution,) = sfn.list_executions(stateMachineArn=arn)["executions"]
    assert json.loads(sfn.describe_execution(executionArn=execution["executionArn"])["input"]) == {
        "source": "hitl train start"
    }


def test_start_finds_the_workflow_in_the_stack_outputs(state_machine):
    sfn, arn = state_machine
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {"TrainingStateMachineArn": {"Value": arn}},
    }
    boto3.client("cloudformation", region_name=REGION).create_stack(
        StackName="HitlPipeline", TemplateBody=json.dumps(template)
    )
    assert run("start").exit_code == 0
    assert len(sfn.list_executions(stateMachineArn=arn)["executions"]) == 1
    missing = CliRunner().invoke(cli, ["train", "start", "--stack-name", "Other"])
    assert missing.exit_code != 0
    assert "cannot start the retraining workflow" in missing.output
