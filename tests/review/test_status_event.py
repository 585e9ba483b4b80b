"""Reading A2I's status-change event from the SQS message body."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from hitl_review.status_event import HumanLoopStatusChange

from .builders import FLOW_ARN, output_uri, status_event


def test_the_reference_event_shape_is_read() -> None:
    event = HumanLoopStatusChange.model_validate_json(json.dumps(status_event("loop-1")))
    assert event.detail.human_loop_name == "loop-1"
    assert event.detail.flow_definition_arn == FLOW_ARN
    assert event.detail.human_loop_status == "Completed"
    assert event.detail.human_loop_output.output_s3_uri == output_uri("loop-1")
    assert event.detail.failure_reason is None


def test_unknown_fields_are_ignored_and_a_failed_loop_may_lack_an_output() -> None:
    body = status_event("loop-1", "Failed", failure_reason="expired")
    body["detail"]["somethingNew"] = 1
    del body["detail"]["humanLoopOutput"]
    event = HumanLoopStatusChange.model_validate_json(json.dumps(body))
    assert event.detail.human_loop_output is None
    assert event.detail.failure_reason == "expired"


@pytest.mark.parametrize(
    "change",
    [
        lambda e: e.update({"source": "aws.s3"}),
        lambda e: e.update({"detail-type": "Object Created"}),
        lambda e: e["detail"].update({"humanLoopStatus": "InProgress"}),
        lambda e: e["detail"].pop("humanLoopName"),
    ],
)
def test_anything_else_is_refused(change) -> None:
    body = status_event("loop-1")
    change(body)
    with pytest.raises(ValidationError):
        HumanLoopStatusChange.model_validate_json(json.dumps(body))


def test_the_review_services_event_is_read_and_must_not_mix_sources() -> None:
    body = status_event("loop-1")
    body.update({"source": "hitl.review-service", "detail-type": "Review Task Status Change"})
    event = HumanLoopStatusChange.model_validate_json(json.dumps(body))
    assert event.from_review_service
    assert not HumanLoopStatusChange.model_validate_json(
        json.dumps(status_event("loop-1"))
    ).from_review_service
    body["detail-type"] = "SageMaker A2I HumanLoop Status Change"
    with pytest.raises(ValidationError, match="does not send"):
        HumanLoopStatusChange.model_validate_json(json.dumps(body))
