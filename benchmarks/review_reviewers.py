"""50 reviewers asking for their next task for a minute, through the review API as `hitl local up`
serves it (prints figures): no task served twice, none skipped while free.

The real handler in four forked execution environments behind the HTTP API stand-in, a moto server
as DynamoDB. Each reviewer loops: POST tasks/next, then answers the task served (one answer
completes a task, so a task served again would be a task served twice). A feeder adds tasks
whenever fewer than one per five reviewers are unserved, so the queue never runs dry for long,
yet reviewers meet it empty now and then, and each such 204 is checked.
A 204 is a skip when some task was free during the whole request: created before it began, and
served to nobody by a request that began before it ended (an unserved task holds no lease and
has no answer). Run: `.venv/bin/python -m benchmarks.review_reviewers`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import secrets
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests

from hitl.local.review_service.served_api import moto_server, served_review_api
from hitl.local.review_service.tokens import LocalTokens
from hitl_aws.review_task_table import ReviewTaskTable
from hitl_core import review_tasks

REVIEWERS = 50
SECONDS = 60.0
FEED_BATCH = 10
CAT = {"label": "cat", "left": 10, "top": 20, "width": 200, "height": 150}
CONTENT = json.dumps(
    {
        "taskObject": "s3://benchmark-input/incoming/cat.jpg",
        "labels": ["person", "car", "cat"],
        "initialValue": [CAT],
        "initialScores": [0.41],
        "imageSize": {"width": 640, "height": 480, "depth": 3},
    }
)
ANSWER = {
    "answerContent": {
        "annotatedResult": {"boundingBoxes": [CAT], "inputImageProperties": {"width": 640, "height": 480}}
    },
    "timeSpentInSeconds": 7,
}


@dataclass(frozen=True)
class Request:
    """One reviewer request: `next` or `answer`, when it began and ended, its status, the task."""

    kind: str
    started: float
    ended: float
    status: int
    task: str | None


class Ledger:
    """What the run saw: when each task was created and every request made."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.created: dict[str, float] = {}
        self.requests: list[Request] = []
        self.served: set[str] = set()

    def add_task(self, name: str) -> None:
        with self._lock:
            self.created[name] = time.perf_counter()

    def add_request(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)
            if request.kind == "next" and request.task:
                self.served.add(request.task)

    def unserved(self) -> int:
        with self._lock:
            return len(self.created) - len(self.served)


def _feed(table: ReviewTaskTable, ledger: Ledger, floor: int, stop: threading.Event) -> None:
    """Keep at least `floor` tasks unserved until `stop`."""
    number = 0
    while not stop.is_set():
        if ledger.unserved() >= floor:
            stop.wait(0.02)
            continue
        for _ in range(max(1, min(FEED_BATCH, floor))):
            name = f"t-{number:06d}"
            number += 1
            if not table.create(review_tasks.new_task(name, CONTENT, datetime.now(UTC))):
                raise RuntimeError(f"task {name} already existed")
            ledger.add_task(name)


def _review(url: str, token: str, ledger: Ledger, deadline: float) -> None:
    """One reviewer: next, answer what was served, again, until `deadline`."""
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {token}"
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            response = session.post(f"{url}/tasks/next", timeout=120)
            name = response.json()["name"] if response.status_code == 200 else None
            ledger.add_request(Request("next", started, time.perf_counter(), response.status_code, name))
            if name is None:
                continue
            started = time.perf_counter()
            response = session.post(f"{url}/tasks/{name}/answer", json=ANSWER, timeout=120)
            ledger.add_request(Request("answer", started, time.perf_counter(), response.status_code, name))


