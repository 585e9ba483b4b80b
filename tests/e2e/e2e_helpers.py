"""Watching the local stack as a downstream consumer does: the pipeline's events on its queue."""

from __future__ import annotations

import json
import secrets
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from click.testing import CliRunner

from hitl.cli import cli
from hitl.local.a2i.answers import simulated_answer
from hitl.local.model_store import DEFAULT_CACHE_DIR
from hitl.local.pipeline_view import PipelineView
from hitl.local.review_service.sign_in import pkce_challenge

PROJECT_ROOT = Path(__file__).resolve().parents[2]
FREE_PORTS = ["--aws-port", "0", "--endpoint-port", "0", "--a2i-port", "0", "--review-port", "0"]
MODEL_DIR = PROJECT_ROOT / DEFAULT_CACHE_DIR
REVIEWER = "e2e-reviewer"


def watch(
    client: Callable[[str], Any],
    events_queue_url: str,
    view: PipelineView,
    until: Callable[[PipelineView], bool],
    timeout: float = 40,
) -> None:
    """Read the pipeline's events (the bus's copy on the events queue) into `view` until `until`."""
    sqs = client("sqs")
    deadline = time.monotonic() + timeout
    while not until(view):
        assert time.monotonic() < deadline, f"timed out; images {view.images}, loops {view.loops}"
        messages = sqs.receive_message(
            QueueUrl=events_queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
        ).get("Messages", [])
        for message in messages:
            view.record(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=events_queue_url, ReceiptHandle=message["ReceiptHandle"])


def all_decided(view: PipelineView) -> bool:
    return all(image.outcome for image in view.images.values())


def all_reviewed(view: PipelineView) -> bool:
    return view.finished


def drop_photos(
    client: Callable[[str], Any], endpoints: dict[str, Any], photos: list[Path], folder: str
) -> list[str]:
    s3 = client("s3")
    keys = []
    for photo in photos:
        key = f"incoming/{folder}/{photo.name}"
        s3.put_object(Bucket=endpoints["buckets"]["input"], Key=key, Body=photo.read_bytes())
        keys.append(key)
    return keys


def submit(a2i_url: str, loop_name: str, worker_id: str = REVIEWER) -> dict[str, Any]:
    """The local A2I submit call, with the answer a reviewer gives when accepting the proposed boxes."""
    with urllib.request.urlopen(f"{a2i_url}/local/human-loops/{loop_name}", timeout=10) as response:
        loop = json.loads(response.read())
    body = json.dumps(simulated_answer(loop["inputContent"], worker_id=worker_id)).encode()
    request = urllib.request.Request(
        f"{a2i_url}/local/human-loops/{loop_name}/answers",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def loop_statuses(client: Callable[[str], Any], flow_definition_arn: str) -> dict[str, str]:
    summaries = client("sagemaker-a2i-runtime").list_human_loops(FlowDefinitionArn=flow_definition_arn)
    return {s["HumanLoopName"]: s["HumanLoopStatus"] for s in summaries["HumanLoopSummaries"]}


def manifest_file(client: Callable[[str], Any], uri: str, destination: Path) -> list[dict[str, Any]]:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    text = client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    destination.write_text(text)
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def reviewed_lines_in_manifest(
    client: Callable[[str], Any], view: PipelineView, input_bucket: str, destination: Path
) -> tuple[list[dict[str, Any]], str]:
    """The manifest's lines, checked to hold one line per reviewed image and to pass `hitl manifest validate`.

    Returns all its lines and the validator's output.
    """
    lines = manifest_file(client, view.manifest_uri or "", destination)
    reviewed = {
        f"s3://{input_bucket}/{image.key}" for image in view.images.values() if image.outcome == "review"
    }
    ours = [line for line in lines if line["source-ref"] in reviewed]
    assert len(ours) == len(reviewed) == len(view.loops)
    result = CliRunner().invoke(cli, ["manifest", "validate", str(destination)])
    assert result.exit_code == 0, result.output
    return ours, result.output


def hitl(*args: str) -> list[str]:
    """The `hitl` command line, run by this Python."""
    return [sys.executable, "-c", "from hitl.cli import main; main()", *args]


def sign_in(review_page: str, reviewer: str) -> str:
    """An ID token for `reviewer` from the local sign-in stand-in, by the code + PKCE exchange the
    review app makes (as a user's browser would, with only the stack's URLs)."""
    site = review_page.rstrip("/")
    auth = requests.get(f"{site}/config.json", timeout=10).json()["auth"]
    verifier = secrets.token_urlsafe(48)
    common = {"client_id": auth["userPoolClientId"], "redirect_uri": f"{site}/"}
    reply = requests.post(
        f"{auth['signInUrl']}/oauth2/authorize",
        data={
            **common,
            "response_type": "code",
            "code_challenge": pkce_challenge(verifier),
            "code_challenge_method": "S256",
            "reviewer": reviewer,
        },
        allow_redirects=False,
        timeout=10,
    )
    assert reply.status_code == 302, reply.text
    code = parse_qs(urlsplit(reply.headers["Location"]).query)["code"][0]
    tokens = requests.post(
        f"{auth['signInUrl']}/oauth2/token",
        data={**common, "grant_type": "authorization_code", "code": code, "code_verifier": verifier},
        timeout=10,
    )
    assert tokens.status_code == 200, tokens.text
    return str(tokens.json()["id_token"])
