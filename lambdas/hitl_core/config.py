"""The one configuration: read by the CDK app (context `hitl`), the Lambdas (`HITL_CONFIG`
environment variable) and the local stack (a JSON file, by default `cdk.json`'s context).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from hitl_core.adapters import AdapterName
from hitl_core.gold_loops import gold_image_folder
from hitl_core.gold_tasks import GoldRule
from hitl_core.review_agreement import AgreementRule
from hitl_core.review_budget import OverBudgetRule, ReviewBudget
from hitl_core.review_priority import PriorityRule
from hitl_core.routing import PresetName, RoutingPolicy, preset_policy
from hitl_core.training_config import TrainingConfig

CONTEXT_KEY = "hitl"
ENVIRONMENT_VARIABLE = "HITL_CONFIG"
A2I_MAX_REVIEW_LABELS = 10
"""A2I's bounding-box element (crowd-bounding-box) documents "Limit: 10 labels"; the built-in
review service's editor has a type-to-filter label picker and no limit."""
REAL_TIME_PAYLOAD_LIMIT = 6_291_456
SERVERLESS_PAYLOAD_LIMIT = 4_194_304

ModelT = TypeVar("ModelT", bound=BaseModel)
_ATTRIBUTE_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,126}")


class ConfigError(ValueError):
    """Configuration that cannot be used; the message names the bad key."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _prefix(value: str) -> str:
    if not value or value.startswith("/") or not value.endswith("/"):
        raise ValueError("a prefix is non-empty, relative and ends with '/'")
    return value


class Prefixes(_Section):
    """Where things live: `incoming` in the input bucket, the rest in the training-data bucket."""

    incoming: str = "incoming/"
    predictions: str = "predictions/"
    rejected: str = "rejected/"
    reviews: str = "reviews/"
    quarantine: str = "quarantine/"
    manifests: str = "manifests/"
    review_output: str = "a2i-output/"
    training_runs: str = "training-runs/"
    quality_reports: str = "quality-reports/"

    @field_validator("*")
    @classmethod
    def _relative_folder(cls, value: str) -> str:
        return _prefix(value)


class Rotation(_Section):
    """When the rolling manifest is sealed and a new one started."""

    max_lines: Annotated[int, Field(ge=1)] = 5_000
    max_bytes: Annotated[int, Field(ge=1024)] = 8 * 1024 * 1024


class Routing(_Section):
    """A shipped preset (plus optional audit sampling), or a whole policy document."""

    preset: PresetName | None = "top-score-below"
    sampling_percentage: Annotated[float, Field(ge=0.01, le=100.0)] | None = None
    policy: RoutingPolicy | None = None

    @model_validator(mode="after")
    def _one_source(self) -> Routing:
        if self.policy is not None and "preset" in self.model_fields_set and self.preset is not None:
            raise ValueError("give either 'preset' or 'policy', not both")
        if self.policy is not None and self.sampling_percentage is not None:
            raise ValueError(
                "'sampling_percentage' goes with a preset; add a Sampling condition to the policy"
            )
        return self

    def resolve(self) -> RoutingPolicy:
        if self.policy is not None:
            return self.policy
        return preset_policy(self.preset or "top-score-below", self.sampling_percentage)


class Quality(_Section):
    """How the reviews measure the model: box matching, the errors let through, drift between windows."""

    iou_threshold: Annotated[float, Field(gt=0.0, le=1.0)] = 0.5
    max_accepted_error_rate: Annotated[float, Field(gt=0.0, lt=1.0)] = Field(
        default=0.05,
        description="alarm when the 95% interval's lower bound of accepted images' errors passes it",
    )
    min_audited: Annotated[int, Field(ge=1)] = Field(
        default=20, description="audited images needed before the errors let through are estimated"
    )
    recent_days: Annotated[int, Field(ge=1)] = 7
    baseline_days: Annotated[int, Field(ge=1)] = 28
    drift_margin: Annotated[float, Field(gt=0.0, lt=1.0)] = Field(
        default=0.1, description="a drop in a class's precision or recall larger than this is drift"
    )
    min_reviews: Annotated[int, Field(ge=1)] = Field(
        default=30, description="answered images needed in each window before drift is judged"
    )


class ReviewPriority(_Section):
    """Which open task a reviewer gets first (`hitl_core.review_priority`)."""

    basis: Literal["threshold-distance", "lowest-score"] = "threshold-distance"
    threshold: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.5
    aging_seconds: Annotated[int, Field(ge=1)] = Field(
        default=3600, description="waiting this long adds one whole point to a task's priority (0-1)"
    )

    def rule(self) -> PriorityRule:
        return PriorityRule(self.basis, self.threshold, self.aging_seconds)


class ReviewBudgetConfig(_Section):
    """At most so many reviews per UTC hour, UTC day, and per reviewer per UTC day (left out: no limit)."""

    per_hour: Annotated[int, Field(ge=1)] | None = None
    per_day: Annotated[int, Field(ge=1)] | None = None
    per_reviewer_day: Annotated[int, Field(ge=1)] | None = None
    when_spent: Literal["queue", "accept"] = Field(
        default="queue",
        description="queue: images wait as open tasks that `tasks/next` does not serve; accept: ingest "
        "accepts them with reason over-budget while the hour's or the day's budget is spent",
    )
    audit_outside: bool = Field(
        default=True, description="audit samples (routing's Sampling condition) still queue when spent"
    )

    def budget(self) -> ReviewBudget:
        return ReviewBudget(self.per_hour, self.per_day, self.per_reviewer_day)

    def over_budget_rule(self) -> OverBudgetRule:
        return OverBudgetRule(self.budget(), self.when_spent == "accept", self.audit_outside)


class ReviewGold(_Section):
    """Gold tasks: a share of a reviewer's tasks whose answer is known, scored, never trained on."""

    manifest: str | None = Field(default=None, description="s3 URI or local path of the gold lines")
    share: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.05
    min_score: Annotated[float, Field(ge=0.0, le=1.0)] = 0.7
    min_tasks: Annotated[int, Field(ge=1)] = 5
    second_reviewer: bool = Field(
        default=False, description="a reviewer below min_score: their answers need one more reviewer"
    )

    def rule(self, iou_threshold: float) -> GoldRule:
        return GoldRule(self.share, self.min_score, self.min_tasks, iou_threshold, self.second_reviewer)


