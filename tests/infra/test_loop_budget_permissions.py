"""The a2i backend's budget (the A2i scenario: per_hour, per_day, when_spent accept): ingest and the
loop starter make their real calls with only the permissions their roles get in the template.

moto enforces IAM on the DynamoDB and S3 calls; A2I stays a Stubber whose calls `evaluate` checks.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from iam_harness import REGION, CallRecorder, Names, as_role, evaluate, function_policies, without
from ingest.builders import jpeg_bytes, sagemaker_answer
from ingest.conftest import FLOW_ARN, TRAINING_BUCKET, IngestWorld, ingest_world
from test_permissions import as_function, ingest_names

from hitl_core.config import PipelineConfig
from hitl_core.pending_loops import create_table_request
from hitl_core.review_budget import OverBudgetRule, ReviewBudget, hour_key
from hitl_core.review_priority import PriorityRule
from hitl_ingest.human_review import BudgetedHumanReviewStarter
from hitl_ingest.ingest import Ingestor
from hitl_ingest.pending_loops import PendingLoops, PendingLoopTable, input_content_reader
from hitl_ingest.record_store import RecordStore
from hitl_ingest.s3_event import parse_object_created
from infra.loop_budget import LOOP_STARTER_HANDLER
from infra.pipeline import INGEST_HANDLER

pytestmark = pytest.mark.xdist_group("cdk")

TABLE = "pending-loops"
BUDGET = ReviewBudget(per_hour=50, per_day=400)
BOTTLE = 39


@pytest.fixture
def world(pipeline_config: PipelineConfig) -> Any:
    with ingest_world(pipeline_config) as built:
        boto3.client("dynamodb", region_name=REGION).create_table(**create_table_request(TABLE))
        yield built


def with_table(names: Names, **attributes: str) -> Names:
    """`ingest_names` (which name the table as TABLE) with the loop starter's own resources added."""
    extra = {(prefix, "Arn"): value for prefix, value in attributes.items()}
    return Names(refs=names.refs, attributes={**names.attributes, **extra}, literals=names.literals)


def budgeted(deps: Any, dynamodb: Any, clock: Any = lambda: datetime.now(UTC)) -> PendingLoops:
    return PendingLoops(
        PendingLoopTable(dynamodb, TABLE),
        deps.reviews.start,
        input_content_reader(deps.records),
        BUDGET,
        PriorityRule(),
        clock,
    )


def expect_a_start(world: IngestWorld) -> None:
    world.a2i_stub.add_response(
        "start_human_loop", {"HumanLoopArn": FLOW_ARN.replace("flow-definition", "human-loop")}
    )


def test_budgeted_ingest_reads_counts_adds_and_starts_with_only_its_roles_permissions(
    synthesized, world: IngestWorld
) -> None:
    policies = function_policies(synthesized.templates["A2i"], INGEST_HANDLER, with_table(ingest_names()))
    event = world.upload("incoming/table.jpg", jpeg_bytes(64, 48))
    world.queue_endpoint_answer(sagemaker_answer([BOTTLE, 0.4, 0.5, 0.5, 1, 1]))
    expect_a_start(world)
    recorder = CallRecorder()

    with as_role(policies, "ingest-budget") as session:
        deps = as_function(world, session, recorder).deps
        loops = budgeted(deps, recorder.attach(session.client("dynamodb")))
        rule = OverBudgetRule(BUDGET, accept=True)
        deps = dataclasses.replace(deps, reviews=BudgetedHumanReviewStarter(loops, FLOW_ARN, rule))
        result = Ingestor(deps, world.metrics).ingest(parse_object_created(json.dumps(event)))

    assert result.status == "review"
    actions = {c.action for c in recorder.calls}
    assert actions >= {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:Query",
        "dynamodb:UpdateItem",
        "s3:GetObject",
        "sagemaker:StartHumanLoop",
    }
    assert evaluate(policies, recorder.calls) == []
    for action in ("dynamodb:Query", "dynamodb:UpdateItem", "dynamodb:GetItem"):
        calls = [c for c in recorder.calls if c.action == action]
        assert evaluate(without(policies, action), calls) != []


def test_the_loop_starter_starts_a_waiting_loop_with_only_its_roles_permissions(
    synthesized, world: IngestWorld
) -> None:
    names = with_table(
        ingest_names(),
        StorageTrainingData=f"arn:aws:s3:::{TRAINING_BUCKET}",
        LoopBudgetStarterFunctionLogs=f"arn:aws:logs:{REGION}:123456789012:log-group:starter:*",
    )
    policies = function_policies(synthesized.templates["A2i"], LOOP_STARTER_HANDLER, names)
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    now = datetime.now(UTC)
    dynamodb.put_item(TableName=TABLE, Item={"loop_name": {"S": hour_key(now)}, "used": {"N": "50"}})
    loops = budgeted(world.deps, dynamodb, lambda: now)
    world.deps = dataclasses.replace(
        world.deps, reviews=BudgetedHumanReviewStarter(loops, FLOW_ARN, OverBudgetRule(BUDGET))
    )
    event = world.upload("incoming/waits.jpg", jpeg_bytes(64, 48))
    world.queue_endpoint_answer(sagemaker_answer([BOTTLE, 0.4, 0.5, 0.5, 1, 1]))
    assert world.ingest(event).status == "review" and len(loops.table.best(5)) == 1
    expect_a_start(world)
    recorder = CallRecorder()

    with as_role(policies, "loop-starter") as session:
        s3 = recorder.attach(session.client("s3"))
        role_loops = PendingLoops(
            PendingLoopTable(recorder.attach(session.client("dynamodb")), TABLE),
            world.deps.reviews._loops._start_loop,
            input_content_reader(RecordStore(s3, TRAINING_BUCKET)),
            BUDGET,
            PriorityRule(),
            lambda: now + timedelta(hours=1),
        )
        recorder.attach(world.a2i_stub.client)
        assert role_loops.start_waiting(10).started == 1

    assert {c.action for c in recorder.calls} >= {
        "dynamodb:Query",
        "dynamodb:UpdateItem",
        "s3:GetObject",
        "sagemaker:StartHumanLoop",
    }
    assert evaluate(policies, recorder.calls) == []
    reads = [c for c in recorder.calls if c.action == "s3:GetObject"]
    assert evaluate(without(policies, "s3:GetObject"), reads) != []
