"""SageMaker Ground Truth object-detection manifest lines from A2I answers.

Consolidation rule (TaskCount 2-3): answers are read in order and each box joins the group
of the same label whose first box it overlaps most, if that IoU is >= 0.5 and the group has
no box from the same reviewer yet; otherwise it starts a new group. So each reviewer gives a
group at most one box. A group drawn by a strict majority of reviewers (2 of 2, 2 of 3)
becomes one box whose corners are the means of its boxes' corners, rounded half up; other
groups are dropped. With one reviewer every box is kept as drawn. With several, the metadata
also holds their `agreement` (`review_agreement.agreement`).

Merge rule (folding new lines into a manifest): one line per `source-ref`; a new line
replaces the existing one unless the existing one's creation-date is later: on equal dates
the later file wins, as a user folding new answers into an old manifest expects. A new line
equal to the existing one leaves it byte for byte as it was (a redelivered answer).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hitl_core.detections import Box, ImageSize
from hitl_core.review_agreement import agreement

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
            open_groups = [g for g in groups if g.label == label and index not in g.answers]
            overlap, group = max(
                ((g.boxes[0].iou(box), g) for g in open_groups), key=lambda c: c[0], default=(0.0, None)
            )
            if group is None or overlap < IOU_MATCH:
                group = _Group(label)
                groups.append(group)
            group.boxes.append(box)
            group.answers.add(index)
    majority = len(answers) // 2 + 1
    return [(g.label, _mean_box(g.boxes)) for g in groups if len(g.answers) >= majority]


def _mean_box(boxes: Sequence[Box]) -> Box:
    """The box whose corners are the rounded-half-up means of `boxes`' corners.

    Means of corners inside the image stay inside it, and matched boxes' mean right edge lies at
    least one pixel right of the mean left edge, so the result is never empty.
    """

    def mean(values: list[int]) -> int:
        return math.floor(sum(values) / len(values) + 0.5)

    left, top = mean([b.left for b in boxes]), mean([b.top for b in boxes])
    right, bottom = mean([b.right for b in boxes]), mean([b.bottom for b in boxes])
    return Box(left, top, right - left, bottom - top)


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
            label = raw["label"]
            values = [float(raw[k]) for k in ("left", "top", "width", "height")]
        except (KeyError, TypeError, ValueError) as err:
            raise AnswerError(f"{spot} needs label, left, top, width and height ({err})") from None
        if not isinstance(label, str) or not label:
            raise AnswerError(f"{spot} label must be a non-empty string, got {label!r}")
        if not all(math.isfinite(v) for v in values):
            raise AnswerError(f"{spot} coordinates must be finite numbers, got {values}")
        box = Box.from_ltwh(*values, size)
        if box is not None:
            boxes.append((label, box))
    return boxes


def _image_size(answer: dict[str, Any], where: str, input_content: dict[str, Any]) -> ImageSize:
    """The size the reviewer saw; the depth comes from the InputContent's `imageSize` (else 3)."""
    content = _require(answer, "answerContent", where)
    result = _require(content, ANSWER_ELEMENT, f"{where}.answerContent")
    props = _require(result, "inputImageProperties", f"{where}.answerContent.{ANSWER_ELEMENT}")
    sent = input_content.get("imageSize")
    depth = sent.get("depth", 3) if isinstance(sent, dict) else 3
    try:
        return ImageSize(_whole(props["width"]), _whole(props["height"]), _whole(depth))
    except (KeyError, TypeError, ValueError) as err:
        raise AnswerError(
            f"{where} inputImageProperties needs positive whole width and height, and depth ({err})"
        ) from None


