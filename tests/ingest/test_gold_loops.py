"""Gold loops with the a2i backend: after the image loop that brings gold to its share of the loops
started, a gold loop starts, once, however often the image is delivered.

moto serves S3 (the gold manifest) and DynamoDB (the counters); A2I is a Stubber, so every
StartHumanLoop is checked against the real API model and a stray start fails the test.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from hitl_core.config import ReviewBudgetConfig, ReviewGold
from hitl_core.gold_loops import GOLD_COUNT_KEY, gold_loop_key, gold_loop_name
from hitl_core.gold_tasks import gold_lines
from hitl_core.human_loop import loop_name, serialize_input_content
from hitl_core.pending_loops import create_table_request
from hitl_core.review_budget import hour_key
from hitl_ingest.dependencies import build_review_starter
from ingest.budgeted_a2i import PERSON, TABLE, expect_start
from ingest.builders import INPUT_BUCKET, REGION, jpeg_bytes, sagemaker_answer
from ingest.conftest import FLOW_ARN, IngestWorld

GOLD_BUCKET = "team-gold"
KNOWN = [{"label": "person", "left": 5, "top": 6, "width": 30, "height": 20}]


def gold_text(image: str) -> str:
    """One gold line as `hitl review gold predict` leaves it (the model's box beside the known one)."""
    model_box = {"label": "person", "score": 0.4, "left": 9, "top": 9, "width": 20, "height": 20}
    bucket, _, key = image.removeprefix("s3://").partition("/")
    line = {
        "source-ref": image,
        "bounding-box": {
            "image_size": [{"width": 64, "height": 48, "depth": 3}],
            "annotations": [{"class_id": 0, **{k: KNOWN[0][k] for k in ("left", "top", "width", "height")}}],
        },
        "bounding-box-metadata": {
            "objects": [{"confidence": 1}],
            "class-map": {"0": "person"},
            "type": "groundtruth/object-detection",
            "human-annotated": "yes",
            "creation-date": "2026-01-01T00:00:00.000Z",
            "job-name": "gold",
            "model-detections": {
                "detections": [model_box],
                "model": {"detector": "sagemaker-endpoint", "endpoint_name": "detector"},
                "source": {"bucket": bucket, "key": key, "version": "v1", "uri": image},
                "labels": ["person"],
                "predicted-at": "2026-12-07T10:00:00.000Z",
            },
        },
    }
    return json.dumps(line) + "\n"


def with_gold(
    world: IngestWorld, share: float, image: str = f"s3://{GOLD_BUCKET}/gold/person.jpg", **budget: int
) -> Any:
    """The world's ingest with `review.gold` set (share `share`) and `review.budget` keys, built as the
    function builds it."""
    world.s3.create_bucket(Bucket=GOLD_BUCKET)
    world.s3.put_object(Bucket=GOLD_BUCKET, Key="gold/lines.jsonl", Body=gold_text(image).encode())
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    dynamodb.create_table(**create_table_request(TABLE))
    gold = ReviewGold(share=share, manifest=f"s3://{GOLD_BUCKET}/gold/lines.jsonl")
    team = {"gold": gold, "budget": ReviewBudgetConfig.model_validate(budget)}
    config = world.config.model_copy(update={"review": world.config.review.model_copy(update=team)})
    settings = dataclasses.replace(world.deps.settings, config=config, pending_loops_table=TABLE)
    clients = {"sagemaker-a2i-runtime": world.deps.reviews._client, "s3": world.s3, "dynamodb": dynamodb}
    starter = build_review_starter(settings, clients.__getitem__)
    world.deps = dataclasses.replace(world.deps, settings=settings, reviews=starter)
    return dynamodb


def expect_conflict(world: IngestWorld, name: str) -> None:
    """A2I answers a second start of `name` with ConflictException; the loop is ours."""
    world.a2i_stub.add_client_error("start_human_loop", "ConflictException", "exists", http_status_code=409)
    world.a2i_stub.add_response(
        "describe_human_loop",
        {
            "CreationTime": "2026-12-07T10:00:00Z",
            "HumanLoopStatus": "InProgress",
            "HumanLoopName": name,
            "HumanLoopArn": f"arn:aws:sagemaker:{REGION}:123456789012:human-loop/{name}",
            "FlowDefinitionArn": FLOW_ARN,
        },
        {"HumanLoopName": name},
    )


def expect_gold_start(world: IngestWorld, name: str) -> None:
    """The gold loop starts with the InputContent a gold line makes (shaped as an image loop's)."""
    [line] = gold_lines(gold_text(f"s3://{GOLD_BUCKET}/gold/person.jpg"))
    world.a2i_stub.add_response(
        "start_human_loop",
        {"HumanLoopArn": f"arn:aws:sagemaker:{REGION}:123456789012:human-loop/{name}"},
        {
            "HumanLoopName": name,
            "FlowDefinitionArn": FLOW_ARN,
            "HumanLoopInput": {"InputContent": serialize_input_content(line.input_content)},
        },
    )


def _item_or_none(dynamodb: Any, key: str) -> dict[str, Any] | None:
    return dynamodb.get_item(TableName=TABLE, Key={"loop_name": {"S": key}}, ConsistentRead=True).get("Item")


def _item(dynamodb: Any, key: str) -> dict[str, Any]:
    item = _item_or_none(dynamodb, key)
    assert item is not None, key
    return item


def test_a_gold_loop_starts_once_after_the_image_loop_even_when_the_image_is_delivered_again(
    world: IngestWorld,
) -> None:
    dynamodb = with_gold(world, share=0.5)
    [line] = gold_lines(gold_text(f"s3://{GOLD_BUCKET}/gold/person.jpg"))
    gold = gold_loop_name(line, 0)
    event = world.upload("incoming/a.jpg", jpeg_bytes(64, 48))
    image = loop_name(INPUT_BUCKET, "incoming/a.jpg", event["detail"]["object"]["etag"])
    expect_start(world, image)
    expect_gold_start(world, gold)
    world.queue_endpoint_answer(sagemaker_answer([PERSON, 0.3, 0.0, 0.0, 0.5, 0.5]))
    assert world.ingest(event).status == "review"

    expect_conflict(world, image)  # the redelivery starts both again: A2I has them
    expect_conflict(world, gold)
    world.queue_endpoint_answer(sagemaker_answer([PERSON, 0.3, 0.0, 0.0, 0.5, 0.5]))
    assert world.ingest(event).status == "redelivered"

    assert _item(dynamodb, GOLD_COUNT_KEY)["started"] == {"N": "2"}
    assert _item(dynamodb, GOLD_COUNT_KEY)["gold"] == {"N": "1"}
    assert json.loads(_item(dynamodb, gold_loop_key(gold))["gold"]["S"]) == KNOWN
    [started] = [e for e in world.published() if e["detail-type"] == "Human Review Started"][:1]
    assert started["detail"]["loop_name"] == image  # the gold loop is announced nowhere


def test_with_a_budget_the_gold_loop_starts_with_the_image_loop_and_is_not_counted_against_it(
    world: IngestWorld,
) -> None:
    dynamodb = with_gold(world, share=0.5, per_hour=1)
    [line] = gold_lines(gold_text(f"s3://{GOLD_BUCKET}/gold/person.jpg"))
    event = world.upload("incoming/a.jpg", jpeg_bytes(64, 48))
    expect_start(world, loop_name(INPUT_BUCKET, "incoming/a.jpg", event["detail"]["object"]["etag"]))
    expect_gold_start(world, gold_loop_name(line, 0))
    world.queue_endpoint_answer(sagemaker_answer([PERSON, 0.3, 0.0, 0.0, 0.5, 0.5]))

    before = datetime.now(UTC)
    assert world.ingest(event).status == "review"

    hours = {hour_key(before), hour_key(datetime.now(UTC))}  # the hour may turn during the test
    used = [int(_item(dynamodb, h)["used"]["N"]) for h in hours if _item_or_none(dynamodb, h)]
    assert used == [1]  # the image's loop only: the hour's one loop
    assert _item(dynamodb, GOLD_COUNT_KEY)["gold"] == {"N": "1"}


def test_below_its_share_no_gold_loop_starts(world: IngestWorld) -> None:
    dynamodb = with_gold(world, share=0.25)
    for key in ("incoming/a.jpg", "incoming/b.jpg"):
        event = world.upload(key, jpeg_bytes(64, 48))
        expect_start(world, loop_name(INPUT_BUCKET, key, event["detail"]["object"]["etag"]))
        world.queue_endpoint_answer(sagemaker_answer([PERSON, 0.3, 0.0, 0.0, 0.5, 0.5]))
        world.ingest(event)
    assert _item(dynamodb, GOLD_COUNT_KEY)["started"] == {"N": "2"}
    assert _item(dynamodb, GOLD_COUNT_KEY)["gold"] == {"N": "0"}


def test_a_gold_image_outside_the_manifests_folder_turns_gold_loops_off_and_the_image_loop_starts(
    world: IngestWorld, caplog: pytest.LogCaptureFixture
) -> None:
    dynamodb = with_gold(world, share=0.5, image=f"s3://{GOLD_BUCKET}/elsewhere/p.jpg")
    event = world.upload("incoming/a.jpg", jpeg_bytes(64, 48))
    expect_start(world, loop_name(INPUT_BUCKET, "incoming/a.jpg", event["detail"]["object"]["etag"]))
    world.queue_endpoint_answer(sagemaker_answer([PERSON, 0.3, 0.0, 0.0, 0.5, 0.5]))

    assert world.ingest(event).status == "review"  # and no gold loop: the Stubber has no other start

    assert _item_or_none(dynamodb, GOLD_COUNT_KEY) is None
    [off] = [
        r for r in caplog.records if r.getMessage() == "gold loops are off: the gold manifest was refused"
    ]
    assert "line 1: s3://team-gold/elsewhere/p.jpg is not under s3://team-gold/gold/" in off.problem


def test_a_missing_gold_manifest_turns_gold_loops_off_and_the_image_loop_starts(
    world: IngestWorld, caplog: pytest.LogCaptureFixture
) -> None:
    dynamodb = with_gold(world, share=0.5)
    world.s3.delete_object(Bucket=GOLD_BUCKET, Key="gold/lines.jsonl")
    event = world.upload("incoming/a.jpg", jpeg_bytes(64, 48))
    expect_start(world, loop_name(INPUT_BUCKET, "incoming/a.jpg", event["detail"]["object"]["etag"]))
    world.queue_endpoint_answer(sagemaker_answer([PERSON, 0.3, 0.0, 0.0, 0.5, 0.5]))

    assert world.ingest(event).status == "review"

    assert _item_or_none(dynamodb, GOLD_COUNT_KEY) is None
    [off] = [
        r for r in caplog.records if r.getMessage() == "gold loops are off: the gold manifest was refused"
    ]
    assert "NoSuchKey" in off.problem
