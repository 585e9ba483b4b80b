"""Gold tasks: images whose answer is known, mixed into a reviewer's tasks to measure the reviewer.

A gold task shows the model's own boxes for its image, as any task does: `hitl review gold predict`
runs the deployed model over the gold images and keeps what a task would show in each line's
metadata (`MODEL_DETECTIONS`); a line without them is refused, since a task with no boxes would
give itself away. A gold answer is scored by `review_agreement.pair_agreement` against the known
boxes (matched by label and IoU with the project's one matcher), kept per reviewer, and never
reaches the training manifest. Which of a reviewer's tasks is gold is decided from counts alone, so
it is the same on every retry: the n-th task served is gold while gold tasks so far < floor(n x share).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from hitl_core.detections import Detection, ImageDetections, ImageSize
from hitl_core.events import ReviewerGoldScoreLow
from hitl_core.human_loop import build_input_content, loop_name, serialize_input_content
from hitl_core.manifest import parse_lines, validate_line
from hitl_core.review_agreement import pair_agreement
from hitl_core.review_priority import PriorityRule
from hitl_core.review_tasks import ReviewTask, ReviewTiming, claim, new_task

GOLD_ANSWERS, GOLD_SCORE_SUM = "gold_answers", "gold_score_sum"
REVIEWER_RECORD_PREFIX = "~reviewer/"
"""A reviewer's record beside the tasks: tasks served, gold tasks served, gold answers and their scores."""
MODEL_DETECTIONS = "model-detections"
"""The key of a gold line's `<attribute>-metadata` holding the model's boxes for the image:
`{"detections": [{label, score, left, top, width, height}], "model": {...}, "source": {bucket, key,
version, uri}, "labels": [the labels a task offers], "predicted-at": ...}`."""
PREDICT_COMMAND = "hitl review gold predict --manifest GOLD --out GOLD_WITH_MODEL_BOXES"


@dataclass(frozen=True)
class GoldRule:
    """`share` of a reviewer's tasks are gold; a mean gold score below `min_score` (over at least
    `min_tasks` gold answers) is reported, and with `second_reviewer` their answers need another's."""

    share: float = 0.05
    min_score: float = 0.7
    min_tasks: int = 5
    iou_threshold: float = 0.5
    second_reviewer: bool = False
    """A reviewer below `min_score` answers no task alone: one more reviewer is asked (up to three)."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.share < 1.0:
            raise ValueError("share must lie in [0, 1)")
        if not 0.0 <= self.min_score <= 1.0 or not 0.0 < self.iou_threshold <= 1.0:
            raise ValueError("min_score must lie in [0, 1], iou_threshold in (0, 1]")
        if self.min_tasks < 1:
            raise ValueError("min_tasks must be at least 1")

    def serve_gold(self, served: int, gold_served: int) -> bool:
        """Whether the reviewer's next task (after `served`, of which `gold_served` gold) is gold."""
        return gold_served < math.floor((served + 1) * self.share)

    def score(self, known: Sequence[Mapping[str, Any]], given: Sequence[Mapping[str, Any]]) -> float:
        """1.0 when the answer has exactly the known boxes (by label and IoU), down to 0."""
        return pair_agreement(known, given, self.iou_threshold)

    def below(self, scores: Sequence[float]) -> bool:
        """True when a reviewer's gold scores are enough to judge and their mean is below `min_score`."""
        return self.below_total(len(scores), sum(scores))

    def below_total(self, count: int, total: float) -> bool:
        """`below` from the count and the sum of the scores (what a reviewer record keeps)."""
        return count >= self.min_tasks and round(total / count, 4) < self.min_score

    def low_score(
        self, reviewer: str, standing: tuple[int, float], answered_at: str
    ) -> ReviewerGoldScoreLow | None:
        """The event a reviewer's standing (gold answers, score sum) raises when below, else None."""
        count, total = standing
        if not self.below_total(count, total):
            return None
        return ReviewerGoldScoreLow(
            reviewer=reviewer,
            gold_score=round(total / count, 4),
            gold_tasks=count,
            min_score=self.min_score,
            answered_at=answered_at,
        )


def gold_answer_adds(score: float) -> dict[str, float]:
    """What one scored gold answer adds to its reviewer's record."""
    return {GOLD_ANSWERS: 1, GOLD_SCORE_SUM: score}


def gold_standing(record: Mapping[str, Any]) -> tuple[int, float]:
    """A reviewer record's gold answers and the sum of their scores."""
    return int(record.get(GOLD_ANSWERS, 0)), float(record.get(GOLD_SCORE_SUM, 0))


def mean_score(scores: Sequence[float]) -> float | None:
    return round(sum(scores) / len(scores), 4) if scores else None


def reviewer_record_key(reviewer: str) -> str:
    return f"{REVIEWER_RECORD_PREFIX}{reviewer}"


