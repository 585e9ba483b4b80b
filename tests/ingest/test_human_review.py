"""StartHumanLoop exactly once per image version, against the real A2I API model (Stubber)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws

from hitl_aws.review_task_table import ReviewTaskTable
from hitl_core.wiring import REVIEW_TASK_TABLE
from hitl_ingest.human_review import HumanLoopNameTaken, HumanReviewStarter, TaskStoreReviewStarter

FLOW = "arn:aws:sagemaker:us-east-1:123456789012:flow-definition/review"
LOOP = "cat-0123456789abcdef01234567"
CONTENT = '{"taskObject":"s3://in/cat.jpg"}'
NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
A2I_INPUT_CONTENT_LIMIT = 3_145_728


@pytest.fixture
def a2i() -> Iterator[tuple[HumanReviewStarter, Stubber]]:
    client = boto3.client("sagemaker-a2i-runtime", region_name="us-east-1")
    with Stubber(client) as stub:
        yield HumanReviewStarter(client, FLOW), stub
        stub.assert_no_pending_responses()


def described(flow: str) -> dict[str, object]:
    return {
        "CreationTime": "2026-11-22T10:00:00Z",
        "HumanLoopStatus": "InProgress",
        "HumanLoopName": LOOP,
        "HumanLoopArn": f"arn:aws:sagemaker:us-east-1:123456789012:human-loop/{LOOP}",
        "FlowDefinitionArn": flow,
    }


def test_new_loop_is_started_with_name_flow_and_input(a2i: tuple[HumanReviewStarter, Stubber]) -> None:
    starter, stub = a2i
    stub.add_response(
        "start_human_loop",
        {"HumanLoopArn": f"arn:aws:sagemaker:us-east-1:123456789012:human-loop/{LOOP}"},
        {"HumanLoopName": LOOP, "FlowDefinitionArn": FLOW, "HumanLoopInput": {"InputContent": CONTENT}},
    )

    assert starter.start(LOOP, CONTENT) is True


def test_conflict_for_a_loop_of_this_flow_counts_as_already_started(
    a2i: tuple[HumanReviewStarter, Stubber],
) -> None:
    starter, stub = a2i
    stub.add_client_error("start_human_loop", "ConflictException", "exists", http_status_code=409)
    stub.add_response("describe_human_loop", described(FLOW), {"HumanLoopName": LOOP})

    assert starter.start(LOOP, CONTENT) is False


def test_conflict_with_another_flow_definition_is_an_error(a2i: tuple[HumanReviewStarter, Stubber]) -> None:
    starter, stub = a2i
    stub.add_client_error("start_human_loop", "ConflictException", "exists", http_status_code=409)
    stub.add_response("describe_human_loop", described(FLOW + "-old"))

    with pytest.raises(HumanLoopNameTaken, match="review-old"):
        starter.start(LOOP, CONTENT)


@pytest.mark.parametrize(
    ("code", "status"),
    [("ThrottlingException", 400), ("ServiceQuotaExceededException", 402), ("InternalServerException", 500)],
)
def test_capacity_and_server_errors_propagate_for_a_retry(
    a2i: tuple[HumanReviewStarter, Stubber], code: str, status: int
) -> None:
    starter, stub = a2i
    stub.add_client_error("start_human_loop", code, "later", http_status_code=status)

    with pytest.raises(ClientError, match=code):
        starter.start(LOOP, CONTENT)


@pytest.fixture
def task_table() -> Iterator[ReviewTaskTable]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(**REVIEW_TASK_TABLE.create_table_request("tasks"))
        yield ReviewTaskTable(client, "tasks")


def test_builtin_backend_creates_one_task_per_loop_name(task_table: ReviewTaskTable) -> None:
    starter = TaskStoreReviewStarter(task_table, "hitl", clock=lambda: NOW)

    assert starter.start(LOOP, CONTENT)
    assert not starter.start(LOOP, CONTENT)

    task = task_table.get(LOOP)
    assert task is not None
    assert (task.input_content, task.status, task.created_at) == (
        CONTENT,
        "InProgress",
        "2026-11-22T10:00:00.000Z",
    )
    assert starter.flow_definition_arn == "hitl-review-service/hitl"


def test_builtin_tasks_are_queued_by_the_priority_rule(task_table: ReviewTaskTable) -> None:
    from hitl_core.review_priority import PriorityRule

    rule = PriorityRule(basis="lowest-score", aging_seconds=1000)
    starter = TaskStoreReviewStarter(task_table, "hitl", clock=lambda: NOW, priority=rule)
    assert starter.start(LOOP, '{"taskObject":"s3://in/cat.jpg","initialScores":[0.9,0.25]}')
    task = task_table.get(LOOP)
    assert task is not None and task.priority == 0.75
    assert task.rank == rule.queue_rank(NOW, 0.75) == 10**15 + int(NOW.timestamp() * 1000) - 750_000
    assert starter.backend == "builtin"


def largest_input_content() -> str:
    """An InputContent of exactly A2I's limit, 3,145,728 characters."""
    head = '{"taskObject":"s3://in/cat.jpg","pad":"'
    return head + "x" * (A2I_INPUT_CONTENT_LIMIT - len(head) - 2) + '"}'


