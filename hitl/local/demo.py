"""`hitl local demo`: drop photos into the local stack, follow the pipeline's events, answer the
reviews (a simulated reviewer, or a person on the review page) and summarise what happened.
"""

from __future__ import annotations

import json
import mimetypes
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from hitl_quality.record_reader import RecordReader

from hitl.local.a2i.answers import SIMULATED_WORKER_ID, simulated_answer
from hitl.local.pipeline_view import PipelineView, describe_detections
from hitl.local.review_service.client import ReviewApiClient
from hitl.local.stack import LocalStack
from hitl.local.training_preview import training_preview
from hitl.local.worker import delete_messages
from hitl_aws.s3_uri import parse_s3_uri, s3_uri
from hitl_core.manifest import ManifestLineError, parse_lines, validate_line
from hitl_core.quality_report import build_report

Reviewer = Literal["auto", "person"]
POLL_SECONDS = 1
DLQ_CHECK_SECONDS = 5
HTTP_TIMEOUT_SECONDS = 10


DECISIONS = {"accept": "ACCEPTED", "review": "REVIEW", "rejected": "REJECTED", "dead-lettered": "DLQ"}


class SimulatedReviewer:
    """Answers this run's open loops through the A2I runtime's submit call, accepting the model's
    proposed boxes; the answer's workerId says it was simulated."""

    def __init__(self, a2i_url: str) -> None:
        self._a2i_url = a2i_url.rstrip("/")
        self.answered: list[str] = []

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self._a2i_url}{path}", data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_SECONDS) as response:
            return json.loads(response.read())

    def answer(self, loop_names: Sequence[str]) -> list[str]:
        """Submit an answer to each of `loop_names` still in progress; returns the loops answered."""
        wanted = set(loop_names) - set(self.answered)
        if not wanted:
            return []
        open_loops = self._call("GET", "/local/human-loops?status=InProgress")["humanLoops"]
        done = []
        for loop in open_loops:
            name = loop["humanLoopName"]
            if name in wanted:
                self._call(
                    "POST",
                    f"/local/human-loops/{quote(name)}/answers",
                    simulated_answer(loop["inputContent"]),
                )
                self.answered.append(name)
                done.append(name)
        return done


class SimulatedServiceReviewer:
    """Answers this run's open tasks through the built-in review API, as a reviewer signed in with
    the local stand-in: claim, then submit the model's proposed boxes unchanged."""

    def __init__(self, api: ReviewApiClient) -> None:
        self._api = api
        self.answered: list[str] = []

    def answer(self, loop_names: Sequence[str]) -> list[str]:
        """Claim and answer each of `loop_names` still open; returns the tasks answered."""
        wanted = set(loop_names) - set(self.answered)
        if not wanted:
            return []
        done = []
        for summary in self._api.tasks("InProgress"):
            name = summary["name"]
            if name not in wanted or summary["answeredByYou"]:
                continue
            task = self._api.claim(name)
            self._api.answer(name, simulated_answer(task["inputContent"]))
            self.answered.append(name)
            done.append(name)
        return done


def simulated_reviewer(stack: LocalStack) -> SimulatedReviewer | SimulatedServiceReviewer:
    """The demo's automatic reviewer for the stack's review backend."""
    endpoints = stack.endpoints
    assert endpoints is not None
    if endpoints.a2i_runtime:
        return SimulatedReviewer(endpoints.a2i_runtime)
    assert endpoints.review_api is not None and stack.review_tokens is not None
    token = stack.review_tokens.issue(SIMULATED_WORKER_ID)
    return SimulatedServiceReviewer(ReviewApiClient(endpoints.review_api, token))


@dataclass(frozen=True)
class DemoResult:
    view: PipelineView
    interrupted: bool
    timed_out: bool
    manifest_lines: int | None
    manifest_copy: Path | None
    manifest_problems: list[str]
    dead_letters: dict[str, int]
    training: list[str] = field(default_factory=list)
    quality_report: Path | None = None
    quality_summary: list[str] = field(default_factory=list)


def upload_images(stack: LocalStack, images: Sequence[Path], run_prefix: str) -> list[str]:
    """Put each image under the run's own folder of the incoming prefix; returns the keys."""
    assert stack.endpoints is not None
    s3 = stack.client("s3")
    keys = []
    for path in images:
        key = f"{run_prefix}{path.name}"
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        s3.put_object(
            Bucket=stack.endpoints.names.input_bucket,
            Key=key,
            Body=path.read_bytes(),
            ContentType=content_type,
        )
        keys.append(key)
    return keys


