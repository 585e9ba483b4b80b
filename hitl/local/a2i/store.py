"""Durable storage of human loops and of the status events still to deliver (SQLite, WAL).

A loop's status change and the event announcing it are written in one transaction (an outbox),
so a crash can delay an event but never lose it.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hitl.local.a2i.loops import HumanLoop

DATABASE_FILE = "a2i.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS loops (
    name TEXT PRIMARY KEY,
    flow_definition_arn TEXT NOT NULL,
    creation_time TEXT NOT NULL,
    status TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS loops_by_flow ON loops (flow_definition_arn, creation_time, name);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    loop_name TEXT NOT NULL,
    entry TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class PendingEvent:
    """A PutEvents entry written with a status change and not yet delivered."""

    id: int
    loop_name: str
    entry: dict[str, Any]


@dataclass(frozen=True)
class Page:
    """Where a listing starts: after this (creation_time, name) in the listing's order."""

    creation_time: str
    name: str


class LoopStore:
    """Loops by name in `STATE_DIR/a2i.sqlite3`; safe to share between a server's threads."""

    def __init__(self, state_dir: str | Path) -> None:
        self.path = Path(state_dir) / DATABASE_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def insert(self, loop: HumanLoop) -> bool:
        """Add a new loop; False (and nothing written) when the name is taken."""
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO loops (name, flow_definition_arn, creation_time, status, body) "
                "VALUES (?, ?, ?, ?, ?)",
                (loop.name, loop.flow_definition_arn, loop.creation_time, str(loop.status), loop.to_json()),
            )
            return cursor.rowcount == 1

    def get(self, name: str) -> HumanLoop | None:
        with self._lock:
            row = self._db.execute("SELECT body FROM loops WHERE name = ?", (name,)).fetchone()
        return HumanLoop.from_json(row[0]) if row else None

    def replace(self, loop: HumanLoop, expected_status: str, event: dict[str, Any] | None = None) -> bool:
        """Store `loop` if the stored one still has `expected_status`, with its event in the outbox.

        False (and nothing written) when another change got there first.
        """
        with self._transaction() as db:
            cursor = db.execute(
                "UPDATE loops SET status = ?, body = ? WHERE name = ? AND status = ?",
                (str(loop.status), loop.to_json(), loop.name, expected_status),
            )
            if cursor.rowcount != 1:
                return False
            if event is not None:
                db.execute(
                    "INSERT INTO outbox (loop_name, entry) VALUES (?, ?)", (loop.name, json.dumps(event))
                )
            return True

    def delete(self, name: str, expected_status: str) -> bool:
        """Remove a loop if it still has `expected_status`; its pending events stay in the outbox."""
        with self._transaction() as db:
            cursor = db.execute("DELETE FROM loops WHERE name = ? AND status = ?", (name, expected_status))
            return cursor.rowcount == 1

    def list(
        self,
        flow_definition_arn: str | None,
        *,
        after: str | None = None,
        before: str | None = None,
        ascending: bool = True,
        start_after: Page | None = None,
        status: str | None = None,
        limit: int | None = None,
    ) -> list[HumanLoop]:
        """Loops ordered by (creation_time, name); `after`/`before` bound creation_time, exclusive."""
        clauses, params = [], []
        for column, value in (("flow_definition_arn", flow_definition_arn), ("status", status)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if after is not None:
            clauses.append("creation_time > ?")
            params.append(after)
        if before is not None:
            clauses.append("creation_time < ?")
            params.append(before)
        if start_after is not None:
            clauses.append(f"(creation_time, name) {'>' if ascending else '<'} (?, ?)")
            params.extend([start_after.creation_time, start_after.name])
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        order = "ASC" if ascending else "DESC"
        sql = f"SELECT body FROM loops {where} ORDER BY creation_time {order}, name {order}"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        with self._lock:
            rows = self._db.execute(sql, params).fetchall()
        return [HumanLoop.from_json(row[0]) for row in rows]

    def pending_events(self) -> list[PendingEvent]:
        """Undelivered events, oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT id, loop_name, entry FROM outbox ORDER BY id").fetchall()
        return [PendingEvent(row[0], row[1], json.loads(row[2])) for row in rows]

    def mark_delivered(self, event_id: int) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM outbox WHERE id = ?", (event_id,))
