"""The whole loop offline: photos dropped with boto3 become a valid Ground Truth manifest."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from e2e.e2e_helpers import (
    all_decided,
    all_reviewed,
    drop_photos,
    loop_statuses,
    reviewed_lines_in_manifest,
    submit,
    watch,
)
from hitl.local.pipeline_view import PipelineView
from hitl.local.sample_photos import copy_sample_photos
from hitl.local.stack import LocalStack

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


def test_dropped_photos_end_as_valid_manifest_lines(
    local_stack: LocalStack, endpoints: dict[str, Any], client: Callable[[str], Any], tmp_path: Path
) -> None:
    photos = copy_sample_photos(tmp_path / "photos")
    view = PipelineView(drop_photos(client, endpoints, photos, "e2e"))
    events_queue = endpoints["queues"]["hitl-pipeline-events"]["url"]

    watch(client, events_queue, view, all_decided)

    outcomes = {image.name: image.outcome for image in view.images.values()}
    assert set(outcomes.values()) <= {"accept", "review"}, outcomes
    assert "accept" in outcomes.values() and "review" in outcomes.values(), outcomes
    flow = endpoints["flow-definition-arn"]
    assert loop_statuses(client, flow) == dict.fromkeys(view.loops, "InProgress")

    a2i_url = endpoints["endpoints"]["sagemaker-a2i-runtime"]
    for name in view.loops:
        assert submit(a2i_url, name)["humanLoopStatus"] == "Completed"
    watch(client, events_queue, view, all_reviewed)

    assert loop_statuses(client, flow) == dict.fromkeys(view.loops, "Completed")
    described = client("sagemaker-a2i-runtime").describe_human_loop(HumanLoopName=next(iter(view.loops)))
    output_uri = described["HumanLoopOutput"]["OutputS3Uri"]
    assert output_uri.startswith(f"s3://{endpoints['buckets']['review-output']}/")
    assert {loop.state for loop in view.loops.values()} == {"Completed"}

    path = tmp_path / "manifest.jsonl"
    ours, validated = reviewed_lines_in_manifest(client, view, endpoints["buckets"]["input"], path)
    assert all(line["bounding-box-metadata"]["human-annotated"] == "yes" for line in ours)
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    assert f"{len(lines)} valid line(s)" in validated
