"""A2I's status-change event: its exact entry, and putting it on EventBridge (moto's server)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import Stubber

from hitl.local.a2i.loops import FlowDefinition, HumanLoop, HumanLoopStatus, validate_start_request
from hitl.local.a2i.status_events import EventBridgeEmitter, EventDeliveryError, status_change_entry

from .conftest import AwsClients, EventQueue


def started(flow: FlowDefinition) -> HumanLoop:
    body = {"HumanLoopName": "pets", "FlowDefinitionArn": flow.arn, "HumanLoopInput": {"InputContent": "{}"}}
    return HumanLoop.start(validate_start_request(body), flow, datetime(2020, 5, 1, 18, 8, 47, tzinfo=UTC))


def test_the_entry_is_a2i_status_change_event(flow: FlowDefinition) -> None:
    loop = started(flow).moved_to(HumanLoopStatus.COMPLETED)
    entry = status_change_entry(loop, "2020-05-01T18:24:53.742Z")
    assert {k: v for k, v in entry.items() if k != "Detail"} == {
        "Time": "2020-05-01T18:24:53.742Z",
        "Source": "aws.sagemaker",
        "DetailType": "SageMaker A2I HumanLoop Status Change",
        "Resources": [loop.arn],
        "EventBusName": "default",
    }
    assert json.loads(entry["Detail"]) == {
        "creationTime": "2020-05-01T18:08:47.000Z",
        "failureCode": None,
        "failureReason": None,
        "flowDefinitionArn": flow.arn,
        "humanLoopArn": loop.arn,
        "humanLoopName": "pets",
        "humanLoopOutput": {
            "outputS3Uri": f"{flow.output_path}{flow.name}/2020/05/01/18/08/47/pets/output.json"
        },
        "humanLoopStatus": "Completed",
    }


def test_a_failed_loop_event_carries_its_failure(flow: FlowDefinition) -> None:
    loop = started(flow).moved_to(
        HumanLoopStatus.FAILED, failure_code="Expired", failure_reason="nobody came"
    )
    detail = json.loads(status_change_entry(loop, "2020-05-02T00:00:00.000Z")["Detail"])
    assert (detail["humanLoopStatus"], detail["failureCode"], detail["failureReason"]) == (
        "Failed",
        "Expired",
        "nobody came",
    )


def test_emitted_events_reach_a_default_bus_rule(
    aws: AwsClients, flow: FlowDefinition, event_queue: EventQueue
) -> None:
    loop = started(flow).moved_to(HumanLoopStatus.STOPPED)
    EventBridgeEmitter(aws.events).emit(status_change_entry(loop, "2020-05-01T18:30:00.000Z"))
    [event] = event_queue.receive(1)
    assert event["source"] == "aws.sagemaker"
    assert event["detail-type"] == "SageMaker A2I HumanLoop Status Change"
    assert event["resources"] == [loop.arn]
    assert event["time"] == "2020-05-01T18:30:00Z"
    assert event["detail"]["humanLoopStatus"] == "Stopped"


def test_a_refused_entry_is_a_delivery_error(flow: FlowDefinition) -> None:
    events = boto3.client("events", region_name="us-east-1")
    with Stubber(events) as stub:
        stub.add_response(
            "put_events",
            {
                "FailedEntryCount": 1,
                "Entries": [{"ErrorCode": "InternalFailure", "ErrorMessage": "try later"}],
            },
        )
        with pytest.raises(EventDeliveryError, match="InternalFailure try later"):
            EventBridgeEmitter(events).emit(status_change_entry(started(flow), "2020-05-01T18:30:00.000Z"))


def test_an_unreachable_bus_is_a_delivery_error(flow: FlowDefinition) -> None:
    events = boto3.client("events", region_name="us-east-1", endpoint_url="http://127.0.0.1:9")
    with pytest.raises(EventDeliveryError, match="PutEvents failed"):
        EventBridgeEmitter(events).emit(status_change_entry(started(flow), "2020-05-01T18:30:00.000Z"))
