"""Load and faults: a burst of drops through the local stack while faults are injected; nothing lost.

A burst of small photos (scikit-image's samples, downscaled, each under its own name) is dropped
into the input bucket at once while: a fraction of the detector's invocations are throttled (the
local endpoint's fault injection), one ingest worker process is killed (SIGKILL, mid-batch) and
replaced once a quarter of the images are decided, and reviewers answer from several threads at
once. With the A2I backend the A2I stand-in is restarted at half; with the built-in review service
the reviewers claim and answer through the review API (a few claims abandoned, for the lifecycle
sweep to hand back when their short lease runs out), and a share of the outbox's batches fail,
before or after its work. Then the stores are read back: one record per image, one loop (task) per
reviewed image, one output.json per task, one manifest line per answered image, how many decision
events each image got (at least once), and what the dead-letter queues hold.
Run alone: `.venv/bin/python -m benchmarks --only load`.
"""

from __future__ import annotations

import io
import json
import random
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests
from PIL import Image

from benchmarks.local_stack import running_stack
from benchmarks.workload import Photo, sample_photos
from hitl.local.a2i.answers import simulated_answer
from hitl.local.model_store import DEFAULT_CACHE_DIR
from hitl.local.review_service.client import ReviewApiClient, ReviewApiError
from hitl.local.review_service.faults import FAILURE_FRACTION, INJECTED
from hitl.local.stack import LocalStack
from hitl.local.worker import delete_messages
from hitl_aws.settings import ReviewBackend
from hitl_core import review_tasks
from hitl_core.config import PipelineConfig, config_from_file
from hitl_core.events import HumanReviewStarted, InputRejected, PredictionAccepted, ReviewCompleted
from hitl_core.review_tasks import ReviewTiming
from hitl_core.wiring import REVIEW_TASK_TABLE

DEFAULT_IMAGES = 1_000
REVIEWERS = 8
THROTTLED_FRACTION = 0.1
PHOTO_SIDE = 320
KILL_AT, RESTART_AT = 0.25, 0.5  # share of images decided when the worker is killed / A2I restarted
DECISIONS = {PredictionAccepted.detail_type, HumanReviewStarted.detail_type, InputRejected.detail_type}
HTTP_TIMEOUT_SECONDS = 10
OUTBOX_FAILURE_FRACTION = 0.2
"""Built-in backend: the share of the outbox's batches that fail (half before, half after its work)."""
ABANDONED_FRACTION = 0.05
"""Built-in backend: the share of claims a reviewer walks away from, leaving the lease to run out."""
LEASE_SECONDS = 10
SWEEP_SECONDS = 2.0
"""Built-in backend: short leases and a frequent sweep, so abandoned tasks come back within the run."""


def run(
    images: int = DEFAULT_IMAGES,
    *,
    reviewers: int = REVIEWERS,
    throttled_fraction: float = THROTTLED_FRACTION,
    backend: ReviewBackend = "a2i",
    outbox_failure_fraction: float = OUTBOX_FAILURE_FRACTION,
    config_path: str = "cdk.json",
    model_dir: Path = DEFAULT_CACHE_DIR,
) -> dict[str, Any]:
    """Drop `images` photos with the faults injected, wait until all are decided and reviewed, count."""
    config = config_from_file(config_path)
    photos = burst_photos(images)
    if backend == "a2i":
        with running_stack(
            config, model_dir=model_dir, detector_throttle_fraction=throttled_fraction
        ) as stack:
            assert stack.endpoints is not None and stack.endpoints.a2i_runtime is not None
            crew = _Reviewers(stack.endpoints.a2i_runtime, reviewers)
            return _burst(stack, config, photos, crew, {"throttled_fraction": throttled_fraction})
    with running_stack(
        config,
        model_dir=model_dir,
        detector_throttle_fraction=throttled_fraction,
        review_backend="builtin",
        review_timing=ReviewTiming(lease_seconds=LEASE_SECONDS, availability_seconds=86_400),
        review_sweep_seconds=SWEEP_SECONDS,
        worker_environment={FAILURE_FRACTION: str(outbox_failure_fraction)},
    ) as stack:
        assert stack.endpoints is not None and stack.endpoints.review_api and stack.review_tokens
        tokens = [stack.review_tokens.issue(f"reviewer-{i + 1}") for i in range(reviewers)]
        service_crew = _ServiceReviewers(stack.endpoints.review_api, tokens)
        faults = {
            "throttled_fraction": throttled_fraction,
            "outbox_failure_fraction": outbox_failure_fraction,
        }
        return _burst(stack, config, photos, service_crew, faults)


