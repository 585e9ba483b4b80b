"""Human loops as A2I keeps them: the StartHumanLoop request checks, the loop record, its API views.

Pure: no I/O. The store persists `HumanLoop.to_json()`; the runtime moves loops between statuses.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from hitl.local.a2i.errors import ValidationException, constraint_error
from hitl_core.human_loop import LOOP_NAME_PATTERN, MAX_INPUT_CONTENT_CHARS, MAX_LOOP_NAME
from hitl_core.review_tasks import iso_millis

FLOW_DEFINITION_ARN_PATTERN = re.compile(
    r"arn:aws[a-z\-]*:sagemaker:([a-z0-9\-]*):([0-9]{12}):flow-definition/(.*)"
)
MAX_ARN = 1024
CONTENT_CLASSIFIERS = ("FreeOfPersonallyIdentifiableInformation", "FreeOfAdultContent")
MAX_CONTENT_CLASSIFIERS = 256
MAX_TASK_COUNT = 3


class HumanLoopStatus(StrEnum):
    IN_PROGRESS = "InProgress"
    STOPPING = "Stopping"
    STOPPED = "Stopped"
    COMPLETED = "Completed"
    FAILED = "Failed"


FINISHED = frozenset({HumanLoopStatus.STOPPED, HumanLoopStatus.COMPLETED, HumanLoopStatus.FAILED})


@dataclass(frozen=True)
class FlowDefinition:
    """The part of a flow definition the runtime needs: where answers go and how many it waits for."""

    arn: str
    output_path: str
    task_count: int = 1

    def __post_init__(self) -> None:
        if not FLOW_DEFINITION_ARN_PATTERN.fullmatch(self.arn):
            raise ValueError(f"not a flow definition ARN: {self.arn!r}")
        if not self.output_path.startswith("s3://") or len(self.output_path) <= len("s3://"):
            raise ValueError(f"output_path must be an s3:// path, got {self.output_path!r}")
        if not 1 <= self.task_count <= MAX_TASK_COUNT:
            raise ValueError(f"task_count must be 1-{MAX_TASK_COUNT}, got {self.task_count}")

    @property
    def name(self) -> str:
        return self._arn_parts[2]

    @property
    def _arn_parts(self) -> tuple[str, ...]:
        match = FLOW_DEFINITION_ARN_PATTERN.fullmatch(self.arn)
        assert match is not None
        return match.groups()

    def human_loop_arn(self, loop_name: str) -> str:
        """The loop's ARN, in the flow definition's partition, region and account."""
        partition = self.arn.split(":", 2)[1]
        region, account, _ = self._arn_parts
        return f"arn:{partition}:sagemaker:{region}:{account}:human-loop/{loop_name}"

    def output_uri(self, loop_name: str, creation_time: datetime) -> str:
        """`OUTPUT_PATH/FLOW/YYYY/MM/DD/hh/mm/ss/LOOP/output.json`, dated by the loop's creation."""
        stamp = creation_time.astimezone(UTC).strftime("%Y/%m/%d/%H/%M/%S")
        return f"{self.output_path.rstrip('/')}/{self.name}/{stamp}/{loop_name}/output.json"


@dataclass(frozen=True)
class StartRequest:
    """A StartHumanLoop request that passed A2I's checks."""

    name: str
    flow_definition_arn: str
    input_content: str
    data_attributes: dict[str, Any] | None


def validate_loop_name(name: Any) -> str:
    """A loop name A2I accepts: 1-63 characters of `^[a-z0-9](-*[a-z0-9])*$`."""
    if not isinstance(name, str) or not name:
        raise constraint_error(name, "humanLoopName", "not be null")
    if len(name) > MAX_LOOP_NAME:
        raise constraint_error(name, "humanLoopName", f"have length less than or equal to {MAX_LOOP_NAME}")
    if not LOOP_NAME_PATTERN.fullmatch(name):
        raise constraint_error(
            name, "humanLoopName", f"satisfy regular expression pattern: {LOOP_NAME_PATTERN.pattern}"
        )
    return name


def validate_flow_definition_arn(arn: Any) -> str:
    if not isinstance(arn, str) or not arn:
        raise constraint_error(arn, "flowDefinitionArn", "not be null")
    if len(arn) > MAX_ARN or not FLOW_DEFINITION_ARN_PATTERN.fullmatch(arn):
        raise constraint_error(
            arn,
            "flowDefinitionArn",
            f"satisfy regular expression pattern: {FLOW_DEFINITION_ARN_PATTERN.pattern}",
        )
    return arn


