"""What a human review is started with: a deterministic loop name and the task's InputContent.

The InputContent keys here are the contract with the task UI template
(`templates/task-ui.liquid.html`) and the local review page; a contract test keeps them in step.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from typing import Any

from hitl_core.detections import Detection, ImageDetections

MAX_LOOP_NAME = 63
MAX_INPUT_CONTENT_CHARS = 3_145_728
LOOP_NAME_PATTERN = re.compile(r"^[a-z0-9](-*[a-z0-9])*$")
_HASH_CHARS = 24


class InputContentTooLarge(ValueError):
    """The InputContent would exceed A2I's 3,145,728-character limit."""


def image_identity(bucket: str, key: str, version: str) -> str:
    """One string naming an exact object version (version id, else ETag)."""
    return f"s3://{bucket}/{key}#{version}"


def loop_name(bucket: str, key: str, version: str) -> str:
    """A valid A2I loop name, stable for one object version and different for any other.

    A readable slug of the key's file name, then a hash of bucket, key and version (hashed as a
    JSON list, so no two different triples share a hash input).
    """
    identity = json.dumps([bucket, key, version]).encode()
    digest = hashlib.sha256(identity).hexdigest()[:_HASH_CHARS]
    stem = key.rsplit("/", 1)[-1].rsplit(".", 1)[0].lower()
    slug = re.sub(r"[^a-z0-9]+", "-", stem).strip("-")
    slug = slug[: MAX_LOOP_NAME - _HASH_CHARS - 1].strip("-")
    return f"{slug}-{digest}" if slug else f"img-{digest}"


def split_by_labels(labels: Sequence[str], shown: ImageDetections) -> tuple[ImageDetections, list[Detection]]:
    """(what the reviewer sees, the boxes hidden from them because their label is not offered).

    The task's label list is exactly `labels` (A2I's element takes at most 10, the built-in editor
    any number), so a box of any other label could not be kept or relabelled as drawn: it is
    hidden and recorded instead.
    Image-level labels are shown as they are: they add nothing to the element's labels.
    """
    offered = set(labels)
    kept = tuple(d for d in shown.detections if d.box is None or d.label in offered)
    hidden = [d for d in shown.detections if d.box is not None and d.label not in offered]
    return ImageDetections(shown.image_size, kept), hidden


def build_input_content(
    *,
    task_object: str,
    shown: ImageDetections,
    labels: Sequence[str],
    source: dict[str, str],
    model: dict[str, str],
) -> dict[str, Any]:
    """The task's input: the image, its proposed boxes (`initialValue`) and labels, and provenance.

    `initialValue` holds the shown boxes of the offered labels in the image's pixels, as
    crowd-bounding-box expects (others are hidden: `split_by_labels`); `initialScores` holds
    their scores in the same order; image-level labels go to `imageLabels`.
    """
    shown, _ = split_by_labels(labels, shown)
    boxed = [d for d in shown.detections if d.box is not None]
    return {
        "taskObject": task_object,
        "labels": list(dict.fromkeys(labels)),
        "initialValue": [{"label": d.label, **d.box.to_dict()} for d in boxed],
        "initialScores": [round(d.score, 4) for d in boxed],
        "imageLabels": [
            {"label": d.label, "score": round(d.score, 4)} for d in shown.detections if d.box is None
        ],
        "imageSize": shown.image_size.to_dict(),
        "source": dict(source),
        "model": dict(model),
    }


def serialize_input_content(content: dict[str, Any]) -> str:
    """The InputContent as A2I takes it (a JSON string), refused when over A2I's limit."""
    text = json.dumps(content, separators=(",", ":"), sort_keys=True)
    if len(text) > MAX_INPUT_CONTENT_CHARS:
        raise InputContentTooLarge(
            f"InputContent is {len(text):,} characters; A2I takes at most {MAX_INPUT_CONTENT_CHARS:,}"
        )
    return text


def shown_detections(content: dict[str, Any]) -> tuple[Detection, ...]:
    """The boxes a task's reviewer was shown (`initialValue` with `initialScores`), as detections.

    Reads what `build_input_content` wrote, as A2I and the review service echo it in output.json.
    """
    boxes, scores = content.get("initialValue") or [], content.get("initialScores") or []
    if len(boxes) != len(scores):
        raise ValueError(f"initialValue has {len(boxes)} boxes but initialScores {len(scores)} scores")
    pairs = zip(boxes, scores, strict=True)
    return tuple(Detection.from_dict({**box, "score": score}) for box, score in pairs)
