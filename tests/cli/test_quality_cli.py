"""`hitl quality report` and `hitl policy advise` over synthetic records: a folder, S3, the local stack."""

from __future__ import annotations

import json
import re
from pathlib import Path

import boto3
import pytest
from click.testing import CliRunner
from moto import mock_aws
from moto.server import ThreadedMotoServer

from hitl.cli import cli

NOW = "2026-12-07T00:00:00Z"
CONFIG = {
    "labels": ["person", "car", "dog"],
    "routing": {"preset": "top-score-below", "sampling_percentage": 10},
}


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("records")
    result = CliRunner().invoke(cli, ["quality", "synthetic", str(folder), "--images", "1500", "--now", NOW])
    assert result.exit_code == 0, result.output
    return folder


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(CONFIG))
    return path


def _report(args: list[str], config_file: Path, out: Path) -> tuple[str, str]:
    result = CliRunner().invoke(
        cli, ["quality", "report", *args, "--config", str(config_file), "--now", NOW, "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    return result.output, out.read_text()


def test_the_report_from_a_folder_is_written_with_its_figures_and_summarised(records, config_file, tmp_path):
    output, html = _report([str(records)], config_file, tmp_path / "out" / "report.html")
    lines = output.splitlines()
    assert lines[0] == f"Quality report: {tmp_path / 'out' / 'report.html'}"
    assert [line.split(":")[0].strip() for line in lines[1:4]] == ["Errors let through", "Drift", "Advisor"]
    assert set(re.findall(r'data-figure="([a-z-]+)"', html)) == {
        "class-quality",
        "review-rate",
        "errors-let-through",
        "advisor",
    }


def test_the_report_reads_an_s3_prefix(records, config_file, tmp_path):
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="training")
        for path in sorted(records.rglob("*.json"))[:400]:
            s3.put_object(Bucket="training", Key=str(path.relative_to(records)), Body=path.read_bytes())
        _, html = _report(["s3://training/"], config_file, tmp_path / "report.html")
    assert re.search(r"from (\d+) scored image\(s\)", html).group(1) == str(
        sum(1 for p in sorted(records.rglob("*.json"))[:400] if p.parts[len(records.parts)] == "predictions")
    )


def test_the_report_reads_the_local_stacks_training_bucket(records, config_file, tmp_path, monkeypatch):
    server = ThreadedMotoServer(port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1")
        s3.create_bucket(Bucket="local-training")
        for path in sorted(records.rglob("*.json"))[:200]:
            s3.put_object(Bucket="local-training", Key=str(path.relative_to(records)), Body=path.read_bytes())
        state = tmp_path / "state"
        state.mkdir()
        endpoints = {
            "region": "us-east-1",
            "endpoints": {"s3": url},
            "buckets": {"training": "local-training"},
        }
        (state / "endpoints.json").write_text(json.dumps(endpoints))
        for name in (
            "AWS_ENDPOINT_URL_S3",
            "AWS_DEFAULT_REGION",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
        ):
            monkeypatch.setenv(name, "restored-after-the-test")
        output, html = _report(["--local-stack", str(state)], config_file, tmp_path / "report.html")
    finally:
        server.stop()
    assert "scored image(s)" in html and "Quality report:" in output
    assert "from 0 scored" not in html


def test_without_a_source_or_a_stack_it_says_what_to_give(config_file, tmp_path):
    result = CliRunner().invoke(cli, ["quality", "report", "--config", str(config_file)])
    assert result.exit_code == 2 and "name a folder, a file or an s3:// prefix" in result.output
    result = CliRunner().invoke(
        cli, ["quality", "report", "--config", str(config_file), "--local-stack", str(tmp_path / "none")]
    )
    assert result.exit_code == 1 and "no running local stack" in result.output


def test_policy_advise_prints_each_threshold_and_the_answer(records, config_file):
    result = CliRunner().invoke(
        cli, ["policy", "advise", str(records), "--config", str(config_file), "--target", "0.2"]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["threshold", "reviewed", "wrong", "95%", "interval", "answers"]
    assert lines[1].split()[0] == "today" and lines[20].split()[0] == "0.95"
    assert lines[-1].startswith("advice for a target of 20.0%: threshold ")


def test_policy_advise_as_json_and_with_too_few_audits(records, config_file):
    result = CliRunner().invoke(
        cli,
        ["policy", "advise", str(records), "--config", str(config_file), "--json", "--min-audited", "100000"],
    )
    assert result.exit_code == 0, result.output
    advice = json.loads(result.output)
    assert advice["recommended"] is None and not advice["enough"]
    assert advice["reason"].startswith("too few audited images to answer")
    assert [c["threshold"] for c in advice["candidates"]][:3] == [0.05, 0.1, 0.15]
    bad = CliRunner().invoke(
        cli, ["policy", "advise", str(records), "--config", str(config_file), "--thresholds", "a"]
    )
    assert bad.exit_code == 2 and "not a list of numbers" in bad.output
