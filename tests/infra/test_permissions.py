"""Each function's real calls succeed with only the permissions its role gets in the synthesized template.

The harness (`iam_harness`) loads the role's policies into moto IAM and runs the function's code
with the role's credentials while moto enforces IAM; it then re-checks every call, stubbed ones
included, against the policies. What moto cannot evaluate (resources outside S3, the `s3:prefix`
condition, S3's 403-for-missing-keys rule) is checked by `iam_harness.evaluate`.
The flow-definition handler's SageMaker and A2I calls are not served by moto: its boto3 calls
are read from its source and checked against its role in test_custom_resources.py.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from iam_harness import REGION, CallRecorder, Names, as_role, evaluate, function_policies, without
from ingest.builders import INPUT_BUCKET, jpeg_bytes, sagemaker_answer
from ingest.conftest import BUS, ENDPOINT, FLOW_ARN, TRAINING_BUCKET, IngestWorld, ingest_world
from moto import mock_aws
from review import builders as review

from hitl_aws.publisher import EventPublisher
from hitl_aws.settings import FunctionSettings
from hitl_core.config import PipelineConfig
from hitl_ingest.ingest import Ingestor
from hitl_ingest.record_store import RecordStore
from hitl_ingest.s3_event import parse_object_created
from hitl_review.completion import ReviewCompletion
from infra.pipeline import INGEST_HANDLER, REVIEW_HANDLER

pytestmark = pytest.mark.xdist_group("cdk")


@pytest.fixture
def world(pipeline_config: PipelineConfig) -> Iterator[IngestWorld]:
    with ingest_world(pipeline_config) as built:
        yield built


PERSON, BOTTLE = 0, 39


def ingest_names() -> Names:
    return Names(
        refs={"PipelineBus": BUS},
        attributes={
            ("StorageInput", "Arn"): f"arn:aws:s3:::{INPUT_BUCKET}",
            ("StorageTrainingData", "Arn"): f"arn:aws:s3:::{TRAINING_BUCKET}",
            ("PipelineBus", "Arn"): f"arn:aws:events:{REGION}:123456789012:event-bus/{BUS}",
            ("PipelineIngestQueue", "Arn"): f"arn:aws:sqs:{REGION}:123456789012:ingest",
            ("PipelineIngestFunctionLogs", "Arn"): f"arn:aws:logs:{REGION}:123456789012:log-group:ingest:*",
            ("HumanReviewFlowDefinition", "FlowDefinitionArn"): FLOW_ARN,
            # The A2i scenario sets a review budget: ingest counts and adds waiting images there.
            ("LoopBudgetPendingLoops", "Arn"): f"arn:aws:dynamodb:{REGION}:123456789012:table/pending-loops",
        },
        literals={":endpoint/hitl-object-detector": f":endpoint/{ENDPOINT}"},
    )


def review_names() -> Names:
    return Names(
        refs={"PipelineBus": review.BUS_NAME},
        attributes={
            ("StorageReviewOutput", "Arn"): f"arn:aws:s3:::{review.OUTPUT_BUCKET}",
            ("StorageTrainingData", "Arn"): f"arn:aws:s3:::{review.TRAINING_BUCKET}",
            ("PipelineBus", "Arn"): f"arn:aws:events:{REGION}:123456789012:event-bus/{review.BUS_NAME}",
            ("PipelineReviewQueue", "Arn"): f"arn:aws:sqs:{REGION}:123456789012:review",
            ("PipelineReviewFunctionLogs", "Arn"): f"arn:aws:logs:{REGION}:123456789012:log-group:review:*",
            # The A2i scenario sets gold: review-complete scores gold loops from their records there.
            ("LoopBudgetPendingLoops", "Arn"): f"arn:aws:dynamodb:{REGION}:123456789012:table/pending-loops",
        },
    )


def as_function(world: IngestWorld, session: Any, recorder: CallRecorder) -> IngestWorld:
    """The ingest dependencies with the role's S3 and EventBridge clients (A2I, endpoint stay stubbed)."""
    s3 = recorder.attach(session.client("s3"))
    events = recorder.attach(session.client("events"))
    recorder.attach(world.deps.reviews._client)
    recorder.attach(world.sagemaker_runtime)
    deps = dataclasses.replace(
        world.deps,
        s3=s3,
        records=RecordStore(s3, TRAINING_BUCKET),
        publisher=EventPublisher(events, BUS),
    )
    return dataclasses.replace(world, deps=deps)


def ingest_policies(synthesized: Any) -> list[dict[str, Any]]:
    return function_policies(synthesized.templates["A2i"], INGEST_HANDLER, ingest_names())


