"""The runtime over HTTP: a boto3 `sagemaker-a2i-runtime` client sees A2I's shapes and error codes;
the `/local/` routes take answers and failures and show the work queue.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from hitl.local.a2i import FlowDefinition, simulated_answer
from hitl_core.human_loop import serialize_input_content

from .conftest import AwsClients, EventQueue, Served, a2i_client

pytestmark = pytest.mark.usefixtures("event_queue")


def error_code(call: Callable[[], Any]) -> tuple[str, int]:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response["Error"]["Code"], caught.value.response["ResponseMetadata"]["HTTPStatusCode"]


def submit(url: str, name: str, body: Any) -> requests.Response:
    sent = {"data": body} if isinstance(body, bytes) else {"json": body}
    return requests.post(f"{url}/local/human-loops/{name}/answers", timeout=10, **sent)


def read_output(aws: AwsClients, uri: str) -> dict[str, Any]:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    return json.loads(aws.s3.get_object(Bucket=bucket, Key=key)["Body"].read())


# --- StartHumanLoop / DescribeHumanLoop --------------------------------------------------------


def test_start_then_describe_gives_a2i_shapes(a2i: Any, flow: FlowDefinition, input_content: dict) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    started = a2i.start_human_loop(
        HumanLoopName="pets-1",
        FlowDefinitionArn=flow.arn,
        HumanLoopInput={"InputContent": serialize_input_content(input_content)},
        DataAttributes={"ContentClassifiers": ["FreeOfPersonallyIdentifiableInformation"]},
    )
    arn = "arn:aws:sagemaker:us-east-1:123456789012:human-loop/pets-1"
    assert started["HumanLoopArn"] == arn
    described = a2i.describe_human_loop(HumanLoopName="pets-1")
    described.pop("ResponseMetadata")
    created = described.pop("CreationTime")
    assert before <= created <= datetime.now(UTC)
    stamp = created.astimezone(UTC).strftime("%Y/%m/%d/%H/%M/%S")
    assert described == {
        "HumanLoopStatus": "InProgress",
        "HumanLoopName": "pets-1",
        "HumanLoopArn": arn,
        "FlowDefinitionArn": flow.arn,
        "HumanLoopOutput": {"OutputS3Uri": f"{flow.output_path}{flow.name}/{stamp}/pets-1/output.json"},
    }


@pytest.mark.parametrize("same_input", [True, False])
def test_starting_a_taken_name_is_a_conflict_and_changes_nothing(
    a2i: Any, flow: FlowDefinition, start_loop: Callable[..., str], input_content: dict, same_input: bool
) -> None:
    start_loop("pets-1")
    first = a2i.describe_human_loop(HumanLoopName="pets-1")
    content = input_content if same_input else {**input_content, "taskObject": "s3://other/x.jpg"}
    code = error_code(
        lambda: a2i.start_human_loop(
            HumanLoopName="pets-1",
            FlowDefinitionArn=flow.arn,
            HumanLoopInput={"InputContent": serialize_input_content(content)},
        )
    )
    assert code == ("ConflictException", 409)
    assert a2i.describe_human_loop(HumanLoopName="pets-1")["CreationTime"] == first["CreationTime"]


def test_concurrent_starts_of_one_name_create_one_loop(runtime_url: str, flow: FlowDefinition) -> None:
    def start(_: int) -> str:
        try:
            a2i_client(runtime_url).start_human_loop(
                HumanLoopName="raced", FlowDefinitionArn=flow.arn, HumanLoopInput={"InputContent": "{}"}
            )
        except ClientError as err:
            return err.response["Error"]["Code"]
        return "started"

    with ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = sorted(pool.map(start, range(6)))
    assert outcomes == ["ConflictException"] * 5 + ["started"]


@pytest.mark.parametrize(
    "changes",
    [
        {"HumanLoopName": "Pets"},
        {"HumanLoopName": "p" * 64},
        {"FlowDefinitionArn": "arn:aws:sagemaker:us-east-1:123456789012:workteam/x"},
        {"FlowDefinitionArn": "arn:aws:sagemaker:us-east-1:123456789012:flow-definition/not-configured"},
        {"HumanLoopInput": {"InputContent": "not json"}},
        {"HumanLoopInput": {"InputContent": json.dumps({"x": "y" * 3_145_728})}},
        {"DataAttributes": {"ContentClassifiers": ["FreeOfSpoilers"]}},
    ],
)
def test_bad_start_requests_are_validation_errors(a2i: Any, flow: FlowDefinition, changes: dict) -> None:
    request = {
        "HumanLoopName": "pets",
        "FlowDefinitionArn": flow.arn,
        "HumanLoopInput": {"InputContent": "{}"},
    }
    assert error_code(lambda: a2i.start_human_loop(**(request | changes))) == ("ValidationException", 400)


def test_describing_an_unknown_loop_is_not_found(a2i: Any) -> None:
    assert error_code(lambda: a2i.describe_human_loop(HumanLoopName="nobody")) == (
        "ResourceNotFoundException",
        404,
    )
    assert error_code(lambda: a2i.describe_human_loop(HumanLoopName="No_Body")) == (
        "ValidationException",
        400,
    )


# --- ListHumanLoops ------------------------------------------------------------------------------


class SteppingClock:
    """A clock that moves one minute per reading, so each loop has its own creation time."""

    def __init__(self) -> None:
        self.moment = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.moment += timedelta(minutes=1)
        return self.moment


@pytest.fixture
def listed(make_app: Callable[..., Any], serve: Callable[..., Served], flow: FlowDefinition) -> Any:
    """A runtime holding loops l1..l5 created a minute apart (12:01..12:05)."""
    client = a2i_client(serve(make_app(clock=SteppingClock())).url)
    for i in range(1, 6):
        client.start_human_loop(
            HumanLoopName=f"l{i}", FlowDefinitionArn=flow.arn, HumanLoopInput={"InputContent": "{}"}
        )
    return client


def names(page: dict) -> list[str]:
    return [item["HumanLoopName"] for item in page["HumanLoopSummaries"]]


def test_list_is_newest_first_by_default_and_oldest_first_when_asked(
    listed: Any, flow: FlowDefinition
) -> None:
    newest_first = listed.list_human_loops(FlowDefinitionArn=flow.arn)
    assert names(newest_first) == ["l5", "l4", "l3", "l2", "l1"]
    assert "NextToken" not in newest_first
    assert set(newest_first["HumanLoopSummaries"][0]) == {
        "HumanLoopName",
        "HumanLoopStatus",
        "CreationTime",
        "FlowDefinitionArn",
    }
    assert names(listed.list_human_loops(FlowDefinitionArn=flow.arn, SortOrder="Ascending")) == [
        "l1",
        "l2",
        "l3",
        "l4",
        "l5",
    ]


def test_list_filters_by_creation_time(listed: Any, flow: FlowDefinition) -> None:
    page = listed.list_human_loops(
        FlowDefinitionArn=flow.arn,
        CreationTimeAfter=datetime(2024, 6, 1, 12, 1, 30, tzinfo=UTC),
        CreationTimeBefore=datetime(2024, 6, 1, 12, 4, tzinfo=UTC),
        SortOrder="Ascending",
    )
    assert names(page) == ["l2", "l3"]


@pytest.mark.parametrize("order", ["Ascending", "Descending"])
def test_list_pages_with_next_token(listed: Any, flow: FlowDefinition, order: str) -> None:
    first = listed.list_human_loops(FlowDefinitionArn=flow.arn, SortOrder=order, MaxResults=2)
    assert len(first["HumanLoopSummaries"]) == 2 and "NextToken" in first
    pages = listed.get_paginator("list_human_loops").paginate(
        FlowDefinitionArn=flow.arn, SortOrder=order, PaginationConfig={"PageSize": 2}
    )
    collected = [name for page in pages for name in names(page)]
    expected = ["l1", "l2", "l3", "l4", "l5"]
    assert collected == (expected if order == "Ascending" else expected[::-1])


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        (
            {"FlowDefinitionArn": "arn:aws:sagemaker:us-east-1:123456789012:flow-definition/unknown"},
            "ResourceNotFoundException",
        ),
        ({"FlowDefinitionArn": "not-an-arn"}, "ValidationException"),
        ({"MaxResults": 101}, "ValidationException"),
        ({"SortOrder": "Sideways"}, "ValidationException"),
        ({"NextToken": "garbage"}, "ValidationException"),
    ],
)
def test_bad_list_requests_are_refused(listed: Any, flow: FlowDefinition, changes: dict, code: str) -> None:
    assert (
        error_code(lambda: listed.list_human_loops(**({"FlowDefinitionArn": flow.arn} | changes)))[0] == code
    )


def test_a_next_token_only_continues_its_own_listing(listed: Any, flow: FlowDefinition) -> None:
    token = listed.list_human_loops(FlowDefinitionArn=flow.arn, MaxResults=1)["NextToken"]
    call = lambda: listed.list_human_loops(FlowDefinitionArn=flow.arn, SortOrder="Ascending", NextToken=token)  # noqa: E731
    assert error_code(call) == ("ValidationException", 400)


# --- StopHumanLoop / DeleteHumanLoop ----------------------------------------------------------


def test_stop_moves_a_loop_to_stopped_and_announces_it_once(
    a2i: Any, start_loop: Callable[..., str], event_queue: EventQueue
) -> None:
    start_loop("pets-1")
    assert a2i.stop_human_loop(HumanLoopName="pets-1")["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert a2i.describe_human_loop(HumanLoopName="pets-1")["HumanLoopStatus"] == "Stopped"
    a2i.stop_human_loop(HumanLoopName="pets-1")
    events = event_queue.receive(2, timeout=3)
    assert [event["detail"]["humanLoopStatus"] for event in events] == ["Stopped"]
    assert events[0]["detail"]["humanLoopName"] == "pets-1"


def test_stop_refuses_unknown_and_finished_loops(
    a2i: Any, runtime_url: str, start_loop: Callable[..., str], input_content: dict
) -> None:
    assert error_code(lambda: a2i.stop_human_loop(HumanLoopName="nobody")) == (
        "ResourceNotFoundException",
        404,
    )
    start_loop("pets-1")
    assert submit(runtime_url, "pets-1", simulated_answer(input_content)).status_code == 200
    assert error_code(lambda: a2i.stop_human_loop(HumanLoopName="pets-1")) == ("ValidationException", 400)


def test_delete_needs_a_stopped_loop_and_then_forgets_it(
    a2i: Any, flow: FlowDefinition, start_loop: Callable[..., str]
) -> None:
    start_loop("pets-1")
    assert error_code(lambda: a2i.delete_human_loop(HumanLoopName="pets-1")) == ("ValidationException", 400)
    a2i.stop_human_loop(HumanLoopName="pets-1")
    a2i.delete_human_loop(HumanLoopName="pets-1")
    assert (
        error_code(lambda: a2i.describe_human_loop(HumanLoopName="pets-1"))[0] == "ResourceNotFoundException"
    )
    assert error_code(lambda: a2i.delete_human_loop(HumanLoopName="pets-1"))[0] == "ResourceNotFoundException"
    assert names(a2i.list_human_loops(FlowDefinitionArn=flow.arn)) == []
    start_loop("pets-1")
    assert a2i.describe_human_loop(HumanLoopName="pets-1")["HumanLoopStatus"] == "InProgress"


# --- the answer-submit call ---------------------------------------------------------------------


def test_an_answer_completes_the_loop_writes_output_json_and_announces_it(
    a2i: Any,
    aws: AwsClients,
    runtime_url: str,
    flow: FlowDefinition,
    start_loop: Callable[..., str],
    input_content: dict,
    event_queue: EventQueue,
) -> None:
    start_loop("pets-1")
    cat = {"label": "cat", "left": 12, "top": 20, "width": 190, "height": 150}
    body = {
        "answerContent": {
            "annotatedResult": {"boundingBoxes": [cat], "inputImageProperties": {"width": 640, "height": 480}}
        },
        "workerId": "ana",
        "timeSpentInSeconds": 42,
    }
    reply = submit(runtime_url, "pets-1", body)
    assert reply.status_code == 200
    assert reply.json()["humanLoopStatus"] == "Completed"

    described = a2i.describe_human_loop(HumanLoopName="pets-1")
    assert described["HumanLoopStatus"] == "Completed"
    uri = described["HumanLoopOutput"]["OutputS3Uri"]
    stamp = described["CreationTime"].astimezone(UTC).strftime("%Y/%m/%d/%H/%M/%S")
    assert uri == f"{flow.output_path}{flow.name}/{stamp}/pets-1/output.json"

    output = read_output(aws, uri)
    [human] = output.pop("humanAnswers")
    assert output == {"flowDefinitionArn": flow.arn, "humanLoopName": "pets-1", "inputContent": input_content}
    assert human["answerContent"] == {
        "annotatedResult": {
            "boundingBoxes": [cat],
            "inputImageProperties": {"width": 640, "height": 480},
            "initialValueModified": True,
        }
    }
    assert (human["workerId"], human["timeSpentInSeconds"]) == ("ana", 42)
    assert human["workerMetadata"]["identityData"]["sub"] == "ana"
    submitted = datetime.fromisoformat(human["submissionTime"].replace("Z", "+00:00"))
    accepted = datetime.fromisoformat(human["acceptanceTime"].replace("Z", "+00:00"))
    assert abs((submitted - accepted).total_seconds() - 42) < 0.002

    [event] = event_queue.receive(1)
    assert event["source"] == "aws.sagemaker"
    assert event["detail-type"] == "SageMaker A2I HumanLoop Status Change"
    assert event["resources"] == [described["HumanLoopArn"]]
    assert event["detail"] == {
        "creationTime": described["CreationTime"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{described['CreationTime'].microsecond // 1000:03d}Z",
        "failureCode": None,
        "failureReason": None,
        "flowDefinitionArn": flow.arn,
        "humanLoopArn": described["HumanLoopArn"],
        "humanLoopName": "pets-1",
        "humanLoopOutput": {"outputS3Uri": uri},
        "humanLoopStatus": "Completed",
    }


def test_a_bad_answer_is_refused_and_the_loop_stays_open(
    a2i: Any, runtime_url: str, start_loop: Callable[..., str], input_content: dict
) -> None:
    start_loop("pets-1")
    body = simulated_answer(input_content)
    body["answerContent"]["annotatedResult"]["boundingBoxes"][0]["label"] = "unicorn"
    reply = submit(runtime_url, "pets-1", body)
    assert reply.status_code == 400
    assert reply.headers["x-amzn-ErrorType"] == "ValidationException"
    assert "unicorn" in reply.json()["Message"]
    assert a2i.describe_human_loop(HumanLoopName="pets-1")["HumanLoopStatus"] == "InProgress"
    assert submit(runtime_url, "pets-1", b"not json").status_code == 400


def test_answers_to_unknown_or_finished_loops_are_refused(
    runtime_url: str, start_loop: Callable[..., str], input_content: dict
) -> None:
    assert submit(runtime_url, "nobody", simulated_answer(input_content)).status_code == 404
    start_loop("pets-1")
    assert submit(runtime_url, "pets-1", simulated_answer(input_content)).status_code == 200
    again = submit(runtime_url, "pets-1", simulated_answer(input_content, worker_id="bob"))
    assert (again.status_code, again.json()["__type"]) == (409, "ConflictException")


def test_with_a_task_count_of_two_the_loop_waits_for_two_different_workers(
    aws: AwsClients,
    make_app: Callable[..., Any],
    serve: Callable[..., Served],
    flow: FlowDefinition,
    input_content: dict,
) -> None:
    two = FlowDefinition(arn=flow.arn, output_path=flow.output_path, task_count=2)
    url = serve(make_app(flow=two)).url
    client = a2i_client(url)
    client.start_human_loop(
        HumanLoopName="pets-1",
        FlowDefinitionArn=flow.arn,
        HumanLoopInput={"InputContent": serialize_input_content(input_content)},
    )
    first = submit(url, "pets-1", simulated_answer(input_content, worker_id="ana"))
    assert (first.json()["humanLoopStatus"], first.json()["answersReceived"]) == ("InProgress", 1)
    assert submit(url, "pets-1", simulated_answer(input_content, worker_id="ana")).status_code == 409
    second = submit(url, "pets-1", simulated_answer(input_content, worker_id="bob"))
    assert second.json()["humanLoopStatus"] == "Completed"
    output = read_output(
        aws, client.describe_human_loop(HumanLoopName="pets-1")["HumanLoopOutput"]["OutputS3Uri"]
    )
    assert [answer["workerId"] for answer in output["humanAnswers"]] == ["ana", "bob"]


def test_an_output_write_failure_is_an_internal_error_and_the_loop_stays_open(
    make_app: Callable[..., Any],
    serve: Callable[..., Served],
    flow: FlowDefinition,
    input_content: dict,
    event_queue: EventQueue,
) -> None:
    class BrokenWriter:
        def write(self, uri: str, document: dict) -> None:
            raise OSError("disk on fire")

    url = serve(make_app(writer=BrokenWriter())).url
    client = a2i_client(url)
    client.start_human_loop(
        HumanLoopName="pets-1",
        FlowDefinitionArn=flow.arn,
        HumanLoopInput={"InputContent": serialize_input_content(input_content)},
    )
    reply = submit(url, "pets-1", simulated_answer(input_content))
    assert (reply.status_code, reply.json()["__type"]) == (500, "InternalServerException")
    assert client.describe_human_loop(HumanLoopName="pets-1")["HumanLoopStatus"] == "InProgress"
    assert event_queue.receive(1, timeout=2) == []


# --- failures and the local listing -------------------------------------------------------------


def test_a_failed_loop_reports_its_failure_everywhere(
    a2i: Any, runtime_url: str, flow: FlowDefinition, start_loop: Callable[..., str], event_queue: EventQueue
) -> None:
    start_loop("pets-1")
    failure = {"failureCode": "Expired", "failureReason": "No worker took the task in time"}
    reply = requests.post(f"{runtime_url}/local/human-loops/pets-1/failure", json=failure, timeout=10)
    assert reply.json()["humanLoopStatus"] == "Failed"
    described = a2i.describe_human_loop(HumanLoopName="pets-1")
    assert (described["FailureCode"], described["FailureReason"]) == ("Expired", failure["failureReason"])
    [summary] = a2i.list_human_loops(FlowDefinitionArn=flow.arn)["HumanLoopSummaries"]
    assert (summary["HumanLoopStatus"], summary["FailureReason"]) == ("Failed", failure["failureReason"])
    [event] = event_queue.receive(1)
    assert (event["detail"]["humanLoopStatus"], event["detail"]["failureCode"]) == ("Failed", "Expired")
    bad = requests.post(
        f"{runtime_url}/local/human-loops/pets-1/failure", json={"failureCode": "Bored"}, timeout=10
    )
    assert bad.status_code == 400


def test_the_local_listing_shows_the_work_queue_with_input_content(
    a2i: Any, runtime_url: str, start_loop: Callable[..., str], input_content: dict
) -> None:
    for name in ("first", "second", "third"):
        start_loop(name)
    a2i.stop_human_loop(HumanLoopName="second")
    queue = requests.get(
        f"{runtime_url}/local/human-loops", params={"status": "InProgress"}, timeout=10
    ).json()
    assert [item["humanLoopName"] for item in queue["humanLoops"]] == ["first", "third"]
    assert queue["humanLoops"][0]["inputContent"] == input_content
    assert (queue["humanLoops"][0]["answersReceived"], queue["humanLoops"][0]["answersRequired"]) == (0, 1)
    everything = requests.get(f"{runtime_url}/local/human-loops", timeout=10).json()["humanLoops"]
    assert [item["humanLoopStatus"] for item in everything] == ["InProgress", "Stopped", "InProgress"]
    one = requests.get(f"{runtime_url}/local/human-loops/second", timeout=10).json()
    assert (one["humanLoopName"], one["humanLoopStatus"]) == ("second", "Stopped")
    refused = requests.get(f"{runtime_url}/local/human-loops", params={"status": "Asleep"}, timeout=10)
    assert refused.status_code == 400


def test_unknown_routes_answer_with_a_json_error(runtime_url: str) -> None:
    reply = requests.get(f"{runtime_url}/no-such-thing", timeout=10)
    assert (reply.status_code, reply.json()["__type"]) == (404, "UnknownOperationException")
    health = requests.get(f"{runtime_url}/local/health", timeout=10)
    assert health.json()["status"] == "ok"
