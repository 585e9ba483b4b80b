"""`hitl local up` stopped and started again on the same state folder, as a user runs it: the open
and the claimed review tasks are still there and can be answered, the records and uploads are
kept, and nothing that was done before the restart is done again."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import pytest

from e2e.e2e_helpers import (
    FREE_PORTS,
    MODEL_DIR,
    all_decided,
    all_reviewed,
    drop_photos,
    hitl,
    reviewed_lines_in_manifest,
    sign_in,
    watch,
)
from hitl.local.a2i.answers import simulated_answer
from hitl.local.pipeline_view import PipelineView
from hitl.local.review_service.client import ReviewApiClient
from hitl.local.review_service.tokens import reviewer_sub
from hitl.local.sample_photos import copy_sample_photos
from hitl.local.stack import ENDPOINTS_FILE

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]
START_SECONDS = 120  # six worker processes and a detector start on a shared, busy machine


@contextmanager
def local_up(state: Path, log: Path) -> Iterator[dict[str, Any]]:
    """`hitl local up` on free ports until the block ends, then Ctrl-C; yields its endpoints file."""
    with log.open("w") as output:
        process = subprocess.Popen(
            hitl("local", "up", "--state-dir", str(state), "--model-dir", str(MODEL_DIR), *FREE_PORTS),
            stdout=output,
            stderr=subprocess.STDOUT,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        try:
            deadline = time.monotonic() + START_SECONDS
            while not (state / ENDPOINTS_FILE).exists():
                assert process.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
            yield json.loads((state / ENDPOINTS_FILE).read_text())
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.terminate()
                process.wait(timeout=60)
    assert process.returncode == 0, log.read_text()


def clients(endpoints: dict[str, Any]) -> Callable[[str], Any]:
    def make(service: str) -> Any:
        return boto3.client(
            service, endpoint_url=endpoints["endpoints"][service], region_name=endpoints["region"]
        )

    return make


def reviewer(endpoints: dict[str, Any], name: str) -> ReviewApiClient:
    urls = endpoints["endpoints"]
    return ReviewApiClient(urls["review-api"], sign_in(urls["review-page"], name))


def kept_objects(client: Callable[[str], Any], endpoints: dict[str, Any]) -> dict[str, list[str]]:
    """Every bucket's object versions, as (key, version id, etag)."""
    s3 = client("s3")
    return {
        bucket: sorted(
            f"{v['Key']} {v['VersionId']} {v['ETag']}"
            for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket)
            for v in page.get("Versions", [])
        )
        for bucket in endpoints["buckets"].values()
    }


def what_happened(event: dict[str, Any]) -> tuple[str, str]:
    """An event's kind and subject: an image's decision, or a review's outcome."""
    detail = event["detail"]
    return event["detail-type"], detail.get("loop_name") or detail.get("image", {}).get("key", "")


def test_open_and_claimed_tasks_survive_a_restart_and_are_answered_after_it(tmp_path: Path) -> None:
    state = tmp_path / "state"
    photos = copy_sample_photos(tmp_path / "photos")

    with local_up(state, tmp_path / "first-run.log") as endpoints:
        client = clients(endpoints)
        keys = [key for run in ("first", "second") for key in drop_photos(client, endpoints, photos, run)]
        view = PipelineView(keys)
        events_queue = endpoints["queues"]["hitl-pipeline-events"]["url"]
        watch(client, events_queue, view, all_decided)
        assert len(view.loops) >= 3, "too few images went to review"
        claimed, answered = sorted(view.loops)[:2]
        ana = reviewer(endpoints, "ana")
        ana.answer(answered, simulated_answer(ana.claim(answered)["inputContent"]))
        watch(client, events_queue, view, lambda v: v.loops[answered].state == "Completed")
        ana.claim(claimed)
        before = kept_objects(client, endpoints)
        events_before = len(view.events)
        done_before = {what_happened(event) for event in view.events}

    with local_up(state, tmp_path / "second-run.log") as endpoints:
        client = clients(endpoints)
        assert kept_objects(client, endpoints) == before
        ana = reviewer(endpoints, "ana")
        open_tasks = {task["name"]: task for task in ana.tasks()}
        assert set(open_tasks) == set(view.loops) - {answered}
        assert open_tasks[claimed]["leaseOwner"] == reviewer_sub("ana")
        for name in open_tasks:
            task = ana.claim(name)
            ana.answer(name, simulated_answer(task["inputContent"]))
        events_queue = endpoints["queues"]["hitl-pipeline-events"]["url"]
        watch(client, events_queue, view, all_reviewed, timeout=60)

        assert {loop.state for loop in view.loops.values()} == {"Completed"}
        done_again = [what_happened(event) for event in view.events[events_before:]]
        assert not done_before & set(done_again), "something done before the restart was done again"
        reviewed_lines_in_manifest(client, view, endpoints["buckets"]["input"], tmp_path / "manifest.jsonl")