def test_ingest_reviews_an_image_with_only_its_roles_permissions(synthesized, world: IngestWorld) -> None:
    policies = ingest_policies(synthesized)
    event = world.upload("incoming/table.jpg", jpeg_bytes(64, 48))
    world.queue_endpoint_answer(
        sagemaker_answer([PERSON, 0.3, 0, 0, 0.5, 0.5], [BOTTLE, 0.4, 0.5, 0.5, 1, 1])
    )
    world.a2i_stub.add_response(
        "start_human_loop", {"HumanLoopArn": FLOW_ARN.replace("flow-definition", "human-loop")}
    )
    recorder = CallRecorder()

    with as_role(policies, "ingest") as session:
        result = Ingestor(as_function(world, session, recorder).deps, world.metrics).ingest(
            parse_object_created(json.dumps(event))
        )

    assert result.status == "review"
    assert {c.action for c in recorder.calls} >= {
        "s3:GetObject",
        "s3:PutObject",
        "sagemaker:InvokeEndpoint",
        "sagemaker:StartHumanLoop",
        "events:PutEvents",
    }
    assert evaluate(policies, recorder.calls) == []


def test_ingest_tells_a_deleted_image_from_a_forbidden_one(synthesized, world: IngestWorld) -> None:
    """Finding 1: without s3:ListBucket on incoming/ S3 answers 403, and the message ends in the DLQ."""
    policies = ingest_policies(synthesized)
    event = world.upload("incoming/gone.jpg", jpeg_bytes(64, 48))
    world.s3.delete_object(Bucket=INPUT_BUCKET, Key="incoming/gone.jpg")
    recorder = CallRecorder()

    with as_role(policies, "ingest") as session:
        result = Ingestor(as_function(world, session, recorder).deps, world.metrics).ingest(
            parse_object_created(json.dumps(event))
        )

    assert result.status == "rejected"
    assert any(
        c.error in ("NoSuchKey", "404") for c in recorder.calls if c.resource.endswith("incoming/gone.jpg")
    )
    assert evaluate(policies, recorder.calls) == []
    without_listing = [
        {
            **d,
            "Statement": [
                s for s in d["Statement"] if "incoming/*" not in json.dumps(s.get("Condition", {}))
            ],
        }
        for d in policies
    ]
    assert any(
        "s3:ListBucket on hitl-input prefix 'incoming/gone.jpg'" in r
        for r in evaluate(without_listing, recorder.calls)
    )


def test_a_missing_statement_fails_the_call_under_moto_enforcement(synthesized, world: IngestWorld) -> None:
    """The harness catches a missing permission: the same run without the records' PutObject is refused."""
    policies = without(ingest_policies(synthesized), "s3:PutObject")
    event = world.upload("incoming/cat.jpg", jpeg_bytes(64, 48))
    world.queue_endpoint_answer(sagemaker_answer([15, 0.9, 0.1, 0.2, 0.5, 0.6]))

    with as_role(policies, "ingest-without-put") as session, pytest.raises(ClientError, match="AccessDenied"):
        Ingestor(as_function(world, session, CallRecorder()).deps, world.metrics).ingest(
            parse_object_created(json.dumps(event))
        )


@pytest.fixture
def review_world(pipeline_config: PipelineConfig) -> Iterator[Any]:
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        for bucket in (review.TRAINING_BUCKET, review.OUTPUT_BUCKET):
            s3.create_bucket(Bucket=bucket)
        boto3.client("events", region_name=REGION).create_event_bus(Name=review.BUS_NAME)
        yield


def test_review_appends_an_answer_with_only_its_roles_permissions(synthesized, review_world: None) -> None:
    policies = function_policies(synthesized.templates["A2i"], REVIEW_HANDLER, review_names())
    review.put_output("cat-loop", review.output_json("cat-loop", "cat.jpg"))
    settings = FunctionSettings(
        config=review.make_config(),
        event_bus_name=review.BUS_NAME,
        training_bucket=review.TRAINING_BUCKET,
        flow_definition_arn=review.FLOW_ARN,
    )
    recorder = CallRecorder()

    with as_role(policies, "review") as session:
        s3 = recorder.attach(session.client("s3"))
        publisher = EventPublisher(recorder.attach(session.client("events")), review.BUS_NAME)
        completion = ReviewCompletion(settings, s3, publisher)
        pending = completion.handle("msg-1", json.dumps(review.status_event("cat-loop")))
        assert pending is not None
        completion.append([pending])
        completion.handle("msg-2", json.dumps(review.status_event("gone-loop", "Stopped")))

    actions = {c.action for c in recorder.calls}
    assert {"s3:GetObject", "s3:PutObject", "events:PutEvents"} <= actions
    assert evaluate(policies, recorder.calls) == []
