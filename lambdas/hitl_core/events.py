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
    reason: Literal["over-budget"] | None = Field(
        default=None, description="over-budget: the conditions asked a review, the review budget was spent"
    )


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
        "(the labels the task offers); their boxes are not in the answer",
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


class ClassCountsOut(_Model):
    true_positives: Annotated[int, Field(ge=0)]
    false_positives: Annotated[int, Field(ge=0)]
    false_negatives: Annotated[int, Field(ge=0)]


class RelabelOut(_Model):
    from_label: str = Field(description="the model's label")
    to_label: str = Field(description="the reviewer's label for the box it overlaps")


class ReviewComparisonOut(_Model):
    """The model's shown boxes against the consolidated answer (`hitl_core.review_comparison`)."""

    iou_threshold: Annotated[float, Field(gt=0, le=1)]
    true_positives: Annotated[int, Field(ge=0)]
    false_positives: Annotated[int, Field(ge=0)]
    false_negatives: Annotated[int, Field(ge=0)]
    image_wrong: bool = Field(description="the model missed a box or drew a false one")
    changed: bool = Field(description="the answer's boxes differ from the model's shown boxes")
    per_class: dict[str, ClassCountsOut]
    matched_ious: list[Annotated[float, Field(ge=0, le=1)]]
    relabels: list[RelabelOut]


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
    comparison: ReviewComparisonOut | None = Field(
        default=None,
        description="the model's boxes shown to the reviewer against this answer; null when the "
        "task's initial value could not be read",
    )


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


TrainingMode = Literal[
    "model-artifact", "rekognition-custom-labels", "marketplace-model-package", "existing-endpoint"
]


class DatasetSummary(_Model):
    """A retraining run's dataset: where its files are and what they hold (stats.json has it all)."""

    manifest_uri: str = Field(description="s3:// URI of the folded manifest (every image, newest answers)")
    train_uri: str
    validation_uri: str
    stats_uri: str
    images: Annotated[int, Field(ge=0)]
    train_images: Annotated[int, Field(ge=0)]
    validation_images: Annotated[int, Field(ge=0)]
    empty_images: Annotated[int, Field(ge=0)] = Field(description="lines without boxes: kept, not trained on")
    invalid_lines: Annotated[int, Field(ge=0)] = Field(
        description="base-manifest lines left out (stats.json: why)"
    )
    new_answers: Annotated[int, Field(ge=0)] = Field(
        description="images added or re-answered since the last run"
    )


class TrainingDatasetBuilt(EventDetail):
    """A retraining run built its dataset; `training` says whether a training job follows."""

    detail_type: ClassVar[str] = "Training Dataset Built"
    schema_name: ClassVar[str] = "training-dataset-built"

    run_id: str
    mode: TrainingMode
    dataset: DatasetSummary
    training: Literal["starting", "too-few-answers", "not-retrainable"] = Field(
        description="starting: a job follows; too-few-answers: below training.min_new_answers or an empty "
        "split; not-retrainable: this detector mode cannot be retrained by the stack"
    )
    reason: str
    record_uri: str = Field(description="s3:// URI of the run record")


class TrainingStarted(EventDetail):
    """A training job (or a Rekognition Custom Labels version) was created for a run."""

    detail_type: ClassVar[str] = "Training Started"
    schema_name: ClassVar[str] = "training-started"

    run_id: str
    mode: Literal["model-artifact", "rekognition-custom-labels"]
    job_name: str = Field(description="training job name, or the Rekognition version name")
    train_images: Annotated[int, Field(ge=1)]
    validation_images: Annotated[int, Field(ge=1)]
    record_uri: str


class TrainingCompleted(EventDetail):
    """A run's model was scored against the current one: both scores and the decision."""

    detail_type: ClassVar[str] = "Training Completed"
    schema_name: ClassVar[str] = "training-completed"

    run_id: str
    mode: Literal["model-artifact", "rekognition-custom-labels"]
    job_name: str
    metric: str = Field(description="validation:mAP (built-in detector) or F1 (Rekognition)")
    new_score: float | None
    current_score: float | None
    min_improvement: float
    decision: Literal["deploy", "keep-current", "no-score"] = Field(
        description="deploy: better by training.min_improvement; keep-current: not better enough; "
        "no-score: a score is missing, a person decides"
    )
    reason: str
    model_data_uri: str | None = Field(description="s3:// URI of the new model.tar.gz (built-in detector)")
    model_package_arn: str | None = Field(
        description="the registered model package (null when not registered)"
    )
    next_step: str = Field(description="what happens next, or the command that does it")
    record_uri: str


