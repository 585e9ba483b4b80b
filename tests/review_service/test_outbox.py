"""The outbox: final statuses from the table's stream become output.json and status events, idempotently."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from hitl_aws.review_task_table import ReviewTaskTable
from hitl_core import review_tasks
from hitl_core.review_tasks import ReviewTask
from hitl_review_service import outbox
from hitl_review_service.task_store import TaskStore
from review_service.builders import ANA, OUTPUT_BUCKET, REGION, SERVICE_NAME, TABLE, Clock, input_content
from review_service.conftest import TIMING, FakeLambdaContext, StatusTap, TableStream
from review_service.test_task_store import answer_as

AddTask = Callable[..., ReviewTask]
OUTPUT_KEY = f"review-output/{SERVICE_NAME}/2024/03/04/05/00/00/cat-1/output.json"


@pytest.fixture
def run_outbox(
    service_env: Callable[..., None], aws: None, lambda_context: FakeLambdaContext
) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """The outbox handler, built afresh from this test's environment."""
    service_env()
    outbox.outbox.cache_clear()

    def run(event: dict[str, Any]) -> dict[str, Any]:
        return outbox.handler(event, lambda_context)

    return run


def read_output() -> dict[str, Any]:
    body = boto3.client("s3", region_name=REGION).get_object(Bucket=OUTPUT_BUCKET, Key=OUTPUT_KEY)["Body"]
    return json.loads(body.read())


def test_a_completed_task_becomes_output_json_and_one_event(
    store: TaskStore,
    add_task: AddTask,
    table_stream: TableStream,
    status_tap: StatusTap,
    run_outbox: Callable[[dict[str, Any]], dict[str, Any]],
) -> None:
    add_task("cat-1")
    store.claim("cat-1", ANA.sub)
    assert run_outbox(table_stream.event()) == {"batchItemFailures": []}
    assert status_tap.drain() == []
    done = store.answer("cat-1", answer_as(ANA.sub))
    assert run_outbox(table_stream.event()) == {"batchItemFailures": []}
    output = read_output()
    assert output["humanLoopName"] == "cat-1"
    assert output["flowDefinitionArn"] == f"hitl-review-service/{SERVICE_NAME}"
    assert output["inputContent"] == done.input
    assert output["humanAnswers"] == list(done.answers)
    (event,) = status_tap.drain()
    assert (event["source"], event["detail-type"]) == ("hitl.review-service", "Review Task Status Change")
    assert event["detail"]["humanLoopStatus"] == "Completed"
    assert event["detail"]["humanLoopOutput"] == {"outputS3Uri": f"s3://{OUTPUT_BUCKET}/{OUTPUT_KEY}"}
    assert event["detail"]["creationTime"] == done.created_at


def test_the_same_record_twice_gives_one_output_and_events_at_least_once(
    store: TaskStore,
    add_task: AddTask,
    table_stream: TableStream,
    status_tap: StatusTap,
    run_outbox: Callable[[dict[str, Any]], dict[str, Any]],
) -> None:
    add_task("cat-1")
    store.claim("cat-1", ANA.sub)
    store.answer("cat-1", answer_as(ANA.sub))
    event = table_stream.event()
    run_outbox(event)
    first = boto3.client("s3", region_name=REGION).get_object(Bucket=OUTPUT_BUCKET, Key=OUTPUT_KEY)
    run_outbox(event)
    second = boto3.client("s3", region_name=REGION).get_object(Bucket=OUTPUT_BUCKET, Key=OUTPUT_KEY)
    assert first["Body"].read() == second["Body"].read()
    events = status_tap.drain()
    assert len(events) == 2
    assert events[0]["detail"] == events[1]["detail"]


def test_stopped_and_expired_tasks_are_announced_without_output(
    store: TaskStore,
    add_task: AddTask,
    clock: Clock,
    table_stream: TableStream,
    status_tap: StatusTap,
    run_outbox: Callable[[dict[str, Any]], dict[str, Any]],
) -> None:
    add_task("cat-1")
    add_task("dog-2", "dog.jpg")
    store.stop("cat-1", "boss")
    clock.advance(store.timing.availability_seconds)
    store.sweep()
    run_outbox(table_stream.event())
    details = {e["detail"]["humanLoopName"]: e["detail"] for e in status_tap.drain()}
    assert details["cat-1"]["humanLoopStatus"] == "Stopped"
    assert (details["dog-2"]["humanLoopStatus"], details["dog-2"]["failureCode"]) == ("Failed", "Expired")
    assert all("humanLoopOutput" not in d for d in details.values())
    listed = boto3.client("s3", region_name=REGION).list_objects_v2(Bucket=OUTPUT_BUCKET)
    assert listed.get("KeyCount", 0) == 0


