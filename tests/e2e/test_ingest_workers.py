"""Ingest runs as several worker processes; one killed mid-way is replaced and nothing is lost."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from e2e.e2e_helpers import all_decided, drop_photos, watch
from hitl.local.pipeline_view import PipelineView
from hitl.local.sample_photos import copy_sample_photos
from hitl.local.stack import DEFAULT_INGEST_CONCURRENCY, LocalStack

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


def test_a_killed_ingest_worker_is_replaced_and_every_photo_is_decided(
    local_stack: LocalStack, endpoints: dict[str, Any], client: Callable[[str], Any], tmp_path: Path
) -> None:
    workers = local_stack.worker_pids("ingest")
    assert len(workers) == DEFAULT_INGEST_CONCURRENCY > 1
    view = PipelineView(drop_photos(client, endpoints, copy_sample_photos(tmp_path / "photos"), "killed"))

    killed = local_stack.kill_worker("ingest")

    after = local_stack.worker_pids("ingest")
    assert killed in workers and killed not in after and len(after) == len(workers)
    watch(client, endpoints["queues"]["hitl-pipeline-events"]["url"], view, all_decided, timeout=90)
    records = client("s3").list_objects_v2(
        Bucket=endpoints["buckets"]["training"], Prefix="predictions/incoming/killed/"
    )
    keys = [entry["Key"].rsplit("/", 1)[0].removeprefix("predictions/") for entry in records["Contents"]]
    assert sorted(keys) == sorted(view.images), "one record per photo"
