"""Answers checked against their loop, A2I's humanAnswers entry, output.json, the simulated reviewer."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from hitl.local.a2i.answers import SIMULATED_WORKER_ID, human_answer, output_document, simulated_answer
from hitl.local.a2i.errors import ValidationException
from hitl.local.a2i.loops import FlowDefinition, HumanLoop, validate_start_request

NOW = datetime(2024, 3, 4, 5, 6, 7, 250000, tzinfo=UTC)
FLOW = FlowDefinition(arn="arn:aws:sagemaker:us-east-1:123456789012:flow-definition/f", output_path="s3://o/")


def make_loop(content: dict[str, Any]) -> HumanLoop:
    body = {
        "HumanLoopName": "pets",
        "FlowDefinitionArn": FLOW.arn,
        "HumanLoopInput": {"InputContent": json.dumps(content)},
    }
    return HumanLoop.start(validate_start_request(body), FLOW, datetime(2024, 3, 4, tzinfo=UTC))


@pytest.fixture
def loop(input_content: dict[str, Any]) -> HumanLoop:
    return make_loop(input_content)


def answer(boxes: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    result = {"boundingBoxes": boxes, "inputImageProperties": {"width": 640, "height": 480}}
    return {"answerContent": {"annotatedResult": result}, "workerId": "ana", **extra}


CAT = {"label": "cat", "left": 10, "top": 20, "width": 200, "height": 150}
DOG = {"label": "dog", "left": 300, "top": 100, "width": 120, "height": 90}


def test_an_answer_becomes_a2i_human_answer_entry(loop: HumanLoop) -> None:
    entry = human_answer(loop, answer([CAT], timeSpentInSeconds=12.5), NOW)
    assert entry == {
        "acceptanceTime": "2024-03-04T05:05:54.750Z",
        "answerContent": {
            "annotatedResult": {
                "boundingBoxes": [CAT],
                "inputImageProperties": {"width": 640, "height": 480},
                "initialValueModified": True,
            }
        },
        "submissionTime": "2024-03-04T05:06:07.250Z",
        "timeSpentInSeconds": 12.5,
        "workerId": "ana",
        "workerMetadata": {
            "identityData": {"identityProviderType": "LocalA2I", "issuer": "hitl-local-a2i", "sub": "ana"}
        },
    }


def test_initial_value_modified_is_false_for_the_proposed_boxes_in_any_order(loop: HumanLoop) -> None:
    entry = human_answer(loop, answer([DOG, CAT]), NOW)
    assert entry["answerContent"]["annotatedResult"]["initialValueModified"] is False


def test_initial_value_modified_as_the_reviewer_reports_it_is_kept(loop: HumanLoop) -> None:
    body = answer([CAT, DOG])
    body["answerContent"]["annotatedResult"]["initialValueModified"] = True
    assert human_answer(loop, body, NOW)["answerContent"]["annotatedResult"]["initialValueModified"] is True


def test_without_an_initial_value_there_is_no_initial_value_modified(input_content: dict[str, Any]) -> None:
    content = {k: v for k, v in input_content.items() if k != "initialValue"}
    entry = human_answer(make_loop(content), answer([]), NOW)
    assert "initialValueModified" not in entry["answerContent"]["annotatedResult"]
    body = answer([])
    body["answerContent"]["annotatedResult"]["initialValueModified"] = False
    with pytest.raises(ValidationException, match="no initialValue"):
        human_answer(make_loop(content), body, NOW)


def test_an_explicit_acceptance_time_is_kept(loop: HumanLoop) -> None:
    entry = human_answer(loop, answer([], acceptanceTime="2024-03-04T05:00:00Z"), NOW)
    assert entry["acceptanceTime"] == "2024-03-04T05:00:00.000Z"
    assert entry["answerContent"]["annotatedResult"]["boundingBoxes"] == []


def bad(body: dict[str, Any], path: list[Any], value: Any) -> dict[str, Any]:
    body = copy.deepcopy(body)
    target = body
    for step in path[:-1]:
        target = target[step]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return body


BOX0 = ["answerContent", "annotatedResult", "boundingBoxes", 0]


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (["workerId"], KeyError, "workerId"),
        (["workerId"], "", "workerId"),
        (["answerContent", "annotatedResult"], KeyError, "annotatedResult"),
        (["answerContent", "extra"], 1, "extra"),
        ([*BOX0, "left"], 10.5, "left"),
        ([*BOX0, "left"], "10", "left"),
        ([*BOX0, "left"], -1, "left"),
        ([*BOX0, "width"], 0, "width"),
        ([*BOX0, "colour"], "red", "colour"),
        ([*BOX0, "label"], "horse", "not one of the task's labels"),
        ([*BOX0, "width"], 631, "outside"),
        ([*BOX0, "height"], 461, "outside"),
        (["answerContent", "annotatedResult", "inputImageProperties", "width"], 641, "imageSize"),
        (["timeSpentInSeconds"], -1, "timeSpentInSeconds"),
        (["acceptanceTime"], "soon", "acceptanceTime"),
    ],
)
def test_answers_that_do_not_fit_their_loop_are_refused(
    loop: HumanLoop, path: list[Any], value: Any, message: str
) -> None:
    with pytest.raises(ValidationException, match=message):
        human_answer(loop, bad(answer([CAT]), path, value), NOW)


@pytest.mark.parametrize("body", [None, [], "answer"])
def test_a_body_that_is_not_an_object_is_refused(loop: HumanLoop, body: Any) -> None:
    with pytest.raises(ValidationException, match="Invalid answer"):
        human_answer(loop, body, NOW)


def test_output_document_is_a2i_custom_task_output(loop: HumanLoop, input_content: dict[str, Any]) -> None:
    entry = human_answer(loop, answer([CAT]), NOW)
    document = output_document(loop.moved_to(loop.status, answers=(entry,)))
    assert document == {
        "flowDefinitionArn": FLOW.arn,
        "humanAnswers": [entry],
        "humanLoopName": "pets",
        "inputContent": input_content,
    }


def test_the_simulated_reviewer_accepts_the_proposed_boxes(
    loop: HumanLoop, input_content: dict[str, Any]
) -> None:
    body = simulated_answer(input_content)
    assert body["workerId"] == SIMULATED_WORKER_ID
    entry = human_answer(loop, body, NOW)
    result = entry["answerContent"]["annotatedResult"]
    assert result["boundingBoxes"] == [CAT, DOG]
    assert result["initialValueModified"] is False
    assert result["inputImageProperties"] == {"width": 640, "height": 480}
