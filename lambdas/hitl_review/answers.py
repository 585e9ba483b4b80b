"""An A2I `output.json` as a manifest-ready answer, or the reason it cannot be one."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from hitl_core.detections import Detection
from hitl_core.events import LabeledBox, ReviewCompleted, Size
from hitl_core.human_loop import shown_detections
from hitl_core.manifest import ANSWER_ELEMENT, AnswerError, ground_truth_line
from hitl_core.review_comparison import DEFAULT_IOU_THRESHOLD, ReviewComparison, compare_boxes
from hitl_review.manifest_plan import Answer

QuarantineCode = Literal["malformed-json", "invalid-answer", "missing-output"]


class Unconvertible(ValueError):
    """A human answer that cannot become a manifest line; it goes to quarantine whole."""

    def __init__(self, code: QuarantineCode, reason: str) -> None:
        super().__init__(reason)
        self.code: QuarantineCode = code
        self.reason = reason


@dataclass(frozen=True)
class ConvertedAnswer:
    """A human loop's answer as a manifest line, with what the Review Completed event reports."""

    loop_name: str
    output_uri: str
    line: dict[str, Any]
    reviewer_count: int
    initial_value_modified: bool | None
    shown: tuple[Detection, ...] = ()
    comparison: ReviewComparison | None = None
    comparison_error: str | None = None

    def answer(self, key: str, attribute: str) -> Answer:
        return Answer(key=key, line=self.line, attribute=attribute)

    def boxes(self, attribute: str) -> list[LabeledBox]:
        """The consolidated answer's boxes, as the manifest line holds them."""
        body, meta = self.line[attribute], self.line[f"{attribute}-metadata"]
        class_map = meta["class-map"]
        return [
            LabeledBox(
                label=class_map[str(a["class_id"])],
                left=a["left"],
                top=a["top"],
                width=a["width"],
                height=a["height"],
            )
            for a in body["annotations"]
        ]

    def completed_event(
        self, attribute: str, manifest_action: str, manifest_uri: str | None
    ) -> ReviewCompleted:
        body, meta = self.line[attribute], self.line[f"{attribute}-metadata"]
        return ReviewCompleted(
            loop_name=self.loop_name,
            source_ref=self.line["source-ref"],
            output_uri=self.output_uri,
            manifest_action=manifest_action,
            manifest_uri=manifest_uri,
            image_size=Size(**body["image_size"][0]),
            boxes=self.boxes(attribute),
            reviewer_count=self.reviewer_count,
            initial_value_modified=self.initial_value_modified,
            submission_time=meta["creation-date"],
            comparison=self.comparison.to_dict() if self.comparison else None,
        )


def convert_output(
    raw: bytes,
    *,
    loop_name: str,
    output_uri: str,
    attribute: str,
    labels: Sequence[str],
    iou_threshold: float = DEFAULT_IOU_THRESHOLD,
) -> ConvertedAnswer:
    """Parse and convert one output.json; raises Unconvertible with a reason code."""
    try:
        output = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise Unconvertible("malformed-json", f"output.json is not JSON: {err}") from None
    if not isinstance(output, dict):
        raise Unconvertible("malformed-json", "output.json is not a JSON object")
    if output.get("humanLoopName") != loop_name:
        raise Unconvertible(
            "invalid-answer",
            f"output.json names human loop {output.get('humanLoopName')!r}, the event {loop_name!r}",
        )
    try:
        line = ground_truth_line(output, attribute=attribute, class_list=labels)
    except AnswerError as err:
        raise Unconvertible("invalid-answer", str(err)) from None
    answers = output["humanAnswers"]
    modified = [
        a["answerContent"][ANSWER_ELEMENT].get("initialValueModified")
        for a in answers
        if isinstance(a["answerContent"][ANSWER_ELEMENT].get("initialValueModified"), bool)
    ]
    converted = ConvertedAnswer(
        loop_name=loop_name,
        output_uri=output_uri,
        line=line,
        reviewer_count=len(answers),
        initial_value_modified=any(modified) if modified else None,
    )
    return _compared(converted, output["inputContent"], attribute, iou_threshold)


def _compared(
    converted: ConvertedAnswer, content: dict[str, Any], attribute: str, iou_threshold: float
) -> ConvertedAnswer:
    """The answer with the model's shown boxes compared to its consolidated boxes.

    With TaskCount > 1 that is the majority answer the manifest keeps, not each reviewer's. An
    unreadable initial value leaves no comparison, and says why, rather than losing the answer.
    """
    try:
        shown = shown_detections(content)
    except (KeyError, TypeError, ValueError) as err:
        return replace(converted, comparison_error=f"the task's initialValue cannot be read: {err!r}")
    comparison = compare_boxes(shown, converted.boxes(attribute), iou_threshold)
    return replace(converted, shown=shown, comparison=comparison)
