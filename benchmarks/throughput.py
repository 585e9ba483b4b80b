"""End-to-end throughput: images per second from drop to decision on the local stack, against the detector.

Measured with 1, 2 and 4 ingest workers (Lambda runs concurrent copies of the function), each
on a fresh stack.

Photos are dropped into the local stack's input bucket all at once; the clock stops when every
one has its decision event on the bus (accepted, review started or rejected). The detector
alone (`SsdDetector.detect` on the same bytes, in this process) is timed before, between and
after the drops. The CPU each of the stack's processes used during the drops shows what the two
cores were busy with; a further drop with the ingest worker under cProfile shows where its time
goes. Run alone: `.venv/bin/python -m benchmarks --only throughput`.
"""

from __future__ import annotations

import json
import os
import pstats
import re
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import psutil

from benchmarks.local_stack import running_stack
from benchmarks.profile_hook.sitecustomize import PROFILE_DIR_VARIABLE, START_SIGNAL
from benchmarks.workload import Photo, sample_photos
from hitl.local.detector import SsdDetector
from hitl.local.model_store import DEFAULT_CACHE_DIR, cached_model
from hitl.local.stack import AWS_STAND_IN, DEFAULT_INGEST_CONCURRENCY, LocalStack
from hitl.local.worker import delete_messages
from hitl_core.config import PipelineConfig, config_from_file
from hitl_core.events import HumanReviewStarted, InputRejected, PredictionAccepted
from hitl_core.wiring import INGEST_QUEUE

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PROFILE_HOOK_DIR = PROJECT_ROOT / "benchmarks" / "profile_hook"
DECISIONS = {
    PredictionAccepted.detail_type: "accepted",
    HumanReviewStarted.detail_type: "review",
    InputRejected.detail_type: "rejected",
}
POLL_SECONDS = 1
TOP_FUNCTIONS = 8
# (file suffix, function name) -> what it is: the parts of Ingestor.ingest the profile names.
INGEST_PARTS = {
    ("hitl_ingest/detector.py", "detect"): "detector: InvokeEndpoint round trip",
    ("hitl_ingest/image_input.py", "prepare_image"): "image checks and detector copy (prepare_image)",
    ("hitl_ingest/ingest.py", "_read"): "read the image (S3 GetObject)",
    ("hitl_ingest/record_store.py", "create"): "write the record (S3 PutObject)",
    ("hitl_aws/publisher.py", "publish"): "publish the event (EventBridge PutEvents)",
    ("hitl_ingest/human_review.py", "start"): "start the human loop (A2I StartHumanLoop)",
}
# Waiting on a server or a lock, not work done by the worker itself.
WAITS = ("recv_into", "poll", "select", "sleep", "acquire", "wait")
INGEST = ("hitl_ingest/ingest.py", "ingest")
PROCESS_BATCH = ("hitl/local/worker.py", "_process")
CONCURRENCIES = (1, 2, 4)
STACK_PROCESS = "the stack's process: detector endpoint, A2I runtime, this benchmark's uploads and polls"
PROCESS_ROLES = {
    AWS_STAND_IN: "the AWS stand-in (moto)",
    "ingest": "the ingest workers",
    "review-complete": "the review-complete worker",
}


def run(
    copies: int = 20,
    *,
    rounds: int = 4,
    concurrencies: Sequence[int] = CONCURRENCIES,
    profile: bool = True,
    config_path: str = "cdk.json",
    model_dir: Path = DEFAULT_CACHE_DIR,
) -> dict[str, Any]:
    """For each number of ingest workers: drop every sample photo `copies` times, `rounds` times
    over, with the detector alone timed before, between and after; then profile one drop (one worker)."""
    config = config_from_file(config_path)
    photos = sample_photos(copies)
    detector = SsdDetector(cached_model(model_dir))
    detector.detect(photos[0].data)  # the first inference allocates the interpreter's buffers
    levels = [
        _at_concurrency(config, photos, detector, workers, rounds, model_dir) for workers in concurrencies
    ]
    default = next(
        (level for level in levels if level["ingest_workers"] == DEFAULT_INGEST_CONCURRENCY), levels[-1]
    )
    result: dict[str, Any] = {
        "images": len(photos),
        "rounds": rounds,
        "default_ingest_workers": DEFAULT_INGEST_CONCURRENCY,
        "by_ingest_workers": levels,
        **{
            key: default[key] for key in ("pipeline_images_per_second", "detector_images_per_second", "ratio")
        },
    }
    if profile:
        result["profile"] = _profiled_run(config, photos, model_dir)
    return result


