"""The a2i backend's gold loops (the A2i scenario: gold share 0.5, its manifest and images under
s3://hitl-gold-test/team/): ingest, review-complete and A2I's role do their gold work with only the
permissions the template gives them.

moto enforces IAM on the DynamoDB and S3 calls; A2I stays a Stubber whose calls `evaluate` checks.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import boto3
import pytest
from cdk_scenarios import policy_statements
from conftest import A2I_GOLD_MANIFEST, scenario_config
from iam_harness import REGION, CallRecorder, allowed, as_role, evaluate, function_policies, resolve, without
from ingest.conftest import FLOW_ARN, IngestWorld, ingest_world
from ingest.test_gold_loops import gold_text
from review.test_gold_answers import KNOWN, _answer
from test_permissions import ingest_names, review_names

from hitl_aws.publisher import EventPublisher
from hitl_core.config import PipelineConfig
from hitl_core.gold_loops import gold_loop_key
from hitl_core.pending_loops import create_table_request
from hitl_ingest.dependencies import build_a2i_starter
from hitl_review.gold_answers import GoldAnswers
from infra.pipeline import INGEST_HANDLER, REVIEW_HANDLER

pytestmark = pytest.mark.xdist_group("cdk")

TABLE = "pending-loops"
GOLD_BUCKET = "hitl-gold-test"
GOLD_LOOP = "p-0a1b2c"


@pytest.fixture
def world(pipeline_config: PipelineConfig) -> Any:
    """Ingest's moto account with the A2i scenario's table and gold manifest."""
    with ingest_world(pipeline_config) as built:
        boto3.client("dynamodb", region_name=REGION).create_table(**create_table_request(TABLE))
        built.s3.create_bucket(Bucket=GOLD_BUCKET)
        text = gold_text(f"s3://{GOLD_BUCKET}/team/p.jpg")
        built.s3.put_object(Bucket=GOLD_BUCKET, Key="team/gold.jsonl", Body=text.encode())
        yield built


def test_ingest_reads_the_gold_manifest_counts_and_starts_a_gold_loop_with_only_its_roles_permissions(
    synthesized, world: IngestWorld, pipeline_config: PipelineConfig
) -> None:
    policies = function_policies(synthesized.templates["A2i"], INGEST_HANDLER, ingest_names())
    config = scenario_config(pipeline_config, "A2i")
    settings = dataclasses.replace(world.deps.settings, config=config, pending_loops_table=TABLE)
    a2i = world.deps.reviews._client
    for _ in range(2):  # the image's loop, then the gold loop its count brings (share 0.5)
        world.a2i_stub.add_response(
            "start_human_loop", {"HumanLoopArn": FLOW_ARN.replace("flow-definition", "human-loop")}
        )
    recorder = CallRecorder()

    with as_role(policies, "ingest-gold") as session:
        clients = {
            "sagemaker-a2i-runtime": recorder.attach(a2i),
            "s3": recorder.attach(session.client("s3")),
            "dynamodb": recorder.attach(session.client("dynamodb")),
        }
        starter = build_a2i_starter(settings, clients.__getitem__)
        assert starter.start("image-loop", json.dumps({"taskObject": "s3://x/incoming/a.jpg"})) is True

    actions = {c.action for c in recorder.calls}
    assert actions >= {
        "s3:GetObject",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "sagemaker:StartHumanLoop",
    }
    assert len([c for c in recorder.calls if c.action == "sagemaker:StartHumanLoop"]) == 2
    assert evaluate(policies, recorder.calls) == []
    for action in ("s3:GetObject", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:GetItem"):
        calls = [c for c in recorder.calls if c.action == action]
        assert evaluate(without(policies, action), calls) != []


def test_review_complete_scores_a_gold_loop_with_only_its_roles_permissions(
    synthesized, world: IngestWorld
) -> None:
    policies = function_policies(synthesized.templates["A2i"], REVIEW_HANDLER, review_names())
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    record = {"loop_name": {"S": gold_loop_key(GOLD_LOOP)}, "gold": {"S": json.dumps(KNOWN)}}
    dynamodb.put_item(TableName=TABLE, Item=record)
    output = json.dumps({"humanAnswers": [_answer("w-1", KNOWN[:1])]}).encode()
    recorder = CallRecorder()

    with as_role(policies, "review-gold") as session:
        scorer = GoldAnswers(
            recorder.attach(session.client("dynamodb")),
            TABLE,
            scenario_config(PipelineConfig(labels=["cat"]), "A2i").review.gold.rule(0.5),  # type: ignore[union-attr]
            EventPublisher(session.client("events"), "unused"),
        )
        assert scorer.score(GOLD_LOOP, output) == {"w-1": 0.6667}

    assert {c.action for c in recorder.calls} == {"dynamodb:GetItem", "dynamodb:UpdateItem"}
    assert evaluate(policies, recorder.calls) == []
    for action in ("dynamodb:GetItem", "dynamodb:UpdateItem"):
        calls = [c for c in recorder.calls if c.action == action]
        assert evaluate(without(policies, action), calls) != []


def test_a2is_role_reads_the_gold_images_under_the_manifests_folder_only(synthesized) -> None:
    names = dataclasses.replace(
        ingest_names(),
        attributes={**ingest_names().attributes, ("StorageReviewOutput", "Arn"): "arn:aws:s3:::output"},
    )
    documents = [
        {"Statement": resolve(policy_statements(synthesized.templates["A2i"], "HumanReviewA2iRole"), names)}
    ]
    folder = A2I_GOLD_MANIFEST.removeprefix("s3://").rpartition("/")[0]

    assert allowed(documents, "s3:GetObject", f"arn:aws:s3:::{folder}/p.jpg")
    assert not allowed(documents, "s3:GetObject", f"arn:aws:s3:::{GOLD_BUCKET}/elsewhere/p.jpg")
    assert not allowed(without(documents, "s3:GetObject"), "s3:GetObject", f"arn:aws:s3:::{folder}/p.jpg")
    # Without gold (the ModelArtifact scenario, also a2i) A2I's role reads no gold folder.
    default = [
        {
            "Statement": resolve(
                policy_statements(synthesized.templates["ModelArtifact"], "HumanReviewA2iRole"), names
            )
        }
    ]
    assert not allowed(default, "s3:GetObject", f"arn:aws:s3:::{folder}/p.jpg")
