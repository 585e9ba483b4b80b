"""The built-in review service's functions (API, lifecycle sweep, outbox) run with only the permissions
of their synthesized roles.

Same harness as test_permissions.py (see `iam_harness`): moto enforces the actions, `evaluate`
re-checks action and resource of every recorded call.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlparse

import boto3
import pytest
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from botocore.exceptions import ClientError
from iam_harness import (
    ACCOUNT,
    REGION,
    Call,
    CallRecorder,
    Names,
    as_role,
    evaluate,
    function_policies,
    without,
)
from review_service.builders import (
    ANA,
    AVAILABILITY_SECONDS,
    BOSS,
    BUS,
    IMAGE_BUCKET,
    LEASE_SECONDS,
    OUTPUT_BUCKET,
    SERVICE_NAME,
    TABLE,
    Clock,
    answer_body,
    http_event,
    input_content,
    review_service_aws,
)
from review_service.conftest import TIMING, FakeLambdaContext, StatusTap, TableStream
from review_service.test_lifecycle import legacy_task
from review_service.test_task_store import answer_as

from hitl_aws.review_task_table import ReviewTaskTable
from hitl_core import review_tasks
from hitl_core.review_budget import OverBudgetRule, ReviewBudget, hour_key
from hitl_core.review_tasks import EXPIRED, TaskStatus
from hitl_ingest.human_review import TaskStoreReviewStarter
from hitl_review_service import api, lifecycle, outbox
from hitl_review_service.settings import ApiSettings, LifecycleSettings, OutboxSettings
from hitl_review_service.task_store import TaskStore, utc_now
from infra.pipeline import INGEST_HANDLER
from infra.review_service import API_HANDLER, LIFECYCLE_HANDLER, OUTBOX_HANDLER

pytestmark = pytest.mark.xdist_group("cdk")
TRAINING_BUCKET = "hitl-training"


def service_names() -> Names:
    table = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{TABLE}"
    log_groups = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group"
    return Names(
        refs={"ReviewServiceTasks": TABLE, "PipelineBus": BUS},
        attributes={
            ("ReviewServiceTasks", "Arn"): table,
            ("ReviewServiceTasks", "StreamArn"): f"{table}/stream/2024-01-01T00:00:00.000",
            ("StorageInput", "Arn"): f"arn:aws:s3:::{IMAGE_BUCKET}",
            ("StorageReviewOutput", "Arn"): f"arn:aws:s3:::{OUTPUT_BUCKET}",
            ("StorageTrainingData", "Arn"): f"arn:aws:s3:::{TRAINING_BUCKET}",
            ("PipelineBus", "Arn"): f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{BUS}",
            ("ReviewServiceApiFunctionLogs", "Arn"): f"{log_groups}:api:*",
            ("ReviewServiceLifecycleFunctionLogs", "Arn"): f"{log_groups}:sweep:*",
            ("ReviewServiceOutboxFunctionLogs", "Arn"): f"{log_groups}:outbox:*",
            ("ReviewServiceOutboxDlq", "Arn"): f"arn:aws:sqs:{REGION}:{ACCOUNT}:outbox-dlq",
        },
    )


@pytest.fixture
def service_world() -> Iterator[None]:
    with review_service_aws():
        yield


ENVIRONMENT = {
    "REVIEW_TASKS_TABLE": TABLE,
    "REVIEW_OUTPUT_BUCKET": OUTPUT_BUCKET,
    "REVIEW_OUTPUT_PREFIX": "a2i-output/",
    "EVENT_BUS_NAME": BUS,
    "REVIEW_TASK_COUNT": "1",
    "REVIEW_TASK_TIME_LIMIT_SECONDS": str(LEASE_SECONDS),
    "REVIEW_TASK_AVAILABILITY_SECONDS": str(AVAILABILITY_SECONDS),
    "REVIEW_SERVICE_NAME": SERVICE_NAME,
}


def test_the_review_api_works_with_only_its_roles_permissions(
    synthesized, service_world: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    policies = service_policies(synthesized, API_HANDLER)
    settings = ApiSettings.from_env(ENVIRONMENT)
    table = ReviewTaskTable(boto3.client("dynamodb", region_name=REGION), TABLE)
    assert table.create(review_tasks.new_task("cat-1", json.dumps(input_content("cat.jpg")), utc_now()))
    recorder = CallRecorder()

    with as_role(policies, "review-api") as session:
        role_table = ReviewTaskTable(recorder.attach(session.client("dynamodb")), TABLE)
        budget = ReviewBudget(per_hour=10, per_day=100, per_reviewer_day=5)
        deps = api.ApiDependencies(
            settings,
            TaskStore(role_table, settings.timing, utc_now, budget),
            recorder.attach(session.client("s3")),
        )
        monkeypatch.setattr(api, "dependencies", lambda: deps)
        responses = [
            api.handler(http_event(method, path, user, body), FakeLambdaContext())
            for method, path, user, body in (
                ("GET", "/tasks", ANA, None),
                ("GET", "/tasks/cat-1", ANA, None),
                ("POST", "/tasks/next", ANA, None),
                ("POST", "/tasks/cat-1/release", ANA, None),
                ("POST", "/tasks/cat-1/claim", ANA, None),
                ("GET", "/admin/summary", BOSS, None),
                ("POST", "/admin/tasks/cat-1/release", BOSS, None),
                ("POST", "/tasks/cat-1/claim", ANA, None),
                ("POST", "/tasks/cat-1/answer", ANA, answer_body()),
            )
        ]

    assert [r["statusCode"] for r in responses] == [200] * 9, responses
    image_url = urlparse(json.loads(responses[1]["body"])["imageUrl"])
    assert "versionId" in parse_qs(image_url.query)
    # The reviewer's browser makes the presigned GET, with the function's own credentials.
    presigned_get = Call("s3:GetObjectVersion", f"arn:aws:s3:::{IMAGE_BUCKET}/incoming/cat.jpg")
    assert evaluate(policies, [*recorder.calls, presigned_get]) == []
    assert {c.action for c in recorder.calls} >= {
        "dynamodb:Query",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
    }


def service_policies(synthesized: Any, handler: str) -> list[dict[str, Any]]:
    return function_policies(synthesized.templates["Builtin"], handler, service_names())


def admin_store(clock: Clock) -> TaskStore:
    """The test's own view of the task table (moto's default credentials), at the clock's time."""
    return TaskStore(ReviewTaskTable(boto3.client("dynamodb", region_name=REGION), TABLE), TIMING, clock)


