"""SageMaker Ground Truth object-detection manifest lines from A2I answers.

Consolidation rule (TaskCount 2-3): boxes from different reviewers are grouped when they
carry the same label and overlap with IoU >= 0.5 (each reviewer contributes at most one box
to a group, its best match). A group drawn by a strict majority of reviewers becomes one
box whose coordinates are the rounded means; other groups are dropped. With one reviewer
every box is kept as drawn.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hitl_core.detections import Box, ImageSize

IOU_MATCH = 0.5
ANSWER_ELEMENT = "annotatedResult"
GROUND_TRUTH_TYPE = "groundtruth/object-detection"


class AnswerError(ValueError):
    """An A2I answer that cannot become a manifest line (kept, quarantined, never dropped)."""


class ManifestLineError(ValueError):
    """A manifest line that does not follow the Ground Truth object-detection format."""


@dataclass
class _Group:
    label: str
    boxes: list[Box] = field(default_factory=list)
    answers: set[int] = field(default_factory=set)


def consolidate(answers: Sequence[Sequence[tuple[str, Box]]]) -> list[tuple[str, Box]]:
    """Merge several reviewers' boxes by the majority rule in this module's docstring."""
    if len(answers) <= 1:
        return list(answers[0]) if answers else []
    groups: list[_Group] = []
    for index, boxes in enumerate(answers):
        for label, box in boxes:
            candidates = [
                (g.boxes[0].iou(box), g)
                for g in groups
                if g.label == label and index not in g.answers and g.boxes[0].iou(box) >= IOU_MATCH
            ]
            if candidates:
                group = max(candidates, key=lambda c: c[0])[1]
            else:
                group = _Group(label)
                groups.append(group)
            group.boxes.append(box)
            group.answers.add(index)
    majority = len(answers) // 2 + 1
    merged = []
    for group in groups:
        if len(group.answers) < majority:
            continue
        n = len(group.boxes)
        merged.append(
            (
                group.label,
                Box(
                    round(sum(b.left for b in group.boxes) / n),
                    round(sum(b.top for b in group.boxes) / n),
                    round(sum(b.width for b in group.boxes) / n),
                    round(sum(b.height for b in group.boxes) / n),
                ),
            )
        )
    return merged


def _require(mapping: Any, key: str, where: str) -> Any:
    if not isinstance(mapping, dict) or key not in mapping:
        raise AnswerError(f"{where} lacks '{key}'")
    return mapping[key]


def _answer_boxes(answer: dict[str, Any], where: str, size: ImageSize) -> list[tuple[str, Box]]:
    content = _require(answer, "answerContent", where)
    result = _require(content, ANSWER_ELEMENT, f"{where}.answerContent")
    raw_boxes = _require(result, "boundingBoxes", f"{where}.answerContent.{ANSWER_ELEMENT}")
    if not isinstance(raw_boxes, list):
        raise AnswerError(f"{where} boundingBoxes is not a list")
    boxes = []
    for i, raw in enumerate(raw_boxes):
        spot = f"{where} boundingBoxes[{i}]"
        try:
            label = str(raw["label"])
            values = [float(raw[k]) for k in ("left", "top", "width", "height")]
        except (KeyError, TypeError, ValueError) as err:
            raise AnswerError(f"{spot} needs label, left, top, width and height ({err})") from None
        box = Box.from_ltwh(*values, size)
        if box is not None:
            boxes.append((label, box))
    return boxes


def _image_size(answer: dict[str, Any], where: str) -> ImageSize:
    result = answer.get("answerContent", {}).get(ANSWER_ELEMENT, {})
    props = _require(result, "inputImageProperties", f"{where}.answerContent.{ANSWER_ELEMENT}")
    try:
        return ImageSize(int(props["width"]), int(props["height"]))
    except (KeyError, TypeError, ValueError) as err:
        raise AnswerError(f"{where} inputImageProperties needs positive width and height ({err})") from None


def ground_truth_line(output: dict[str, Any], *, attribute: str, class_list: Sequence[str]) -> dict[str, Any]:
    """The manifest line for one A2I `output.json` (already parsed)."""
    loop = _require(output, "humanLoopName", "output.json")
    source_ref = _require(_require(output, "inputContent", "output.json"), "taskObject", "inputContent")
    answers = _require(output, "humanAnswers", "output.json")
    if not isinstance(answers, list) or not answers:
        raise AnswerError("output.json has no humanAnswers")
    size = _image_size(answers[0], "humanAnswers[0]")
    per_answer = [_answer_boxes(a, f"humanAnswers[{i}]", size) for i, a in enumerate(answers)]
    class_ids = {label: i for i, label in enumerate(class_list)}
    for boxes in per_answer:
        for label, _ in boxes:
            if label not in class_ids:
                raise AnswerError(f"label {label!r} is not in the configured class list")
    submitted = max(_submission_time(a, i) for i, a in enumerate(answers))
    merged = consolidate(per_answer)
    annotations = [{"class_id": class_ids[label], **box.to_dict()} for label, box in merged]
    return {
        "source-ref": source_ref,
        attribute: {"image_size": [size.to_dict()], "annotations": annotations},
        f"{attribute}-metadata": {
            "objects": [{"confidence": 1} for _ in annotations],
            "class-map": {str(class_ids[label]): label for label, _ in merged},
            "type": GROUND_TRUTH_TYPE,
            "human-annotated": "yes",
            "creation-date": submitted,
            "job-name": f"a2i/{loop}",
        },
    }


def _submission_time(answer: dict[str, Any], index: int) -> str:
    raw = _require(answer, "submissionTime", f"humanAnswers[{index}]")
    try:
        moment = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        raise AnswerError(f"humanAnswers[{index}].submissionTime is not a timestamp: {raw!r}") from None
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def validate_line(line: Any, attribute: str | None = None) -> str:
    """Check one parsed manifest line; returns its attribute name, raises ManifestLineError."""
    if not isinstance(line, dict):
        raise ManifestLineError("a line must be a JSON object")
    source = line.get("source-ref")
    if not isinstance(source, str) or not source.startswith("s3://"):
        raise ManifestLineError("'source-ref' must be an s3:// URI")
    if attribute is None:
        names = [k for k in line if k != "source-ref" and not k.endswith("-metadata")]
        if len(names) != 1:
            raise ManifestLineError(f"expected one label attribute, found {names}")
        attribute = names[0]
    body, meta = line.get(attribute), line.get(f"{attribute}-metadata")
    if not isinstance(body, dict) or not isinstance(meta, dict):
        raise ManifestLineError(f"missing '{attribute}' or '{attribute}-metadata'")
    sizes = body.get("image_size")
    if not (isinstance(sizes, list) and len(sizes) == 1 and isinstance(sizes[0], dict)):
        raise ManifestLineError("image_size must be a list of one {width, height, depth}")
    width, height, depth = (sizes[0].get(k) for k in ("width", "height", "depth"))
    if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in (width, height, depth)):
        raise ManifestLineError("image_size width, height and depth must be positive integers")
    annotations = body.get("annotations")
    if not isinstance(annotations, list):
        raise ManifestLineError("annotations must be a list")
    class_map = meta.get("class-map")
    if not isinstance(class_map, dict):
        raise ManifestLineError("metadata lacks a class-map")
    for i, ann in enumerate(annotations):
        values = [
            ann.get(k) if isinstance(ann, dict) else None
            for k in ("class_id", "left", "top", "width", "height")
        ]
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            raise ManifestLineError(f"annotations[{i}] needs integer class_id, left, top, width, height")
        class_id, left, top, w, h = values
        if str(class_id) not in class_map:
            raise ManifestLineError(f"annotations[{i}] class_id {class_id} is not in the class-map")
        if left < 0 or top < 0 or w <= 0 or h <= 0 or left + w > width or top + h > height:
            raise ManifestLineError(f"annotations[{i}] box lies outside the {width}x{height} image")
    objects = meta.get("objects")
    if not isinstance(objects, list) or len(objects) != len(annotations):
        raise ManifestLineError("metadata objects must have one entry per annotation")
    if meta.get("type") != GROUND_TRUTH_TYPE:
        raise ManifestLineError(f"metadata type must be '{GROUND_TRUTH_TYPE}'")
    for key in ("human-annotated", "creation-date", "job-name"):
        if not isinstance(meta.get(key), str):
            raise ManifestLineError(f"metadata lacks '{key}'")
    return attribute


def parse_lines(text: str) -> list[dict[str, Any]]:
    """Parse JSON Lines text; blank lines are skipped, a bad line names its number."""
    lines = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            lines.append(json.loads(raw))
        except json.JSONDecodeError as err:
            raise ManifestLineError(f"line {number}: not JSON ({err.msg})") from None
    return lines


def dump_line(line: dict[str, Any]) -> str:
    """One manifest line as written: compact JSON, key order kept, newline-terminated."""
    return json.dumps(line, separators=(",", ":"), ensure_ascii=False) + "\n"


def creation_date(line: dict[str, Any], attribute: str) -> str:
    """The line's creation date (ISO, so strings sort in time order)."""
    return str(line.get(f"{attribute}-metadata", {}).get("creation-date", ""))


def merge_lines(
    base: Iterable[str], new: Iterable[dict[str, Any]], attribute: str
) -> tuple[list[str], int, int]:
    """Fold new lines into base manifest text lines by `source-ref`.

    A base line with a new line's `source-ref` is replaced in place unless it is newer
    (its creation-date is later); new `source-ref`s are appended; all other base lines are
    kept byte for byte. Returns (lines, replaced, added).
    """
    latest: dict[str, dict[str, Any]] = {}
    for line in new:
        ref = line["source-ref"]
        if ref not in latest or creation_date(line, attribute) >= creation_date(latest[ref], attribute):
            latest[ref] = line
    out, replaced = [], 0
    for raw in base:
        if not raw.strip():
            out.append(raw)
            continue
        ref = json.loads(raw).get("source-ref")
        incoming = latest.pop(ref, None) if ref in latest else None
        if incoming is not None and creation_date(incoming, attribute) >= creation_date(
            json.loads(raw), attribute
        ):
            out.append(dump_line(incoming))
            replaced += 1
        else:
            out.append(raw if raw.endswith("\n") else raw + "\n")
    added = [dump_line(line) for line in latest.values()]
    return out + added, replaced, len(added)
