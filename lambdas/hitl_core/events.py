"""The events the pipeline publishes on its own EventBridge bus: one model per detail-type.

The JSON Schemas in `schemas/events/` are generated from these models (`hitl schemas write`)
and a test keeps them in step, so downstream consumers can rely on them.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

EVENT_SOURCE = "hitl.pipeline"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ImageRef(_Model):
    """The exact S3 object an event is about."""

    bucket: str
    key: str
    version: str = Field(description="S3 version id, or the ETag when the bucket is not versioned")
    uri: str


class Size(_Model):
    width: Annotated[int, Field(gt=0)]
    height: Annotated[int, Field(gt=0)]
    depth: Annotated[int, Field(gt=0)] = 3


class DetectionOut(_Model):
    """A detection; the box fields are absent for an image-level label."""

    label: str
    score: Annotated[float, Field(ge=0, le=1)]
    left: int | None = None
    top: int | None = None
    width: int | None = None
    height: int | None = None


class LabeledBox(_Model):
    label: str
    left: Annotated[int, Field(ge=0)]
    top: Annotated[int, Field(ge=0)]
    width: Annotated[int, Field(gt=0)]
    height: Annotated[int, Field(gt=0)]


class EventDetail(_Model):
    """Base of every event detail; `detail_type` is the EventBridge detail-type."""

    detail_type: ClassVar[str]
    schema_name: ClassVar[str]


RejectionCode = Literal[
    "not-an-image",
    "unsupported-format",
    "corrupt",
    "too-large",
    "not-found",
    "detector-refused",
    "detector-response",
]
"""Why an upload was rejected: not an image; not JPEG/PNG; undecodable; over the byte or pixel
maximum; gone before it was read; refused by the detector as input; detector answer unreadable."""


class PredictionAccepted(EventDetail):
    """The model's detections were confident enough: they stand without a human."""

    detail_type: ClassVar[str] = "Prediction Accepted"
    schema_name: ClassVar[str] = "prediction-accepted"

    image: ImageRef
    record_uri: str = Field(description="s3:// URI of the prediction record")
    image_size: Size
    detections: list[DetectionOut] = Field(description="detections at or above MinDisplayScore, in pixels")
    condition_results: dict[str, Any] = Field(description="each routing condition's result")
    model: dict[str, str]


class HumanReviewStarted(EventDetail):
    """The image went to a human reviewer (an A2I human loop)."""

    detail_type: ClassVar[str] = "Human Review Started"
    schema_name: ClassVar[str] = "human-review-started"

    image: ImageRef
    record_uri: str = Field(description="s3:// URI of the prediction record")
    loop_name: str
    flow_definition_arn: str
    image_size: Size
    detections: list[DetectionOut] = Field(description="the detections shown to the reviewer")
    hidden_detections: list[DetectionOut] = Field(
        default=[],
        description="detections hidden from the reviewer because their label is not in review_labels "
        "(the task offers at most 10 labels); their boxes are not in the answer",
    )
    condition_results: dict[str, Any] = Field(description="each routing condition's result")
    model: dict[str, str]


class InputRejected(EventDetail):
    """An upload could not be scored; the rejected record says why."""

    detail_type: ClassVar[str] = "Input Rejected"
    schema_name: ClassVar[str] = "input-rejected"

    image: ImageRef
    record_uri: str = Field(description="s3:// URI of the rejected-input record")
    reason_code: RejectionCode
    reason: str


class ReviewCompleted(EventDetail):
    """A reviewer's answer is in: its boxes, and what it did to the rolling training manifest."""

    detail_type: ClassVar[str] = "Review Completed"
    schema_name: ClassVar[str] = "review-completed"

    loop_name: str
    source_ref: str = Field(description="s3:// URI of the reviewed image (the manifest line's source-ref)")
    output_uri: str = Field(description="s3:// URI of A2I's output.json")
    manifest_action: Literal["added", "replaced", "unchanged", "superseded"] = Field(
        description="added: new line; replaced: newer than the line it replaced; unchanged: this "
        "answer was already in (a redelivery); superseded: a newer answer for the image is in"
    )
    manifest_uri: str | None = Field(
        description="s3:// URI of the manifest holding this answer's line (null when superseded)"
    )
    image_size: Size
    boxes: list[LabeledBox] = Field(description="the consolidated human answer, in image pixels")
    reviewer_count: Annotated[int, Field(ge=1)]
    initial_value_modified: bool | None = Field(
        description="whether any reviewer changed the pre-drawn boxes (null when none were given)"
    )
    submission_time: str = Field(description="the last reviewer's submission time, UTC ISO 8601")


class ReviewFailed(EventDetail):
    """A human loop ended without an answer (A2I status Failed or Stopped)."""

    detail_type: ClassVar[str] = "Review Failed"
    schema_name: ClassVar[str] = "review-failed"

    loop_name: str
    human_loop_arn: str
    status: Literal["Failed", "Stopped"]
    failure_code: str | None
    failure_reason: str | None
    record_uri: str = Field(description="s3:// URI of the review record written for it")


class AnswerQuarantined(EventDetail):
    """A human answer could not become a manifest line; it is kept whole in quarantine."""

    detail_type: ClassVar[str] = "Answer Quarantined"
    schema_name: ClassVar[str] = "answer-quarantined"

    loop_name: str
    reason_code: Literal["malformed-json", "invalid-answer", "missing-output"] = Field(
        description="malformed-json: output.json is not a JSON object; invalid-answer: it lacks a "
        "field, has a bad box or a label outside the class list; missing-output: no object at the URI"
    )
    reason: str
    output_uri: str = Field(description="s3:// URI of A2I's output.json")
    quarantine_uri: str = Field(
        description="s3:// folder holding the copied output.json (when there was one) and reason.json"
    )


class ManifestSealed(EventDetail):
    """A rolling manifest is full and will never change again: a training run can start on it."""

    detail_type: ClassVar[str] = "Manifest Sealed"
    schema_name: ClassVar[str] = "manifest-sealed"

    manifest_uri: str
    generation: Annotated[int, Field(ge=1)] = Field(description="the manifest's sequence number")
    line_count: Annotated[int, Field(ge=1)]
    byte_count: Annotated[int, Field(ge=1)]
    first_creation_date: str = Field(description="earliest answer creation-date in the manifest")
    last_creation_date: str = Field(description="latest answer creation-date in the manifest")


EVENT_TYPES: tuple[type[EventDetail], ...] = (
    PredictionAccepted,
    HumanReviewStarted,
    InputRejected,
    ReviewCompleted,
    ReviewFailed,
    AnswerQuarantined,
    ManifestSealed,
)


def event_schema(event_type: type[EventDetail]) -> dict[str, Any]:
    """The JSON Schema of one detail-type, as checked into `schemas/events/`."""
    schema = event_type.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"{EVENT_SOURCE}/{event_type.schema_name}"
    schema["title"] = event_type.detail_type
    schema["x-event-source"] = EVENT_SOURCE
    return schema


def put_events_entry(detail: EventDetail, bus_name: str) -> dict[str, str]:
    """One PutEvents entry for the project's bus."""
    return {
        "Source": EVENT_SOURCE,
        "DetailType": detail.detail_type,
        "Detail": detail.model_dump_json(),
        "EventBusName": bus_name,
    }
