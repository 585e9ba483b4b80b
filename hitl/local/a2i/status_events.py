"""A2I's "SageMaker A2I HumanLoop Status Change" event, and putting it on an EventBridge bus."""

from __future__ import annotations

import json
from typing import Any

from hitl.local.a2i.loops import HumanLoop
from hitl_core.review_tasks import parse_timestamp

EVENT_SOURCE = "aws.sagemaker"
DETAIL_TYPE = "SageMaker A2I HumanLoop Status Change"
DEFAULT_BUS = "default"


class EventDeliveryError(RuntimeError):
    """EventBridge did not take the event; it stays pending and is sent again later."""


def status_change_entry(loop: HumanLoop, time: str, bus_name: str = DEFAULT_BUS) -> dict[str, Any]:
    """The PutEvents entry A2I sends when `loop` reaches its status (`time`: ISO 8601)."""
    detail = {
        "creationTime": loop.creation_time,
        "failureCode": loop.failure_code,
        "failureReason": loop.failure_reason,
        "flowDefinitionArn": loop.flow_definition_arn,
        "humanLoopArn": loop.arn,
        "humanLoopName": loop.name,
        "humanLoopOutput": {"outputS3Uri": loop.output_s3_uri},
        "humanLoopStatus": str(loop.status),
    }
    return {
        "Time": time,
        "Source": EVENT_SOURCE,
        "DetailType": DETAIL_TYPE,
        "Resources": [loop.arn],
        "Detail": json.dumps(detail),
        "EventBusName": bus_name,
    }


class EventBridgeEmitter:
    """Puts status-change entries on EventBridge with a boto3 `events` client."""

    def __init__(self, events_client: Any) -> None:
        self._events = events_client

    def emit(self, entry: dict[str, Any]) -> None:
        """Put one entry; EventDeliveryError when EventBridge refuses it or cannot be reached."""
        request = dict(entry, Time=parse_timestamp(entry["Time"]))
        try:
            response = self._events.put_events(Entries=[request])
        except Exception as err:  # any client or connection failure leaves the event pending
            raise EventDeliveryError(f"PutEvents failed: {err}") from err
        if response.get("FailedEntryCount"):
            failed = response["Entries"][0]
            raise EventDeliveryError(
                f"PutEvents refused the entry: {failed.get('ErrorCode')} {failed.get('ErrorMessage')}"
            )