class ReviewAgreement(_Section):
    """With task_count >= 2: below `threshold` agreement one more reviewer is asked, up to `max_reviewers`."""

    threshold: Annotated[float, Field(gt=0.0, le=1.0)] = 0.8
    max_reviewers: Annotated[int, Field(ge=1, le=5)] = 3

    def rule(self, iou_threshold: float) -> AgreementRule:
        return AgreementRule(self.threshold, self.max_reviewers, iou_threshold)


class ReviewTeam(_Section):
    """How the built-in review service shares a team's daily work; with A2I, the budget, priority and
    gold as a share of loops started only (`check_a2i_review_team`; docs/review-team.md)."""

    priority: ReviewPriority = ReviewPriority()
    budget: ReviewBudgetConfig = ReviewBudgetConfig()
    gold: ReviewGold | None = None
    agreement: ReviewAgreement | None = None


class PipelineConfig(_Section):
    """Everything about the pipeline's behaviour that is not a deployed resource's name."""

    labels: Annotated[list[str], Field(min_length=1)]
    review_labels: list[str] | None = None
    adapter: AdapterName = "sagemaker-object-detection"
    routing: Routing = Routing()
    prefixes: Prefixes = Prefixes()
    manifest_attribute: str = "bounding-box"
    rotation: Rotation = Rotation()
    max_image_bytes: Annotated[int, Field(ge=1)] = 20 * 1024 * 1024
    endpoint_payload_limit: Annotated[int, Field(ge=1024, le=REAL_TIME_PAYLOAD_LIMIT)] = (
        REAL_TIME_PAYLOAD_LIMIT
    )
    training: TrainingConfig = TrainingConfig()
    quality: Quality = Quality()
    review: ReviewTeam = ReviewTeam()

    @field_validator("labels")
    @classmethod
    def _unique_labels(cls, labels: list[str]) -> list[str]:
        if any(not label.strip() for label in labels):
            raise ValueError("labels must not be blank")
        if len(set(labels)) != len(labels):
            duplicates = sorted({label for label in labels if labels.count(label) > 1})
            raise ValueError(f"labels must be unique; repeated: {duplicates}")
        return labels

    @field_validator("manifest_attribute")
    @classmethod
    def _attribute_name(cls, name: str) -> str:
        if not _ATTRIBUTE_NAME.fullmatch(name) or name == "source-ref" or name.endswith("-metadata"):
            raise ValueError(
                "must be 1-127 letters, digits and inner hyphens (Ground Truth's LabelAttributeName), "
                "not 'source-ref', not ending in '-metadata'"
            )
        return name

    @model_validator(mode="after")
    def _review_labels_known(self) -> PipelineConfig:
        unknown = [label for label in self.review_labels or [] if label not in self.labels]
        if unknown:
            raise ValueError(f"review_labels not in labels: {unknown}")
        if self.review_labels is not None and not self.review_labels:
            raise ValueError("review_labels must name at least one label (or be left out)")
        return self

    @property
    def offered_labels(self) -> list[str]:
        """Labels the reviewer may choose from by default."""
        return list(self.review_labels or self.labels)

    @property
    def policy(self) -> RoutingPolicy:
        return self.routing.resolve()


