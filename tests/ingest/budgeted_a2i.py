"""The a2i backend with a review budget in the ingest tests' moto account (its A2I a Stubber)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import boto3
from botocore.stub import ANY

from hitl_core.config import ReviewBudgetConfig
from hitl_core.human_loop import loop_name
from hitl_core.pending_loops import create_table_request
from hitl_core.review_budget import hour_key
from hitl_core.review_priority import PriorityRule
from hitl_ingest.human_review import BudgetedHumanReviewStarter
from hitl_ingest.pending_loops import PendingLoops, PendingLoopTable, input_content_reader
from hitl_ingest.record_store import RecordStore
from ingest.builders import INPUT_BUCKET, jpeg_bytes, sagemaker_answer
from ingest.conftest import FLOW_ARN, TRAINING_BUCKET, IngestWorld

PERSON = 0
TABLE = "pending-loops"


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(minute=10, second=0, microsecond=0)

    def __call__(self) -> datetime:
        return self.now


def budgeted(world: IngestWorld, clock: Clock, **budget: object) -> PendingLoops:
    """The a2i starter with a budget (`review.budget` keys), its table made in moto."""
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    dynamodb.create_table(**create_table_request(TABLE))
    config = ReviewBudgetConfig.model_validate(budget)
    loops = PendingLoops(
        PendingLoopTable(dynamodb, TABLE),
        world.deps.reviews.start,
        input_content_reader(RecordStore(world.s3, TRAINING_BUCKET)),
        config.budget(),
        PriorityRule(),
        clock,
    )
    world.deps = dataclasses.replace(
        world.deps, reviews=BudgetedHumanReviewStarter(loops, FLOW_ARN, config.over_budget_rule())
    )
    return loops


def spend_this_hour(loops: PendingLoops, clock: Clock, used: int) -> None:
    loops.table._client.put_item(
        TableName=TABLE, Item={"loop_name": {"S": hour_key(clock.now)}, "used": {"N": str(used)}}
    )


def expect_start(world: IngestWorld, name: str) -> None:
    world.a2i_stub.add_response(
        "start_human_loop",
        {"HumanLoopArn": f"arn:aws:sagemaker:us-east-1:123456789012:human-loop/{name}"},
        {"HumanLoopName": name, "FlowDefinitionArn": FLOW_ARN, "HumanLoopInput": ANY},
    )


def ingest_doubtful(world: IngestWorld, key: str, score: float) -> str:
    """Ingest an image whose one box scores `score` (routed to review); its loop name."""
    event = world.upload(key, jpeg_bytes(64, 48))
    world.queue_endpoint_answer(sagemaker_answer([PERSON, score, 0.0, 0.0, 0.5, 0.5]))
    world.ingest(event)
    return loop_name(INPUT_BUCKET, key, event["detail"]["object"]["etag"])
