"""The built-in review service's API function runs with only the permissions of its synthesized role.

Same harness as test_permissions.py (see `iam_harness`): moto enforces the actions, `evaluate`
re-checks action and resource of every recorded call. The lifecycle and outbox functions are
not run here yet: their permissions are asserted on the template in test_review_service.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from iam_harness import ACCOUNT, REGION, CallRecorder, Names, as_role, evaluate, function_policies
from moto import mock_aws
from review_service.builders import (
    ANA,
    BUS,
    IMAGE_BUCKET,
    OUTPUT_BUCKET,
    TABLE,
    answer_body,
    http_event,
    input_content,
)

from hitl_aws.review_task_table import ReviewTaskTable
from hitl_core import review_tasks
from hitl_core.wiring import REVIEW_TASK_TABLE
from hitl_review_service import api
from hitl_review_service.settings import ApiSettings
from hitl_review_service.task_store import TaskStore, utc_now
from infra.review_service import API_HANDLER

pytestmark = pytest.mark.xdist_group("cdk")


def service_names() -> Names:
    table = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{TABLE}"
    return Names(
        refs={"ReviewServiceTasks": TABLE, "PipelineBus": BUS},
        attributes={
            ("ReviewServiceTasks", "Arn"): table,
            ("ReviewServiceTasks", "StreamArn"): f"{table}/stream/2024-01-01T00:00:00.000",
            ("StorageInput", "Arn"): f"arn:aws:s3:::{IMAGE_BUCKET}",
            ("StorageReviewOutput", "Arn"): f"arn:aws:s3:::{OUTPUT_BUCKET}",
            ("PipelineBus", "Arn"): f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{BUS}",
            ("ReviewServiceApiFunctionLogs", "Arn"): f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:api:*",
        },
    )


@pytest.fixture
def service_world(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with mock_aws():
        boto3.client("dynamodb", region_name=REGION).create_table(
            **REVIEW_TASK_TABLE.create_table_request(TABLE)
        )
        s3 = boto3.client("s3", region_name=REGION)
        for bucket in (IMAGE_BUCKET, OUTPUT_BUCKET):
            s3.create_bucket(Bucket=bucket)
        yield


def test_the_review_api_works_with_only_its_roles_permissions(
    synthesized, service_world: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    policies = function_policies(synthesized.templates["Builtin"], API_HANDLER, service_names())
    environment = {
        "REVIEW_TASKS_TABLE": TABLE,
        "REVIEW_OUTPUT_BUCKET": OUTPUT_BUCKET,
        "REVIEW_OUTPUT_PREFIX": "a2i-output/",
        "EVENT_BUS_NAME": BUS,
        "REVIEW_TASK_COUNT": "1",
        "REVIEW_TASK_TIME_LIMIT_SECONDS": "600",
        "REVIEW_TASK_AVAILABILITY_SECONDS": "3600",
        "REVIEW_SERVICE_NAME": "hitl",
    }
    settings = ApiSettings.from_env(environment)
    table = ReviewTaskTable(boto3.client("dynamodb", region_name=REGION), TABLE)
    assert table.create(review_tasks.new_task("cat-1", json.dumps(input_content("cat.jpg")), utc_now()))
    recorder = CallRecorder()

    with as_role(policies, "review-api") as session:
        role_table = ReviewTaskTable(recorder.attach(session.client("dynamodb")), TABLE)
        deps = api.ApiDependencies(
            settings, TaskStore(role_table, settings.timing, utc_now), recorder.attach(session.client("s3"))
        )
        monkeypatch.setattr(api, "dependencies", lambda: deps)
        responses = [
            api.handler(http_event(method, path, ANA, body), _Context())
            for method, path, body in (
                ("GET", "/tasks", None),
                ("GET", "/tasks/cat-1", None),
                ("POST", "/tasks/cat-1/claim", None),
                ("POST", "/tasks/cat-1/answer", answer_body()),
            )
        ]

    assert [r["statusCode"] for r in responses] == [200, 200, 200, 200], responses
    assert evaluate(policies, recorder.calls) == []
    assert {c.action for c in recorder.calls} >= {"dynamodb:Query", "dynamodb:GetItem", "dynamodb:PutItem"}


class _Context:
    function_name = "review-api"
    memory_limit_in_mb = 256
    invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:review-api"
    aws_request_id = "request-1"
