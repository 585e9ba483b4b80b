"""The batch processor: one deferred append for the whole batch, failures reported per message."""

from __future__ import annotations

from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from hitl_review.completion import ManifestBatchProcessor, PendingAnswer

from .builders import sqs_record


def handler(record: Any) -> PendingAnswer | None:
    if record.body == "poison":
        raise ValueError("not an event")
    if record.body.startswith("answer"):
        return PendingAnswer(record.message_id, converted=None)
    return None


def process(bodies: list[str], append: Any) -> dict[str, Any]:
    processor = ManifestBatchProcessor(append)
    records = [sqs_record(body, f"m{i}") for i, body in enumerate(bodies)]
    with processor(records=records, handler=handler):
        processor.process()
    return processor.response()


def test_all_answers_of_a_batch_are_appended_in_one_call() -> None:
    calls: list[list[str]] = []
    response = process(["answer", "other", "answer", "poison"], lambda p: calls.append([a.key for a in p]))
    assert calls == [["m0", "m2"]]
    assert response == {"batchItemFailures": [{"itemIdentifier": "m3"}]}


def test_a_failed_append_fails_exactly_the_answers() -> None:
    def append(pending: list[PendingAnswer]) -> None:
        raise RuntimeError("S3 down")

    response = process(["answer", "other", "answer"], append)
    assert response == {"batchItemFailures": [{"itemIdentifier": "m0"}, {"itemIdentifier": "m2"}]}


def test_a_batch_without_answers_does_not_append() -> None:
    def append(pending: list[PendingAnswer]) -> None:
        raise AssertionError("called")

    assert process(["other"], append) == {"batchItemFailures": []}


def test_a_batch_that_failed_entirely_raises_so_lambda_retries_it() -> None:
    def append(pending: list[PendingAnswer]) -> None:
        raise RuntimeError("S3 down")

    with pytest.raises(BatchProcessingError):
        process(["answer", "poison"], append)
