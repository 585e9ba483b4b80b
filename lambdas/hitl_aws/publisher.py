"""Publish event details on the project's EventBridge bus."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hitl_core.events import EventDetail, put_events_entry

PUT_EVENTS_MAX_ENTRIES = 10


class PublishError(RuntimeError):
    """EventBridge refused some entries; the caller fails the message so it is retried."""


class EventPublisher:
    """Sends events in PutEvents-sized chunks and fails loudly on any refused entry."""

    def __init__(self, events_client: Any, bus_name: str) -> None:
        self._client = events_client
        self._bus_name = bus_name

    def publish(self, details: Sequence[EventDetail]) -> None:
        entries = [put_events_entry(d, self._bus_name) for d in details]
        for start in range(0, len(entries), PUT_EVENTS_MAX_ENTRIES):
            chunk = entries[start : start + PUT_EVENTS_MAX_ENTRIES]
            response = self._client.put_events(Entries=chunk)
            if response.get("FailedEntryCount"):
                failures = [
                    f"{entry['DetailType']}: {result.get('ErrorCode')} {result.get('ErrorMessage')}"
                    for entry, result in zip(chunk, response["Entries"], strict=True)
                    if "ErrorCode" in result
                ]
                raise PublishError(f"EventBridge refused {len(failures)} event(s): {'; '.join(failures)}")
