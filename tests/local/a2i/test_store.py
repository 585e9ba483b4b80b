"""The SQLite loop store: one row per loop, compare-and-set changes, the event outbox, durability."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hitl.local.a2i.loops import FlowDefinition, HumanLoop, HumanLoopStatus, validate_start_request
from hitl.local.a2i.store import DATABASE_FILE, LoopStore, Page

FLOW = FlowDefinition(arn="arn:aws:sagemaker:us-east-1:123456789012:flow-definition/f", output_path="s3://o/")
OTHER_FLOW = FlowDefinition(
    arn="arn:aws:sagemaker:us-east-1:123456789012:flow-definition/g", output_path="s3://o/"
)
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def loop(name: str, seconds: int = 0, flow: FlowDefinition = FLOW) -> HumanLoop:
    body = {
        "HumanLoopName": name,
        "FlowDefinitionArn": flow.arn,
        "HumanLoopInput": {"InputContent": json.dumps({"n": name})},
    }
    return HumanLoop.start(validate_start_request(body), flow, T0 + timedelta(seconds=seconds))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[LoopStore]:
    opened = LoopStore(tmp_path)
    yield opened
    opened.close()


def test_a_name_is_stored_once(store: LoopStore) -> None:
    assert store.insert(loop("a")) is True
    assert store.insert(loop("a", seconds=5)) is False
    assert store.get("a") == loop("a")
    assert store.get("b") is None


def test_replace_changes_only_the_expected_status_and_writes_its_event_with_it(store: LoopStore) -> None:
    store.insert(loop("a"))
    stopped = loop("a").moved_to(HumanLoopStatus.STOPPED)
    assert store.replace(stopped, HumanLoopStatus.COMPLETED, {"e": 1}) is False
    assert store.pending_events() == []
    assert store.replace(stopped, HumanLoopStatus.IN_PROGRESS, {"e": 1}) is True
    assert store.get("a") == stopped
    [pending] = store.pending_events()
    assert (pending.loop_name, pending.entry) == ("a", {"e": 1})
    store.mark_delivered(pending.id)
    assert store.pending_events() == []


def test_delete_needs_the_expected_status_and_keeps_pending_events(store: LoopStore) -> None:
    store.insert(loop("a"))
    store.replace(loop("a").moved_to(HumanLoopStatus.STOPPED), HumanLoopStatus.IN_PROGRESS, {"e": 1})
    assert store.delete("a", HumanLoopStatus.IN_PROGRESS) is False
    assert store.delete("a", HumanLoopStatus.STOPPED) is True
    assert store.get("a") is None
    assert [event.loop_name for event in store.pending_events()] == ["a"]


def test_listing_orders_bounds_and_pages_by_creation_time_then_name(store: LoopStore) -> None:
    for name, seconds in [("c", 1), ("a", 2), ("b", 2), ("d", 3)]:
        store.insert(loop(name, seconds))
    store.insert(loop("x", 2, OTHER_FLOW))

    def names(**options: object) -> list[str]:
        return [found.name for found in store.list(FLOW.arn, **options)]  # type: ignore[arg-type]

    assert names() == ["c", "a", "b", "d"]
    assert names(ascending=False) == ["d", "b", "a", "c"]
    assert names(after=loop("c", 1).creation_time) == ["a", "b", "d"]
    assert names(before=loop("d", 3).creation_time) == ["c", "a", "b"]
    assert names(start_after=Page(loop("a", 2).creation_time, "a"), limit=2) == ["b", "d"]
    assert names(start_after=Page(loop("b", 2).creation_time, "b"), ascending=False) == ["a", "c"]
    assert [found.name for found in store.list(None)] == ["c", "a", "b", "x", "d"]


def test_listing_filters_by_status(store: LoopStore) -> None:
    store.insert(loop("a"))
    store.insert(loop("b", 1))
    store.replace(loop("b", 1).moved_to(HumanLoopStatus.STOPPED), HumanLoopStatus.IN_PROGRESS)
    assert [found.name for found in store.list(None, status=HumanLoopStatus.STOPPED)] == ["b"]


def test_everything_survives_closing_and_reopening(tmp_path: Path) -> None:
    first = LoopStore(tmp_path)
    first.insert(loop("a"))
    first.replace(loop("a").moved_to(HumanLoopStatus.STOPPED), HumanLoopStatus.IN_PROGRESS, {"e": 1})
    first.close()
    again = LoopStore(tmp_path)
    assert again.get("a") == loop("a").moved_to(HumanLoopStatus.STOPPED)
    assert [event.entry for event in again.pending_events()] == [{"e": 1}]
    again.close()


def test_the_database_is_in_wal_mode_in_the_state_folder(store: LoopStore, tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / DATABASE_FILE) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
