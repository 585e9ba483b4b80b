"""Detector response adapters: each turns one model's raw response into detections.

Chosen by name in configuration (`adapter`), so the rest of the pipeline never sees a
model-specific format.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, Literal

from hitl_core.detections import Box, Detection, ImageDetections, ImageSize

AdapterName = Literal["sagemaker-object-detection", "gluoncv", "rekognition-custom-labels"]


class DetectorResponseError(ValueError):
    """A detector response that does not have the shape its adapter expects."""

    def __init__(self, adapter: str, problem: str) -> None:
        super().__init__(f"{adapter} response: {problem}")
        self.adapter = adapter
        self.problem = problem


def _number(adapter: str, where: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise DetectorResponseError(adapter, f"{where} must be a finite number, got {value!r}")
    return float(value)


def _score(adapter: str, where: str, value: Any, scale: float = 1.0) -> float:
    score = _number(adapter, where, value) / scale
    if not 0.0 <= score <= 1.0:
        raise DetectorResponseError(adapter, f"{where} must lie in 0..{scale:g}, got {value!r}")
    return score


def _class_label(adapter: str, where: str, value: Any, class_list: Sequence[str]) -> str:
    class_id = _number(adapter, where, value)
    if class_id != int(class_id) or not 0 <= class_id < len(class_list):
        raise DetectorResponseError(
            adapter, f"{where} {value!r} is not a class id of the {len(class_list)} configured labels"
        )
    return class_list[int(class_id)]


def _known_label(adapter: str, where: str, label: str, class_list: Sequence[str]) -> str:
    """The configured class list is the one source of labels: anything else is a misconfiguration."""
    if label not in class_list:
        raise DetectorResponseError(adapter, f"{where} label {label!r} is not in the configured class list")
    return label


def sagemaker_object_detection(response: Any, size: ImageSize, class_list: Sequence[str]) -> list[Detection]:
    """SageMaker built-in algorithm: `{"prediction": [[class_id, score, xmin, ymin, xmax, ymax]]}` (0..1)."""
    name = "sagemaker-object-detection"
    if not isinstance(response, dict) or not isinstance(response.get("prediction"), list):
        raise DetectorResponseError(name, "expected an object with a 'prediction' list")
    detections = []
    for i, row in enumerate(response["prediction"]):
        where = f"prediction[{i}]"
        if not isinstance(row, list) or len(row) != 6:
            raise DetectorResponseError(name, f"{where} must be [class_id, score, xmin, ymin, xmax, ymax]")
        label = _class_label(name, f"{where} class_id", row[0], class_list)
        score = _score(name, f"{where} score", row[1])
        x1, y1, x2, y2 = (_number(name, f"{where} coordinate", v) for v in row[2:])
        box = Box.from_corners(x1 * size.width, y1 * size.height, x2 * size.width, y2 * size.height, size)
        if box is not None:
            detections.append(Detection(label, score, box))
    return detections


def gluoncv(response: Any, size: ImageSize, class_list: Sequence[str]) -> list[Detection]:
    """GluonCV / AWS Marketplace style: `[{"id", "score", "left", "top", "right", "bottom"}]` in pixels."""
    name = "gluoncv"
    if not isinstance(response, list):
        raise DetectorResponseError(name, "expected a list of detections")
    detections = []
    for i, item in enumerate(response):
        where = f"[{i}]"
        if not isinstance(item, dict):
            raise DetectorResponseError(name, f"{where} must be an object")
        missing = [k for k in ("id", "score", "left", "top", "right", "bottom") if k not in item]
        if missing:
            raise DetectorResponseError(name, f"{where} lacks {', '.join(missing)}")
        score = _score(name, f"{where} score", item["score"])
        corners = [_number(name, f"{where} {k}", item[k]) for k in ("left", "top", "right", "bottom")]
        box = Box.from_corners(*corners, size)
        raw_id = item["id"]
        if isinstance(raw_id, str) and raw_id:
            label = _known_label(name, where, raw_id, class_list)
        else:
            label = _class_label(name, f"{where} id", raw_id, class_list)
        if box is not None:
            detections.append(Detection(label, score, box))
    return detections


def rekognition_custom_labels(response: Any, size: ImageSize, class_list: Sequence[str]) -> list[Detection]:
    """Rekognition `DetectCustomLabels`: confidence 0-100, boxes as ratios.

    A label without geometry is kept as an image-level detection (box None). Every label must be
    in the configured class list (the manifest can only hold those).
    """
    name = "rekognition-custom-labels"
    if not isinstance(response, dict) or not isinstance(response.get("CustomLabels"), list):
        raise DetectorResponseError(name, "expected an object with a 'CustomLabels' list")
    detections = []
    for i, item in enumerate(response["CustomLabels"]):
        where = f"CustomLabels[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("Name"), str) or not item["Name"]:
            raise DetectorResponseError(name, f"{where} must have a Name")
        score = _score(name, f"{where} Confidence", item.get("Confidence"), scale=100.0)
        geometry = item.get("Geometry")
        if geometry is None:
            detections.append(Detection(_known_label(name, where, item["Name"], class_list), score, None))
            continue
        ratio_box = geometry.get("BoundingBox") if isinstance(geometry, dict) else None
        if not isinstance(ratio_box, dict):
            raise DetectorResponseError(name, f"{where} Geometry lacks a BoundingBox")
        left, top, width, height = (
            _number(name, f"{where} BoundingBox.{k}", ratio_box.get(k))
            for k in ("Left", "Top", "Width", "Height")
        )
        box = Box.from_ltwh(
            left * size.width, top * size.height, width * size.width, height * size.height, size
        )
        label = _known_label(name, where, item["Name"], class_list)
        if box is not None:
            detections.append(Detection(label, score, box))
    return detections


ADAPTERS: dict[str, Callable[[Any, ImageSize, Sequence[str]], list[Detection]]] = {
    "sagemaker-object-detection": sagemaker_object_detection,
    "gluoncv": gluoncv,
    "rekognition-custom-labels": rekognition_custom_labels,
}


def parse_detector_response(
    adapter: str, response: Any, size: ImageSize, class_list: Sequence[str]
) -> ImageDetections:
    """Run the named adapter over a parsed (JSON) response for an image of `size`."""
    try:
        convert = ADAPTERS[adapter]
    except KeyError:
        raise DetectorResponseError(adapter, f"unknown adapter; known: {', '.join(ADAPTERS)}") from None
    return ImageDetections(size, tuple(convert(response, size, class_list)))