class TrainingFailed(EventDetail):
    """A run stopped: which step and why. Nothing was deployed."""

    detail_type: ClassVar[str] = "Training Failed"
    schema_name: ClassVar[str] = "training-failed"

    run_id: str | None
    step: str
    error: str
    cause: str
    record_uri: str | None


class ModelDeployed(EventDetail):
    """The endpoint serves a new model (blue/green update finished, no alarm fired)."""

    detail_type: ClassVar[str] = "Model Deployed"
    schema_name: ClassVar[str] = "model-deployed"

    endpoint_name: str
    endpoint_config_name: str
    model_name: str
    model_package_arn: str
    model_data_uri: str


class DeploymentRolledBack(EventDetail):
    """An endpoint update did not finish: SageMaker rolled back to the previous endpoint config."""

    detail_type: ClassVar[str] = "Deployment Rolled Back"
    schema_name: ClassVar[str] = "deployment-rolled-back"

    endpoint_name: str
    attempted_endpoint_config_name: str
    model_package_arn: str
    endpoint_status: str
    reason: str


Rate = Annotated[float, Field(ge=0, le=1)]


class AcceptedErrorRateExceeded(EventDetail):
    """Too many accepted images are wrong: even the 95% interval's lower bound of their share, from
    the routing policy's random audit, is above `quality.max_accepted_error_rate`."""

    detail_type: ClassVar[str] = "Accepted Error Rate Exceeded"
    schema_name: ClassVar[str] = "accepted-error-rate-exceeded"

    report_date: str = Field(description="the day of the daily run (YYYY-MM-DD): at most one event a day")
    window_start: str = Field(description="audited images processed from this time (UTC ISO 8601) ...")
    window_end: str = Field(description="... up to this one")
    audited: Annotated[int, Field(ge=1)] = Field(description="audited images a person answered")
    wrong: Annotated[int, Field(ge=0)] = Field(description="of them, the model missed or drew a false box")
    audit_percentage: Annotated[float, Field(ge=0, le=100)]
    rate: Rate = Field(description="estimated share of accepted images the model got wrong")
    low: Rate = Field(description="the 95% Wilson interval's lower bound")
    high: Rate = Field(description="the 95% Wilson interval's upper bound")
    max_accepted_error_rate: Rate
    report_uri: str = Field(description="s3:// URI of the day's quality report")


class ModelQualityDegraded(EventDetail):
    """A class's precision or recall in the recent window fell more than `quality.drift_margin`
    below the baseline window before it, with `quality.min_reviews` answered images in each."""

    detail_type: ClassVar[str] = "Model Quality Degraded"
    schema_name: ClassVar[str] = "model-quality-degraded"

    report_date: str = Field(description="the day of the daily run (YYYY-MM-DD)")
    label: str
    metric: Literal["precision", "recall"]
    baseline: Rate = Field(description="the metric over the baseline window")
    recent: Rate = Field(description="the metric over the recent window")
    drop: Rate
    margin: Rate
    baseline_reviews: Annotated[int, Field(ge=1)]
    recent_reviews: Annotated[int, Field(ge=1)]
    baseline_start: str = Field(description="UTC ISO 8601; the baseline ends where the recent window starts")
    recent_start: str
    window_end: str
    report_uri: str = Field(description="s3:// URI of the day's quality report")


class ReviewerGoldScoreLow(EventDetail):
    """A reviewer's mean score on gold tasks (images whose answer is known) is below
    `review.gold.min_score`, over at least `review.gold.min_tasks` gold answers."""

    detail_type: ClassVar[str] = "Reviewer Gold Score Low"
    schema_name: ClassVar[str] = "reviewer-gold-score-low"

    reviewer: str = Field(description="the reviewer's sign-in subject (sub); with A2I, the worker's workerId")
    gold_score: Rate = Field(
        description="mean score of the reviewer's gold answers (boxes matched by IoU and label)"
    )
    gold_tasks: Annotated[int, Field(ge=1)] = Field(description="gold answers the mean is taken over")
    min_score: Rate
    answered_at: str = Field(description="UTC ISO 8601 time of the gold answer that was scored last")


EVENT_TYPES: tuple[type[EventDetail], ...] = (
    PredictionAccepted,
    HumanReviewStarted,
    InputRejected,
    ReviewCompleted,
    ReviewFailed,
    AnswerQuarantined,
    ManifestSealed,
    TrainingDatasetBuilt,
    TrainingStarted,
    TrainingCompleted,
    TrainingFailed,
    ModelDeployed,
    DeploymentRolledBack,
    AcceptedErrorRateExceeded,
    ModelQualityDegraded,
    ReviewerGoldScoreLow,
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
