"""What the function keeps in S3 besides the manifest: quarantined answers and each loop's review record."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from hitl_review.answers import convert_output
from hitl_review.review_records import ReviewRecords
from hitl_review.status_event import HumanLoopStatusChange

from .builders import (
    LABELS,
    REGION,
    TRAINING_BUCKET,
    output_json,
    output_uri,
    put_output,
    read_object,
    status_event,
)


@pytest.fixture
def records(aws: None) -> ReviewRecords:
    s3 = boto3.client("s3", region_name=REGION)
    return ReviewRecords(s3, TRAINING_BUCKET, quarantine_prefix="quarantine/", reviews_prefix="reviews/")


def parsed(body: dict[str, Any]) -> HumanLoopStatusChange:
    return HumanLoopStatusChange.model_validate_json(json.dumps(body))


def test_read_output_returns_the_bytes_or_none(records: ReviewRecords) -> None:
    put_output("loop-1", b"{}")
    assert records.read_output(output_uri("loop-1")) == b"{}"
    assert records.read_output(output_uri("never-written")) is None


def test_quarantine_keeps_the_bytes_the_reason_and_the_event_and_is_repeatable(
    records: ReviewRecords,
) -> None:
    event = parsed(status_event("loop-1"))
    first = records.quarantine(event, b"\x00 raw", "malformed-json", "not JSON")
    again = records.quarantine(event, b"\x00 raw", "malformed-json", "not JSON")
    assert first == again == f"s3://{TRAINING_BUCKET}/quarantine/loop-1/"
    assert read_object(TRAINING_BUCKET, "quarantine/loop-1/output.json") == b"\x00 raw"
    reason = json.loads(read_object(TRAINING_BUCKET, "quarantine/loop-1/reason.json"))
    assert reason["reason_code"] == "malformed-json"
    assert reason["event"]["detail-type"] == "SageMaker A2I HumanLoop Status Change"


def test_an_unfinished_loop_is_recorded_under_reviews(records: ReviewRecords) -> None:
    uri = records.record_unfinished(parsed(status_event("loop-9", "Failed", failure_reason="expired")))
    assert uri == f"s3://{TRAINING_BUCKET}/reviews/loop-9.json"
    record = json.loads(read_object(TRAINING_BUCKET, "reviews/loop-9.json"))
    assert record["status"] == "Failed" and record["failure_reason"] == "expired"
    assert record["human_loop_arn"].endswith(":human-loop/loop-9")


def test_a_completed_loop_is_recorded_once_with_its_comparison(records: ReviewRecords) -> None:
    converted = convert_output(
        json.dumps(output_json("loop-1", "cat.jpg")).encode(),
        loop_name="loop-1",
        output_uri=output_uri("loop-1"),
        attribute="bounding-box",
        labels=LABELS,
    )

    assert records.record_completed(converted, "bounding-box") is True
    written = read_object(TRAINING_BUCKET, "reviews/loop-1.json")
    assert records.record_completed(converted, "bounding-box") is False, "a redelivery finds it"
    assert read_object(TRAINING_BUCKET, "reviews/loop-1.json") == written

    record = json.loads(written)
    assert record["status"] == "Completed" and record["loop_name"] == "loop-1"
    assert record["submission_time"] == "2020-05-01T18:24:53.742Z"
    assert record["model_boxes"] == [
        {"label": "cat", "score": 0.41, "left": 12, "top": 22, "width": 96, "height": 78}
    ]
    assert record["reviewer_boxes"] == [{"label": "cat", "left": 10, "top": 20, "width": 100, "height": 80}]
    assert record["comparison"] == converted.comparison.to_dict()
    assert record["comparison_error"] is None
