"""The local AWS resources: derived from the wiring and configuration, created idempotently in moto,
and wired so that S3 and A2I events reach the right queues."""

from __future__ import annotations

import json
import uuid
from typing import Any

import boto3
import pytest

from hitl.local.aws_resources import (
    DEFAULT_BUS,
    LocalNames,
    create_resources,
    describe_resources,
)
from hitl_core.config import PipelineConfig
from hitl_core.events import EVENT_SOURCE
from hitl_core.review_tasks import review_service_id
from hitl_core.wiring import (
    A2I_STATUS_DETAIL_TYPE,
    INGEST_QUEUE,
    REVIEW_QUEUE,
    REVIEW_SERVICE_SOURCE,
    REVIEW_TASK_STATUS_DETAIL_TYPE,
    REVIEW_TASK_TABLE,
)


def _unique_names() -> LocalNames:
    tag = uuid.uuid4().hex[:8]
    return LocalNames(
        input_bucket=f"in-{tag}",
        review_output_bucket=f"out-{tag}",
        training_bucket=f"train-{tag}",
        event_bus=f"bus-{tag}",
        flow_definition_name=f"flow-{tag}",
        queue_prefix=f"q{tag}-",
        review_tasks_table=f"tasks-{tag}",
        review_service_name=f"svc-{tag}",
    )


@pytest.fixture
def clients(moto_server_url: str) -> Any:
    def client(service: str) -> Any:
        return boto3.client(service, endpoint_url=moto_server_url, region_name="us-east-1")

    return client


def _receive(sqs: Any, url: str) -> list[dict[str, Any]]:
    return sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=2).get("Messages", [])


def test_queues_follow_the_wiring(pipeline_config: PipelineConfig) -> None:
    resources = describe_resources(pipeline_config)
    ingest, review = resources.queue(INGEST_QUEUE), resources.queue(REVIEW_QUEUE)
    assert ingest.visibility_timeout_seconds == INGEST_QUEUE.visibility_timeout_seconds
    assert review.visibility_timeout_seconds == REVIEW_QUEUE.visibility_timeout_seconds
    assert (
        describe_resources(pipeline_config, visibility_timeout_seconds=7)
        .queue(INGEST_QUEUE)
        .visibility_timeout_seconds
        == 7
    )


def test_upload_rule_uses_the_configured_prefix(pipeline_config: PipelineConfig) -> None:
    config = pipeline_config.model_copy(
        update={"prefixes": pipeline_config.prefixes.model_copy(update={"incoming": "drop/"})}
    )
    rule = next(r for r in describe_resources(config).rules if r.pattern["source"] == ["aws.s3"])
    assert rule.pattern["detail"]["object"]["key"] == [{"prefix": "drop/"}]