def _events(stack: LocalStack) -> list[dict[str, Any]]:
    assert stack.resources is not None
    sqs, url = stack.client("sqs"), stack.resources.events_queue.url
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=POLL_SECONDS).get(
        "Messages", []
    )
    delete_messages(sqs, url, messages)
    return [json.loads(m["Body"]) for m in messages]


def _dead_lettered(stack: LocalStack) -> list[dict[str, Any]]:
    """The events parked in the functions' dead-letter queues (peeked: they stay there)."""
    assert stack.resources is not None
    sqs = stack.client("sqs")
    parked = []
    for queue in stack.resources.queues.values():
        if queue.spec.wiring is None:
            continue
        messages = sqs.receive_message(
            QueueUrl=queue.dlq_url, MaxNumberOfMessages=10, VisibilityTimeout=0, WaitTimeSeconds=0
        ).get("Messages", [])
        parked += [json.loads(m["Body"]) for m in messages]
    return parked


def follow(
    stack: LocalStack,
    view: PipelineView,
    reviewer: SimulatedReviewer | SimulatedServiceReviewer | None,
    timeout_seconds: float | None,
    say: Callable[[str], None],
) -> bool:
    """Print the pipeline's events as they come until the run is finished; False on timeout."""
    deadline = None if timeout_seconds is None else time.monotonic() + timeout_seconds
    next_dlq_check = time.monotonic() + DLQ_CHECK_SECONDS
    while not view.finished:
        if deadline is not None and time.monotonic() > deadline:
            return False
        for event in _events(stack):
            line = view.record(event)
            if line:
                say(line)
        if time.monotonic() > next_dlq_check:
            next_dlq_check = time.monotonic() + DLQ_CHECK_SECONDS
            for parked in _dead_lettered(stack):
                line = view.dead_lettered(parked)
                if line:
                    say(line)
        if reviewer is not None:
            open_loops = [name for name, loop in view.loops.items() if loop.state == "InProgress"]
            for name in reviewer.answer(open_loops):
                say(f"  [answered]  {name} by {SIMULATED_WORKER_ID} (simulated: accepts the proposed boxes)")
    return True


def _manifest(stack: LocalStack, uri: str, copy_to: Path) -> tuple[int, list[str]]:
    bucket, key = parse_s3_uri(uri)
    text = stack.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    copy_to.parent.mkdir(parents=True, exist_ok=True)
    copy_to.write_text(text)
    problems = []
    lines = parse_lines(text)
    for number, line in enumerate(lines, start=1):
        try:
            validate_line(line)
        except ManifestLineError as err:
            problems.append(f"line {number}: {err}")
    return len(lines), problems


def _dead_letters(stack: LocalStack) -> dict[str, int]:
    assert stack.resources is not None
    sqs = stack.client("sqs")
    counts = {}
    for queue in stack.resources.queues.values():
        attributes = sqs.get_queue_attributes(
            QueueUrl=queue.dlq_url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        counts[queue.spec.dlq_name] = int(attributes["ApproximateNumberOfMessages"])
    return counts


def run_demo(
    stack: LocalStack,
    images: Sequence[Path],
    reviewer_mode: Reviewer,
    timeout_seconds: float | None,
    say: Callable[[str], None],
) -> DemoResult:
    """Drop `images` into the running `stack` and follow them through to the manifest."""
    assert stack.endpoints is not None
    endpoints = stack.endpoints
    incoming = stack.settings.config.prefixes.incoming
    run_prefix = f"{incoming}demo-{datetime.now(UTC):%Y%m%d-%H%M%S}/"
    say(f"Dropping {len(images)} photo(s) into {s3_uri(endpoints.names.input_bucket, run_prefix)}")
    view = PipelineView(upload_images(stack, images, run_prefix))
    reviewer = simulated_reviewer(stack) if reviewer_mode == "auto" else None
    if reviewer is None:
        sign_in = "" if endpoints.a2i_runtime else " and sign in with any reviewer name"
        say(f"Waiting for your answers: open {endpoints.review_page}{sign_in} (Ctrl-C stops)")
    say("Pipeline events on the bus (what a downstream consumer sees):")
    interrupted = timed_out = False
    try:
        timed_out = not follow(stack, view, reviewer, timeout_seconds, say)
    except KeyboardInterrupt:
        interrupted = True
    demo_dir = stack.state_dir / "demo"
    demo_dir.mkdir(parents=True, exist_ok=True)
    (demo_dir / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in view.events))
    lines = copy = None
    problems: list[str] = []
    if view.manifest_uri and not interrupted:
        copy = demo_dir / "manifest.jsonl"
        lines, problems = _manifest(stack, view.manifest_uri, copy)
    report, quality = (None, []) if interrupted else _quality_report(stack, demo_dir)
    return DemoResult(
        view=view,
        interrupted=interrupted,
        timed_out=timed_out,
        manifest_lines=lines,
        manifest_copy=copy,
        manifest_problems=problems,
        dead_letters={} if interrupted else _dead_letters(stack),
        training=[] if interrupted else _training(stack),
        quality_report=report,
        quality_summary=quality,
    )