@contextlib.contextmanager
def _function_logs_discarded() -> Iterator[None]:
    """The function's log lines (on Lambda they go to CloudWatch) and moto's request lines stay off
    the figures: file descriptor 1, which the forked environments inherit, points to /dev/null."""
    sys.stdout.flush()
    kept = os.dup(1)
    werkzeug = logging.getLogger("werkzeug")
    level = werkzeug.level
    werkzeug.setLevel(logging.ERROR)
    with open(os.devnull, "w") as sink:
        os.dup2(sink.fileno(), 1)
        try:
            yield
        finally:
            sys.stdout.flush()
            os.dup2(kept, 1)
            os.close(kept)
            werkzeug.setLevel(level)


def run(reviewers: int = REVIEWERS, seconds: float = SECONDS, unserved: int | None = None) -> dict[str, Any]:
    """`reviewers` threads for `seconds` against the served API, the feeder keeping `unserved` tasks
    unserved (one per five reviewers, at least 2, unless set); the counts and speeds seen."""
    floor = max(2, reviewers // 5) if unserved is None else unserved
    tokens = LocalTokens(secrets.token_bytes(32), "http://127.0.0.1/local-sign-in")
    ledger = Ledger()
    stop = threading.Event()
    with (
        _function_logs_discarded(),
        moto_server() as moto_url,
        served_review_api(moto_url, tokens, environments=4) as served,
    ):
        feeder = threading.Thread(target=_feed, args=(served.table, ledger, floor, stop))
        feeder.start()
        while ledger.unserved() < floor:
            time.sleep(0.05)
        began = time.perf_counter()
        deadline = began + seconds
        threads = [
            threading.Thread(
                target=_review, args=(served.url, tokens.issue(f"reviewer-{i}"), ledger, deadline)
            )
            for i in range(reviewers)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - began
        stop.set()
        feeder.join()
    return {**figures(ledger, reviewers, elapsed), "unserved_kept": floor}


def figures(ledger: Ledger, reviewers: int, elapsed: float) -> dict[str, Any]:
    """Counts (served twice, skipped while free, failed) and speeds from what the run saw."""
    nexts = [r for r in ledger.requests if r.kind == "next"]
    answers = [r for r in ledger.requests if r.kind == "answer"]
    serves: dict[str, list[Request]] = defaultdict(list)
    for request in nexts:
        if request.task:
            serves[request.task].append(request)
    first_served = {name: min(r.started for r in served) for name, served in serves.items()}
    skipped = sum(
        1
        for request in nexts
        if request.status == 204
        and any(
            created < request.started and first_served.get(name, float("inf")) > request.ended
            for name, created in ledger.created.items()
        )
    )

    def percentile_ms(requests_: list[Request], fraction: float) -> float:
        times = sorted(r.ended - r.started for r in requests_)
        return round(times[min(len(times) - 1, int(fraction * len(times)))] * 1000, 1) if times else 0.0

    return {
        "reviewers": reviewers,
        "seconds": round(elapsed, 1),
        "tasks_created": len(ledger.created),
        "tasks_served": len(serves),
        "next_requests": len(nexts),
        "empty_answers": sum(1 for r in nexts if r.status == 204),
        "served_twice": sum(1 for served in serves.values() if len(served) > 1),
        "skipped_while_free": skipped,
        "failed_requests": sum(1 for r in nexts if r.status not in (200, 204))
        + sum(1 for r in answers if r.status != 200),
        "requests_per_second": round(len(ledger.requests) / elapsed, 1),
        "next_p50_ms": percentile_ms(nexts, 0.5),
        "next_p95_ms": percentile_ms(nexts, 0.95),
        "answer_p50_ms": percentile_ms(answers, 0.5),
        "answer_p95_ms": percentile_ms(answers, 0.95),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reviewers", type=int, default=REVIEWERS)
    parser.add_argument("--seconds", type=float, default=SECONDS)
    parser.add_argument("--unserved", type=int, help="tasks the feeder keeps unserved (1 per 5 reviewers)")
    args = parser.parse_args(argv)
    print(json.dumps(run(args.reviewers, args.seconds, args.unserved), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
