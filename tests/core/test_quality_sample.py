"""Prediction records joined to review records by loop name; what cannot be read is named."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from hitl.quality_traffic import Traffic, traffic_documents, traffic_objects
from hitl_core.quality_sample import build_sample, parse_time, review_answer


def test_each_review_record_joins_its_prediction_record():
    documents = list(traffic_documents(Traffic(300, seed=3)))
    records = [json.loads(raw) for name, raw in documents if name.startswith("predictions/")]
    reviews = {json.loads(raw)["loop_name"] for name, raw in documents if name.startswith("reviews/")}

    sample = build_sample(documents)

    assert len(sample.images) == len(records) == 300
    assert {image.loop_name for image in sample.answered} == reviews
    assert sample.skipped == []
    for image in sample.images:
        assert (image.outcome == "review") == (image.selection.kind != "accepted")
        assert (image.answer is not None) == (image.outcome == "review")
        assert image.processed_at.tzinfo is UTC


def test_unreadable_documents_are_named_and_unanswered_loops_left_unanswered():
    documents = list(traffic_documents(Traffic(30, seed=4)))
    failed = {"loop_name": "gone", "status": "Failed", "failure_reason": "expired", "event_time": "x"}
    rejected = {"status": "rejected", "reason_code": "corrupt"}
    extra = [
        ("broken.json", b"{not json"),
        ("failed.json", json.dumps(failed).encode()),
        ("rejected.json", json.dumps(rejected).encode()),
        ("odd.json", json.dumps({"record_version": 1, "status": "accepted"}).encode()),
    ]
    reviews_dropped = [d for d in documents if not d[0].startswith("reviews/")]

    sample = build_sample(reviews_dropped + extra)

    assert sample.answered == []
    assert dict(sample.skipped).keys() == {"broken.json", "odd.json"}
    assert dict(sample.skipped)["broken.json"] == "not JSON"
    assert review_answer(failed) is None


def test_review_records_kept_by_batch_join_alike_and_a_retried_answer_counts_once():
    documents = list(traffic_documents(Traffic(300, seed=3)))
    objects = list(traffic_objects(Traffic(300, seed=3)))
    batches = [(name, raw) for name, raw in objects if name.endswith(".jsonl")]
    first_line = batches[0][1].splitlines()[0]
    retried = ("reviews/batches/date=2026-12-07/retried.jsonl", first_line + b"\n\n" + first_line + b"\n")

    by_document, by_batch = build_sample(documents), build_sample([*objects, retried])

    assert batches and all(name.startswith("reviews/batches/date=") for name, _ in batches)
    assert by_batch.skipped == []
    assert [(i.image, i.answer) for i in by_batch.images] == [(i.image, i.answer) for i in by_document.images]
    assert len(by_batch.answered) == len(by_document.answered) > 0


def test_times_are_read_as_utc():
    assert parse_time("2026-12-07T10:00:00Z") == datetime(2026, 12, 7, 10, tzinfo=UTC)
    assert parse_time("2026-12-07T10:00:00") == datetime(2026, 12, 7, 10, tzinfo=UTC)
    assert parse_time("2026-12-07T12:00:00+02:00") == datetime(2026, 12, 7, 10, tzinfo=UTC)