def _at_concurrency(
    config: PipelineConfig,
    photos: Sequence[Photo],
    detector: SsdDetector,
    workers: int,
    rounds: int,
    model_dir: Path,
) -> dict[str, Any]:
    """Throughput with `workers` ingest workers, against the detector alone timed around the drops."""
    detector_seconds, pipeline_seconds = [_detector_seconds(detector, photos)], []
    decisions: Counter[str] = Counter()
    cpu_seconds: Counter[str] = Counter()
    with running_stack(config, model_dir=model_dir, ingest_concurrency=workers) as stack:
        for _ in range(workers):  # each worker's first batch
            _drop_and_wait(stack, config, photos[: INGEST_QUEUE.batch_size])
        warm_up = workers * INGEST_QUEUE.batch_size
        for _ in range(rounds):
            before = _cpu_seconds_by_role(stack)
            drop = _drop_and_wait(stack, config, photos)
            cpu_seconds.update(_cpu_seconds_by_role(stack) - before)
            pipeline_seconds.append(drop["seconds"])
            decisions.update(drop["decisions"])
            detector_seconds.append(_detector_seconds(detector, photos))
        detector_ms = sum(_worker_detector_ms(stack, warm_up + rounds * len(photos))[warm_up:])
    detector_rate = len(photos) * len(detector_seconds) / sum(wall for wall, _ in detector_seconds)
    drop_ratios = ratio_by_drop(len(photos), pipeline_seconds, [wall for wall, _ in detector_seconds])
    detector_cpu_ms = 1000 * sum(cpu for _, cpu in detector_seconds) / (len(photos) * len(detector_seconds))
    pipeline_rate = len(photos) * rounds / sum(pipeline_seconds)
    return {
        "ingest_workers": workers,
        "decisions": dict(decisions),
        "pipeline_seconds": [round(seconds, 2) for seconds in pipeline_seconds],
        "pipeline_images_per_second": round(pipeline_rate, 2),
        "detector_images_per_second": round(detector_rate, 2),
        "ratio": round(pipeline_rate / detector_rate, 3),
        "ratio_by_drop": [round(ratio, 3) for ratio in drop_ratios],
        "detector_share_of_pipeline_time": round(detector_ms / 1000 / sum(pipeline_seconds), 3),
        "cpu_ms_per_image": {
            role: round(1000 * seconds / (rounds * len(photos)), 1) for role, seconds in cpu_seconds.items()
        },
        "cores_busy": round(sum(cpu_seconds.values()) / sum(pipeline_seconds), 2),
        "detector_alone_cpu_ms_per_image": round(detector_cpu_ms, 1),
    }


def ratio_by_drop(
    images: int, pipeline_seconds: Sequence[float], detector_seconds: Sequence[float]
) -> list[float]:
    """Each drop's rate against the detector's mean rate timed just before and just after it."""
    if len(detector_seconds) != len(pipeline_seconds) + 1:
        raise ValueError("the detector is timed once before the first drop and once after each")
    detector_rates = [images / seconds for seconds in detector_seconds]
    return [
        images / seconds / ((detector_rates[i] + detector_rates[i + 1]) / 2)
        for i, seconds in enumerate(pipeline_seconds)
    ]


def _cpu_seconds_by_role(stack: LocalStack) -> Counter[str]:
    """CPU seconds (user + system) so far: this process, and the stack's child processes by role.

    The drop's wait for decisions includes the last events' polling; both ends count alike.
    """
    processes = {STACK_PROCESS: [os.getpid()]}
    for name, role in PROCESS_ROLES.items():
        processes[role] = stack.worker_pids(name)
    return Counter(
        {
            role: sum(sum(psutil.Process(pid).cpu_times()[:2]) for pid in pids)
            for role, pids in processes.items()
        }
    )


def _detector_seconds(detector: SsdDetector, photos: Sequence[Photo]) -> tuple[float, float]:
    """The detector alone on every photo: wall seconds and this process's CPU seconds."""
    started, cpu_started = time.perf_counter(), time.process_time()
    for photo in photos:
        detector.detect(photo.data)
    return time.perf_counter() - started, time.process_time() - cpu_started


def _drop_and_wait(stack: LocalStack, config: PipelineConfig, photos: Sequence[Photo]) -> dict[str, Any]:
    """Upload the photos to the incoming prefix and wait for every decision event; the elapsed time."""
    assert stack.endpoints is not None and stack.resources is not None
    s3, sqs = stack.client("s3"), stack.client("sqs")
    events_url = stack.resources.events_queue.url
    folder = f"{config.prefixes.incoming}benchmark-{uuid.uuid4().hex[:8]}/"
    pending = {folder + photo.name for photo in photos}
    decisions: Counter[str] = Counter()
    deadline = time.monotonic() + 60 + 5 * len(photos)
    started = time.perf_counter()
    for photo in photos:
        s3.put_object(
            Bucket=stack.endpoints.names.input_bucket,
            Key=folder + photo.name,
            Body=photo.data,
            ContentType=photo.content_type,
        )
    finished = started
    while pending:
        if time.monotonic() > deadline:
            raise TimeoutError(f"no decision for {len(pending)} image(s), e.g. {sorted(pending)[:3]}")
        messages = sqs.receive_message(
            QueueUrl=events_url, MaxNumberOfMessages=10, WaitTimeSeconds=POLL_SECONDS
        ).get("Messages", [])
        for message in messages:
            event = json.loads(message["Body"])
            key = event.get("detail", {}).get("image", {}).get("key")
            if event.get("detail-type") in DECISIONS and key in pending:
                pending.discard(key)
                decisions[DECISIONS[event["detail-type"]]] += 1
                finished = time.perf_counter()
        delete_messages(sqs, events_url, messages)
    return {"seconds": finished - started, "decisions": dict(decisions)}


