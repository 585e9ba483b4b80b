"""A reviewer's answer to a local human loop: checked and shaped by the review core, plus the loop's output.

The checks and the `humanAnswers[]` shape are `hitl_core.review_tasks`' (the built-in review
service uses the same); here only the A2I-specific parts: the `workerId` the page sends, the
local identity provider, and the loop's `output.json`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field

from hitl.local.a2i.errors import ValidationException
from hitl.local.a2i.loops import HumanLoop
from hitl_core import review_tasks
from hitl_core.manifest import ANSWER_ELEMENT

SIMULATED_WORKER_ID = "simulated-reviewer"
IDENTITY_PROVIDER = "LocalA2I"
IDENTITY_ISSUER = "hitl-local-a2i"
_BOX_KEYS = ("label", "left", "top", "width", "height")


class _Submission(review_tasks.AnswerSubmission):
    worker_id: Annotated[str, Field(min_length=1, max_length=256)] = Field(alias="workerId")


def human_answer(loop: HumanLoop, body: Any, now: datetime) -> dict[str, Any]:
    """One `humanAnswers[]` entry for a submitted answer; ValidationException says what is wrong."""
    try:
        submission = review_tasks.parse_submission(body, _Submission)
        worker = review_tasks.WorkerIdentity(
            sub=submission.worker_id, issuer=IDENTITY_ISSUER, provider=IDENTITY_PROVIDER
        )
        return review_tasks.build_human_answer(submission, loop.input, worker, now)
    except review_tasks.AnswerInvalid as err:
        raise ValidationException(str(err)) from None


def output_document(loop: HumanLoop) -> dict[str, Any]:
    """The loop's `output.json`, as A2I writes it for a custom task type."""
    return review_tasks.output_document(
        flow_definition_arn=loop.flow_definition_arn,
        loop_name=loop.name,
        input_content=loop.input,
        answers=list(loop.answers),
    )


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