def test_created_resources_carry_the_wiring(clients: Any, pipeline_config: PipelineConfig) -> None:
    resources = describe_resources(pipeline_config, _unique_names(), visibility_timeout_seconds=9)
    created = create_resources(clients, resources)
    sqs = clients("sqs")
    ingest = created.queue(INGEST_QUEUE)
    attributes = sqs.get_queue_attributes(QueueUrl=ingest.url, AttributeNames=["All"])["Attributes"]
    assert attributes["VisibilityTimeout"] == "9"
    assert json.loads(attributes["RedrivePolicy"]) == {
        "deadLetterTargetArn": ingest.dlq_arn,
        "maxReceiveCount": INGEST_QUEUE.max_receive_count,
    }
    s3 = clients("s3")
    names = resources.names
    assert s3.get_bucket_versioning(Bucket=names.training_bucket)["Status"] == "Enabled"
    assert "Status" not in s3.get_bucket_versioning(Bucket=names.input_bucket)
    encryption = s3.get_bucket_encryption(Bucket=names.training_bucket)["ServerSideEncryptionConfiguration"]
    assert encryption["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    block = s3.get_public_access_block(Bucket=names.review_output_bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values())


def test_creating_twice_changes_nothing(clients: Any, pipeline_config: PipelineConfig) -> None:
    resources = describe_resources(pipeline_config, _unique_names())
    first = create_resources(clients, resources)
    second = create_resources(clients, resources)
    assert {n: q.url for n, q in first.queues.items()} == {n: q.url for n, q in second.queues.items()}
    rules = clients("events").list_rules(EventBusName=DEFAULT_BUS)["Rules"]
    assert sum(r["Name"] == resources.rules[0].name for r in rules) == 1


def test_only_uploads_under_the_prefix_reach_the_ingest_queue(
    clients: Any, pipeline_config: PipelineConfig
) -> None:
    resources = describe_resources(pipeline_config, _unique_names())
    created = create_resources(clients, resources)
    s3, sqs = clients("s3"), clients("sqs")
    bucket = resources.names.input_bucket
    s3.put_object(Bucket=bucket, Key=f"{pipeline_config.prefixes.incoming}cat.jpg", Body=b"jpeg")
    s3.put_object(Bucket=bucket, Key="elsewhere/dog.jpg", Body=b"jpeg")

    messages = _receive(sqs, created.queue(INGEST_QUEUE).url)

    keys = [json.loads(m["Body"])["detail"]["object"]["key"] for m in messages]
    assert keys == [f"{pipeline_config.prefixes.incoming}cat.jpg"]


def test_only_our_flow_definition_reaches_the_review_queue(
    clients: Any, pipeline_config: PipelineConfig
) -> None:
    resources = describe_resources(pipeline_config, _unique_names(), review_backend="a2i")
    created = create_resources(clients, resources)
    ours = resources.names.flow_definition_arn
    theirs = ours.replace("flow-definition/", "flow-definition/other-")
    entries = [
        {
            "Source": "aws.sagemaker",
            "DetailType": A2I_STATUS_DETAIL_TYPE,
            "Detail": json.dumps({"flowDefinitionArn": arn, "humanLoopStatus": "Completed"}),
        }
        for arn in (ours, theirs)
    ]
    clients("events").put_events(Entries=entries)

    messages = _receive(clients("sqs"), created.queue(REVIEW_QUEUE).url)

    arns = [json.loads(m["Body"])["detail"]["flowDefinitionArn"] for m in messages]
    assert arns == [ours]


def test_pipeline_events_are_captured_on_the_events_queue(
    clients: Any, pipeline_config: PipelineConfig
) -> None:
    resources = describe_resources(pipeline_config, _unique_names())
    created = create_resources(clients, resources)
    clients("events").put_events(
        Entries=[
            {
                "Source": EVENT_SOURCE,
                "DetailType": "Prediction Accepted",
                "Detail": "{}",
                "EventBusName": resources.names.event_bus,
            },
            {
                "Source": "someone.else",
                "DetailType": "X",
                "Detail": "{}",
                "EventBusName": resources.names.event_bus,
            },
        ]
    )

    messages = _receive(clients("sqs"), created.events_queue.url)

    assert [json.loads(m["Body"])["detail-type"] for m in messages] == ["Prediction Accepted"]


def test_the_a2i_backend_creates_no_task_table(pipeline_config: PipelineConfig) -> None:
    assert describe_resources(pipeline_config, review_backend="a2i").tables == ()
    assert describe_resources(pipeline_config).tables == (LocalNames().review_tasks_table,)


def test_the_builtin_task_table_is_laid_out_as_the_wiring_says(
    clients: Any, pipeline_config: PipelineConfig
) -> None:
    resources = describe_resources(pipeline_config, _unique_names())
    create_resources(clients, resources)
    create_resources(clients, resources)

    table = clients("dynamodb").describe_table(TableName=resources.names.review_tasks_table)["Table"]
    assert table["KeySchema"] == [{"AttributeName": REVIEW_TASK_TABLE.partition_key, "KeyType": "HASH"}]
    index = table["GlobalSecondaryIndexes"][0]
    assert index["IndexName"] == REVIEW_TASK_TABLE.status_index_name
    assert [key["AttributeName"] for key in index["KeySchema"]] == [
        REVIEW_TASK_TABLE.status_index_partition_key,
        REVIEW_TASK_TABLE.status_index_sort_key,
    ]
    assert table["StreamSpecification"] == {
        "StreamEnabled": True,
        "StreamViewType": REVIEW_TASK_TABLE.stream_view_type,
    }


def test_only_our_review_service_reaches_the_review_queue(
    clients: Any, pipeline_config: PipelineConfig
) -> None:
    resources = describe_resources(pipeline_config, _unique_names())
    created = create_resources(clients, resources)
    names = resources.names
    ours = review_service_id(names.review_service_name)
    theirs = review_service_id(f"other-{names.review_service_name}")
    entries = [
        {
            "Source": REVIEW_SERVICE_SOURCE,
            "DetailType": REVIEW_TASK_STATUS_DETAIL_TYPE,
            "Detail": json.dumps({"flowDefinitionArn": arn, "humanLoopStatus": "Completed"}),
            "EventBusName": bus,
        }
        for arn, bus in ((ours, names.event_bus), (theirs, names.event_bus), (ours, DEFAULT_BUS))
    ]
    clients("events").put_events(Entries=entries)

    messages = _receive(clients("sqs"), created.queue(REVIEW_QUEUE).url)

    assert [json.loads(m["Body"])["detail"]["flowDefinitionArn"] for m in messages] == [ours]