def check_a2i_labels(config: PipelineConfig) -> None:
    """Refuse a configuration whose reviewers would be offered more labels than A2I's element takes;
    called only where tasks go to A2I (review backend `a2i`)."""
    offered = len(config.offered_labels)
    if offered > A2I_MAX_REVIEW_LABELS:
        given = "review_labels has" if config.review_labels else "labels has"
        raise ConfigError(
            f"{given} {offered} labels; A2I's crowd-bounding-box element offers reviewers at most "
            f"{A2I_MAX_REVIEW_LABELS}: set review_labels to the {A2I_MAX_REVIEW_LABELS} or fewer labels "
            "reviewers choose from (boxes of other labels are hidden from them and recorded as hidden), "
            "or use the builtin review backend, which takes any number"
        )


def check_a2i_review_team(config: PipelineConfig) -> None:
    """Refuse review-team settings A2I cannot apply; called only where tasks go to A2I (review backend
    `a2i`). A2I picks the worker and finishes a loop once its flow definition's answers are in, so only
    the team's budget (loops started per hour and day, `hitl_core.pending_loops`), the order in which
    waiting images get their loops, and gold as a share of the loops started (`hitl_core.gold_loops`)
    apply."""
    review = config.review
    budget = review.budget
    reasons = []
    if budget.per_reviewer_day is not None:
        reasons.append(
            "review.budget.per_reviewer_day: A2I gives a loop to a worker of its own choosing after the loop "
            "starts, so a reviewer's day cannot be counted; use per_hour and per_day"
        )
    if "priority" in review.model_fields_set and budget.per_hour is None and budget.per_day is None:
        reasons.append(
            "review.priority: with A2I it orders only the images waiting for the budget (A2I serves "
            "started loops in its own order); with no review.budget.per_hour or per_day every loop starts "
            "at once and there is nothing to order: set a budget or remove review.priority"
        )
    if review.gold is not None:
        reasons += _a2i_gold_reasons(review.gold)
    if review.agreement is not None:
        reasons.append(
            "review.agreement: an A2I loop finishes once its flow definition's TaskCount answers are in and "
            "cannot ask one more worker on disagreement"
        )
    if reasons:
        raise ConfigError(
            "the a2i review backend cannot apply " + "; ".join(reasons) + " (the builtin review backend can)"
        )


def _a2i_gold_reasons(gold: ReviewGold) -> list[str]:
    """With A2I, gold is a share of the loops started (`hitl_core.gold_loops`): it needs its manifest in
    an S3 folder holding its images, and cannot ask a second reviewer."""
    reasons = []
    if gold.second_reviewer:
        reasons.append(
            "review.gold.second_reviewer: an A2I loop finishes once its flow definition's TaskCount answers "
            "are in and cannot ask one more worker for a reviewer whose gold score is low"
        )
    try:
        gold_image_folder(gold.manifest or "")
    except ValueError as err:
        reasons.append(f"review.gold.manifest: {err}")
    return reasons


def validate_json_object(
    model: type[ModelT], data: Mapping[str, Any] | str, origin: str, error: type[ValueError]
) -> ModelT:
    """Validate a mapping, or JSON text (context given with `cdk -c` can arrive as one).

    Raises `error` with a message that starts with `origin` and names every bad key.
    """
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as err:
            raise error(f"{origin}: not JSON ({err.msg})") from None
    if not isinstance(data, Mapping):
        raise error(f"{origin}: the configuration must be a JSON object, got {type(data).__name__}")
    try:
        return model.model_validate(dict(data))
    except ValidationError as err:
        problems = []
        for item in err.errors():
            where = ".".join(str(part) for part in item["loc"] if not str(part).startswith("function-"))
            problems.append(f"{where or '(top level)'}: {item['msg']}")
        raise error(f"{origin}: {'; '.join(problems)}") from None


def load_config(data: Mapping[str, Any] | str, origin: str = "configuration") -> PipelineConfig:
    """Validate a configuration mapping (e.g. the CDK context `hitl`); ConfigError names every bad key."""
    return validate_json_object(PipelineConfig, data, origin, ConfigError)


def config_from_env(environ: Mapping[str, str]) -> PipelineConfig:
    """The configuration a Lambda function was deployed with."""
    raw = environ.get(ENVIRONMENT_VARIABLE)
    if raw is None:
        raise ConfigError(f"environment variable {ENVIRONMENT_VARIABLE} is not set")
    return load_config(raw, ENVIRONMENT_VARIABLE)


def config_from_file(path: str | Path) -> PipelineConfig:
    """A JSON file holding the configuration, or a `cdk.json` holding it under context `hitl`."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except json.JSONDecodeError as err:
        raise ConfigError(f"{path}: not JSON ({err.msg} at line {err.lineno})") from None
    if isinstance(data, dict) and isinstance(data.get("context"), dict):
        if CONTEXT_KEY not in data["context"]:
            raise ConfigError(f"{path}: context has no '{CONTEXT_KEY}' key")
        data = data["context"][CONTEXT_KEY]
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the configuration must be a JSON object")
    return load_config(data, str(path))


def config_to_env(config: PipelineConfig) -> str:
    """The `HITL_CONFIG` value a function is deployed with."""
    return config.model_dump_json(exclude_defaults=True)
