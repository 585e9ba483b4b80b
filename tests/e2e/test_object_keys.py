"""Keys as a user writes them, dropped with boto3 and with the aws CLI (in parts too): ingest reads,
records and announces exactly the object that was put, once."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from e2e.e2e_helpers import all_decided, watch
from hitl.local.pipeline_view import PipelineView
from hitl.local.sample_photos import copy_sample_photos
from hitl.local.stack import ENV_FILE, LocalStack

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]
DECISIONS = {"Prediction Accepted", "Human Review Started", "Input Rejected"}


@pytest.fixture
def review_backend() -> str:
    return "builtin"


def cli_environment(state_dir: Path, home: Path) -> dict[str, str]:
    """`source .hitl/local.env`, as the stack tells a user to, and nothing of their own configuration."""
    environment = {"PATH": os.environ["PATH"], "HOME": str(home)}
    for line in (state_dir / ENV_FILE).read_text().splitlines():
        name, value = line.removeprefix("export ").split("=", 1)
        environment[name] = value
    return environment


def test_awkward_keys_reach_ingest_exactly_as_put(
    local_stack: LocalStack, endpoints: dict[str, Any], client: Callable[[str], Any], tmp_path: Path
) -> None:
    photos = {p.name: p for p in copy_sample_photos(tmp_path / "photos")}
    bucket = endpoints["buckets"]["input"]
    by_boto3 = {
        "incoming/keys/a b+c%20d.png": photos["chelsea.png"],
        "incoming/keys/x%2Fy.png": photos["coffee.png"],
    }
    by_cli = {"incoming/keys/q#hash?.png": photos["astronaut.png"]}
    big = tmp_path / "big.png"  # over the CLI's 8 MB multipart threshold: uploaded in parts
    big.write_bytes(photos["chelsea.png"].read_bytes() + b"\0" * (9 * 1024 * 1024))
    by_cli["incoming/keys/big 100%.png"] = big
    for key, photo in by_boto3.items():
        client("s3").put_object(Bucket=bucket, Key=key, Body=photo.read_bytes())
    for key, photo in by_cli.items():
        subprocess.run(
            ["aws", "s3", "cp", str(photo), f"s3://{bucket}/{key}"],
            env=cli_environment(local_stack.state_dir, tmp_path),
            check=True,
            capture_output=True,
            timeout=120,
        )
    keys = [*by_boto3, *by_cli]
    view = PipelineView(keys)

    watch(client, endpoints["queues"]["hitl-pipeline-events"]["url"], view, all_decided, timeout=60)

    listed = [
        o["Key"] for o in client("s3").list_objects_v2(Bucket=bucket, Prefix="incoming/keys/")["Contents"]
    ]
    assert sorted(listed) == sorted(keys)
    decided = [e for e in view.events if e["detail-type"] in DECISIONS]
    assert sorted(e["detail"]["image"]["key"] for e in decided) == sorted(keys)
    for event in decided:
        record_bucket, record_key = event["detail"]["record_uri"].removeprefix("s3://").split("/", 1)
        record = json.loads(client("s3").get_object(Bucket=record_bucket, Key=record_key)["Body"].read())
        assert record["source"]["key"] == event["detail"]["image"]["key"]
