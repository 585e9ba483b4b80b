"""The review API: routes, authorization by group, the caller's identity, and its error answers."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlparse

import boto3
import pytest
import requests

from hitl_core import review_tasks
from hitl_core.review_tasks import ReviewTask
from hitl_review_service import api
from review_service.builders import (
    ANA,
    BEN,
    BOSS,
    CAT,
    IMAGE_BUCKET,
    ISSUER,
    STRANGER,
    Clock,
    User,
    answer_body,
    http_event,
    input_content,
)

Api = Callable[[dict[str, Any]], tuple[int, Any]]
AddTask = Callable[..., ReviewTask]


@pytest.mark.parametrize(
    ("value", "groups"),
    [
        ("[reviewers review-admins]", {"reviewers", "review-admins"}),
        ("[reviewers]", {"reviewers"}),
        ('["reviewers","review-admins"]', {"reviewers", "review-admins"}),
        (["reviewers"], {"reviewers"}),
        ("reviewers", {"reviewers"}),
        ("[]", set()),
        (None, set()),
    ],
)
def test_groups_claim_in_either_shape(value: Any, groups: set[str]) -> None:
    assert api.parse_groups(value) == groups


def test_list_shows_open_tasks_oldest_first_with_their_lease(
    call_api: Api, add_task: AddTask, clock: Clock
) -> None:
    add_task("dog-2", "dog.jpg")
    clock.advance(-60)
    add_task("cat-1", "cat.jpg")
    clock.advance(60)
    assert call_api(http_event("POST", "/tasks/dog-2/claim", BEN))[0] == 200
    status, body = call_api(http_event("GET", "/tasks", ANA))
    assert status == 200
    assert [(t["name"], t["title"], t["leaseOwner"], t["claimedByYou"]) for t in body["tasks"]] == [
        ("cat-1", "cat.jpg", None, False),
        ("dog-2", "dog.jpg", BEN.sub, False),
    ]
    assert body["tasks"][0]["createdAt"] == "2024-03-04T04:59:00.000Z"
    assert body["nextToken"] is None
    status, page = call_api(http_event("GET", "/tasks", ANA, query={"limit": "1"}))
    assert [t["name"] for t in page["tasks"]] == ["cat-1"]
    status, rest = call_api(
        http_event("GET", "/tasks", ANA, query={"limit": "1", "nextToken": page["nextToken"]})
    )
    assert [t["name"] for t in rest["tasks"]] == ["dog-2"]


def test_list_of_finished_tasks_and_bad_queries(call_api: Api, add_task: AddTask) -> None:
    add_task("cat-1")
    call_api(http_event("POST", "/tasks/cat-1/stop", BOSS))
    _, stopped = call_api(http_event("GET", "/tasks", ANA, query={"status": "Stopped"}))
    assert [t["name"] for t in stopped["tasks"]] == ["cat-1"]
    _, open_ = call_api(http_event("GET", "/tasks", ANA))
    assert open_["tasks"] == []
    for query in ({"status": "Done"}, {"limit": "0"}, {"limit": "x"}, {"nextToken": "garbage!"}):
        status, body = call_api(http_event("GET", "/tasks", ANA, query=query))
        assert status == 400, query
        assert body["message"]


def test_open_a_task_with_a_presigned_image_url(call_api: Api, add_task: AddTask) -> None:
    add_task("cat-1")
    status, body = call_api(http_event("GET", "/tasks/cat-1", ANA))
    assert status == 200
    assert body["inputContent"] == input_content()
    assert body["status"] == "InProgress"
    assert body["leaseOwner"] is None
    url = urlparse(body["imageUrl"])
    assert IMAGE_BUCKET in url.netloc + url.path and url.path.endswith("incoming/cat.jpg")
    assert parse_qs(url.query)["X-Amz-Expires"] == ["300"]
    assert "audit" not in body
    _, as_admin = call_api(http_event("GET", "/tasks/cat-1", BOSS))
    assert [e["action"] for e in as_admin["audit"]] == ["created"]


def test_claim_conflicts_and_release(call_api: Api, add_task: AddTask) -> None:
    add_task("cat-1")
    status, body = call_api(http_event("POST", "/tasks/cat-1/claim", ANA))
    assert (status, body["leaseOwner"], body["claimedByYou"]) == (200, ANA.sub, True)
    status, body = call_api(http_event("POST", "/tasks/cat-1/claim", BEN))
    assert status == 409 and "claimed by another reviewer" in body["message"]
    status, body = call_api(http_event("POST", "/tasks/cat-1/release", BEN))
    assert status == 409
    status, body = call_api(http_event("POST", "/tasks/cat-1/release", ANA))
    assert (status, body["leaseOwner"]) == (200, None)
    assert call_api(http_event("POST", "/tasks/cat-1/claim", BEN))[0] == 200


def test_answer_records_the_token_identity_and_completes(call_api: Api, add_task: AddTask) -> None:
    add_task("cat-1")
    status, body = call_api(http_event("POST", "/tasks/cat-1/answer", ANA, answer_body()))
    assert status == 409 and "claim" in body["message"]
    call_api(http_event("POST", "/tasks/cat-1/claim", ANA))
    status, body = call_api(http_event("POST", "/tasks/cat-1/answer", ANA, answer_body()))
    assert (status, body["status"], body["answerCount"]) == (200, "Completed", 1)
    status, body = call_api(http_event("POST", "/tasks/cat-1/answer", ANA, answer_body()))
    assert status == 409


def test_answer_identity_is_the_tokens_sub_and_issuer(call_api: Api, add_task: AddTask, store: Any) -> None:
    add_task("cat-1")
    call_api(http_event("POST", "/tasks/cat-1/claim", ANA))
    call_api(http_event("POST", "/tasks/cat-1/answer", ANA, answer_body()))
    (entry,) = store.get("cat-1").answers
    assert entry["workerId"] == ANA.sub
    assert entry["workerMetadata"]["identityData"] == {
        "identityProviderType": "Cognito",
        "issuer": ISSUER,
        "sub": ANA.sub,
    }
    assert entry["answerContent"]["annotatedResult"]["initialValueModified"] is False


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("{not json", "not JSON"),
        (answer_body([{**CAT, "left": 500}]), "outside"),
        (answer_body([{**CAT, "label": "zebra"}]), "labels"),
        (answer_body([{**CAT, "left": 10.5}]), "left"),
        (answer_body(workerId="someone-else"), "workerId"),
        ({"answerContent": {}}, "annotatedResult"),
    ],
)
def test_invalid_answers_are_400_and_change_nothing(
    call_api: Api, add_task: AddTask, store: Any, body: Any, problem: str
) -> None:
    add_task("cat-1")
    call_api(http_event("POST", "/tasks/cat-1/claim", ANA))
    before = store.get("cat-1")
    status, answer = call_api(http_event("POST", "/tasks/cat-1/answer", ANA, body))
    assert status == 400
    assert problem in answer["message"]
    assert store.get("cat-1") == before


def test_stop_is_for_admins_only(call_api: Api, add_task: AddTask) -> None:
    add_task("cat-1")
    status, body = call_api(http_event("POST", "/tasks/cat-1/stop", ANA))
    assert status == 403 and "review-admins" in body["message"]
    status, body = call_api(http_event("POST", "/tasks/cat-1/stop", BOSS))
    assert (status, body["status"]) == (200, "Stopped")
    assert call_api(http_event("POST", "/tasks/cat-1/stop", BOSS))[0] == 409
    assert call_api(http_event("POST", "/tasks/cat-1/claim", ANA))[0] == 409


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/tasks"),
        ("GET", "/tasks/cat-1"),
        ("POST", "/tasks/cat-1/claim"),
        ("POST", "/tasks/cat-1/release"),
        ("POST", "/tasks/cat-1/answer"),
        ("POST", "/tasks/cat-1/stop"),
    ],
)
def test_every_route_needs_a_group_and_a_signed_in_user(
    call_api: Api, add_task: AddTask, store: Any, method: str, path: str
) -> None:
    add_task("cat-1")
    before = store.get("cat-1")
    status, body = call_api(http_event(method, path, STRANGER, answer_body()))
    assert status == 403 and "reviewers" in body["message"]
    assert call_api(http_event(method, path, User("sub-x", groups="[other-team]"), answer_body()))[0] == 403
    assert call_api(http_event(method, path, None, answer_body()))[0] == 401
    assert store.get("cat-1") == before


def test_admins_may_review_too_and_groups_as_a_list(call_api: Api, add_task: AddTask) -> None:
    add_task("cat-1")
    assert (
        call_api(http_event("POST", "/tasks/cat-1/claim", User("sub-admin", groups=["review-admins"])))[0]
        == 200
    )


def test_unknown_task_and_route_are_404(call_api: Api) -> None:
    status, body = call_api(http_event("GET", "/tasks/nope", ANA))
    assert status == 404 and "nope" in body["message"]
    assert call_api(http_event("POST", "/tasks/nope/claim", ANA))[0] == 404
    assert call_api(http_event("GET", "/elsewhere", ANA))[0] == 404


def test_dependencies_come_from_the_environment(service_env: Callable[..., None]) -> None:
    service_env(IMAGE_URL_TTL_SECONDS="120", REVIEW_ADMIN_GROUP="bosses")
    api.dependencies.cache_clear()
    try:
        deps = api.dependencies()
        assert deps.settings.image_url_ttl_seconds == 120
        assert deps.settings.admin_group == "bosses"
        assert deps.store.table.table_name == "review-tasks"
    finally:
        api.dependencies.cache_clear()


def boxes(count: int) -> list[dict[str, Any]]:
    """`count` small boxes of the task's labels, every one inside the 640x480 image."""
    return [{**CAT, "left": i % 600, "top": (i // 600) % 440, "width": 5, "height": 5} for i in range(count)]


@pytest.fixture
def before(call_api: Api, add_task: AddTask, store: Any) -> ReviewTask:
    """Task cat-1 claimed by ANA, as stored before she answers."""
    add_task("cat-1")
    call_api(http_event("POST", "/tasks/cat-1/claim", ANA))
    return store.get("cat-1")


def answer(call_api: Api, body: Any) -> tuple[int, Any]:
    return call_api(http_event("POST", "/tasks/cat-1/answer", ANA, body))


def test_an_answer_over_the_size_limit_is_refused_naming_the_limits_and_the_task_stays_answerable(
    call_api: Api, store: Any, before: ReviewTask
) -> None:
    huge = answer_body(boxes(15_000))  # about 1 MB, as a reviewer's runaway script posted

    status, body = answer(call_api, huge)

    assert status == 413
    assert f"at most {api.MAX_ANSWER_BODY_BYTES:,} bytes" in body["message"]
    assert f"at most {api.MAX_ANSWER_BOXES:,} boxes" in body["message"]
    assert store.get("cat-1") == before
    status, body = answer(call_api, answer_body())
    assert (status, body["status"]) == (200, "Completed")


def test_an_answer_with_more_boxes_than_the_limit_is_refused(
    call_api: Api, store: Any, before: ReviewTask
) -> None:

    status, body = answer(call_api, answer_body(boxes(api.MAX_ANSWER_BOXES + 1)))

    assert status == 400
    assert (
        f"{api.MAX_ANSWER_BOXES + 1:,} boxes; an answer holds at most {api.MAX_ANSWER_BOXES:,}"
        in body["message"]
    )
    assert store.get("cat-1") == before
    assert answer(call_api, answer_body(boxes(api.MAX_ANSWER_BOXES)))[0] == 200


def test_an_answer_the_task_item_cannot_hold_is_refused_not_a_server_error(
    call_api: Api, store: Any, before: ReviewTask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Within the limits, a task item may still outgrow DynamoDB's 400 KB (several answers, a large input)."""
    monkeypatch.setattr(api, "MAX_ANSWER_BOXES", 20_000)
    monkeypatch.setattr(api, "MAX_ANSWER_BODY_BYTES", 2_000_000)

    status, body = answer(call_api, answer_body(boxes(15_000)))

    assert status == 413
    assert "400 KB" in body["message"]
    assert store.get("cat-1") == before


def test_the_image_url_serves_the_version_the_task_was_created_for(
    call_api: Api, table: Any, clock: Clock
) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.put_bucket_versioning(Bucket=IMAGE_BUCKET, VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket=IMAGE_BUCKET, Key="incoming/cat.jpg", Body=b"first upload")["VersionId"]
    s3.put_object(Bucket=IMAGE_BUCKET, Key="incoming/cat.jpg", Body=b"second upload")
    content = {**input_content(), "source": {**input_content()["source"], "version": first}}
    assert table.create(review_tasks.new_task("cat-1", json.dumps(content), clock()))

    status, body = call_api(http_event("GET", "/tasks/cat-1", ANA))

    assert status == 200
    assert parse_qs(urlparse(body["imageUrl"]).query)["versionId"] == [first]
    assert requests.get(body["imageUrl"], timeout=10).content == b"first upload"


def test_an_image_of_an_unversioned_bucket_is_served_by_key(call_api: Api, table: Any, clock: Clock) -> None:
    """The version is then the upload's ETag, which a GET URL cannot name."""
    content = {**input_content(), "source": {**input_content()["source"], "version": "0" * 32}}
    assert table.create(review_tasks.new_task("cat-1", json.dumps(content), clock()))

    status, body = call_api(http_event("GET", "/tasks/cat-1", ANA))

    assert status == 200
    assert "versionId" not in parse_qs(urlparse(body["imageUrl"]).query)


# --- the team's routes: tasks/next, admin summary and release, safe headers ----------------------


@pytest.fixture
def raw_api(call_api: Api, lambda_context: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """The handler's whole answer (status, headers, body) with the call_api fixture's dependencies."""
    return lambda event: api.handler(event, lambda_context)


@pytest.fixture
def team_api(
    service_env: Callable[..., None],
    aws: None,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
    lambda_context: Any,
) -> Callable[[dict[str, Any]], Callable[[dict[str, Any]], dict[str, Any]]]:
    """An API deployed with a `review` section (REVIEW_TEAM); returns the raw-answer caller."""
    import os

    def deploy(team: dict[str, Any]) -> Callable[[dict[str, Any]], dict[str, Any]]:
        service_env(REVIEW_TEAM=json.dumps(team))
        deps = api.ApiDependencies.from_env(os.environ, clock)
        monkeypatch.setattr(api, "dependencies", lambda: deps)
        return lambda event: api.handler(event, lambda_context)

    return deploy


def test_next_serves_a_claimed_task_as_get_shows_it(
    raw_api: Callable[[dict[str, Any]], dict[str, Any]], add_task: AddTask, clock: Clock
) -> None:
    add_task("cat-1")
    response = raw_api(http_event("POST", "/tasks/next", ANA))
    assert response["statusCode"] == 200
    served = json.loads(response["body"])
    assert (served["name"], served["claimedByYou"], served["priority"]) == ("cat-1", True, 0.0)
    opened = json.loads(raw_api(http_event("GET", "/tasks/cat-1", ANA))["body"])
    assert served.keys() == opened.keys()
    assert "gold" not in served
    seen_by_ben = json.loads(raw_api(http_event("GET", "/tasks/cat-1", BEN))["body"])
    assert seen_by_ben["claimedBy"] == ANA.sub and seen_by_ben["leaseExpiresAt"] == served["leaseExpiresAt"]
    nothing = raw_api(http_event("POST", "/tasks/next", BEN))
    assert (nothing["statusCode"], nothing["body"]) == (204, "")
    assert "X-Review-Budget" not in nothing["headers"]


def test_next_serves_skipped_tasks_last(
    raw_api: Callable[[dict[str, Any]], dict[str, Any]], add_task: AddTask, clock: Clock
) -> None:
    add_task("cat-1")
    clock.advance(1)
    add_task("cat-2")
    first = raw_api(http_event("POST", "/tasks/next", ANA, body={"skip": ["cat-1"]}))
    assert json.loads(first["body"])["name"] == "cat-2"
    bad = raw_api(http_event("POST", "/tasks/next", ANA, body={"skip": "cat-1"}))
    assert bad["statusCode"] == 400


def test_a_spent_budget_answers_204_and_says_so(
    team_api: Callable[..., Any], add_task: AddTask, clock: Clock
) -> None:
    call = team_api({"budget": {"per_day": 1}})
    add_task("cat-1")
    add_task("cat-2")
    assert call(http_event("POST", "/tasks/next", ANA))["statusCode"] == 200
    spent = call(http_event("POST", "/tasks/next", BEN))
    assert (spent["statusCode"], spent["headers"]["X-Review-Budget"]) == (204, "spent")
    refused = call(http_event("POST", "/tasks/cat-2/claim", BEN))
    assert refused["statusCode"] == 409 and "budget" in json.loads(refused["body"])["message"]


def test_every_json_answer_is_nosniff_and_no_store(
    raw_api: Callable[[dict[str, Any]], dict[str, Any]], add_task: AddTask
) -> None:
    add_task("cat-1")
    for event in (
        http_event("GET", "/tasks", ANA),
        http_event("GET", "/tasks/cat-1", ANA),
        http_event("GET", "/tasks/nope", ANA),
        http_event("GET", "/tasks", STRANGER),
        http_event("GET", "/tasks", None),
        http_event("GET", "/admin/summary", ANA),
        http_event("POST", "/tasks/next", BEN),
    ):
        headers = raw_api(event)["headers"]
        assert (headers["X-Content-Type-Options"], headers["Cache-Control"]) == ("nosniff", "no-store"), event


def test_a_completed_task_shows_its_answer_read_only(
    raw_api: Callable[[dict[str, Any]], dict[str, Any]], add_task: AddTask
) -> None:
    add_task("cat-1")
    raw_api(http_event("POST", "/tasks/next", ANA))
    assert raw_api(http_event("POST", "/tasks/cat-1/answer", ANA, body=answer_body()))["statusCode"] == 200
    view = json.loads(raw_api(http_event("GET", "/tasks/cat-1", BEN))["body"])
    assert view["status"] == "Completed"
    assert view["answers"] == [{"boundingBoxes": [CAT], "submissionTime": view["updatedAt"], "byYou": False}]


def test_admin_routes_are_for_admins_only(
    raw_api: Callable[[dict[str, Any]], dict[str, Any]], add_task: AddTask
) -> None:
    add_task("cat-1")
    raw_api(http_event("POST", "/tasks/next", ANA))
    for method, path in (
        ("GET", "/admin/summary"),
        ("GET", "/admin/summary.csv"),
        ("POST", "/admin/tasks/cat-1/release"),
    ):
        assert raw_api(http_event(method, path, ANA))["statusCode"] == 403, path
    released = raw_api(http_event("POST", "/admin/tasks/cat-1/release", BOSS))
    assert released["statusCode"] == 200
    assert json.loads(released["body"])["leaseOwner"] is None
    assert raw_api(http_event("POST", "/tasks/next", BEN))["statusCode"] == 200


def test_the_admin_summary_counts_the_queue_the_budget_and_the_reviewers(
    team_api: Callable[..., Any], add_task: AddTask, clock: Clock
) -> None:
    call = team_api({"budget": {"per_hour": 10, "per_reviewer_day": 3}})
    for name in ("cat-1", "cat-2", "cat-3"):
        add_task(name)
        clock.advance(1)
    call(http_event("POST", "/tasks/next", ANA))
    call(http_event("POST", "/tasks/cat-1/answer", ANA, body=answer_body(timeSpentInSeconds=12)))
    call(http_event("POST", "/tasks/next", BEN))
    summary = json.loads(call(http_event("GET", "/admin/summary", BOSS))["body"])
    assert summary["queue"] == {"open": 2, "claimed": 1, "oldestCreatedAt": "2024-03-04T05:00:01.000Z"}
    assert summary["budget"] == {
        "hour": {"used": 2, "limit": 10},
        "day": {"used": 0, "limit": None},
        "perReviewerDay": 3,
    }
    (ana,) = summary["reviewers"]
    assert (ana["reviewer"], ana["tasks"], ana["medianSeconds"], ana["changedShare"]) == (
        ANA.sub,
        1,
        12.0,
        0.0,
    )
    csv_answer = call(http_event("GET", "/admin/summary.csv", BOSS, query={"hours": "2"}))
    assert csv_answer["headers"]["Content-Type"].startswith("text/csv")
    assert csv_answer["body"].splitlines()[1].startswith(f"{ANA.sub},1,0.5,12.0,0.0,,0,")


def test_a_reviewer_below_the_gold_threshold_raises_an_event(
    team_api: Callable[..., Any], add_task: AddTask, tmp_path: Any
) -> None:
    from hitl_core.review_priority import PriorityRule
    from review_service.builders import BUS, REGION
    from review_service.test_task_store import MODEL_CAT, gold_manifest_text

    manifest = tmp_path / "gold.manifest"
    manifest.write_text(gold_manifest_text())
    sqs = boto3.client("sqs", region_name=REGION)
    queue = sqs.create_queue(QueueName="gold-low")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events = boto3.client("events", region_name=REGION)
    events.put_rule(
        Name="gold", EventBusName=BUS, EventPattern=json.dumps({"detail-type": ["Reviewer Gold Score Low"]})
    )
    events.put_targets(Rule="gold", EventBusName=BUS, Targets=[{"Id": "q", "Arn": arn}])
    call = team_api({"gold": {"manifest": str(manifest), "share": 0.5, "min_score": 0.8, "min_tasks": 1}})
    add_task("cat-1")
    ordinary = json.loads(call(http_event("POST", "/tasks/next", ANA))["body"])
    call(http_event("POST", "/tasks/cat-1/answer", ANA, body=answer_body()))
    gold = json.loads(call(http_event("POST", "/tasks/next", ANA))["body"])
    assert gold["name"] != "cat-1" and gold.keys() == ordinary.keys(), "a gold task looks like any task"
    assert gold["claimedByYou"] and gold["priority"] == PriorityRule().base_priority([MODEL_CAT["score"]])
    shown, usual = gold["inputContent"], ordinary["inputContent"]
    assert shown["taskObject"] == "s3://hitl-input/gold/cat-known.jpg" and shown.keys() == usual.keys()
    assert shown["labels"] == usual["labels"], "the labels any task offers"
    assert shown["initialValue"] == [{k: MODEL_CAT[k] for k in usual["initialValue"][0]}], "the model's box"
    assert shown["initialScores"] == [MODEL_CAT["score"]] and "gold" not in gold
    answered = call(http_event("POST", f"/tasks/{gold['name']}/answer", ANA, body=answer_body(boxes=[])))
    assert answered["statusCode"] == 200
    (message,) = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    detail = json.loads(message["Body"])["detail"]
    assert (detail["reviewer"], detail["gold_score"], detail["gold_tasks"], detail["min_score"]) == (
        ANA.sub,
        0.0,
        1,
        0.8,
    )
    summary = json.loads(call(http_event("GET", "/admin/summary", BOSS))["body"])
    (ana,) = summary["reviewers"]
    assert (ana["goldScore"], ana["goldTasks"], ana["tasks"]) == (0.0, 1, 2)


def test_the_admin_summary_names_reviewers_as_they_signed_in_not_by_their_sub(
    team_api: Callable[..., Any], add_task: AddTask, clock: Clock
) -> None:
    from review_service.builders import User

    ana = User(ANA.sub, email="ana@example.com")
    ben_claims = {**BEN.claims(), "cognito:username": "ben"}
    call = team_api({})
    add_task("cat-1")
    add_task("cat-2")
    add_task("cat-3")
    first = json.loads(call(http_event("POST", "/tasks/next", ana))["body"])["name"]
    call(http_event("POST", f"/tasks/{first}/answer", ana, body=answer_body()))
    ben_next = http_event("POST", "/tasks/next", BEN)
    ben_next["requestContext"]["authorizer"]["jwt"]["claims"] = ben_claims
    served = json.loads(call(ben_next)["body"])["name"]
    ben_answer = http_event("POST", f"/tasks/{served}/answer", BEN, body=answer_body())
    ben_answer["requestContext"]["authorizer"]["jwt"]["claims"] = ben_claims
    call(ben_answer)
    last = json.loads(call(http_event("POST", "/tasks/next", ANA))["body"])["name"]
    call(http_event("POST", f"/tasks/{last}/answer", ANA, body=answer_body()))

    summary = json.loads(call(http_event("GET", "/admin/summary", BOSS))["body"])

    assert [(r["reviewer"], r["name"], r["tasks"]) for r in summary["reviewers"]] == [
        ("sub-ana", "ana@example.com", 2),
        ("sub-ben", "ben", 1),
    ]
    lines = call(http_event("GET", "/admin/summary.csv", BOSS))["body"].splitlines()
    assert lines[0].endswith(",agreement,name")
    assert lines[1].startswith("sub-ana,2,") and lines[1].endswith(",ana@example.com")


def refused_gold_serves_the_other_tasks(
    call: Callable[[dict[str, Any]], dict[str, Any]], add_task: AddTask, caplog: pytest.LogCaptureFixture
) -> str:
    """A bad gold manifest turns gold off, not the service: the next task is a normal one, and the team
    overview and an error log say why (returns the overview's problem)."""
    add_task("cat-1")
    served = call(http_event("POST", "/tasks/next", ANA))
    assert (served["statusCode"], json.loads(served["body"])["name"]) == (200, "cat-1")
    gold = json.loads(call(http_event("GET", "/admin/summary", BOSS))["body"])["gold"]
    assert gold["lines"] == 0 and gold["problem"]
    assert "gold tasks are off: the gold manifest was refused" in caplog.text
    return str(gold["problem"])


def test_a_gold_manifest_without_the_models_boxes_turns_gold_off_and_says_why(
    team_api: Callable[..., Any], add_task: AddTask, tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from review_service.test_task_store import gold_manifest_text

    line = json.loads(gold_manifest_text())
    del line["bounding-box-metadata"]["model-detections"]
    manifest = tmp_path / "gold.manifest"
    manifest.write_text(json.dumps(line) + "\n")

    problem = refused_gold_serves_the_other_tasks(
        team_api({"gold": {"manifest": str(manifest)}}), add_task, caplog
    )

    assert re.search(r"line 1: no model boxes .* run `hitl review gold predict", problem), problem


def test_a_gold_manifest_in_s3_with_an_image_outside_its_folder_turns_gold_off_and_says_why(
    team_api: Callable[..., Any], add_task: AddTask, caplog: pytest.LogCaptureFixture
) -> None:
    from review_service.test_task_store import gold_manifest_text

    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="team-gold")
    s3.put_object(Bucket="team-gold", Key="gold/gold.manifest", Body=gold_manifest_text().encode())

    call = team_api({"gold": {"manifest": "s3://team-gold/gold/gold.manifest"}})
    problem = refused_gold_serves_the_other_tasks(call, add_task, caplog)

    # The line's image is s3://hitl-input/gold/cat-known.jpg: not where the API's role may presign.
    assert "line 1: s3://hitl-input/gold/cat-known.jpg is not under s3://team-gold/gold/" in problem


def test_a_missing_gold_manifest_turns_gold_off_and_says_why(
    team_api: Callable[..., Any], add_task: AddTask, caplog: pytest.LogCaptureFixture
) -> None:
    call = team_api({"gold": {"manifest": "s3://team-gold/gold/gold.manifest"}})

    assert "NoSuchBucket" in refused_gold_serves_the_other_tasks(call, add_task, caplog)
