"""What the function keeps in S3 besides the manifest: quarantined answers and the loops' review records."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from hitl_review.answers import ConvertedAnswer, convert_output
from hitl_review.review_records import ReviewRecords, completed_record
from hitl_review.status_event import HumanLoopStatusChange

from .builders import (
    LABELS,
    REGION,
    TRAINING_BUCKET,
    box,
    human_answer,
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


def converted(loop: str, submitted: str = "2020-05-01T18:24:53.742Z") -> ConvertedAnswer:
    document = output_json(loop, f"{loop}.jpg", [human_answer([box("cat", 10, 20, 100, 80)], submitted)])
    return convert_output(
        json.dumps(document).encode(),
        loop_name=loop,
        output_uri=output_uri(loop),
        attribute="bounding-box",
        labels=LABELS,
    )


def batch_keys() -> list[str]:
    s3 = boto3.client("s3", region_name=REGION)
    listed = s3.list_objects_v2(Bucket=TRAINING_BUCKET, Prefix="reviews/").get("Contents", [])
    return [item["Key"] for item in listed]


def test_a_batch_of_completed_loops_is_recorded_once_in_one_object(records: ReviewRecords) -> None:
    answers = [converted("loop-2"), converted("loop-1", "2020-05-02T00:00:00Z")]

    assert records.record_completed(answers, "bounding-box") is True
    [key] = batch_keys()
    written = read_object(TRAINING_BUCKET, key)
    assert records.record_completed(answers[::-1], "bounding-box") is False, "a redelivery finds it"
    assert batch_keys() == [key] and read_object(TRAINING_BUCKET, key) == written

    assert key.startswith("reviews/batches/date=2020-05-02/") and key.endswith(".jsonl")
    first, second = (json.loads(line) for line in written.splitlines())
    assert (first["loop_name"], second["loop_name"]) == ("loop-1", "loop-2")
    assert first == completed_record(answers[1], "bounding-box")
    assert first["status"] == "Completed" and first["submission_time"] == "2020-05-02T00:00:00.000Z"
    assert first["model_boxes"] == [
        {"label": "cat", "score": 0.41, "left": 12, "top": 22, "width": 96, "height": 78}
    ]
    assert first["reviewer_boxes"] == [{"label": "cat", "left": 10, "top": 20, "width": 100, "height": 80}]
    assert first["comparison"] == answers[1].comparison.to_dict()
    assert first["comparison_error"] is None


def test_another_batch_of_the_same_answer_is_another_object(records: ReviewRecords) -> None:
    answer = converted("loop-1")
    assert records.record_completed([answer], "bounding-box") is True
    assert records.record_completed([answer, converted("loop-3")], "bounding-box") is True
    assert len(batch_keys()) == 2