@dataclass(frozen=True)
class GoldLine:
    """One image whose answer is known: the task it becomes, and the boxes a right answer has."""

    gold_id: str
    input_content: dict[str, Any]
    boxes: list[dict[str, Any]]


def with_model_detections(
    line: dict[str, Any],
    shown: ImageDetections,
    model: Mapping[str, str],
    source: Mapping[str, str],
    labels: Sequence[str],
    at: str,
) -> dict[str, Any]:
    """The gold line with the model's boxes for its image (`shown`: what a task would show, in the
    image's pixels) and the labels a task offers (`labels`) kept in its metadata, replacing earlier
    ones; ValueError when the model saw the image at another size than the line's (the known boxes
    would not fit the model's)."""
    attribute = validate_line(line)
    size = line[attribute]["image_size"][0]
    if (shown.image_size.width, shown.image_size.height) != (size["width"], size["height"]):
        raise ValueError(
            f"{line['source-ref']} is {shown.image_size.width}x{shown.image_size.height} (upright), "
            f"but the gold line says {size['width']}x{size['height']}"
        )
    predicted = {
        "detections": [d.to_dict() for d in shown.detections],
        "model": dict(model),
        "source": dict(source),
        "labels": list(labels),
        "predicted-at": at,
    }
    metadata = {**line[f"{attribute}-metadata"], MODEL_DETECTIONS: predicted}
    return {**line, f"{attribute}-metadata": metadata}


def _model_detections(
    metadata: Mapping[str, Any], size: ImageSize
) -> tuple[ImageDetections, dict, dict, list[str]]:
    """The shown detections, model, source and offered labels a gold line's metadata keeps; ValueError
    when absent or bad."""
    predicted = metadata.get(MODEL_DETECTIONS)
    if not isinstance(predicted, dict):
        raise ValueError(
            f"no model boxes ('{MODEL_DETECTIONS}' in the metadata): without them a reviewer can tell the "
            f"task is gold; run `{PREDICT_COMMAND}` and use its output"
        )
    try:
        found = tuple(Detection.from_dict(d) for d in predicted["detections"])
        model, source = dict(predicted["model"]), dict(predicted["source"])
        labels = [str(label) for label in predicted["labels"]]
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"'{MODEL_DETECTIONS}' is not as `{PREDICT_COMMAND}` writes it: {err}") from None
    return ImageDetections(size, found), model, source, labels


def gold_lines(text: str) -> list[GoldLine]:
    """The lines of a gold manifest (Ground Truth's object-detection lines, checked as the training
    manifest's are, each with the model's boxes for its image); ValueError names the first bad line.
    Reviewers are offered the labels any task offers (as `hitl review gold predict` recorded them),
    then any other label the class maps name, and shown the model's boxes as ingest shows them
    (`build_input_content`)."""
    parsed = parse_lines(text)
    offered_by_tasks: dict[str, None] = {}
    labels: set[str] = set()
    found = []
    for number, line in enumerate(parsed, start=1):
        try:
            attribute = validate_line(line)
            metadata = line[f"{attribute}-metadata"]
            size = ImageSize.from_dict(line[attribute]["image_size"][0])
            shown, model, source, task_labels = _model_detections(metadata, size)
        except ValueError as err:
            raise ValueError(f"gold manifest line {number}: {err}") from None
        class_map = metadata["class-map"]
        labels.update(class_map.values())
        offered_by_tasks.update(dict.fromkeys(task_labels))
        boxes = [
            {"label": class_map[str(a["class_id"])], **{k: a[k] for k in ("left", "top", "width", "height")}}
            for a in line[attribute]["annotations"]
        ]
        found.append((line["source-ref"], shown, model, source, boxes))
    offered = [*offered_by_tasks, *sorted(labels.difference(offered_by_tasks))]
    return [
        GoldLine(
            hashlib.sha256(task_object.encode()).hexdigest()[:16],
            build_input_content(
                task_object=task_object, shown=shown, labels=offered, source=source, model=model
            ),
            boxes,
        )
        for task_object, shown, model, source, boxes in found
    ]


def gold_task(
    line: GoldLine,
    reviewer: str,
    nth: int,
    now: datetime,
    timing: ReviewTiming,
    priority: PriorityRule | None = None,
) -> ReviewTask:
    """The reviewer's `nth` gold task, claimed by them: it looks like any task (a loop name made as
    ingest makes one, the model's boxes and a priority from their scores as ingest gives them, its
    known boxes kept in `gold`, which no view shows) and is never queued."""
    bucket, _, key = str(line.input_content["taskObject"]).removeprefix("s3://").partition("/")
    name = loop_name(bucket, key, f"gold|{reviewer}|{nth}")
    task = new_task(name, serialize_input_content(line.input_content), now, priority)
    held = claim(task, reviewer, now, timing)
    return replace(held, gold=json.dumps(line.boxes, separators=(",", ":")))