@pytest.fixture
def task_table_with_contents() -> Iterator[ReviewTaskTable]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(**REVIEW_TASK_TABLE.create_table_request("tasks"))
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="training")
        yield ReviewTaskTable(client, "tasks", s3, "training")


def test_the_builtin_backend_takes_every_input_content_a2i_would(
    task_table_with_contents: ReviewTaskTable,
) -> None:
    """DynamoDB refuses items over 400 KB: the content goes to S3, the item keeps its address."""
    content = largest_input_content()
    starter = TaskStoreReviewStarter(task_table_with_contents, "hitl", clock=lambda: NOW)

    assert len(content) == A2I_INPUT_CONTENT_LIMIT
    assert starter.start(LOOP, content)
    assert not starter.start(LOOP, content)

    task = task_table_with_contents.get(LOOP)
    assert task is not None and task.input_content == content
    item = boto3.client("dynamodb", region_name="us-east-1").get_item(
        TableName="tasks", Key={"loop_name": {"S": LOOP}}
    )["Item"]
    assert len(json.dumps(item)) < 10_000
    assert item["input_content_uri"]["S"] == f"s3://training/review-tasks/{LOOP}/input-content.json"


def test_a_large_input_content_without_a_content_bucket_is_refused_by_name(
    task_table: ReviewTaskTable,
) -> None:
    with pytest.raises(ValueError, match="InputContent of 3,145,728 bytes"):
        TaskStoreReviewStarter(task_table, "hitl", clock=lambda: NOW).start(LOOP, largest_input_content())


SPENDING = {"Conditions": [{"ConditionType": "ModelConfidenceCheck", "EvaluationResult": True}]}


def test_builtin_backend_reads_the_teams_counters_to_tell_a_spent_budget(task_table: ReviewTaskTable) -> None:
    from hitl_core.review_budget import OverBudgetRule, ReviewBudget, day_key, hour_key

    rule = OverBudgetRule(ReviewBudget(per_hour=2, per_day=50), accept=True)
    starter = TaskStoreReviewStarter(task_table, "hitl", clock=lambda: NOW, over_budget=rule)
    client = task_table._client

    def counted(key: str, used: int) -> None:
        client.put_item(TableName="tasks", Item={"loop_name": {"S": key}, "used": {"N": str(used)}})

    assert not starter.over_budget(SPENDING)
    counted(hour_key(NOW), 1)
    counted(day_key(NOW), 1)
    assert not starter.over_budget(SPENDING)
    counted(hour_key(NOW), 2)
    assert starter.over_budget(SPENDING)
    queueing = TaskStoreReviewStarter(
        task_table, "hitl", clock=lambda: NOW, over_budget=OverBudgetRule(rule.budget)
    )
    assert not queueing.over_budget(SPENDING)
