"""How long one append to the rolling manifest takes as answers accumulate, and what concurrent
appenders lose or duplicate (prints figures).

Runs the real RollingManifest against a moto S3 server on loopback, with the rotation bound
of the project's configuration. An append is one batch of answers (the review queue's batch
size) written with one conditional read-modify-write; the figures show its cost does not grow
with the number of answers ever received, only with the open manifest's size, which rotation
bounds. Then several appenders write at once, as concurrent review-complete invocations do,
and every manifest is read back: answers lost and duplicated must both be 0.
Run: `.venv/bin/python -m benchmarks.manifest_append`.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import boto3
from moto.s3.responses import S3Response
from moto.server import ThreadedMotoServer

from hitl_core.config import Rotation, config_from_file
from hitl_core.events import ManifestSealed
from hitl_core.wiring import REVIEW_QUEUE
from hitl_review.manifest_plan import Answer
from hitl_review.manifest_store import ManifestBusy, RollingManifest

# moto keeps its state per process: each run gets a bucket of its own.
BUCKET_PREFIX = "benchmark-training-"
CHECKPOINTS = (100, 1_000, 10_000)
FILL_BATCH = 100
WIDTHS = (17, 6, 10, 8, 10, 7, 11)
START = datetime(2024, 1, 1, tzinfo=UTC)


def _answer(number: int, attribute: str) -> Answer:
    """A realistic line: a 640x480 image with three boxes."""
    line = {
        "source-ref": f"s3://benchmark-input/incoming/{number:08d}.jpg",
        attribute: {
            "image_size": [{"width": 640, "height": 480, "depth": 3}],
            "annotations": [
                {"class_id": c, "left": 10 * c, "top": 20, "width": 100, "height": 80} for c in (0, 2, 15)
            ],
        },
        f"{attribute}-metadata": {
            "objects": [{"confidence": 1}] * 3,
            "class-map": {"0": "person", "2": "car", "15": "cat"},
            "type": "groundtruth/object-detection",
            "human-annotated": "yes",
            "creation-date": (START + timedelta(seconds=number)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "job-name": f"a2i/img-{number:08d}",
        },
    }
    return Answer(key=str(number), line=line, attribute=attribute)


def run(
    checkpoints: Sequence[int] = CHECKPOINTS,
    *,
    samples: int = 15,
    batch: int = REVIEW_QUEUE.batch_size,
    config_path: str = "cdk.json",
) -> list[dict[str, Any]]:
    """Fill the manifest to each checkpoint, then time `samples` appends of `batch` new answers."""
    config = config_from_file(config_path)
    attribute = config.manifest_attribute
    with _s3_server() as s3:
        bucket = _new_bucket(s3)
        sealed: list[ManifestSealed] = []
        rolling = RollingManifest(
            s3, bucket, config.prefixes.manifests, config.rotation, attribute, sealed.append
        )
        received, results = 0, []
        for checkpoint in checkpoints:
            while received < checkpoint:
                size = min(FILL_BATCH, checkpoint - received)
                rolling.append([_answer(received + i, attribute) for i in range(size)])
                received += size
            sealed_before = {s.generation: s.line_count for s in sealed}
            open_lines, at = received - sum(sealed_before.values()), received
            timings = []
            for _ in range(samples):
                answers = [_answer(received + i, attribute) for i in range(batch)]
                started = time.perf_counter()
                rolling.append(answers)
                timings.append(time.perf_counter() - started)
                received += batch
            results.append(
                {
                    "answers_received": at,
                    "batch_size": batch,
                    "append_ms_median": round(statistics.median(timings) * 1000, 1),
                    "append_ms_max": round(max(timings) * 1000, 1),
                    "per_answer_ms": round(statistics.median(timings) * 1000 / batch, 2),
                    "sealed_manifests": len(sealed_before),
                    "open_manifest_lines": open_lines,
                }
            )
        return results


@contextmanager
def _s3_server() -> Iterator[Any]:
    """An S3 client for a moto server on a free loopback port, stopped afterwards."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield boto3.client(
            "s3",
            region_name="us-east-1",
            endpoint_url=f"http://{host}:{port}",
            aws_access_key_id="benchmark",
            aws_secret_access_key="benchmark",
        )
    finally:
        server.stop()


@contextmanager
def _atomic_conditional_puts() -> Iterator[None]:
    """Make moto's conditional PutObject atomic, as it is on S3.

    moto checks If-Match / If-None-Match and stores the object in two steps, so two threads
    can both pass the check; S3 lets only one conditional write win.
    """
    lock = threading.Lock()
    original = S3Response.put_object

    def put_object(self: S3Response) -> Any:
        with lock:
            return original(self)

    with mock.patch.object(S3Response, "put_object", put_object):
        yield