def _whole(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise ValueError(f"{value!r} is not a whole number")
    return int(value)


def ground_truth_line(output: dict[str, Any], *, attribute: str, class_list: Sequence[str]) -> dict[str, Any]:
    """The manifest line for one A2I `output.json` (already parsed)."""
    loop = _require(output, "humanLoopName", "output.json")
    input_content = _require(output, "inputContent", "output.json")
    source_ref = _require(input_content, "taskObject", "inputContent")
    if not isinstance(source_ref, str) or not source_ref.startswith("s3://"):
        raise AnswerError(f"inputContent.taskObject must be an s3:// URI, got {source_ref!r}")
    answers = _require(output, "humanAnswers", "output.json")
    if not isinstance(answers, list) or not answers:
        raise AnswerError("output.json has no humanAnswers")
    size = _image_size(answers[0], "humanAnswers[0]", input_content)
    per_answer = [_answer_boxes(a, f"humanAnswers[{i}]", size) for i, a in enumerate(answers)]
    class_ids = {label: i for i, label in enumerate(class_list)}
    for boxes in per_answer:
        for label, _ in boxes:
            if label not in class_ids:
                raise AnswerError(f"label {label!r} is not in the configured class list")
    submitted = max(_submission_time(a, i) for i, a in enumerate(answers))
    merged = consolidate(per_answer)
    annotations = [{"class_id": class_ids[label], **box.to_dict()} for label, box in merged]
    metadata: dict[str, Any] = {
        "objects": [{"confidence": 1} for _ in annotations],
        "class-map": {str(class_ids[label]): label for label, _ in merged},
        "type": GROUND_TRUTH_TYPE,
        "human-annotated": "yes",
        "creation-date": submitted,
        "job-name": f"a2i/{loop}",
    }
    if len(per_answer) > 1:
        metadata["agreement"] = agreement(per_answer, IOU_MATCH)
    return {
        "source-ref": source_ref,
        attribute: {"image_size": [size.to_dict()], "annotations": annotations},
        f"{attribute}-metadata": metadata,
    }


def _submission_time(answer: dict[str, Any], index: int) -> str:
    """The answer's submission time in UTC, as Ground Truth writes it (`...T18:24:53.742Z`)."""
    raw = _require(answer, "submissionTime", f"humanAnswers[{index}]")
    moment = _moment(raw)
    if moment is None:
        raise AnswerError(f"humanAnswers[{index}].submissionTime is not a timestamp: {raw!r}")
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _moment(raw: Any) -> datetime | None:
    """An ISO 8601 timestamp as an aware UTC datetime (no offset means UTC); None if it is not one."""
    if not isinstance(raw, str):
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


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
    if _moment(meta["creation-date"]) is None:
        raise ManifestLineError(f"metadata creation-date is not a timestamp: {meta['creation-date']!r}")
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


def checked_lines(text: str, attribute: str | None, origin: str) -> tuple[list[dict[str, Any]], str | None]:
    """Every non-blank line of a manifest, parsed and checked against the Ground Truth format.

    Returns the lines and their attribute (the one given, else the first line's); a bad line
    raises ManifestLineError naming `origin` and its line number.
    """
    lines = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            line = json.loads(raw)
            attribute = validate_line(line, attribute)
        except json.JSONDecodeError as err:
            raise ManifestLineError(f"{origin} line {number}: not JSON ({err.msg})") from None
        except ManifestLineError as err:
            raise ManifestLineError(f"{origin} line {number}: {err}") from None
        lines.append(line)
    return lines, attribute


def dump_line(line: dict[str, Any]) -> str:
    """One manifest line as written: compact JSON, key order kept, newline-terminated."""
    return json.dumps(line, separators=(",", ":"), ensure_ascii=False) + "\n"


def creation_date(line: dict[str, Any], attribute: str) -> str:
    """The line's creation date as written (empty when it has none)."""
    meta = line.get(f"{attribute}-metadata")
    return str(meta.get("creation-date", "")) if isinstance(meta, dict) else ""


_UNDATED = datetime.min.replace(tzinfo=UTC)


def _created(line: dict[str, Any], attribute: str) -> datetime:
    """The line's creation moment; a line without a readable date counts as oldest."""
    return _moment(creation_date(line, attribute)) or _UNDATED


@dataclass(frozen=True)
class MergeResult:
    """The merged manifest's lines and what happened to the new lines."""

    lines: list[str]
    replaced: int
    added: int
    kept_newer: int
    """New lines dropped because the base held a later answer for their `source-ref`."""


def merge_lines(base: Iterable[str], new: Iterable[dict[str, Any]], attribute: str) -> MergeResult:
    """Fold new lines into base manifest text lines by `source-ref` (merge rule: module docstring).

    Of several new lines for one `source-ref` the last with the latest creation-date counts. It
    replaces the base line(s) with its `source-ref` unless one of them is later (or equal to
    it): it takes the first one's place and older duplicates go. New `source-ref`s are appended
    in arrival order. Every other base line is kept byte for byte (a missing final newline is
    added to a non-blank one). A base line that is not a JSON object raises ManifestLineError
    naming its number.
    """
    latest: dict[str, dict[str, Any]] = {}
    for line in new:
        ref = line["source-ref"]
        if ref not in latest or _created(line, attribute) >= _created(latest[ref], attribute):
            latest[ref] = line
    kept: list[tuple[str, Any]] = []
    newest_base: dict[Any, datetime] = {}
    unchanged: set[Any] = set()
    for number, raw in enumerate(base, start=1):
        if not raw.strip():
            kept.append((raw, None))
            continue
        try:
            parsed = json.loads(raw)
        except json.JSONDecodeError as err:
            raise ManifestLineError(f"line {number}: not JSON ({err.msg})") from None
        if not isinstance(parsed, dict):
            raise ManifestLineError(f"line {number}: a line must be a JSON object")
        ref = parsed.get("source-ref")
        kept.append((raw, ref))
        if ref in latest:
            newest_base[ref] = max(newest_base.get(ref, _UNDATED), _created(parsed, attribute))
            if parsed == latest[ref]:
                unchanged.add(ref)
    winners = {
        ref: line
        for ref, line in latest.items()
        if ref in newest_base and ref not in unchanged and _created(line, attribute) >= newest_base[ref]
    }
    older = [
        ref
        for ref, line in latest.items()
        if ref in newest_base and _created(line, attribute) < newest_base[ref]
    ]
    out: list[str] = []
    placed: set[str] = set()
    for raw, ref in kept:
        if ref is None or ref not in winners:
            out.append(raw if raw.endswith("\n") or not raw.strip() else raw + "\n")
        elif ref not in placed:
            out.append(dump_line(winners[ref]))
            placed.add(ref)
    added = [dump_line(line) for ref, line in latest.items() if ref not in newest_base]
    return MergeResult(out + added, len(winners), len(added), len(older))