def _validate_input_content(human_loop_input: Any) -> str:
    content = human_loop_input.get("InputContent") if isinstance(human_loop_input, dict) else None
    if not isinstance(content, str):
        raise constraint_error(None, "humanLoopInput.inputContent", "not be null")
    if len(content) > MAX_INPUT_CONTENT_CHARS:
        raise ValidationException(
            "1 validation error detected: Value at 'humanLoopInput.inputContent' failed to satisfy "
            f"constraint: Member must have length less than or equal to {MAX_INPUT_CONTENT_CHARS} "
            f"(it has {len(content)})"
        )
    try:
        parsed = json.loads(content)
    except json.JSONDecodeError as err:
        raise ValidationException(f"InputContent is not valid JSON: {err.msg} at char {err.pos}") from None
    if not isinstance(parsed, dict):
        raise ValidationException("InputContent must be a JSON object")
    return content


def _validate_data_attributes(attributes: Any) -> dict[str, Any] | None:
    if attributes is None:
        return None
    classifiers = attributes.get("ContentClassifiers") if isinstance(attributes, dict) else None
    if not isinstance(classifiers, list):
        raise constraint_error(None, "dataAttributes.contentClassifiers", "not be null")
    if len(classifiers) > MAX_CONTENT_CLASSIFIERS:
        raise constraint_error(
            classifiers,
            "dataAttributes.contentClassifiers",
            f"have length less than or equal to {MAX_CONTENT_CLASSIFIERS}",
        )
    for classifier in classifiers:
        if classifier not in CONTENT_CLASSIFIERS:
            raise constraint_error(
                classifier,
                "dataAttributes.contentClassifiers",
                f"satisfy enum value set: [{', '.join(CONTENT_CLASSIFIERS)}]",
            )
    return {"ContentClassifiers": list(classifiers)}


def validate_start_request(body: Any) -> StartRequest:
    """Check a StartHumanLoop body as A2I does; ValidationException names the first bad member."""
    if not isinstance(body, dict):
        raise ValidationException("The request body must be a JSON object")
    return StartRequest(
        name=validate_loop_name(body.get("HumanLoopName")),
        flow_definition_arn=validate_flow_definition_arn(body.get("FlowDefinitionArn")),
        input_content=_validate_input_content(body.get("HumanLoopInput")),
        data_attributes=_validate_data_attributes(body.get("DataAttributes")),
    )


@dataclass(frozen=True)
class HumanLoop:
    """One human loop, everything A2I reports about it plus the answers gathered so far."""

    name: str
    arn: str
    flow_definition_arn: str
    status: HumanLoopStatus
    creation_time: str
    input_content: str
    output_s3_uri: str
    data_attributes: dict[str, Any] | None = None
    failure_code: str | None = None
    failure_reason: str | None = None
    answers: tuple[dict[str, Any], ...] = field(default_factory=tuple)

    @classmethod
    def start(cls, request: StartRequest, flow: FlowDefinition, now: datetime) -> HumanLoop:
        """A new InProgress loop; its output location is fixed by its creation time."""
        created = now.astimezone(UTC).replace(microsecond=now.microsecond // 1000 * 1000)
        return cls(
            name=request.name,
            arn=flow.human_loop_arn(request.name),
            flow_definition_arn=flow.arn,
            status=HumanLoopStatus.IN_PROGRESS,
            creation_time=iso_millis(created),
            input_content=request.input_content,
            output_s3_uri=flow.output_uri(request.name, created),
            data_attributes=request.data_attributes,
        )

    @property
    def input(self) -> dict[str, Any]:
        """The InputContent as an object (it was checked to be one at start)."""
        return json.loads(self.input_content)

    def moved_to(self, status: HumanLoopStatus, **changes: Any) -> HumanLoop:
        return replace(self, status=status, **changes)

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> HumanLoop:
        data = json.loads(text)
        data["status"] = HumanLoopStatus(data["status"])
        data["answers"] = tuple(data.get("answers", ()))
        return cls(**data)

    def describe(self) -> dict[str, Any]:
        """The DescribeHumanLoop response."""
        response: dict[str, Any] = {
            "CreationTime": self.creation_time,
            "HumanLoopStatus": str(self.status),
            "HumanLoopName": self.name,
            "HumanLoopArn": self.arn,
            "FlowDefinitionArn": self.flow_definition_arn,
            "HumanLoopOutput": {"OutputS3Uri": self.output_s3_uri},
        }
        if self.failure_reason is not None:
            response["FailureReason"] = self.failure_reason
        if self.failure_code is not None:
            response["FailureCode"] = self.failure_code
        return response

    def summary(self) -> dict[str, Any]:
        """One ListHumanLoops `HumanLoopSummaries` item."""
        item: dict[str, Any] = {
            "HumanLoopName": self.name,
            "HumanLoopStatus": str(self.status),
            "CreationTime": self.creation_time,
            "FlowDefinitionArn": self.flow_definition_arn,
        }
        if self.failure_reason is not None:
            item["FailureReason"] = self.failure_reason
        return item