def concurrent_appenders(
    writers: int = 8,
    batches: int = 10,
    *,
    batch: int = REVIEW_QUEUE.batch_size,
    max_lines: int | None = None,
    config_path: str = "cdk.json",
) -> dict[str, Any]:
    """`writers` threads each append `batches` batches of distinct answers at once; count what is lost.

    Rotation is lowered to `max_lines` (by default a third of all answers) so that manifests are
    sealed while the writers contend. A batch that fails with ManifestBusy is appended again, as
    SQS would deliver it again.
    """
    config = config_from_file(config_path)
    attribute = config.manifest_attribute
    total = writers * batches * batch
    rotation = Rotation(max_lines=max_lines or max(1, total // 3), max_bytes=config.rotation.max_bytes)
    prefix = config.prefixes.manifests
    with _s3_server() as s3, _atomic_conditional_puts():
        bucket = _new_bucket(s3)
        sealed: list[ManifestSealed] = []
        redelivered: list[int] = []
        errors: list[BaseException] = []
        start = threading.Barrier(writers)

        def writer(number: int) -> None:
            rolling = RollingManifest(s3, bucket, prefix, rotation, attribute, sealed.append)
            start.wait()
            try:
                for b in range(batches):
                    first = (number * batches + b) * batch
                    answers = [_answer(first + i, attribute) for i in range(batch)]
                    while True:
                        try:
                            rolling.append(answers)
                            break
                        except ManifestBusy:
                            redelivered.append(number)
            except BaseException as err:
                errors.append(err)

        threads = [threading.Thread(target=writer, args=(w,)) for w in range(writers)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        if errors:
            raise errors[0]
        written = Counter(_source_refs(s3, bucket, prefix))
    expected = {_answer(n, attribute).source_ref for n in range(total)}
    return {
        "writers": writers,
        "answers": len(expected),
        "lost": len(expected - set(written)),
        "duplicated": sum(count - 1 for count in written.values()),
        "unexpected": len(set(written) - expected),
        "manifests_sealed": len({s.generation for s in sealed}),
        "batches_redelivered": len(redelivered),
        "seconds": round(elapsed, 2),
        "answers_per_second": round(len(expected) / elapsed, 1),
    }


def _new_bucket(s3: Any) -> str:
    name = f"{BUCKET_PREFIX}{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


def _source_refs(s3: Any, bucket: str, prefix: str) -> list[str]:
    """The source-ref of every line of every manifest under `prefix`."""
    refs = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            if item["Key"].endswith(".manifest"):
                text = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read().decode()
                refs += [json.loads(line)["source-ref"] for line in text.splitlines() if line.strip()]
    return refs


def append_row_cells(row: dict[str, Any]) -> tuple[Any, ...]:
    """One `run()` row as table cells: answers received, batch, median ms, max ms, ms per answer,
    sealed manifests, open manifest lines."""
    return (
        f"{row['answers_received']:,}",
        row["batch_size"],
        row["append_ms_median"],
        row["append_ms_max"],
        row["per_answer_ms"],
        row["sealed_manifests"],
        row["open_manifest_lines"],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=15, help="timed appends per checkpoint")
    parser.add_argument("--config", default="cdk.json", help="configuration (rotation bound)")
    args = parser.parse_args()
    config = config_from_file(args.config)
    print(
        f"rolling manifest append, moto S3 server on loopback, rotation at "
        f"{config.rotation.max_lines} lines / {config.rotation.max_bytes} bytes"
    )
    columns = ("answers received", "batch", "median ms", "max ms", "ms/answer", "sealed", "open lines")
    print(" ".join(f"{c:>{w}}" for c, w in zip(columns, WIDTHS, strict=True)))
    # The three figures asked for, plus one where the open manifest is as large as rotation allows.
    largest = config.rotation.max_lines - args.samples * REVIEW_QUEUE.batch_size
    checkpoints = sorted({*CHECKPOINTS, largest} if largest > 0 else set(CHECKPOINTS))
    for row in run(checkpoints, samples=args.samples, config_path=args.config):
        print(" ".join(f"{v:>{w}}" for v, w in zip(append_row_cells(row), WIDTHS, strict=True)))
    figures = concurrent_appenders(config_path=args.config)
    print(
        f"{figures['writers']} concurrent appenders, {figures['answers']} answers in {figures['seconds']} s: "
        f"lost {figures['lost']}, duplicated {figures['duplicated']}, {figures['manifests_sealed']} "
        f"manifests sealed, {figures['batches_redelivered']} batches redelivered"
    )


if __name__ == "__main__":
    main()
