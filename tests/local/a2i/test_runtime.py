"""Nothing is lost across restarts: loops stay as they were, interrupted stops finish, and status
events that were not delivered (EventBridge down, crash before emitting) go out later.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from hitl.local.a2i import EventBridgeEmitter, FlowDefinition, LoopStore, simulated_answer
from hitl.local.a2i.loops import HumanLoopStatus
from hitl.local.a2i.runtime import A2IRuntime
from hitl.local.a2i.status_events import EventDeliveryError
from hitl_core.human_loop import serialize_input_content

from .conftest import AwsClients, EventQueue, Served, a2i_client


class DownEmitter:
    """EventBridge unreachable: every emit fails, as a crash before emitting would leave things."""

    def __init__(self) -> None:
        self.attempts = 0

    def emit(self, entry: dict[str, Any]) -> None:
        self.attempts += 1
        raise EventDeliveryError("EventBridge is down")


class FlakyEmitter:
    """Fails its first emit, then passes entries on to a real emitter."""

    def __init__(self, real: EventBridgeEmitter) -> None:
        self.real, self.failed = real, False

    def emit(self, entry: dict[str, Any]) -> None:
        if not self.failed:
            self.failed = True
            raise EventDeliveryError("first call fails")
        self.real.emit(entry)


def submit(url: str, name: str, body: dict[str, Any]) -> requests.Response:
    return requests.post(f"{url}/local/human-loops/{name}/answers", json=body, timeout=10)


def start(client: Any, flow: FlowDefinition, name: str, content: dict[str, Any]) -> None:
    client.start_human_loop(
        HumanLoopName=name,
        FlowDefinitionArn=flow.arn,
        HumanLoopInput={"InputContent": serialize_input_content(content)},
    )


def describe_all(client: Any, names: list[str]) -> list[dict[str, Any]]:
    return [
        {k: v for k, v in client.describe_human_loop(HumanLoopName=name).items() if k != "ResponseMetadata"}
        for name in names
    ]


def test_a_restart_mid_way_loses_nothing(
    aws: AwsClients,
    make_app: Callable[..., Any],
    serve: Callable[..., Served],
    flow: FlowDefinition,
    input_content: dict[str, Any],
    event_queue: EventQueue,
) -> None:
    first = serve(make_app())
    client = a2i_client(first.url)
    names = ["done", "stopped", "open"]
    for name in names:
        start(client, flow, name, input_content)
    assert submit(first.url, "done", simulated_answer(input_content)).status_code == 200
    client.stop_human_loop(HumanLoopName="stopped")
    before = describe_all(client, names)
    listing_before = client.list_human_loops(FlowDefinitionArn=flow.arn)["HumanLoopSummaries"]
    first.stop()

    second = serve(make_app())
    client = a2i_client(second.url)
    assert describe_all(client, names) == before
    assert client.list_human_loops(FlowDefinitionArn=flow.arn)["HumanLoopSummaries"] == listing_before
    assert submit(second.url, "open", simulated_answer(input_content)).status_code == 200
    assert client.describe_human_loop(HumanLoopName="open")["HumanLoopStatus"] == "Completed"
    for name in ("done", "open"):
        uri = client.describe_human_loop(HumanLoopName=name)["HumanLoopOutput"]["OutputS3Uri"]
        bucket, key = uri.removeprefix("s3://").split("/", 1)
        assert json.loads(aws.s3.get_object(Bucket=bucket, Key=key)["Body"].read())["humanLoopName"] == name

    events = event_queue.receive(3)
    assert sorted((e["detail"]["humanLoopName"], e["detail"]["humanLoopStatus"]) for e in events) == [
        ("done", "Completed"),
        ("open", "Completed"),
        ("stopped", "Stopped"),
    ]


def test_events_not_delivered_before_a_restart_are_sent_on_start_up(
    aws: AwsClients,
    make_app: Callable[..., Any],
    serve: Callable[..., Served],
    flow: FlowDefinition,
    input_content: dict[str, Any],
    event_queue: EventQueue,
    state_dir: Path,
) -> None:
    down = DownEmitter()
    first = serve(make_app(emitter=down))
    client = a2i_client(first.url)
    start(client, flow, "pets-1", input_content)
    start(client, flow, "pets-2", input_content)
    reply = submit(first.url, "pets-1", simulated_answer(input_content))
    assert (reply.status_code, reply.json()["humanLoopStatus"]) == (200, "Completed")
    client.stop_human_loop(HumanLoopName="pets-2")
    assert down.attempts >= 2
    assert event_queue.receive(1, timeout=2) == []
    first.stop()

    serve(make_app())
    events = event_queue.receive(2)
    assert [(e["detail"]["humanLoopName"], e["detail"]["humanLoopStatus"]) for e in events] == [
        ("pets-1", "Completed"),
        ("pets-2", "Stopped"),
    ]
    with_store = LoopStore(state_dir)
    assert with_store.pending_events() == []
    with_store.close()


def test_an_undelivered_event_goes_out_with_the_next_change(
    aws: AwsClients,
    make_app: Callable[..., Any],
    serve: Callable[..., Served],
    flow: FlowDefinition,
    input_content: dict[str, Any],
    event_queue: EventQueue,
) -> None:
    url = serve(make_app(emitter=FlakyEmitter(EventBridgeEmitter(aws.events)))).url
    client = a2i_client(url)
    start(client, flow, "pets-1", input_content)
    start(client, flow, "pets-2", input_content)
    client.stop_human_loop(HumanLoopName="pets-1")
    assert event_queue.receive(1, timeout=2) == []
    client.stop_human_loop(HumanLoopName="pets-2")
    events = event_queue.receive(2)
    assert [e["detail"]["humanLoopName"] for e in events] == ["pets-1", "pets-2"]


def test_a_stop_interrupted_by_a_crash_finishes_on_start_up(
    make_app: Callable[..., Any],
    serve: Callable[..., Served],
    flow: FlowDefinition,
    input_content: dict[str, Any],
    event_queue: EventQueue,
    state_dir: Path,
) -> None:
    first = serve(make_app())
    start(a2i_client(first.url), flow, "pets-1", input_content)
    first.stop()
    crashed = LoopStore(state_dir)
    loop = crashed.get("pets-1")
    assert loop is not None
    assert crashed.replace(loop.moved_to(HumanLoopStatus.STOPPING), HumanLoopStatus.IN_PROGRESS)
    crashed.close()

    client = a2i_client(serve(make_app()).url)
    assert client.describe_human_loop(HumanLoopName="pets-1")["HumanLoopStatus"] == "Stopped"
    [event] = event_queue.receive(1)
    assert event["detail"]["humanLoopStatus"] == "Stopped"


def test_deleting_a_loop_does_not_drop_its_pending_event(
    make_app: Callable[..., Any],
    serve: Callable[..., Served],
    flow: FlowDefinition,
    input_content: dict[str, Any],
    event_queue: EventQueue,
) -> None:
    first = serve(make_app(emitter=DownEmitter()))
    client = a2i_client(first.url)
    start(client, flow, "pets-1", input_content)
    client.stop_human_loop(HumanLoopName="pets-1")
    client.delete_human_loop(HumanLoopName="pets-1")
    first.stop()
    serve(make_app())
    [event] = event_queue.receive(1)
    assert (event["detail"]["humanLoopName"], event["detail"]["humanLoopStatus"]) == ("pets-1", "Stopped")


def test_a_runtime_needs_a_flow_definition(tmp_path: Path) -> None:
    store = LoopStore(tmp_path)
    with pytest.raises(ValueError, match="flow definition"):
        A2IRuntime(store, object(), DownEmitter(), [])  # type: ignore[arg-type]
    store.close()