class RefusingEvents:
    """An EventBridge client that refuses the status event of one task, and passes the rest on."""

    def __init__(self, refused: str) -> None:
        self._real = boto3.client("events", region_name=REGION)
        self._refused = refused

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        if json.loads(Entries[0]["Detail"])["humanLoopName"] == self._refused:
            return {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "InternalFailure", "ErrorMessage": "x"}]}
        return self._real.put_events(Entries=Entries)


def test_a_refused_event_fails_only_its_record_and_is_sent_on_retry(
    store: TaskStore,
    add_task: AddTask,
    table_stream: TableStream,
    status_tap: StatusTap,
    run_outbox: Callable[[dict[str, Any]], dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    add_task("cat-1")
    add_task("dog-2", "dog.jpg")
    store.stop("cat-1", "boss")
    store.stop("dog-2", "boss")
    event = table_stream.event()
    real = outbox.outbox()
    monkeypatch.setattr(
        outbox, "outbox", lambda: outbox.Outbox(real.settings, real.s3, RefusingEvents("cat-1"), real.table)
    )
    response = run_outbox(event)
    failed_ids = {f["itemIdentifier"] for f in response["batchItemFailures"]}
    cat_stop = next(
        r
        for r in event["Records"]
        if r["dynamodb"]["NewImage"]["loop_name"]["S"] == "cat-1" and r["eventName"] == "MODIFY"
    )
    assert failed_ids == {cat_stop["dynamodb"]["SequenceNumber"]}
    assert [e["detail"]["humanLoopName"] for e in status_tap.drain()] == ["dog-2"]
    monkeypatch.setattr(outbox, "outbox", lambda: real)
    assert run_outbox({"Records": [cat_stop]}) == {"batchItemFailures": []}
    assert [e["detail"]["humanLoopName"] for e in status_tap.drain()] == ["cat-1"]


def test_a_missing_variable_fails_the_batch_naming_it(
    monkeypatch: pytest.MonkeyPatch, service_env: Callable[..., None]
) -> None:
    service_env()
    monkeypatch.delenv("REVIEW_SERVICE_NAME")
    outbox.outbox.cache_clear()
    try:
        with pytest.raises(Exception, match="REVIEW_SERVICE_NAME"):
            outbox.Outbox.from_env(os.environ)
    finally:
        outbox.outbox.cache_clear()


def test_an_announced_task_is_marked_so_the_sweep_leaves_it(
    store: TaskStore,
    add_task: AddTask,
    table_stream: TableStream,
    run_outbox: Callable[[dict[str, Any]], dict[str, Any]],
) -> None:
    add_task("cat-1")
    store.claim("cat-1", ANA.sub)
    store.answer("cat-1", answer_as(ANA.sub))
    assert store.get("cat-1").announced_at is None

    assert run_outbox(table_stream.event()) == {"batchItemFailures": []}

    marked = store.get("cat-1")
    assert marked.announced_at is not None
    assert list(store.table.unannounced("2000-01-01T00:00:00.000Z")) == []
    # The mark's own stream record announces nothing again.
    assert run_outbox(table_stream.event()) == {"batchItemFailures": []}


def test_a_task_whose_input_content_lives_in_s3_gets_it_whole_in_output_json(
    add_task: AddTask,
    table_stream: TableStream,
    run_outbox: Callable[[dict[str, Any]], dict[str, Any]],
    clock: Clock,
) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    big = ReviewTaskTable(boto3.client("dynamodb", region_name=REGION), TABLE, s3, OUTPUT_BUCKET)
    content = json.dumps({**input_content(), "pad": "x" * 500_000})
    assert big.create(review_tasks.new_task("cat-1", content, clock()))
    store = TaskStore(big, TIMING, clock)
    store.claim("cat-1", ANA.sub)
    store.answer("cat-1", answer_as(ANA.sub))

    assert run_outbox(table_stream.event()) == {"batchItemFailures": []}

    assert read_output()["inputContent"] == json.loads(content)


def test_budget_counters_beside_the_tasks_are_passed_over(
    table: ReviewTaskTable,
    clock: Clock,
    add_task: AddTask,
    table_stream: TableStream,
    status_tap: StatusTap,
    run_outbox: Callable[[dict[str, Any]], dict[str, Any]],
) -> None:
    from hitl_core.review_budget import ReviewBudget

    store = TaskStore(table, TIMING, clock, ReviewBudget(per_hour=5, per_day=9))
    add_task("cat-1")
    store.next(ANA.sub)
    store.answer("cat-1", answer_as(ANA.sub))
    event = table_stream.event()
    keys = [r["dynamodb"]["Keys"]["loop_name"]["S"] for r in event["Records"]]
    assert "~budget/hour/2024-03-04T05" in keys
    assert run_outbox(event) == {"batchItemFailures": []}
    assert [e["detail"]["humanLoopStatus"] for e in status_tap.drain()] == ["Completed"]
