"""The review-record batch objects' keys, bodies and day folders."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from hitl_core.review_batches import batch_object, batches_prefix, day_prefixes


def record(loop: str, submitted: str = "2026-12-07T10:00:00.000Z") -> dict[str, object]:
    return {"loop_name": loop, "status": "Completed", "submission_time": submitted, "comparison": None}


def test_the_key_depends_only_on_the_loops_so_a_redelivered_batch_names_the_same_object():
    key, body = batch_object("reviews/", [record("b"), record("a"), record("b")])
    again = batch_object("reviews/", [record("a"), record("b")])
    assert (key, body) == again
    assert batch_object("reviews/", [record("a"), record("c")])[0] != key
    assert key.startswith("reviews/batches/date=2026-12-07/") and key.endswith(".jsonl")
    assert [json.loads(line)["loop_name"] for line in body.splitlines()] == ["a", "b"]


def test_a_batch_is_dated_by_its_latest_answer_in_utc():
    key, _ = batch_object(
        "reviews/", [record("a", "2026-12-06T23:00:00Z"), record("b", "2026-12-08T00:30:00+02:00")]
    )
    assert key.startswith("reviews/batches/date=2026-12-07/")


def test_an_empty_batch_has_no_object():
    with pytest.raises(ValueError, match="at least one"):
        batch_object("reviews/", [])


def test_the_windows_days_are_listed_from_the_first_to_the_last_in_utc():
    since = datetime(2026, 12, 5, 1, 0, tzinfo=timezone(timedelta(hours=2)))  # 2026-12-04 in UTC
    until = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    assert day_prefixes("reviews/", since, until) == [
        "reviews/batches/date=2026-12-04/",
        "reviews/batches/date=2026-12-05/",
        "reviews/batches/date=2026-12-06/",
    ]
    assert all(
        prefix.startswith(batches_prefix("reviews/")) for prefix in day_prefixes("reviews/", since, until)
    )
