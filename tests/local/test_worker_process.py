"""Supervising a function's worker process: a worker that cannot start says why."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import boto3
import pytest

from hitl.local.worker_process import WorkerProcess, WorkerStartError


def test_a_worker_that_cannot_start_reports_its_output(tmp_path: Path) -> None:
    lines: list[str] = []
    log = tmp_path / "logs" / "nope.log"
    worker = WorkerProcess("nope", ["url", "arn"], dict(os.environ), log, lines.append)

    with pytest.raises(WorkerStartError, match=r"the nope worker did not start \(exit code 2\)") as error:
        worker.wait_ready(timeout=30)
    worker.stop()

    assert "usage: python -m hitl.local.worker" in str(error.value)
    assert "usage: python -m hitl.local.worker" in log.read_text()
    assert lines == []


def test_kill_ends_a_running_worker_at_once(tmp_path: Path) -> None:
    environment = {**os.environ, "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_DEFAULT_REGION": "us-east-1"}
    queue = ["http://127.0.0.1:9/q", "arn:q"]
    worker = WorkerProcess("ingest", queue, environment, tmp_path / "w.log", print)
    worker.wait_ready(timeout=60)

    worker.kill()

    assert worker.returncode == -signal.SIGKILL


def test_a_worker_asked_to_stop_exits_by_itself(tmp_path: Path, moto_server_url: str) -> None:
    """Asking does not wait (a stack asks every worker first); the worker ends cleanly, not terminated."""
    sqs = boto3.client("sqs", endpoint_url=moto_server_url, region_name="us-east-1")
    url = sqs.create_queue(QueueName=f"stop-{tmp_path.name}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    environment = {**os.environ, "AWS_ENDPOINT_URL": moto_server_url, "AWS_DEFAULT_REGION": "us-east-1"}
    worker = WorkerProcess("ingest", [url, arn], environment, tmp_path / "w.log", print)
    worker.wait_ready(timeout=60)

    worker.ask_to_stop()
    worker.stop()

    assert worker.returncode == 0