def _worker_detector_ms(stack: LocalStack, images: int, wait_seconds: float = 10) -> list[float]:
    """The detector times the ingest worker measured (its DetectorLatency metrics, in its log), in order."""
    log = stack.state_dir / "logs" / "ingest.log"
    deadline = time.monotonic() + wait_seconds
    while True:
        values = []
        for line in log.read_text(encoding="utf-8").splitlines():
            if line.startswith("{") and '"DetectorLatency"' in line:
                value = json.loads(line)["DetectorLatency"]
                values += value if isinstance(value, list) else [value]
        # The decision event goes out before the handler returns and prints its metrics.
        if len(values) >= images or time.monotonic() > deadline:
            return values
        time.sleep(0.2)


def _profiled_run(config: PipelineConfig, photos: Sequence[Photo], model_dir: Path) -> dict[str, Any]:
    """The same drop with the ingest worker under cProfile, started after a warm-up batch."""
    with tempfile.TemporaryDirectory(prefix="hitl-bench-profile-") as profile_dir:
        paths = (str(PROFILE_HOOK_DIR), os.environ.get("PYTHONPATH"))
        python_path = os.pathsep.join(p for p in paths if p)
        environment = {"PYTHONPATH": python_path, PROFILE_DIR_VARIABLE: profile_dir}
        with running_stack(
            config, model_dir=model_dir, worker_environment=environment, ingest_concurrency=1
        ) as stack:
            _drop_and_wait(stack, config, photos[: INGEST_QUEUE.batch_size])
            os.kill(int((Path(profile_dir) / "ingest.pid").read_text()), START_SIGNAL)
            pipeline = _drop_and_wait(stack, config, photos)
        # The worker writes its profile as it exits, when the stack stops.
        summary = summarize_profile(pstats.Stats(str(Path(profile_dir) / "ingest.prof")))
    summary["pipeline_seconds"] = round(pipeline["seconds"], 2)
    return summary


def _cumulative(stats: Mapping[Any, Any], where: tuple[str, str]) -> float:
    """Seconds spent in (and below) the function `where` names, over all its calls."""
    suffix, name = where
    return sum(
        entry[3]
        for (path, _line, function), entry in stats.items()
        if function == name and path.endswith(suffix)
    )


def summarize_profile(profile: pstats.Stats) -> dict[str, Any]:
    """The ingest worker's time: handling batches (by part of the handler) and waiting for them."""
    stats = profile.stats  # type: ignore[attr-defined]
    handling = _cumulative(stats, PROCESS_BATCH)
    ingest = _cumulative(stats, INGEST)
    parts = {label: _cumulative(stats, where) for where, label in INGEST_PARTS.items()}
    parts["the rest of the handler (records, routing, events as models)"] = ingest - sum(parts.values())
    parts["Powertools wrappers, message parsing, SQS DeleteMessageBatch"] = handling - ingest
    return {
        "handling_batches_seconds": round(handling, 2),
        "handling_breakdown": {
            label: {"seconds": round(seconds, 3), "share": round(seconds / handling, 3) if handling else 0.0}
            for label, seconds in sorted(parts.items(), key=lambda item: -item[1])
        },
        "cpu_hot_spots": _hot_spots(stats),
    }


def _hot_spots(stats: Mapping[Any, Any]) -> list[dict[str, Any]]:
    """The functions below the batch handler with the most self time, waits on servers left out.

    A function's self time counts all its calls, also those made while receiving messages.
    """
    callees: dict[Any, list[Any]] = {}
    for function, entry in stats.items():
        for caller in entry[4]:
            callees.setdefault(caller, []).append(function)
    roots = [key for key in stats if key[2] == PROCESS_BATCH[1] and key[0].endswith(PROCESS_BATCH[0])]
    reached, frontier = set(roots), list(roots)
    while frontier:
        for callee in callees.get(frontier.pop(), []):
            if callee not in reached:
                reached.add(callee)
                frontier.append(callee)
    busy = [key for key in reached if not any(wait in key[2] for wait in WAITS)]
    busy.sort(key=lambda key: -stats[key][2])
    return [
        {
            "function": _short_name(key),
            "self_seconds": round(stats[key][2], 3),
            "calls": stats[key][1],
        }
        for key in busy[:TOP_FUNCTIONS]
    ]


def _short_name(key: tuple[str, int, str]) -> str:
    """`package/module.py:line(function)`, without the folders the package is installed in."""
    path, line, function = key
    if path == "~":  # a built-in
        return re.sub(r" at 0x[0-9a-f]+", "", function)
    for marker in ("site-packages/", "lib/python3", str(PROJECT_ROOT) + "/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    if path.startswith(".") and "/" in path:  # the stdlib: lib/python3.11/json/decoder.py
        path = path.split("/", 1)[1]
    return f"{path}:{line}({function})"