def burst_photos(count: int) -> list[Photo]:
    """`count` small JPEGs cycling through the sample photos, each under its own name."""
    originals = sample_photos(1)
    small = []
    for photo in originals:
        image = Image.open(io.BytesIO(photo.data)).convert("RGB")
        image.thumbnail((PHOTO_SIDE, PHOTO_SIDE))
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=85)
        small.append((photo.name.split("-", 1)[1].rsplit(".", 1)[0], buffer.getvalue()))
    return [
        Photo(f"{index:05d}-{name}.jpg", data, "image/jpeg")
        for index, (name, data) in ((i, small[i % len(small)]) for i in range(count))
    ]


@dataclass
class _Reviewers:
    """Threads answering open loops at once, each picking at random (a loop answered first by
    another is a conflict)."""

    a2i_url: str
    count: int
    stop: threading.Event = field(default_factory=threading.Event)
    answered: Counter[str] = field(default_factory=Counter)
    conflicts: int = 0
    unreachable: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> list[threading.Thread]:
        threads = [
            threading.Thread(target=self._work, args=(f"reviewer-{i + 1}",), daemon=True)
            for i in range(self.count)
        ]
        for thread in threads:
            thread.start()
        return threads

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.a2i_url}{path}", data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_SECONDS) as response:
            return json.loads(response.read())

    def _work(self, worker_id: str) -> None:
        chooser = random.Random(worker_id)
        while not self.stop.is_set():
            try:
                open_loops = self._call("GET", "/local/human-loops?status=InProgress")["humanLoops"]
                if not open_loops:
                    self.stop.wait(0.2)
                    continue
                loop = chooser.choice(open_loops)
                name = loop["humanLoopName"]
                self._call(
                    "POST",
                    f"/local/human-loops/{quote(name)}/answers",
                    simulated_answer(loop["inputContent"], worker_id=worker_id),
                )
                with self._lock:
                    self.answered[name] += 1
            except urllib.error.HTTPError as err:
                with self._lock:
                    self.conflicts += err.code in (400, 409)
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                with self._lock:  # the A2I stand-in is restarting
                    self.unreachable += 1
                self.stop.wait(0.2)


@dataclass
class _ServiceReviewers:
    """Threads working through the built-in review API, one signed-in reviewer each: list the open
    tasks, claim one at random (a task another holds or answered first is a conflict), answer it;
    a few claims are abandoned, for the lifecycle sweep to hand back once their lease runs out."""

    api_url: str
    tokens: list[str]
    stop: threading.Event = field(default_factory=threading.Event)
    answered: Counter[str] = field(default_factory=Counter)
    conflicts: int = 0
    unreachable: int = 0
    abandoned: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def count(self) -> int:
        return len(self.tokens)

    def start(self) -> list[threading.Thread]:
        threads = [
            threading.Thread(target=self._work, args=(f"reviewer-{i + 1}", token), daemon=True)
            for i, token in enumerate(self.tokens)
        ]
        for thread in threads:
            thread.start()
        return threads

    def _work(self, worker_id: str, token: str) -> None:
        chooser = random.Random(worker_id)
        api = ReviewApiClient(self.api_url, token)
        while not self.stop.is_set():
            try:
                open_tasks = [
                    task
                    for task in api.tasks("InProgress")
                    if not task["answeredByYou"] and (not task["leaseOwner"] or task["claimedByYou"])
                ]
                if not open_tasks:
                    self.stop.wait(0.2)
                    continue
                name = chooser.choice(open_tasks)["name"]
                task = api.claim(name)
                if chooser.random() < ABANDONED_FRACTION:
                    with self._lock:
                        self.abandoned += 1
                    continue
                api.answer(name, simulated_answer(task["inputContent"], worker_id=worker_id))
                with self._lock:
                    self.answered[name] += 1
            except ReviewApiError as err:
                with self._lock:
                    self.conflicts += err.status in (400, 409)
            except requests.RequestException:
                with self._lock:
                    self.unreachable += 1
                self.stop.wait(0.2)


def _upload(stack: LocalStack, keys: Sequence[str], photos: Sequence[Photo]) -> None:
    assert stack.endpoints is not None
    s3 = stack.client("s3")
    for key, photo in zip(keys, photos, strict=True):
        s3.put_object(
            Bucket=stack.endpoints.names.input_bucket,
            Key=key,
            Body=photo.data,
            ContentType=photo.content_type,
        )


