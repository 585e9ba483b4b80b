"""The a2i backend's budget: loops counted once and started once, waiting images started best first.

moto serves DynamoDB and S3; A2I is a Stubber, so every StartHumanLoop is checked against the real
API model and exactly the loops expected are started (a stray start fails the test).
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from hitl_core.human_loop import loop_name
from hitl_core.review_budget import day_key, hour_key
from ingest.budgeted_a2i import PERSON, TABLE, Clock, budgeted, expect_start, ingest_doubtful, spend_this_hour
from ingest.builders import INPUT_BUCKET, jpeg_bytes, sagemaker_answer
from ingest.conftest import FLOW_ARN, IngestWorld


def test_with_budget_left_ingest_starts_the_loop_and_counts_it(world: IngestWorld) -> None:
    clock = Clock()
    loops = budgeted(world, clock, per_hour=5, per_day=20)
    event = world.upload("incoming/a.jpg", jpeg_bytes(64, 48))
    name = loop_name(INPUT_BUCKET, "incoming/a.jpg", event["detail"]["object"]["etag"])
    expect_start(world, name)
    world.queue_endpoint_answer(sagemaker_answer([PERSON, 0.3, 0.0, 0.0, 0.5, 0.5]))

    assert world.ingest(event).status == "review"

    assert loops.table.counters([hour_key(clock.now), day_key(clock.now)]) == {
        hour_key(clock.now): 1,
        day_key(clock.now): 1,
    }
    pending = loops.table.get(name)
    assert pending is not None and pending.started_at is not None and loops.table.best(5) == []


def test_a_spent_budget_queues_and_the_starter_starts_the_best_waiting_loop_first(world: IngestWorld) -> None:
    clock = Clock()
    loops = budgeted(world, clock, per_hour=1)
    spend_this_hour(loops, clock, 1)
    unsure = ingest_doubtful(world, "incoming/unsure.jpg", 0.3)  # priority 0.6
    closest = ingest_doubtful(world, "incoming/closest.jpg", 0.45)  # priority 0.9: nearer the threshold
    assert [loop.loop_name for loop in loops.table.best(5)] == [closest, unsure]
    assert loops.table.waiting_count() == 2
    [first, second] = [e for e in world.published() if e["detail-type"] == "Human Review Started"]
    assert first["detail"]["loop_name"] == unsure and second["detail"]["loop_name"] == closest

    assert loops.start_waiting(10).spent  # still the same hour: nothing starts
    clock.now += timedelta(hours=1)
    expect_start(world, closest)
    run = loops.start_waiting(10)

    assert (run.started, run.spent) == (1, True)
    assert [loop.loop_name for loop in loops.table.best(5)] == [unsure]
    clock.now += timedelta(hours=1)
    expect_start(world, unsure)
    assert loops.start_waiting(10).started == 1


def test_the_starter_starts_a_loop_with_the_records_input_content(world: IngestWorld) -> None:
    clock = Clock()
    loops = budgeted(world, clock, per_day=1)
    loops.table._client.put_item(
        TableName=TABLE, Item={"loop_name": {"S": day_key(clock.now)}, "used": {"N": "1"}}
    )
    name = ingest_doubtful(world, "incoming/cat.jpg", 0.3)
    clock.now += timedelta(days=1)
    [record_key] = [k for k in world.record_keys() if k.startswith("predictions/")]
    content = world.record(record_key)["human_loop"]["input_content"]
    world.a2i_stub.add_response(
        "start_human_loop",
        {"HumanLoopArn": f"arn:aws:sagemaker:us-east-1:123456789012:human-loop/{name}"},
        {
            "HumanLoopName": name,
            "FlowDefinitionArn": FLOW_ARN,
            "HumanLoopInput": {"InputContent": json.dumps(content, separators=(",", ":"), sort_keys=True)},
        },
    )

    assert loops.start_waiting(10).started == 1


def test_a_redelivered_image_adds_nothing_and_starts_no_second_loop(world: IngestWorld) -> None:
    clock = Clock()
    loops = budgeted(world, clock, per_hour=5)
    event = world.upload("incoming/twice.jpg", jpeg_bytes(64, 48))
    name = loop_name(INPUT_BUCKET, "incoming/twice.jpg", event["detail"]["object"]["etag"])
    expect_start(world, name)
    for _ in range(2):
        world.queue_endpoint_answer(sagemaker_answer([PERSON, 0.3, 0.0, 0.0, 0.5, 0.5]))
        world.ingest(event)

    assert loops.table.counters([hour_key(clock.now)]) == {hour_key(clock.now): 1}
    assert loops.start_waiting(10).started == 0


def test_a_start_cut_short_after_counting_is_finished_by_the_starter_counted_once(world: IngestWorld) -> None:
    clock = Clock()
    loops = budgeted(world, clock, per_hour=5)
    world.a2i_stub.add_client_error("start_human_loop", "ThrottlingException", "slow down", 400)
    with pytest.raises(Exception, match="ThrottlingException"):
        ingest_doubtful(world, "incoming/throttled.jpg", 0.3)
    [waiting] = loops.table.best(5)
    assert waiting.counted_at is not None

    expect_start(world, waiting.loop_name)
    assert loops.start_waiting(10).started == 1

    assert loops.table.counters([hour_key(clock.now)]) == {hour_key(clock.now): 1}
    assert loops.table.best(5) == []


def test_a_spent_budget_with_when_spent_accept_accepts_the_image_and_says_why(world: IngestWorld) -> None:
    clock = Clock()
    loops = budgeted(world, clock, per_hour=1, when_spent="accept")
    spend_this_hour(loops, clock, 1)
    key = "incoming/people/crowd.jpg"
    event = world.upload(key, jpeg_bytes(64, 48))
    world.queue_endpoint_answer(sagemaker_answer([PERSON, 0.3, 0.0, 0.0, 0.5, 0.5]))

    result = world.ingest(event)

    assert (result.status, result.loop_name) == ("accepted", None)
    record = world.record(f"predictions/{key}/{event['detail']['object']['etag']}.json")
    assert (record["decision"]["outcome"], record["decision"]["reason"]) == ("accept", "over-budget")
    [published] = world.published()
    assert (published["detail-type"], published["detail"]["reason"]) == ("Prediction Accepted", "over-budget")
    assert loops.table.best(5) == []
    assert world.metrics.count("ImagesAcceptedOverBudget") == 1


def test_an_audit_sample_waits_for_the_budget_instead_of_being_accepted(world: IngestWorld) -> None:
    from hitl_core.config import Routing

    world.reconfigure(routing=Routing(sampling_percentage=100.0))
    clock = Clock()
    loops = budgeted(world, clock, per_hour=1, when_spent="accept")
    spend_this_hour(loops, clock, 1)
    event = world.upload("incoming/sure.jpg", jpeg_bytes(64, 48))
    world.queue_endpoint_answer(sagemaker_answer([PERSON, 0.99, 0.0, 0.0, 0.5, 0.5]))

    assert world.ingest(event).status == "review"
    assert len(loops.table.best(5)) == 1
