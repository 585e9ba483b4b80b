"""The model's own boxes for each gold image, kept in its gold line, so a gold task looks like any task.

Each image is read, prepared and sent to the detector by ingest's own code (`prepare_image`, the
detector with its response adapter) and cut at routing's `MinDisplayScore` as ingest cuts what a
task shows; `gold_tasks.with_model_detections` keeps the result beside the known boxes.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from hitl_aws.s3_uri import parse_s3_uri
from hitl_core.config import PipelineConfig
from hitl_core.events import ImageRef
from hitl_core.gold_tasks import with_model_detections
from hitl_core.human_loop import image_identity
from hitl_core.manifest import parse_lines
from hitl_core.review_tasks import iso_millis
from hitl_core.routing import decide
from hitl_ingest.detector import Detector
from hitl_ingest.image_input import prepare_image
from hitl_ingest.s3_event import ObjectCreated


class GoldPredictionError(ValueError):
    """A gold line whose image could not be read or predicted; the message names the line."""


def _image(s3: Any, source_ref: str) -> tuple[ObjectCreated, bytes]:
    """The gold image's bytes and the exact version read (its version id, else its ETag)."""
    bucket, key = parse_s3_uri(source_ref)
    response = s3.get_object(Bucket=bucket, Key=key)
    with response["Body"] as body:
        data = body.read()
    version_id = response.get("VersionId")
    etag = str(response.get("ETag") or "").strip('"') or None
    read = ObjectCreated(bucket, key, len(data), etag, version_id if version_id != "null" else None)
    return read, data


def predicted_line(
    line: dict[str, Any], s3: Any, detector: Detector, config: PipelineConfig, now: datetime
) -> dict[str, Any]:
    """One gold line with the boxes a task for its image would show, from `detector`."""
    read, data = _image(s3, str(line.get("source-ref", "")))
    image = prepare_image(data, max_bytes=config.max_image_bytes, payload_limit=config.endpoint_payload_limit)
    result = detector.detect(image, read)
    shown = decide(
        config.policy, result.detections, image_identity(read.bucket, read.key, read.version)
    ).shown
    source = ImageRef(bucket=read.bucket, key=read.key, version=read.version, uri=read.uri)
    labels = config.offered_labels
    return with_model_detections(line, shown, result.model, source.model_dump(), labels, iso_millis(now))


def predict_gold(text: str, s3: Any, detector: Detector, config: PipelineConfig, now: datetime) -> str:
    """The gold manifest with the model's boxes in every line (earlier ones replaced); the first line
    that cannot be read or predicted raises GoldPredictionError naming it."""
    lines = []
    for number, line in enumerate(parse_lines(text), start=1):
        try:
            lines.append(json.dumps(predicted_line(line, s3, detector, config, now), separators=(",", ":")))
        except (ValueError, ClientError, BotoCoreError) as err:
            raise GoldPredictionError(f"gold manifest line {number}: {err}") from None
    return "".join(f"{line}\n" for line in lines)
