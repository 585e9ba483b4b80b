"""The whole loop offline with the built-in review service: photos become tasks in the task table,
answers go through the review API as a signed-in reviewer's would, the outbox turns them into
A2I-shaped output.json and status events, and the manifest gets valid lines."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from e2e.e2e_helpers import (
    all_decided,
    all_reviewed,
    drop_photos,
    reviewed_lines_in_manifest,
    watch,
)
from hitl.local.a2i.answers import simulated_answer
from hitl.local.aws_resources import ReviewBackend
from hitl.local.pipeline_view import PipelineView
from hitl.local.review_service.client import ReviewApiClient, ReviewApiError
from hitl.local.review_service.tokens import reviewer_sub
from hitl.local.sample_photos import copy_sample_photos
from hitl.local.stack import LocalStack

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


@pytest.fixture
def review_backend() -> ReviewBackend:
    return "builtin"


def reviewer(stack: LocalStack, name: str) -> ReviewApiClient:
    assert stack.endpoints is not None and stack.endpoints.review_api and stack.review_tokens
    return ReviewApiClient(stack.endpoints.review_api, stack.review_tokens.issue(name))


def test_dropped_photos_become_tasks_whose_answers_end_as_valid_manifest_lines(
    local_stack: LocalStack, endpoints: dict[str, Any], client: Callable[[str], Any], tmp_path: Path
) -> None:
    photos = copy_sample_photos(tmp_path / "photos")
    view = PipelineView(drop_photos(client, endpoints, photos, "builtin"))
    events_queue = endpoints["queues"]["hitl-pipeline-events"]["url"]
    watch(client, events_queue, view, all_decided)
    assert view.loops, "no image went to review"

    ana, ben = reviewer(local_stack, "ana"), reviewer(local_stack, "ben")
    open_tasks = {task["name"]: task for task in ana.tasks()}
    assert set(view.loops) <= set(open_tasks)
    first = next(iter(view.loops))
    ana.claim(first)
    with pytest.raises(ReviewApiError) as taken:
        ben.claim(first)
    assert taken.value.status == 409
    assert next(t for t in ben.tasks() if t["name"] == first)["leaseOwner"] == reviewer_sub("ana")

    for name in view.loops:
        task = ana.claim(name)
        ana.answer(name, simulated_answer(task["inputContent"]))
    watch(client, events_queue, view, all_reviewed, timeout=60)

    assert {loop.state for loop in view.loops.values()} == {"Completed"}
    completed = {task["name"] for task in ana.tasks("Completed")}
    assert set(view.loops) <= completed
    assert ana.task(first)["status"] == "Completed"
    s3, bucket = client("s3"), endpoints["buckets"]["review-output"]
    key = next(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"] if f"/{first}/" in o["Key"])
    output = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    assert local_stack.review_tokens is not None
    assert output["humanAnswers"][0]["workerMetadata"]["identityData"] == {
        "identityProviderType": "Cognito",
        "issuer": local_stack.review_tokens.issuer,
        "sub": reviewer_sub("ana"),
    }

    reviewed_lines_in_manifest(client, view, endpoints["buckets"]["input"], tmp_path / "manifest.jsonl")


def test_the_review_api_refuses_callers_without_a_local_token(local_stack: LocalStack) -> None:
    assert local_stack.endpoints is not None and local_stack.endpoints.review_api
    api = local_stack.endpoints.review_api
    assert requests.get(f"{api}/tasks", timeout=10).status_code == 401
    forged = {"Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"}
    assert requests.get(f"{api}/tasks", headers=forged, timeout=10).status_code == 401
