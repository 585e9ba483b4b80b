"""What the pipeline has done, as a downstream consumer sees it: the events on the project's bus.

Folds the events (delivered at least once, in any order) into per-image and per-loop reports,
and says in plain words why each image was accepted or sent to review.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from hitl_core.review_tasks import REVIEW_SERVICE_ID_PREFIX

TERMINAL_LOOP_STATES = frozenset({"Completed", "Failed", "Stopped", "Quarantined", "DeadLettered"})
_BOUNDS = {
    "ConfidenceLessThan": "<",
    "ConfidenceLessThanEquals": "<=",
    "ConfidenceGreaterThan": ">",
    "ConfidenceGreaterThanEquals": ">=",
}


def describe_condition(result: dict[str, Any]) -> str:
    """One evaluated routing condition (A2I's activation-condition shape) in words."""
    for operator in ("And", "Or"):
        if operator in result:
            inner = f" {operator.lower()} ".join(describe_condition(c) for c in result[operator])
            return f"({inner})"
    params = result.get("ConditionParameters", {})
    kind = result.get("ConditionType")
    if kind == "ModelConfidenceCheck":
        label = params.get("LabelName", "*")
        subject = "any label" if label == "*" else f"'{label}'"
        bounds = " and ".join(f"{op} {params[key]}" for key, op in _BOUNDS.items() if key in params)
        if params.get("Aggregate") == "Max":
            return f"top score of {subject} {bounds}"
        return f"some score of {subject} {bounds}"
    if kind == "NoDetections":
        return f"nothing scores >= {params.get('MinConfidence', 0.0)}"
    if kind == "Sampling":
        return f"picked by the {params.get('RandomSamplingPercentage')}% audit sample"
    return str(kind)


def explain_decision(outcome: str, condition_results: dict[str, Any]) -> str:
    """Why an image was accepted or sent to review, from the decision's condition results."""
    conditions = condition_results.get("Conditions", [])
    if outcome == "review":
        held = [describe_condition(c) for c in conditions if c.get("EvaluationResult")]
        return "review, because " + "; ".join(held or ["a condition held"])
    checked = " / ".join(describe_condition(c) for c in conditions)
    return f"accepted, because no review condition holds: {checked} is false" if checked else "accepted"


def describe_detections(detections: Iterable[dict[str, Any]]) -> str:
    found = [f"{d['label']} {d['score']:.2f}" for d in detections]
    return ", ".join(found) if found else "nothing detected"


@dataclass
class ImageReport:
    key: str
    outcome: str | None = None
    detections: list[dict[str, Any]] = field(default_factory=list)
    condition_results: dict[str, Any] = field(default_factory=dict)
    loop_name: str | None = None
    rejection: str | None = None

    @property
    def name(self) -> str:
        return self.key.rsplit("/", 1)[-1]

    @property
    def why(self) -> str:
        if self.outcome == "rejected":
            return f"rejected: {self.rejection}"
        if self.outcome == "dead-lettered":
            return "its message failed every retry and was parked in the ingest DLQ (see the ingest log)"
        if self.outcome is None:
            return "no decision announced"
        top = max((d["score"] for d in self.detections), default=0.0)
        return f"{explain_decision(self.outcome, self.condition_results)} (top score {top:.2f})"


@dataclass
class LoopReport:
    name: str
    image_key: str
    state: str = "InProgress"
    boxes: int | None = None
    reviewers: int | None = None
    manifest_uri: str | None = None
    note: str | None = None


class PipelineView:
    """Per-image and per-loop state, built from the events of the images this run dropped."""

    def __init__(self, keys: Iterable[str]) -> None:
        self.images = {key: ImageReport(key) for key in keys}
        self.loops: dict[str, LoopReport] = {}
        self.sealed: list[str] = []
        self.events: list[dict[str, Any]] = []
        self._seen: set[str] = set()

    @property
    def finished(self) -> bool:
        """Every image decided and every review it started finished."""
        return all(image.outcome for image in self.images.values()) and all(
            loop.state in TERMINAL_LOOP_STATES for loop in self.loops.values()
        )

    @property
    def manifest_uri(self) -> str | None:
        uris = [loop.manifest_uri for loop in self.loops.values() if loop.manifest_uri]
        return uris[-1] if uris else None

    def record(self, event: dict[str, Any]) -> str | None:
        """Take one EventBridge event; returns a progress line when it is news about this run."""
        if event.get("id") in self._seen:
            return None
        self._seen.add(event.get("id", ""))
        detail = event.get("detail", {})
        kind = event.get("detail-type")
        if kind in ("Prediction Accepted", "Human Review Started", "Input Rejected"):
            image = self.images.get(detail.get("image", {}).get("key"))
            if image is None:
                return None
            self.events.append(event)
            return self._decided(image, kind, detail)
        loop = self.loops.get(detail.get("loop_name", ""))
        if kind == "Manifest Sealed":
            self.events.append(event)
            self.sealed.append(detail["manifest_uri"])
            return f"  [sealed]    {detail['manifest_uri']} ({detail['line_count']} lines)"
        if loop is None:
            return None
        self.events.append(event)
        return self._finished_loop(loop, kind, detail)

    def dead_lettered(self, queue_event: dict[str, Any]) -> str | None:
        """Take an event found in a dead-letter queue: the image or loop it names has given up."""
        detail = queue_event.get("detail", {})
        image = self.images.get(detail.get("object", {}).get("key", ""))
        if image is not None and image.outcome is None:
            image.outcome = "dead-lettered"
            return f"  [dlq]       {image.name}: failed every retry; parked in the ingest DLQ"
        loop = self.loops.get(detail.get("humanLoopName", ""))
        if loop is not None and loop.state not in TERMINAL_LOOP_STATES:
            loop.state = "DeadLettered"
            loop.note = "its status event failed every retry; parked in the review DLQ"
            return f"  [dlq]       {loop.name}: {loop.note}"
        return None

    def _decided(self, image: ImageReport, kind: str, detail: dict[str, Any]) -> str:
        if kind == "Input Rejected":
            image.outcome = "rejected"
            image.rejection = f"{detail['reason_code']} ({detail['reason']})"
            return f"  [rejected]  {image.name}: {image.rejection}"
        image.detections = detail["detections"]
        image.condition_results = detail["condition_results"]
        found = describe_detections(image.detections)
        if kind == "Prediction Accepted":
            image.outcome = "accept"
            return f"  [accepted]  {image.name}: {found}"
        image.outcome = "review"
        image.loop_name = detail["loop_name"]
        self.loops.setdefault(image.loop_name, LoopReport(image.loop_name, image.key))
        builtin = str(detail.get("flow_definition_arn", "")).startswith(REVIEW_SERVICE_ID_PREFIX)
        review = "review task" if builtin else "human loop"
        return f"  [review]    {image.name}: {found} -> {review} {image.loop_name}"

    def _finished_loop(self, loop: LoopReport, kind: str, detail: dict[str, Any]) -> str | None:
        if kind == "Review Completed":
            loop.state = "Completed"
            loop.boxes = len(detail["boxes"])
            loop.reviewers = detail["reviewer_count"]
            loop.manifest_uri = detail["manifest_uri"]
            return f"  [completed] {loop.name}: {loop.boxes} box(es) -> {loop.manifest_uri}"
        if kind == "Review Failed":
            loop.state = detail["status"]
            loop.note = detail.get("failure_reason")
            return f"  [{loop.state.lower()}]  {loop.name}: {loop.note or ''}"
        if kind == "Answer Quarantined":
            loop.state = "Quarantined"
            loop.note = detail["reason"]
            return f"  [quarantined] {loop.name}: {loop.note} -> {detail['quarantine_uri']}"
        return None
