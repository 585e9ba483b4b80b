"""Wiring: queue settings within AWS limits, and event patterns that match what they should."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws

from hitl_core import review_tasks
from hitl_core.wiring import (
    A2I_STATUS_DETAIL_TYPE,
    INGEST_QUEUE,
    REVIEW_QUEUE,
    REVIEW_SERVICE_SOURCE,
    REVIEW_TASK_STATUS_DETAIL_TYPE,
    REVIEW_TASK_TABLE,
    QueueSettings,
    human_loop_status_pattern,
    object_created_pattern,
    owns_flow_definition,
    review_service_status_pattern,
)

NOW = datetime(2024, 3, 4, tzinfo=UTC)
FLOW = "arn:aws:sagemaker:us-east-1:111122223333:flow-definition/hitl-review"


@pytest.mark.parametrize("queue", [INGEST_QUEUE, REVIEW_QUEUE], ids=lambda q: q.name)
def test_queue_settings_stay_within_sqs_and_lambda_limits(queue: QueueSettings):
    assert 1 <= queue.function_timeout_seconds <= 900
    assert queue.visibility_timeout_seconds == 6 * queue.function_timeout_seconds
    assert queue.visibility_timeout_seconds <= 43_200
    assert 1 <= queue.batch_size <= 10_000
    assert 0 <= queue.max_batching_window_seconds <= 300
    assert queue.batch_size <= 10 or queue.max_batching_window_seconds >= 1
    assert 1 <= queue.max_receive_count <= 1000
    assert 1 <= queue.dlq_retention_days <= 14
    assert queue.dlq_name == f"{queue.name}-dlq"


def test_queue_names_differ():
    assert INGEST_QUEUE.name != REVIEW_QUEUE.name


@pytest.fixture
def routed() -> Iterator[Any]:
    """Put one event through a rule with the given pattern; return whether it reached the queue."""
    with mock_aws():
        events = boto3.client("events", region_name="us-east-1")
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="target")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

        def route(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
            events.put_rule(Name="rule", EventPattern=json.dumps(pattern))
            events.put_targets(Rule="rule", Targets=[{"Id": "q", "Arn": arn}])
            events.put_events(
                Entries=[
                    {
                        "Source": event["source"],
                        "DetailType": event["detail-type"],
                        "Detail": json.dumps(event["detail"]),
                        "Resources": event.get("resources", []),
                    }
                ]
            )
            received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
            for message in received:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            return bool(received)

        yield route


def object_created(bucket: str, key: str) -> dict[str, Any]:
    return {
        "source": "aws.s3",
        "detail-type": "Object Created",
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": {"key": key, "size": 1024, "etag": "abc", "version-id": "v1", "sequencer": "00"},
            "reason": "PutObject",
        },
    }


def test_object_created_pattern_matches_only_the_prefix_of_the_input_bucket(routed):
    pattern = object_created_pattern("input-bucket", "incoming/")
    assert routed(pattern, object_created("input-bucket", "incoming/cat.jpg"))
    assert not routed(pattern, object_created("input-bucket", "predictions/cat.json"))
    assert not routed(pattern, object_created("other-bucket", "incoming/cat.jpg"))
    deleted = object_created("input-bucket", "incoming/cat.jpg") | {"detail-type": "Object Deleted"}
    assert not routed(pattern, deleted)


def test_status_pattern_matches_the_loops_of_this_deployments_flow_definitions_only(routed, a2i_status_event):
    pattern = human_loop_status_pattern(FLOW + "-")
    assert pattern["detail-type"] == [A2I_STATUS_DETAIL_TYPE]
    for flow in (FLOW + "-0123456789ab", FLOW + "-ba9876543210"):  # the current one and a replaced one
        a2i_status_event["detail"]["flowDefinitionArn"] = flow
        for status in ("Completed", "Failed", "Stopped"):
            a2i_status_event["detail"]["humanLoopStatus"] = status
            assert routed(pattern, a2i_status_event)
    a2i_status_event["detail"]["flowDefinitionArn"] = FLOW.replace("hitl-review", "other-review-0123456789ab")
    assert not routed(pattern, a2i_status_event)


def test_a_flow_definition_is_owned_when_only_a_content_hash_follows_the_prefix():
    prefix = FLOW + "-"
    assert owns_flow_definition(FLOW + "-0123456789ab", prefix)
    assert not owns_flow_definition(FLOW + "-flow-0123456789ab", prefix)  # name_prefix "hitl-review-flow"
    assert not owns_flow_definition(FLOW.replace("hitl", "other"), prefix)
    assert owns_flow_definition(FLOW, FLOW)  # the local stack's single flow definition


def test_review_service_pattern_matches_this_services_status_changes_only(routed):
    task = review_tasks.stop(review_tasks.new_task("cat-1", '{"taskObject": "s3://b/k"}', NOW), "boss", NOW)
    event = {
        "source": REVIEW_SERVICE_SOURCE,
        "detail-type": REVIEW_TASK_STATUS_DETAIL_TYPE,
        "detail": review_tasks.status_detail(task, "hitl", None),
    }
    pattern = review_service_status_pattern("hitl")
    assert routed(pattern, event)
    assert not routed(review_service_status_pattern("other-deployment"), event)
    assert not routed(pattern, event | {"source": "aws.sagemaker"})


def test_task_table_request_creates_the_contracts_table():
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        dynamodb.create_table(**REVIEW_TASK_TABLE.create_table_request("tasks"))
        table = dynamodb.describe_table(TableName="tasks")["Table"]
    assert table["KeySchema"] == [{"AttributeName": "loop_name", "KeyType": "HASH"}]
    index, queue = table["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "by-status"
    assert [k["AttributeName"] for k in index["KeySchema"]] == ["status", "created_at"]
    assert index["Projection"] == {"ProjectionType": "ALL"}
    assert queue["IndexName"] == "by-queue"
    assert [k["AttributeName"] for k in queue["KeySchema"]] == ["queue", "queue_rank"]
    assert {"AttributeName": "queue_rank", "AttributeType": "N"} in table["AttributeDefinitions"]
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