def _burst(
    stack: LocalStack,
    config: PipelineConfig,
    photos: Sequence[Photo],
    crew: _Reviewers | _ServiceReviewers,
    faults: dict[str, Any],
) -> dict[str, Any]:
    assert stack.endpoints is not None and stack.resources is not None
    folder = f"{config.prefixes.incoming}load-{uuid.uuid4().hex[:8]}/"
    keys = [folder + photo.name for photo in photos]
    decisions: dict[str, Counter[str]] = {key: Counter() for key in keys}
    loops: dict[str, set[str]] = {}
    completed: Counter[str] = Counter()
    threads = crew.start()
    restart_a2i = isinstance(crew, _Reviewers)
    started = time.perf_counter()
    uploader = threading.Thread(target=_upload, args=(stack, keys, photos), daemon=True)
    uploader.start()
    sqs = stack.client("sqs")
    events_url = stack.resources.events_queue.url
    deadline = time.monotonic() + 120 + len(photos)
    while True:
        decided = sum(1 for counts in decisions.values() if counts)
        reviewed_all = all(completed[name] for names in loops.values() for name in names)
        if decided == len(keys) and reviewed_all:
            break
        if time.monotonic() > deadline:
            faults["timed_out"] = True
            break
        if "killed_worker_pid" not in faults and decided >= KILL_AT * len(keys):
            faults["killed_worker_pid"] = stack.kill_worker("ingest")
        if restart_a2i and "a2i_restarted" not in faults and decided >= RESTART_AT * len(keys):
            stack.restart_a2i()
            faults["a2i_restarted"] = True
        messages = sqs.receive_message(QueueUrl=events_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in messages.get("Messages", []):
            event = json.loads(message["Body"])
            detail = event.get("detail", {})
            key = detail.get("image", {}).get("key")
            if event.get("detail-type") in DECISIONS and key in decisions:
                decisions[key][event["detail-type"]] += 1
                if event["detail-type"] == HumanReviewStarted.detail_type:
                    loops.setdefault(key, set()).add(detail["loop_name"])
            elif event.get("detail-type") == ReviewCompleted.detail_type:
                completed[detail["loop_name"]] += 1
        delete_messages(sqs, events_url, messages.get("Messages", []))
    seconds = time.perf_counter() - started
    crew.stop.set()
    for thread in threads:
        thread.join(timeout=HTTP_TIMEOUT_SECONDS)
    faults["detector_calls_throttled"] = stack.detector_throttle.throttled
    return _tally(stack, config, folder, keys, decisions, loops, completed, crew, faults, seconds)


def _list(s3: Any, bucket: str, prefix: str) -> list[str]:
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [entry["Key"] for entry in page.get("Contents", [])]
    return keys


def _tally(
    stack: LocalStack,
    config: PipelineConfig,
    folder: str,
    keys: Sequence[str],
    decisions: dict[str, Counter[str]],
    loops: dict[str, set[str]],
    completed: Counter[str],
    crew: _Reviewers | _ServiceReviewers,
    faults: dict[str, Any],
    seconds: float,
) -> dict[str, Any]:
    """Read the stores back: records, loops (tasks), manifest lines, events per image, dead letters."""
    assert stack.endpoints is not None and stack.resources is not None
    names, prefixes = stack.endpoints.names, config.prefixes
    s3, sqs = stack.client("s3"), stack.client("sqs")
    records: Counter[str] = Counter()
    for prefix in (prefixes.predictions, prefixes.rejected):
        for record in _list(s3, names.training_bucket, prefix + folder):
            records[record[len(prefix) :].rsplit("/", 1)[0]] += 1
    wanted_loops = {name for names_ in loops.values() for name in names_}
    service = isinstance(crew, _ServiceReviewers)
    statuses = _task_statuses(stack) if service else _loop_statuses(stack)
    started_loops = set(statuses)
    lines: Counter[str] = Counter()
    for manifest in _list(s3, names.training_bucket, prefixes.manifests):
        if manifest.endswith(".manifest"):
            body = s3.get_object(Bucket=names.training_bucket, Key=manifest)["Body"].read().decode()
            lines.update(json.loads(line)["source-ref"] for line in body.splitlines() if line.strip())
    reviewed_refs = {f"s3://{names.input_bucket}/{key}" for key in loops}
    events_per_image = [sum(counts.values()) for counts in decisions.values()]
    dead_letters = {
        name: int(
            sqs.get_queue_attributes(
                QueueUrl=queue["dlq-url"], AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"]["ApproximateNumberOfMessages"]
        )
        for name, queue in stack.endpoints.queues.items()
    }
    outcomes = Counter(next(iter(counts)) for counts in decisions.values() if counts)
    answers: dict[str, Any] = {"submitted": sum(crew.answered.values()), "reviewer_conflicts": crew.conflicts}
    if service:
        answers["claims_abandoned"] = crew.abandoned
        answers["reviewer_calls_unanswered"] = crew.unreachable
        faults["outbox_failures_injected"] = _injected_failures(stack, "review-outbox")
    else:
        answers["reviewer_calls_while_a2i_was_down"] = crew.unreachable
    figures: dict[str, Any] = {
        "images_dropped": len(keys),
        "seconds": round(seconds, 1),
        "images_per_second": round(len(keys) / seconds, 2),
        "decisions": {detail_type: outcomes[detail_type] for detail_type in sorted(outcomes)},
        "records": {
            "written": sum(records.values()),
            "images_without_a_record": sum(1 for key in keys if not records[key]),
            "images_with_several": sum(1 for key in keys if records[key] > 1),
        },
        "loops": {
            "started": len(wanted_loops & started_loops),
            "reviewed_images": len(loops),
            "lost": len(wanted_loops - started_loops),
            "images_with_several": sum(1 for names_ in loops.values() if len(names_) > 1),
            "completed": sum(1 for name in wanted_loops if statuses.get(name) == "Completed"),
        },
        "answers": {
            **answers,
            "review_completed_events": sum(completed[name] for name in wanted_loops),
            "manifest_lines": sum(lines[ref] for ref in reviewed_refs),
            "lost": sum(1 for ref in reviewed_refs if not lines[ref]),
            "duplicated": sum(1 for ref in reviewed_refs if lines[ref] > 1),
        },
        "decision_events_per_image": {
            "min": min(events_per_image),
            "max": max(events_per_image),
            "mean": round(sum(events_per_image) / len(events_per_image), 3),
            "images_announced_more_than_once": sum(1 for count in events_per_image if count > 1),
        },
        "dead_letter_queues": dead_letters,
        "faults": faults,
        "reviewers": crew.count,
        "backend": "builtin" if service else "a2i",
    }
    if service:
        figures["outputs"] = _outputs(stack, config, wanted_loops)
    return figures


def _loop_statuses(stack: LocalStack) -> dict[str, str]:
    """Every human loop of the flow definition and its status, as the A2I stand-in lists them."""
    assert stack.endpoints is not None
    a2i = stack.client("sagemaker-a2i-runtime")
    pages = a2i.get_paginator("list_human_loops").paginate(
        FlowDefinitionArn=stack.endpoints.names.flow_definition_arn
    )
    return {
        loop["HumanLoopName"]: loop["HumanLoopStatus"]
        for page in pages
        for loop in page["HumanLoopSummaries"]
    }


def _task_statuses(stack: LocalStack) -> dict[str, str]:
    """Every task in the built-in service's table and its status."""
    assert stack.endpoints is not None
    spec = REVIEW_TASK_TABLE
    pages = (
        stack.client("dynamodb")
        .get_paginator("scan")
        .paginate(
            TableName=stack.endpoints.names.review_tasks_table,
            ProjectionExpression="#name, #status",
            ExpressionAttributeNames={
                "#name": spec.partition_key,
                "#status": spec.status_index_partition_key,
            },
        )
    )
    return {
        item[spec.partition_key]["S"]: item[spec.status_index_partition_key]["S"]
        for page in pages
        for item in page["Items"]
        if review_tasks.is_task_key(item[spec.partition_key]["S"])
    }


def _outputs(stack: LocalStack, config: PipelineConfig, loops: set[str]) -> dict[str, int]:
    """The outbox's output.json objects for the reviewed tasks (A2I's layout: .../LOOP/output.json)."""
    assert stack.endpoints is not None
    names = stack.endpoints.names
    prefix = f"{config.prefixes.review_output}{names.review_service_name}/"
    per_task = Counter(
        key.rsplit("/", 2)[-2] for key in _list(stack.client("s3"), names.review_output_bucket, prefix)
    )
    return {
        "written": sum(per_task[name] for name in loops),
        "lost": sum(1 for name in loops if not per_task[name]),
        "duplicated": sum(1 for name in loops if per_task[name] > 1),
    }


def _injected_failures(stack: LocalStack, function: str) -> int:
    """How many failures the local stack injected into `function` (its log says each)."""
    log = stack.state_dir / "logs" / f"{function}.log"
    return (
        sum(INJECTED in line for line in log.read_text(encoding="utf-8").splitlines()) if log.exists() else 0
    )