def _quality_report(stack: LocalStack, demo_dir: Path) -> tuple[Path, list[str]]:
    """The quality report over every record the stack holds, as the daily function writes it on AWS."""
    names, config = stack.settings.names, stack.settings.config
    now = datetime.now(UTC)
    since = now - timedelta(days=config.quality.recent_days + config.quality.baseline_days)
    reader = RecordReader(stack.client("s3"), names.training_bucket)
    documents = reader.quality_documents(config.prefixes, since, now)
    assessment, html = build_report(documents, config, now)
    path = demo_dir / "quality-report.html"
    path.write_text(html, encoding="utf-8")
    return path, assessment.summary_lines()


def _training(stack: LocalStack) -> list[str]:
    names, config = stack.settings.names, stack.settings.config
    return training_preview(stack.client("s3"), names.training_bucket, config)


def summary_lines(result: DemoResult, stack: LocalStack, reviewer_mode: Reviewer) -> list[str]:
    """The closing summary: each image's detections, decision and why; the reviews; the manifest."""
    view = result.view
    out = ["", "Summary", "======="]
    if result.interrupted:
        out.append("Interrupted: what happened up to the Ctrl-C.")
    if result.timed_out:
        out.append("Timed out: the run did not finish; see the logs named below.")
    out.append(f"Images ({len(view.images)}):")
    width = max((len(image.name) for image in view.images.values()), default=10)
    for image in view.images.values():
        decision = {"accept": "ACCEPTED", "review": "REVIEW", "rejected": "REJECTED"}.get(
            image.outcome or "", "?"
        )
        out.append(f"  {image.name:<{width}}  {decision:<8}  {describe_detections(image.detections)}")
        out.append(f"  {'':<{width}}  why: {image.why}")
    started = list(view.loops.values())
    completed = [loop for loop in started if loop.state == "Completed"]
    a2i = stack.settings.review_backend == "a2i"
    out.append(f"{'Human loops' if a2i else 'Review tasks'} started: {len(started)}")
    simulated = ""
    if reviewer_mode == "auto" and stack.settings.review_backend == "a2i":
        simulated = f" (simulated reviewer, workerId '{SIMULATED_WORKER_ID}')"
    elif reviewer_mode == "auto":
        simulated = f" (simulated reviewer '{SIMULATED_WORKER_ID}', signed in with the local stand-in)"
    out.append(f"Answers received: {len(completed)}{simulated}")
    for loop in started:
        detail = f"{loop.boxes} box(es)" if loop.state == "Completed" else (loop.note or "")
        out.append(f"  {loop.name}: {loop.state} {detail}".rstrip())
    if view.manifest_uri:
        out.append(f"Manifest: {view.manifest_uri}")
        if result.manifest_lines is not None:
            verdict = "all valid" if not result.manifest_problems else "; ".join(result.manifest_problems)
            out.append(f"  {result.manifest_lines} line(s), Ground Truth object-detection format: {verdict}")
    else:
        out.append("Manifest: no review completed, so no manifest line was written")
    for uri in view.sealed:
        out.append(f"  sealed: {uri}")
    out += result.training
    if result.dead_letters:
        parked = {name: count for name, count in result.dead_letters.items() if count}
        out.append(f"Dead-letter queues: {parked}" if parked else "Dead-letter queues: empty")
    state = stack.state_dir
    names, incoming = stack.settings.names, stack.settings.config.prefixes.incoming
    out += ["", "Where to look next:"]
    if result.manifest_copy:
        out.append(f"  hitl manifest validate {result.manifest_copy}   (a copy of the manifest)")
    out.append(f"  {state / 'demo' / 'events.jsonl'}   (every pipeline event of this run)")
    out.append(f"  {state / 'logs'}/   (the functions' logs and metrics, as CloudWatch would hold them)")
    out.append("  hitl local up   (a stack that keeps running; in another shell:")
    out.append(f"    source {state / 'local.env'}; aws s3 cp photo.jpg s3://{names.input_bucket}/{incoming}")
    out.append(f"    aws s3 ls s3://{names.training_bucket}/ --recursive; and the review page it prints)")
    if result.quality_report:
        out += [
            "",
            f"Quality report: {result.quality_report}",
            *(f"  {line}" for line in result.quality_summary),
        ]
    return out
