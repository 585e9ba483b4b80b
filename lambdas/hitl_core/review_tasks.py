"""The built-in review service's tasks: statuses, leases, expiry, answer checks and A2I's `output.json`.

Pure, no AWS. Every operation takes a task and returns the next version of it (or raises a
`TaskRefused` saying why); the store writes it only if nobody changed the task since it was read,
so two reviewers can never both hold one task. Answers are checked and shaped exactly as A2I's
crowd-bounding-box submits them, so the local A2I runtime uses the same checks (one copy).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hitl_core.manifest import ANSWER_ELEMENT, IOU_MATCH
from hitl_core.review_agreement import AgreementRule, agreement, is_complete
from hitl_core.review_priority import PriorityRule, content_scores, queue_rank

EXPIRED = "Expired"
"""The failure code of a task nobody finished within its availability lifetime (as A2I's)."""
COGNITO_PROVIDER = "Cognito"
MAX_AUDIT_ENTRIES = 200
"""The audit trail keeps this many latest entries, so the item stays far below DynamoDB's 400 KB."""
_BOX_KEYS = ("label", "left", "top", "width", "height")
ANNOUNCE_GRACE = timedelta(minutes=10)
"""How long the stream has to announce a final task before the sweep announces it itself."""
ANNOUNCE_LOOKBACK = timedelta(days=14)
"""How far past its availability lifetime a task is still looked at for a missed announcement."""
COUNTED = "counted"
"""The audit mark of a claim that counted against the review budget."""
QUEUE_OPEN = "open"
"""The queue index's partition value: every open task that is not a gold task (claimed or not)."""
SERVICE_RECORD_PREFIX = "~"
"""Keys of the table's other items (budget counters, reviewer records); no loop name starts so."""


def is_task_key(name: str) -> bool:
    """True for a task's key, False for a service record's (counters, reviewer records)."""
    return not name.startswith(SERVICE_RECORD_PREFIX)


class TaskStatus(StrEnum):
    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"
    FAILED = "Failed"
    STOPPED = "Stopped"


FINAL_STATUSES = frozenset({TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.STOPPED})


class TaskRefused(Exception):
    """An operation the task's state does not allow; the API answers 409 with the message."""


class TaskFinished(TaskRefused):
    """The task is Completed, Failed or Stopped (or past its availability lifetime)."""


class LeaseHeld(TaskRefused):
    """Another reviewer holds the task's lease."""


class NotLeaseHolder(TaskRefused):
    """The caller does not hold the lease (never claimed, released, or the lease ran out)."""


class AlreadyAnswered(TaskRefused):
    """The caller already answered this task; with task count > 1 another reviewer must."""


class AnswerInvalid(ValueError):
    """A submitted answer that does not fit its task; the message names the first problem."""


def iso_millis(moment: datetime) -> str:
    """A UTC timestamp as A2I writes it: `2020-05-01T18:08:47.123Z` (sorts as text)."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_timestamp(text: str) -> datetime:
    """An ISO 8601 date or timestamp (`Z` or offset; naive means UTC); ValueError otherwise."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


REVIEW_SERVICE_ID_PREFIX = "hitl-review-service/"


def review_service_id(service_name: str) -> str:
    """What the built-in service writes where A2I writes its flow definition ARN (records, events, output)."""
    return f"{REVIEW_SERVICE_ID_PREFIX}{service_name}"


def task_arn(service_name: str, loop_name: str) -> str:
    """The task's identifier where A2I writes the human loop ARN."""
    return f"{review_service_id(service_name)}/task/{loop_name}"


@dataclass(frozen=True)
class WorkerIdentity:
    """Who answered, as A2I's `workerMetadata.identityData` names a worker."""

    sub: str
    issuer: str
    provider: str = COGNITO_PROVIDER

    def identity_data(self) -> dict[str, str]:
        return {"identityProviderType": self.provider, "issuer": self.issuer, "sub": self.sub}


@dataclass(frozen=True)
class ReviewTiming:
    """The deployment's review settings: lease length, availability lifetime, answers needed."""

    lease_seconds: int
    availability_seconds: int
    task_count: int = 1
    agreement: AgreementRule | None = None
    """With task count >= 2: ask one more reviewer while the answers disagree (`review_agreement`)."""

    def __post_init__(self) -> None:
        if self.lease_seconds <= 0 or self.availability_seconds <= 0:
            raise ValueError("lease and availability must be positive numbers of seconds")
        if not 1 <= self.task_count <= 3:
            raise ValueError(f"task_count must be 1-3 (as A2I's), got {self.task_count}")


@dataclass(frozen=True)
class ReviewTask:
    """One review: the exact InputContent, its status, the lease, the answers and an audit trail.

    `version` grows with every change; a write is made only over the version it was computed from.
    """

    loop_name: str
    input_content: str
    created_at: str
    status: TaskStatus = TaskStatus.IN_PROGRESS
    version: int = 1
    updated_at: str = ""
    lease_owner: str | None = None
    lease_expires_at: str | None = None
    answers: tuple[dict[str, Any], ...] = ()
    failure_code: str | None = None
    failure_reason: str | None = None
    audit: tuple[dict[str, str], ...] = field(default_factory=tuple)
    announced_at: str | None = None
    """When the final status's event went out; None until then (the sweep re-announces such tasks)."""
    input_content_uri: str | None = None
    """Where a large InputContent is kept (S3), the item holding this address instead of the text."""
    priority: float = 0.0
    """Base priority 0-1 from the model's scores (`review_priority`); higher is served sooner."""
    queue_rank: int | None = None
    """The queue index's sort key (smaller first); None: the rank of priority 0 at creation."""
    lease_owner_name: str | None = None
    """The lease holder's e-mail (when the sign-in gave one), so others see who works on it."""
    gold: str | None = None
    """A gold task's known boxes (JSON); never shown to reviewers, never served by the queue."""

    @property
    def input(self) -> dict[str, Any]:
        return json.loads(self.input_content)

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    def expires_at(self, timing: ReviewTiming) -> datetime:
        """When the task fails with `Expired` unless completed."""
        return parse_timestamp(self.created_at) + timedelta(seconds=timing.availability_seconds)

    def lease_holder(self, now: datetime) -> str | None:
        """Who holds a lease still running at `now` (None: anyone may claim)."""
        if self.lease_owner and self.lease_expires_at and parse_timestamp(self.lease_expires_at) > now:
            return self.lease_owner
        return None

    def answered_by(self, sub: str) -> bool:
        return any(a.get("workerId") == sub for a in self.answers)

    def to_item(self) -> dict[str, Any]:
        """The task as plain values (the store's item; absent fields are left out)."""
        item: dict[str, Any] = {
            "loop_name": self.loop_name,
            "status": str(self.status),
            "created_at": self.created_at,
            "updated_at": self.updated_at or self.created_at,
            "version": self.version,
            "answers": json.dumps(list(self.answers), separators=(",", ":")),
            "audit": [dict(entry) for entry in self.audit],
        }
        optional = {
            "lease_owner": self.lease_owner,
            "lease_expires_at": self.lease_expires_at,
            "failure_code": self.failure_code,
            "failure_reason": self.failure_reason,
            "announced_at": self.announced_at,
        }
        item.update({key: value for key, value in optional.items() if value is not None})
        item["priority"] = Decimal(str(self.priority))
        item["queue_rank"] = self.rank
        item["reviewers"] = [str(a.get("workerId")) for a in self.answers]
        if self.lease_owner_name:
            item["lease_owner_name"] = self.lease_owner_name
        if self.gold is not None:
            item["gold"] = self.gold
        elif self.status is TaskStatus.IN_PROGRESS:
            item["queue"] = QUEUE_OPEN
        if self.input_content_uri:
            item["input_content_uri"] = self.input_content_uri
        else:
            item["input_content"] = self.input_content
        return item

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> ReviewTask:
        """The task an item holds; a task kept in S3 arrives with `input_content` empty until it is read."""
        return cls(
            loop_name=str(item["loop_name"]),
            input_content=str(item.get("input_content", "")),
            input_content_uri=item.get("input_content_uri"),
            created_at=str(item["created_at"]),
            status=TaskStatus(item["status"]),
            version=int(item["version"]),
            updated_at=str(item.get("updated_at", "")),
            lease_owner=item.get("lease_owner"),
            lease_expires_at=item.get("lease_expires_at"),
            answers=tuple(json.loads(item.get("answers") or "[]")),
            failure_code=item.get("failure_code"),
            failure_reason=item.get("failure_reason"),
            audit=tuple({str(k): str(v) for k, v in entry.items()} for entry in item.get("audit", [])),
            announced_at=item.get("announced_at"),
            priority=float(item.get("priority", 0)),
            queue_rank=int(item["queue_rank"]) if "queue_rank" in item else None,
            lease_owner_name=item.get("lease_owner_name"),
            gold=item.get("gold"),
        )

    @property
    def rank(self) -> int:
        """Where the task stands in the queue index (smaller is served first)."""
        if self.queue_rank is not None:
            return self.queue_rank
        return queue_rank(parse_timestamp(self.created_at), 0.0, 1)


def _changed(task: ReviewTask, now: datetime, action: str, actor: str, **changes: Any) -> ReviewTask:
    stamp = iso_millis(now)
    entry = {"at": stamp, "action": action, "actor": actor}
    audit = (*task.audit, entry)[-MAX_AUDIT_ENTRIES:]
    return replace(task, version=task.version + 1, updated_at=stamp, audit=audit, **changes)


def _require_open(task: ReviewTask, now: datetime, timing: ReviewTiming) -> None:
    if task.is_final:
        raise TaskFinished(f"task {task.loop_name} is {task.status}")
    if now >= task.expires_at(timing):
        raise TaskFinished(f"task {task.loop_name} is past its availability lifetime")


def new_task(
    loop_name: str, input_content: str, now: datetime, priority: PriorityRule | None = None
) -> ReviewTask:
    """A new open task for a review ingest starts (`input_content`: the exact JSON text), ranked in
    the queue by `priority` (default: oldest first)."""
    content = json.loads(input_content)
    if not isinstance(content, dict):
        raise ValueError("InputContent must be a JSON object")
    rule = priority or PriorityRule()
    base = rule.base_priority(content_scores(content)) if priority else 0.0
    stamp = iso_millis(now)
    return ReviewTask(
        loop_name=loop_name,
        input_content=input_content,
        created_at=stamp,
        updated_at=stamp,
        audit=({"at": stamp, "action": "created", "actor": "ingest"},),
        priority=base,
        queue_rank=rule.queue_rank(parse_timestamp(stamp), base),
    )


def queue_entry(task: ReviewTask, rule: PriorityRule, now: datetime) -> ReviewTask | None:
    """An open task written before the queue index (no `queue_rank`, so no `queue` either) with the base
    priority and rank `new_task` gives under `rule`, which puts it in the index; None for any other."""
    if task.is_final or task.gold is not None or task.queue_rank is not None:
        return None
    base = rule.base_priority(content_scores(task.input))
    rank = rule.queue_rank(parse_timestamp(task.created_at), base)
    return _changed(task, now, "queued", "lifecycle", priority=base, queue_rank=rank)


def claim(
    task: ReviewTask,
    reviewer: str,
    now: datetime,
    timing: ReviewTiming,
    name: str | None = None,
    counted: bool = False,
) -> ReviewTask:
    """Take the lease, or renew it when the caller holds it; it lasts `lease_seconds` from now
    (`name`: the caller's e-mail, shown to other reviewers while the lease runs; `counted`: the
    claim counted against the review budget, which a release gives back)."""
    _require_open(task, now, timing)
    holder = task.lease_holder(now)
    if holder is not None and holder != reviewer:
        raise LeaseHeld(f"task {task.loop_name} is claimed by another reviewer")
    if task.answered_by(reviewer):
        raise AlreadyAnswered(f"you already answered task {task.loop_name}")
    lease_end = iso_millis(now + timedelta(seconds=timing.lease_seconds))
    changed = _changed(
        task,
        now,
        "renewed" if holder == reviewer else "claimed",
        reviewer,
        lease_owner=reviewer,
        lease_expires_at=lease_end,
        lease_owner_name=name if holder != reviewer else task.lease_owner_name,
    )
    if not counted:
        return changed
    return replace(changed, audit=(*changed.audit[:-1], {**changed.audit[-1], "budget": COUNTED}))


def counted_claim_time(task: ReviewTask, reviewer: str) -> datetime | None:
    """When `reviewer`'s latest claim of the task was counted against the budget; None if it was not."""
    for entry in reversed(task.audit):
        if entry.get("action") == "claimed" and entry.get("actor") == reviewer:
            return parse_timestamp(entry["at"]) if entry.get("budget") == COUNTED else None
    return None


def is_renewal(task: ReviewTask, reviewer: str, now: datetime) -> bool:
    """True when `reviewer` already holds the task's running lease (a claim then counts no review)."""
    return task.lease_holder(now) == reviewer


def claimable_by(task: ReviewTask, reviewer: str, now: datetime, timing: ReviewTiming) -> bool:
    """True when `claim` would give `reviewer` the lease (open, free or theirs, not yet answered by them)."""
    if task.is_final or now >= task.expires_at(timing) or task.answered_by(reviewer):
        return False
    return task.lease_holder(now) in (None, reviewer)


def release(task: ReviewTask, reviewer: str, now: datetime) -> ReviewTask:
    """Give the lease back; only its holder may."""
    if task.is_final:
        raise TaskFinished(f"task {task.loop_name} is {task.status}")
    if task.lease_holder(now) != reviewer:
        raise NotLeaseHolder(f"you do not hold the lease on task {task.loop_name}")
    return _changed(
        task, now, "released", reviewer, lease_owner=None, lease_expires_at=None, lease_owner_name=None
    )


def admin_release(task: ReviewTask, admin: str, now: datetime) -> ReviewTask:
    """An administrator gives back anyone's lease (a reviewer who left); refused when none runs."""
    if task.is_final:
        raise TaskFinished(f"task {task.loop_name} is {task.status}")
    if task.lease_holder(now) is None:
        raise NotLeaseHolder(f"nobody holds the lease on task {task.loop_name}")
    return _changed(
        task, now, "released-by-admin", admin, lease_owner=None, lease_expires_at=None, lease_owner_name=None
    )


def answer(task: ReviewTask, human_answer: dict[str, Any], now: datetime, timing: ReviewTiming) -> ReviewTask:
    """Record the lease holder's answer (built by `build_human_answer`); Completed at `task_count` answers.

    The lease is given back, so with task count > 1 the next reviewer can claim the task.
    """
    reviewer = str(human_answer["workerId"])
    _require_open(task, now, timing)
    if task.answered_by(reviewer):
        raise AlreadyAnswered(f"you already answered task {task.loop_name}")
    if task.lease_holder(now) != reviewer:
        raise NotLeaseHolder(f"claim task {task.loop_name} before answering (no lease, or it ran out)")
    answers = (*task.answers, human_answer)
    done = is_complete([answer_boxes(a) for a in answers], timing.task_count, timing.agreement)
    return _changed(
        task,
        now,
        "answered",
        reviewer,
        answers=answers,
        status=TaskStatus.COMPLETED if done else TaskStatus.IN_PROGRESS,
        lease_owner=None,
        lease_expires_at=None,
        lease_owner_name=None,
    )


def answer_boxes(human_answer: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The boxes of one `humanAnswers[]` entry."""
    return list(human_answer["answerContent"][ANSWER_ELEMENT]["boundingBoxes"])


def stop(task: ReviewTask, admin: str, now: datetime) -> ReviewTask:
    """End an open task as `Stopped` (an administrator's decision)."""
    if task.is_final:
        raise TaskFinished(f"task {task.loop_name} is already {task.status}")
    return _changed(
        task,
        now,
        "stopped",
        admin,
        status=TaskStatus.STOPPED,
        lease_owner=None,
        lease_expires_at=None,
        lease_owner_name=None,
    )


def sweep(task: ReviewTask, now: datetime, timing: ReviewTiming) -> ReviewTask | None:
    """What the scheduled sweep does to an open task: expire it, return a run-out lease, or nothing."""
    if task.is_final:
        return None
    if now >= task.expires_at(timing):
        return _changed(
            task,
            now,
            "expired",
            "lifecycle",
            status=TaskStatus.FAILED,
            failure_code=EXPIRED,
            failure_reason=f"not completed within {timing.availability_seconds} seconds",
            lease_owner=None,
            lease_expires_at=None,
            lease_owner_name=None,
        )
    if task.lease_owner and task.lease_holder(now) is None:
        return _changed(
            task,
            now,
            "lease-returned",
            "lifecycle",
            lease_owner=None,
            lease_expires_at=None,
            lease_owner_name=None,
        )
    return None


# --- answers -------------------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)


class _BoundingBox(_Strict):
    label: Annotated[str, Field(min_length=1)]
    left: Annotated[int, Field(ge=0)]
    top: Annotated[int, Field(ge=0)]
    width: Annotated[int, Field(gt=0)]
    height: Annotated[int, Field(gt=0)]


class _ImageProperties(_Strict):
    width: Annotated[int, Field(gt=0)]
    height: Annotated[int, Field(gt=0)]


class _AnnotatedResult(_Strict):
    bounding_boxes: list[_BoundingBox] = Field(alias="boundingBoxes")
    input_image_properties: _ImageProperties = Field(alias="inputImageProperties")
    initial_value_modified: bool | None = Field(default=None, alias="initialValueModified")


class _AnswerContent(_Strict):
    annotated_result: _AnnotatedResult = Field(alias=ANSWER_ELEMENT)


class AnswerSubmission(_Strict):
    """The body a review page submits: the crowd-bounding-box answer and the time spent on it."""

    answer_content: _AnswerContent = Field(alias="answerContent")
    time_spent_in_seconds: Annotated[float, Field(ge=0, allow_inf_nan=False, strict=False)] = Field(
        default=0.0, alias="timeSpentInSeconds"
    )
    acceptance_time: str | None = Field(default=None, alias="acceptanceTime")


Submission = TypeVar("Submission", bound=AnswerSubmission)


def parse_submission(body: Any, model: type[Submission]) -> Submission:
    """The body as a submission (`model` may add fields); AnswerInvalid names the first problem."""
    try:
        return model.model_validate(body)
    except ValidationError as err:
        item = err.errors()[0]
        where = ".".join(str(part) for part in item["loc"]) or "(body)"
        raise AnswerInvalid(f"Invalid answer: {where}: {item['msg']}") from None


def _box_key(box: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(box.get(key) for key in _BOX_KEYS)


def _check_against_task(result: _AnnotatedResult, content: Mapping[str, Any]) -> None:
    size = result.input_image_properties
    expected = content.get("imageSize")
    if isinstance(expected, Mapping) and (
        expected.get("width") != size.width or expected.get("height") != size.height
    ):
        raise AnswerInvalid(
            f"inputImageProperties {size.width}x{size.height} differ from the task's imageSize "
            f"{expected.get('width')}x{expected.get('height')}"
        )
    labels = content.get("labels")
    for i, box in enumerate(result.bounding_boxes):
        if isinstance(labels, list) and box.label not in labels:
            raise AnswerInvalid(f"boundingBoxes[{i}].label {box.label!r} is not one of the task's labels")
        if box.left + box.width > size.width or box.top + box.height > size.height:
            raise AnswerInvalid(
                f"boundingBoxes[{i}] ({box.left},{box.top} {box.width}x{box.height}) reaches outside "
                f"the {size.width}x{size.height} image"
            )
    if result.initial_value_modified is not None and "initialValue" not in content:
        raise AnswerInvalid("initialValueModified is given but the task has no initialValue")


def build_human_answer(
    submission: AnswerSubmission,
    input_content: Mapping[str, Any],
    worker: WorkerIdentity,
    now: datetime,
) -> dict[str, Any]:
    """One `humanAnswers[]` entry of A2I's output.json; AnswerInvalid when it does not fit the task.

    Boxes must be whole pixels inside the image, with labels from the task's list; when the task
    pre-drew boxes, `initialValueModified` is worked out if the page did not say.
    """
    result = submission.answer_content.annotated_result
    _check_against_task(result, input_content)
    annotated: dict[str, Any] = {
        "boundingBoxes": [box.model_dump() for box in result.bounding_boxes],
        "inputImageProperties": result.input_image_properties.model_dump(),
    }
    initial = input_content.get("initialValue")
    if isinstance(initial, list):
        modified = result.initial_value_modified
        if modified is None:
            modified = sorted(map(_box_key, annotated["boundingBoxes"])) != sorted(map(_box_key, initial))
        annotated["initialValueModified"] = modified
    spent = submission.time_spent_in_seconds
    if submission.acceptance_time is None:
        accepted = now - timedelta(seconds=spent)
    else:
        try:
            accepted = parse_timestamp(submission.acceptance_time)
        except ValueError:
            raise AnswerInvalid(
                f"acceptanceTime is not an ISO 8601 timestamp: {submission.acceptance_time!r}"
            ) from None
    return {
        "acceptanceTime": iso_millis(accepted),
        "answerContent": {ANSWER_ELEMENT: annotated},
        "submissionTime": iso_millis(now),
        "timeSpentInSeconds": spent,
        "workerId": worker.sub,
        "workerMetadata": {"identityData": worker.identity_data()},
    }


# --- output and status event -----------------------------------------------------------------------


def output_document(
    *,
    flow_definition_arn: str,
    loop_name: str,
    input_content: Mapping[str, Any],
    answers: list[dict[str, Any]],
) -> dict[str, Any]:
    """A2I's `output.json` for a custom task type."""
    return {
        "flowDefinitionArn": flow_definition_arn,
        "humanAnswers": list(answers),
        "humanLoopName": loop_name,
        "inputContent": dict(input_content),
    }


def output_key(prefix: str, service_name: str, loop_name: str, created_at: str) -> str:
    """`PREFIX/SERVICE/YYYY/MM/DD/hh/mm/ss/LOOP/output.json`, A2I's layout dated by the task's creation."""
    stamp = parse_timestamp(created_at).astimezone(UTC).strftime("%Y/%m/%d/%H/%M/%S")
    return f"{prefix}{service_name}/{stamp}/{loop_name}/output.json"


def task_output(task: ReviewTask, service_name: str) -> dict[str, Any]:
    """The completed task's output.json; with several answers, A2I's keys plus the reviewers'
    `agreement` (`review_agreement.agreement`), which readers of A2I's output pass over."""
    document = output_document(
        flow_definition_arn=review_service_id(service_name),
        loop_name=task.loop_name,
        input_content=task.input,
        answers=list(task.answers),
    )
    if len(task.answers) > 1:
        document["agreement"] = agreement([answer_boxes(a) for a in task.answers], IOU_MATCH)
    return document


def status_detail(task: ReviewTask, service_name: str, output_uri: str | None) -> dict[str, Any]:
    """The `Review Task Status Change` detail: A2I's status-change detail for a task in a final status."""
    if not task.is_final:
        raise ValueError(f"task {task.loop_name} is {task.status}, not in a final status")
    detail: dict[str, Any] = {
        "creationTime": task.created_at,
        "failureCode": task.failure_code,
        "failureReason": task.failure_reason,
        "flowDefinitionArn": review_service_id(service_name),
        "humanLoopArn": task_arn(service_name, task.loop_name),
        "humanLoopName": task.loop_name,
        "humanLoopStatus": str(task.status),
    }
    if task.status is TaskStatus.COMPLETED and output_uri:
        detail["humanLoopOutput"] = {"outputS3Uri": output_uri}
    return detail


def awaiting_announcement(task: ReviewTask, now: datetime) -> bool:
    """A final task whose event is not out, and whose stream record had `ANNOUNCE_GRACE` to send it
    (never a gold task: its answer is scored, not announced)."""
    if not task.is_final or task.announced_at is not None or task.gold is not None:
        return False
    return now - parse_timestamp(task.updated_at or task.created_at) >= ANNOUNCE_GRACE


def announcement_lookback(now: datetime, timing: ReviewTiming) -> str:
    """The oldest creation time a task awaiting its announcement can have (the sweep's query bound)."""
    return iso_millis(now - timedelta(seconds=timing.availability_seconds) - ANNOUNCE_LOOKBACK)


def entered_final_status(old: ReviewTask | None, new: ReviewTask) -> bool:
    """True for a change that moved a task into Completed, Failed or Stopped (the outbox's trigger);
    never for a gold task, whose answer must not reach the training manifest."""
    return new.is_final and new.gold is None and (old is None or old.status != new.status)
