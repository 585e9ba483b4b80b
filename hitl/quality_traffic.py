"""Synthetic traffic with a known truth: prediction records and review records as the pipeline writes them.

Each image has one detection whose score is drawn uniformly; the model is wrong with a chance that
falls with the score. The routing policy decides as ingest does (same identity, same Sampling
draw), and a simulated reviewer answers every image sent to review; the one matcher
(`compare_boxes`) turns the answer into the review record's comparison. `hitl quality synthetic`
writes it to a folder as the training-data bucket holds it, to try the report without traffic; the
benchmark and tests use it too.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hitl_core.detections import Box, Detection, ImageDetections, ImageSize
from hitl_core.human_loop import image_identity, loop_name
from hitl_core.review_batches import batch_object
from hitl_core.review_comparison import compare_boxes
from hitl_core.routing import RoutingPolicy, decide, preset_policy
from hitl_core.wiring import REVIEW_QUEUE

LABELS = ("person", "car", "dog")
SIZE = ImageSize(640, 480)
MODEL_BOX = Box(100, 100, 200, 150)
MISPLACED_BOX = Box(380, 280, 200, 150)  # IoU 0 with the model's box
BUCKET = "hitl-input"
REVIEWS = "reviews/"


def wrong_chance(score: float) -> float:
    """How often the model is wrong at `score`: 61% near 0, 1% near 1 (3% on average from 0.5 up)."""
    return 0.01 + 0.6 * (1.0 - score) ** 3


@dataclass(frozen=True)
class Traffic:
    """The settings of one synthetic run; `drift_label` gets worse over the last `drift_days`."""

    images: int
    end: datetime = datetime(2026, 12, 7, tzinfo=UTC)
    days: int = 35
    audit_percentage: float = 10.0
    seed: int = 1
    drift_label: str | None = "dog"
    drift_days: int = 7
    drift_extra: float = 0.3


def _record(key: str, processed: datetime, score: float, label: str, policy: RoutingPolicy) -> dict:
    detections = ImageDetections(SIZE, (Detection(label, score, MODEL_BOX),))
    identity = image_identity(BUCKET, key, "v1")
    decision = decide(policy, detections, identity)
    review = decision.outcome == "review"
    name = loop_name(BUCKET, key, "v1")
    return {
        "record_version": 1,
        "status": "review" if review else "accepted",
        "source": {"bucket": BUCKET, "key": key, "version": "v1", "uri": f"s3://{BUCKET}/{key}"},
        "image_size": SIZE.to_dict(),
        "detections": [d.to_dict() for d in detections.detections],
        "decision": {
            "outcome": decision.outcome,
            "min_display_score": policy.MinDisplayScore,
            "hidden_count": decision.hidden_count,
            "condition_results": decision.condition_results,
        },
        "human_loop": (
            {"name": name, "flow_definition_arn": "review-service:hitl", "input_content": {}}
            if review
            else None
        ),
        "model": {"detector": "synthetic", "adapter": "sagemaker-object-detection"},
        "inference": {"content_type": "image/jpeg", "size": {"width": 640, "height": 480}, "scale": 1.0},
        "timestamps": {"processed_at": processed.isoformat().replace("+00:00", "Z")},
    }


def _review(record: dict, wrong: bool, answered: datetime, generator: random.Random) -> dict:
    detection = record["detections"][0]
    model = [Detection(detection["label"], detection["score"], MODEL_BOX)]
    if not wrong:
        boxes = [(detection["label"], MODEL_BOX)]
    elif generator.random() < 0.5:
        boxes = [(detection["label"], MISPLACED_BOX)]  # the model's box was in the wrong place
    else:
        boxes = []  # the model saw something that is not there
    comparison = compare_boxes(model, boxes)
    return {
        "loop_name": record["human_loop"]["name"],
        "status": "Completed",
        "source_ref": record["source"]["uri"],
        "submission_time": answered.isoformat().replace("+00:00", "Z"),
        "comparison": comparison.to_dict(),
    }


def traffic_documents(traffic: Traffic) -> Iterator[tuple[str, bytes]]:
    """`(name, JSON bytes)` of every prediction record and every review record, in time order."""
    generator = random.Random(traffic.seed)
    start = traffic.end - timedelta(days=traffic.days)
    step = timedelta(days=traffic.days) / traffic.images
    policy = preset_policy("top-score-below", traffic.audit_percentage)
    drift_start = traffic.end - timedelta(days=traffic.drift_days)
    for number in range(traffic.images):
        processed = start + step * number
        label = LABELS[number % len(LABELS)]
        score = generator.random()
        chance = wrong_chance(score)
        if label == traffic.drift_label and processed >= drift_start:
            chance = min(1.0, chance + traffic.drift_extra)
        wrong = generator.random() < chance
        key = f"incoming/{processed:%Y/%m/%d}/{number:07d}.jpg"
        record = _record(key, processed, score, label, policy)
        yield f"predictions/{key}/v1.json", json.dumps(record).encode()
        if record["human_loop"]:
            review = _review(record, wrong, processed + timedelta(minutes=30), generator)
            yield f"{REVIEWS}{review['loop_name']}.json", json.dumps(review).encode()


def traffic_objects(traffic: Traffic) -> Iterator[tuple[str, bytes]]:
    """The same records as `(key, bytes)` objects of the training-data bucket: each prediction record
    on its own, the review records in batch objects as the review-complete function writes them."""
    batch: list[dict] = []
    for name, raw in traffic_documents(traffic):
        if not name.startswith(REVIEWS):
            yield name, raw
            continue
        batch.append(json.loads(raw))
        if len(batch) == REVIEW_QUEUE.batch_size:
            yield batch_object(REVIEWS, batch)
            batch = []
    if batch:
        yield batch_object(REVIEWS, batch)