def due_for_the_sweep(clock: Clock) -> TaskStore:
    """An open task at the end of its lifetime (old-1), a claimed one whose lease just ran out (cat-2),
    and a completed one whose announcement the stream never made (done-3)."""
    store = admin_store(clock)
    assert store.table.create(review_tasks.new_task("old-1", json.dumps(input_content()), clock()))
    assert store.table.create(review_tasks.new_task("done-3", json.dumps(input_content()), clock()))
    store.claim("done-3", ANA.sub)
    store.answer("done-3", answer_as(ANA.sub))
    clock.advance(AVAILABILITY_SECONDS - LEASE_SECONDS)
    assert store.table.create(review_tasks.new_task("cat-2", json.dumps(input_content()), clock()))
    store.claim("cat-2", ANA.sub)
    clock.advance(LEASE_SECONDS)
    return store


def sweep_as_role(
    session: Any, recorder: CallRecorder, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    """The lifecycle handler, its task store and announcer on the role's clients."""
    settings = LifecycleSettings.from_env(ENVIRONMENT)
    table = ReviewTaskTable(recorder.attach(session.client("dynamodb")), settings.table_name)
    role_store = TaskStore(table, settings.timing, clock)
    monkeypatch.setattr(lifecycle, "store", lambda: role_store)
    outbox_as_role(session, recorder, monkeypatch)
    return lifecycle.handler({"source": "aws.events", "detail-type": "Scheduled Event"}, FakeLambdaContext())


def test_the_lifecycle_sweep_works_with_only_its_roles_permissions(
    synthesized, service_world: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    policies = service_policies(synthesized, LIFECYCLE_HANDLER)
    clock = Clock()
    store = due_for_the_sweep(clock)
    legacy_task(store.table, clock, "pre-index-4")
    recorder = CallRecorder()

    with as_role(policies, "review-lifecycle") as session:
        summary = sweep_as_role(session, recorder, clock, monkeypatch)

    assert (summary["expired"], summary["leases_returned"], summary["announced"]) == (1, 1, 1)
    assert summary["queued"] == 1 and store.get("pre-index-4").queue_rank is not None, "the backfill"
    assert store.get("done-3").announced_at is not None
    old, cat = store.get("old-1"), store.get("cat-2")
    assert (old.status, old.failure_code) == (TaskStatus.FAILED, EXPIRED)
    assert (cat.status, cat.lease_owner, cat.audit[-1]["action"]) == (
        TaskStatus.IN_PROGRESS,
        None,
        "lease-returned",
    )
    assert {c.action for c in recorder.calls} == {
        "dynamodb:Query",
        "dynamodb:PutItem",
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",
        "s3:PutObject",
        "events:PutEvents",
    }
    assert evaluate(policies, recorder.calls) == []


def test_the_sweep_without_its_put_statement_is_refused(
    synthesized, service_world: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    policies = without(service_policies(synthesized, LIFECYCLE_HANDLER), "dynamodb:PutItem")
    clock = Clock()
    due_for_the_sweep(clock)

    with (
        as_role(policies, "review-lifecycle-without-put") as session,
        pytest.raises(ClientError, match="AccessDenied"),
    ):
        sweep_as_role(session, CallRecorder(), clock, monkeypatch)


def completed_task_record() -> dict[str, Any]:
    """The task table's stream record of cat-1 entering Completed, as Lambda delivers it."""
    store = admin_store(Clock())
    stream = TableStream()
    assert store.table.create(review_tasks.new_task("cat-1", json.dumps(input_content()), store.now()))
    store.claim("cat-1", ANA.sub)
    stream.event()
    store.answer("cat-1", answer_as(ANA.sub))
    (record,) = stream.event()["Records"]
    assert record["dynamodb"]["NewImage"]["status"]["S"] == TaskStatus.COMPLETED
    return record


def outbox_as_role(session: Any, recorder: CallRecorder, monkeypatch: pytest.MonkeyPatch) -> None:
    """The outbox handler's Outbox on the role's S3, EventBridge and DynamoDB clients."""
    s3 = recorder.attach(session.client("s3"))
    role_outbox = outbox.Outbox(
        OutboxSettings.from_env(ENVIRONMENT),
        s3,
        recorder.attach(session.client("events")),
        ReviewTaskTable(recorder.attach(session.client("dynamodb")), TABLE, s3),
    )
    monkeypatch.setattr(outbox, "outbox", lambda: role_outbox)


def test_the_outbox_works_with_only_its_roles_permissions(
    synthesized, service_world: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    policies = service_policies(synthesized, OUTBOX_HANDLER)
    record = completed_task_record()
    tap = StatusTap()
    recorder = CallRecorder()

    with as_role(policies, "review-outbox") as session:
        outbox_as_role(session, recorder, monkeypatch)
        response = outbox.handler({"Records": [record]}, FakeLambdaContext())

    assert response == {"batchItemFailures": []}
    output_key = f"a2i-output/{SERVICE_NAME}/2024/03/04/05/00/00/cat-1/output.json"
    s3 = boto3.client("s3", region_name=REGION)
    output = json.loads(s3.get_object(Bucket=OUTPUT_BUCKET, Key=output_key)["Body"].read())
    assert (output["humanLoopName"], len(output["humanAnswers"])) == ("cat-1", 1)
    (event,) = tap.drain()
    assert event["detail"]["humanLoopStatus"] == "Completed"
    assert event["detail"]["humanLoopOutput"] == {"outputS3Uri": f"s3://{OUTPUT_BUCKET}/{output_key}"}
    assert {c.action for c in recorder.calls} == {"s3:PutObject", "events:PutEvents", "dynamodb:UpdateItem"}
    assert evaluate(policies, recorder.calls) == []


def test_the_outbox_without_its_put_object_statement_is_refused(
    synthesized, service_world: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    policies = without(service_policies(synthesized, OUTBOX_HANDLER), "s3:PutObject")
    record = completed_task_record()

    with (
        as_role(policies, "review-outbox-without-put") as session,
        pytest.raises(ClientError, match="AccessDenied"),
    ):
        outbox_as_role(session, CallRecorder(), monkeypatch)
        outbox.record_handler(DynamoDBRecord(record))


def test_the_outbox_reads_a_large_input_content_with_only_its_roles_permissions(
    synthesized, service_world: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    policies = service_policies(synthesized, OUTBOX_HANDLER)
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=TRAINING_BUCKET)
    dynamodb, s3 = boto3.client("dynamodb", region_name=REGION), boto3.client("s3", region_name=REGION)
    ingest_table = ReviewTaskTable(dynamodb, TABLE, s3, TRAINING_BUCKET)
    content = json.dumps({**input_content(), "pad": "x" * 500_000})
    stream = TableStream()
    assert ingest_table.create(review_tasks.new_task("cat-1", content, utc_now()))
    store = TaskStore(ingest_table, TIMING, utc_now)
    store.claim("cat-1", ANA.sub)
    stream.event()
    store.answer("cat-1", answer_as(ANA.sub))
    completion = stream.event()
    recorder = CallRecorder()

    with as_role(policies, "review-outbox-large") as session:
        outbox_as_role(session, recorder, monkeypatch)
        response = outbox.handler(completion, FakeLambdaContext())

    assert response == {"batchItemFailures": []}
    assert "s3:GetObject" in {c.action for c in recorder.calls}
    assert evaluate(policies, recorder.calls) == []


def test_a_counted_claim_needs_update_item_on_the_table(
    synthesized, service_world: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """IAM checks a transaction's items by their own actions: without UpdateItem the budget's counters
    (in the claim's transaction) are refused, whatever PutItem allows."""
    policies = service_policies(synthesized, API_HANDLER)
    table = ReviewTaskTable(boto3.client("dynamodb", region_name=REGION), TABLE)
    assert table.create(review_tasks.new_task("cat-1", json.dumps(input_content("cat.jpg")), utc_now()))
    recorder = CallRecorder()
    settings = ApiSettings.from_env(ENVIRONMENT)
    with as_role(policies, "review-api-counted") as session:
        role_table = ReviewTaskTable(recorder.attach(session.client("dynamodb")), TABLE)
        store = TaskStore(role_table, settings.timing, utc_now, ReviewBudget(per_day=5))
        assert store.next(ANA.sub).task is not None
    transaction = [c for c in recorder.calls if c.action == "dynamodb:UpdateItem"]
    assert transaction, "the counter's update is recorded as UpdateItem on the table"
    narrowed = copy.deepcopy(policies)
    for document in narrowed:
        for statement in document["Statement"]:
            actions = [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
            statement["Action"] = [a for a in actions if a != "dynamodb:UpdateItem"] or ["none:None"]
    assert evaluate(policies, recorder.calls) == []
    assert evaluate(narrowed, transaction) != []


def ingest_policies(synthesized: Any, scenario: str) -> list[dict[str, Any]]:
    base = service_names()
    names = Names(
        refs=base.refs,
        attributes={
            **base.attributes,
            ("PipelineIngestQueue", "Arn"): f"arn:aws:sqs:{REGION}:{ACCOUNT}:ingest",
            ("PipelineIngestFunctionLogs", "Arn"): f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:ingest:*",
        },
        literals={":endpoint/hitl-object-detector": ":endpoint/detector"},
    )
    return function_policies(synthesized.templates[scenario], INGEST_HANDLER, names)


SPENDING = {"Conditions": [{"ConditionType": "ModelConfidenceCheck", "EvaluationResult": True}]}


def test_ingest_reads_the_budget_and_starts_a_task_with_only_its_roles_permissions(
    synthesized, service_world: None
) -> None:
    """`when_spent: accept` (the Builtin scenario): ingest's GetItem of the counters and its task put."""
    policies = ingest_policies(synthesized, "Builtin")
    rule = OverBudgetRule(ReviewBudget(per_hour=1), accept=True)
    recorder = CallRecorder()
    with as_role(policies, "ingest-over-budget") as session:
        table = ReviewTaskTable(recorder.attach(session.client("dynamodb")), TABLE)
        starter = TaskStoreReviewStarter(table, SERVICE_NAME, over_budget=rule)
        assert not starter.over_budget(SPENDING)
        assert starter.start("cat-1", json.dumps(input_content("cat.jpg")))
    boto3.client("dynamodb", region_name=REGION).put_item(
        TableName=TABLE, Item={"loop_name": {"S": hour_key(utc_now())}, "used": {"N": "1"}}
    )
    with as_role(policies, "ingest-over-budget-spent") as session:
        table = ReviewTaskTable(recorder.attach(session.client("dynamodb")), TABLE)
        assert TaskStoreReviewStarter(table, SERVICE_NAME, over_budget=rule).over_budget(SPENDING)
    assert {c.action for c in recorder.calls} == {"dynamodb:GetItem", "dynamodb:PutItem"}
    assert evaluate(policies, recorder.calls) == []
    reads = [c for c in recorder.calls if c.action == "dynamodb:GetItem"]
    assert evaluate(without(policies, "dynamodb:GetItem"), reads) != []


def test_ingest_is_granted_no_read_of_the_table_when_the_budget_queues(synthesized) -> None:
    policies = ingest_policies(synthesized, "BuiltinExistingPool")
    assert "dynamodb:GetItem" not in json.dumps(policies)
    assert "dynamodb:PutItem" in json.dumps(policies)
