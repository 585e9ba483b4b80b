"""A2I gold loops against the local A2I runtime and moto's server: an image's loop brings a gold
loop, a worker answers it in the runtime, and review-complete's scorer scores its output.json."""

from __future__ import annotations

from typing import Any

import boto3
import requests
from ingest.test_gold_loops import KNOWN, gold_text

from hitl.local.a2i.loops import FlowDefinition
from hitl_aws.gold_manifest import read_gold_lines
from hitl_core.gold_tasks import GoldRule
from hitl_core.pending_loops import create_table_request
from hitl_ingest.gold_loops import GoldLoopStarter, GoldLoopTable
from hitl_ingest.human_review import HumanReviewStarter
from hitl_review.gold_answers import GoldAnswers

from .conftest import REGION, AwsClients


class Announced:
    """The events review-complete would publish (the bus is not this test's subject)."""

    def __init__(self) -> None:
        self.details: list[Any] = []

    def publish(self, details: list[Any]) -> None:
        self.details.extend(details)


def test_a_gold_loop_answered_in_the_runtime_is_scored_for_its_worker(
    moto_server_url: str, aws: AwsClients, a2i: Any, runtime_url: str, flow: FlowDefinition, unique: str
) -> None:
    dynamodb = boto3.client("dynamodb", endpoint_url=moto_server_url, region_name=REGION)
    table = f"pending-{unique}"
    dynamodb.create_table(**create_table_request(table))
    bucket = f"gold-{unique}"
    aws.s3.create_bucket(Bucket=bucket)
    aws.s3.put_object(
        Bucket=bucket, Key="gold/lines.jsonl", Body=gold_text(f"s3://{bucket}/gold/p.jpg").encode()
    )
    rule = GoldRule(share=0.5, min_score=0.7, min_tasks=1)
    starter = GoldLoopStarter(
        HumanReviewStarter(a2i, flow.arn),
        GoldLoopTable(dynamodb, table),
        lambda: read_gold_lines(aws.s3, f"s3://{bucket}/gold/lines.jsonl"),
        rule,
    )
    image = f"s3://{bucket}/incoming/a.jpg"
    content = '{"taskObject":"' + image + '","labels":["person"],"initialValue":[],"initialScores":[]}'
    assert starter.start("image-1", content)
    [gold] = [
        s["HumanLoopName"]
        for s in a2i.list_human_loops(FlowDefinitionArn=flow.arn)["HumanLoopSummaries"]
        if s["HumanLoopName"] != "image-1"
    ]
    extra = {"label": "person", "left": 40, "top": 30, "width": 10, "height": 10}
    answer = {
        "answerContent": {
            "annotatedResult": {
                "boundingBoxes": [*KNOWN, extra],
                "inputImageProperties": {"width": 64, "height": 48},
            }
        },
        "workerId": "ana",
    }
    reply = requests.post(f"{runtime_url}/local/human-loops/{gold}/answers", json=answer, timeout=10)
    assert reply.status_code == 200, reply.text
    uri = a2i.describe_human_loop(HumanLoopName=gold)["HumanLoopOutput"]["OutputS3Uri"]
    out_bucket, key = uri.removeprefix("s3://").split("/", 1)
    output = aws.s3.get_object(Bucket=out_bucket, Key=key)["Body"].read()
    announced = Announced()

    scores = GoldAnswers(dynamodb, table, rule, announced).score(gold, output)  # type: ignore[arg-type]

    assert scores == {"ana": 0.6667}  # one of two boxes matched each way: 2 x 1 / (1 + 2)
    [low] = announced.details
    assert (low.reviewer, low.gold_score, low.gold_tasks) == ("ana", 0.6667, 1)
    assert GoldAnswers(dynamodb, table, rule, announced).score("image-1", output) is None  # not gold
