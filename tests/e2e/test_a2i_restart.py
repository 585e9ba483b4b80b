"""The A2I runtime restarted mid-way loses no loop, answer or status event."""

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
    manifest_file,
    submit,
    watch,
)
from hitl.local.pipeline_view import PipelineView
from hitl.local.sample_photos import copy_sample_photos
from hitl.local.stack import LocalStack

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


def test_restarting_a2i_between_answers_loses_nothing(
    local_stack: LocalStack, endpoints: dict[str, Any], client: Callable[[str], Any], tmp_path: Path
) -> None:
    photos = copy_sample_photos(tmp_path / "photos")
    view = PipelineView(drop_photos(client, endpoints, photos, "restart"))
    events_queue = endpoints["queues"]["hitl-pipeline-events"]["url"]
    flow = endpoints["flow-definition-arn"]
    a2i_url = endpoints["endpoints"]["sagemaker-a2i-runtime"]
    watch(client, events_queue, view, all_decided)
    first, *rest = sorted(view.loops)
    assert rest, "the sample photos should start at least two reviews"

    local_stack.restart_a2i()
    assert loop_statuses(client, flow) == dict.fromkeys(view.loops, "InProgress")
    submit(a2i_url, first)
    local_stack.restart_a2i()
    assert loop_statuses(client, flow)[first] == "Completed"
    for name in rest:
        submit(a2i_url, name)
    local_stack.restart_a2i()
    watch(client, events_queue, view, all_reviewed)

    assert {loop.state for loop in view.loops.values()} == {"Completed"}
    lines = manifest_file(client, view.manifest_uri or "", tmp_path / "manifest.jsonl")
    input_bucket = endpoints["buckets"]["input"]
    reviewed = {f"s3://{input_bucket}/{view.loops[name].image_key}" for name in view.loops}
    assert reviewed <= {line["source-ref"] for line in lines}
    sqs = client("sqs")
    for queue in endpoints["queues"].values():
        attributes = sqs.get_queue_attributes(
            QueueUrl=queue["dlq-url"], AttributeNames=["ApproximateNumberOfMessages"]
        )
        assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "0"
