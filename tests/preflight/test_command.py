"""`hitl preflight` through click: the printed lines, --json, --strict and the exit code."""

from __future__ import annotations

import json

import boto3
import pytest
from click.testing import CliRunner
from moto import mock_aws

from hitl.cli import cli
from hitl.commands import preflight as command

from .conftest import BOOTSTRAP, CONTEXT, REGION, WorldClients
from .test_deployment import MANIFEST, write_manifest
from .test_endpoint import hosted_endpoint
from .test_runner import lambda_limits


@pytest.fixture
def world(monkeypatch):
    """The command's clients are the moto world's (with a Stubber for Lambda's account settings)."""
    with mock_aws():
        clients = WorldClients()
        monkeypatch.setattr(command, "session_clients", lambda profile, region: (clients, region or REGION))
        yield clients


def cdk_json(tmp_path, **deploy) -> str:
    path = tmp_path / "cdk.json"
    context = CONTEXT | {"hitl-deploy": CONTEXT["hitl-deploy"] | deploy}
    path.write_text(json.dumps({"app": "python app.py", "context": context}))
    return str(path)


def preflight(*args: str):
    return CliRunner().invoke(cli, ["preflight", *args])


def healthy(world, tmp_path, version: str = "30") -> list[str]:
    boto3.client("ssm").put_parameter(Name=BOOTSTRAP.parameter, Value=version, Type="String")
    hosted_endpoint()
    lambda_limits(world)
    return ["--config", cdk_json(tmp_path), "--assembly", str(write_manifest(tmp_path / "cdk.out", MANIFEST))]


def test_a_healthy_account_prints_one_pass_line_per_check_and_exits_0(world, tmp_path):
    result = preflight(*healthy(world, tmp_path))
    lines = result.output.splitlines()
    assert result.exit_code == 0, result.output
    assert [line.split()[:2] for line in lines[:-1]] == [
        ["PASS", "credentials"],
        ["PASS", "cdk-bootstrap"],
        ["PASS", "existing-endpoint"],
        ["PASS", "lambda-concurrency"],
        ["PASS", "sign-in-domain"],
    ]
    assert "-> fix:" not in result.output
    assert lines[-1] == "preflight: 5 pass, 0 warn, 0 fail"


def test_a_failure_prints_its_fix_and_exits_1(world, tmp_path):
    args = healthy(world, tmp_path, version="5")
    result = preflight(*args)
    assert result.exit_code == 1
    line = next(line for line in result.output.splitlines() if line.startswith("FAIL"))
    assert line.startswith("FAIL  cdk-bootstrap ")
    assert (
        "older than the 6 the app requires  -> fix: run `npx cdk bootstrap aws://123456789012/us-east-1`"
        in line
    )


def test_warnings_exit_0_unless_strict(world, tmp_path):
    args = healthy(world, tmp_path)
    args[args.index("--assembly") + 1] = str(tmp_path / "not-synthesized")
    result = preflight(*args)
    assert result.exit_code == 0
    assert "WARN  cdk-bootstrap " in result.output
    lambda_limits(world)
    assert preflight(*args, "--strict").exit_code == 1


def test_json_output_carries_every_result_and_the_exit_code(world, tmp_path):
    result = preflight(*healthy(world, tmp_path), "--json")
    document = json.loads(result.output)
    assert document["exit_code"] == result.exit_code == 0
    assert document["results"][0] == {
        "name": "credentials",
        "status": "pass",
        "message": "account 123456789012, region us-east-1, as arn:aws:sts::123456789012:user/moto",
        "fix": None,
    }
    assert {r["status"] for r in document["results"]} == {"pass"}


def test_a_bad_configuration_is_reported_before_any_call(world, tmp_path):
    result = preflight("--config", cdk_json(tmp_path, ingest_max_concurrency=1))
    assert result.exit_code == 1
    assert "hitl-deploy: ingest_max_concurrency" in result.output
    assert world.operations == []


def test_the_operators_session_and_region_are_used(tmp_path):
    with mock_aws():
        result = preflight(
            "--config", cdk_json(tmp_path), "--region", "eu-west-1", "--assembly", str(tmp_path)
        )
    assert result.output.splitlines()[0].startswith("PASS  credentials")
    assert "region eu-west-1" in result.output
    assert "aws://123456789012/eu-west-1 is not bootstrapped" in result.output
    assert result.exit_code == 1


def test_an_unknown_profile_is_a_clean_error(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    result = preflight("--config", cdk_json(tmp_path), "--profile", "nobody")
    assert result.exit_code == 1
    assert "The config profile (nobody) could not be found" in result.output
