"""A reviewer's answer: checked against its loop, turned into A2I's `humanAnswers[]` entry and `output.json`.

The answer is what the `crowd-bounding-box` element named `annotatedResult` submits: boxes in
image pixels, the image's size, and `initialValueModified` when boxes were pre-drawn.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hitl.local.a2i.errors import ValidationException
from hitl.local.a2i.loops import HumanLoop, iso_millis, parse_timestamp
from hitl_core.manifest import ANSWER_ELEMENT

SIMULATED_WORKER_ID = "simulated-reviewer"
IDENTITY_PROVIDER = "LocalA2I"
IDENTITY_ISSUER = "hitl-local-a2i"
_BOX_KEYS = ("label", "left", "top", "width", "height")


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


class _Submission(_Strict):
    answer_content: _AnswerContent = Field(alias="answerContent")
    worker_id: Annotated[str, Field(min_length=1, max_length=256)] = Field(alias="workerId")
    time_spent_in_seconds: Annotated[float, Field(ge=0, allow_inf_nan=False, strict=False)] = Field(
        default=0.0, alias="timeSpentInSeconds"
    )
    acceptance_time: str | None = Field(default=None, alias="acceptanceTime")


def _first_problem(err: ValidationError) -> str:
    item = err.errors()[0]
    where = ".".join(str(part) for part in item["loc"]) or "(body)"
    return f"{where}: {item['msg']}"


def _box_key(box: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(box.get(key) for key in _BOX_KEYS)


def _check_against_loop(result: _AnnotatedResult, content: Mapping[str, Any]) -> None:
    size = result.input_image_properties
    expected = content.get("imageSize")
    if isinstance(expected, Mapping) and (
        expected.get("width") != size.width or expected.get("height") != size.height
    ):
        raise ValidationException(
            f"inputImageProperties {size.width}x{size.height} differ from the loop's imageSize "
            f"{expected.get('width')}x{expected.get('height')}"
        )
    labels = content.get("labels")
    for i, box in enumerate(result.bounding_boxes):
        if isinstance(labels, list) and box.label not in labels:
            raise ValidationException(
                f"boundingBoxes[{i}].label {box.label!r} is not one of the loop's labels"
            )
        if box.left + box.width > size.width or box.top + box.height > size.height:
            raise ValidationException(
                f"boundingBoxes[{i}] ({box.left},{box.top} {box.width}x{box.height}) reaches outside "
                f"the {size.width}x{size.height} image"
            )
    if result.initial_value_modified is not None and "initialValue" not in content:
        raise ValidationException("initialValueModified is given but the loop has no initialValue")


def human_answer(loop: HumanLoop, body: Any, now: datetime) -> dict[str, Any]:
    """One `humanAnswers[]` entry for a submitted answer; ValidationException says what is wrong."""
    try:
        submission = _Submission.model_validate(body)
    except ValidationError as err:
        raise ValidationException(f"Invalid answer: {_first_problem(err)}") from None
    content = loop.input
    result = submission.answer_content.annotated_result
    _check_against_loop(result, content)

    annotated: dict[str, Any] = {
        "boundingBoxes": [box.model_dump() for box in result.bounding_boxes],
        "inputImageProperties": result.input_image_properties.model_dump(),
    }
    initial = content.get("initialValue")
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
            raise ValidationException(
                f"acceptanceTime is not an ISO 8601 timestamp: {submission.acceptance_time!r}"
            ) from None
    return {
        "acceptanceTime": iso_millis(accepted),
        "answerContent": {ANSWER_ELEMENT: annotated},
        "submissionTime": iso_millis(now),
        "timeSpentInSeconds": spent,
        "workerId": submission.worker_id,
        "workerMetadata": {
            "identityData": {
                "identityProviderType": IDENTITY_PROVIDER,
                "issuer": IDENTITY_ISSUER,
                "sub": submission.worker_id,
            }
        },
    }


def output_document(loop: HumanLoop) -> dict[str, Any]:
    """The loop's `output.json`, as A2I writes it for a custom task type."""
    return {
        "flowDefinitionArn": loop.flow_definition_arn,
        "humanAnswers": list(loop.answers),
        "humanLoopName": loop.name,
        "inputContent": loop.input,
    }


def simulated_answer(
    input_content: Mapping[str, Any], worker_id: str = SIMULATED_WORKER_ID
) -> dict[str, Any]:
    """A submit-call body that accepts the proposed boxes (`initialValue`) unchanged.

    For demos and tests that need a review to finish without a person; `worker_id` marks it.
    """
    size = input_content["imageSize"]
    boxes = [{key: box[key] for key in _BOX_KEYS} for box in input_content.get("initialValue", [])]
    return {
        "answerContent": {
            ANSWER_ELEMENT: {
                "boundingBoxes": boxes,
                "inputImageProperties": {"width": size["width"], "height": size["height"]},
                "initialValueModified": False,
            }
        },
        "workerId": worker_id,
        "timeSpentInSeconds": 0,
    }
