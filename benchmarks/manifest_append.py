"""How long one append to the rolling manifest takes as answers accumulate (prints figures).

Runs the real RollingManifest against a moto S3 server on loopback, with the rotation bound
of the project's configuration. An append is one batch of answers (the review queue's batch
size) written with one conditional read-modify-write; the figures show its cost does not grow
with the number of answers ever received, only with the open manifest's size, which rotation
bounds. Run: `.venv/bin/python -m benchmarks.manifest_append`.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from hitl_core.config import config_from_file
from hitl_core.events import ManifestSealed
from hitl_core.wiring import REVIEW_QUEUE
from hitl_review.manifest_plan import Answer
from hitl_review.manifest_store import RollingManifest

BUCKET = "benchmark-training"
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
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        s3 = boto3.client(
            "s3",
            region_name="us-east-1",
            endpoint_url=f"http://{host}:{port}",
            aws_access_key_id="benchmark",
            aws_secret_access_key="benchmark",
        )
        s3.create_bucket(Bucket=BUCKET)
        sealed: list[ManifestSealed] = []
        rolling = RollingManifest(
            s3, BUCKET, config.prefixes.manifests, config.rotation, attribute, sealed.append
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
    finally:
        server.stop()


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
        values = (
            f"{row['answers_received']:,}",
            row["batch_size"],
            row["append_ms_median"],
            row["append_ms_max"],
            row["per_answer_ms"],
            row["sealed_manifests"],
            row["open_manifest_lines"],
        )
        print(" ".join(f"{v:>{w}}" for v, w in zip(values, WIDTHS, strict=True)))


if __name__ == "__main__":
    main()
