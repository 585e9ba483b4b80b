"""The task store: race-free claims (one winner of two), answers only by the lease holder, stop, retries."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from hitl_aws.review_task_table import ReviewTaskTable
from hitl_core import review_tasks
from hitl_core.review_tasks import LeaseHeld, NotLeaseHolder, ReviewTask, TaskStatus, WorkerIdentity
from hitl_core.wiring import REVIEW_TASK_TABLE
from hitl_review_service.task_store import TaskBusy, TaskNotFound, TaskStore
from review_service.builders import ISSUER, REGION, Clock, answer_body
from review_service.conftest import TIMING


def answer_as(sub: str) -> Callable[[ReviewTask, Any], dict[str, Any]]:
    submission = review_tasks.parse_submission(answer_body(), review_tasks.AnswerSubmission)
    return lambda task, now: review_tasks.build_human_answer(
        submission, task.input, WorkerIdentity(sub, ISSUER), now
    )


def test_claim_answer_complete(store: TaskStore, add_task: Callable[..., ReviewTask], clock: Clock) -> None:
    add_task("cat-1")
    assert store.claim("cat-1", "ana").lease_owner == "ana"
    with pytest.raises(LeaseHeld):
        store.claim("cat-1", "ben")
    with pytest.raises(NotLeaseHolder):
        store.answer("cat-1", answer_as("ben"))
    clock.advance(30)
    done = store.answer("cat-1", answer_as("ana"))
    assert done.status is TaskStatus.COMPLETED
    assert store.get("cat-1") == done
    assert done.answers[0]["workerMetadata"]["identityData"]["sub"] == "ana"


def test_an_invalid_answer_changes_nothing(store: TaskStore, add_task: Callable[..., ReviewTask]) -> None:
    add_task("cat-1")
    claimed = store.claim("cat-1", "ana")

    def bad(task: ReviewTask, now: Any) -> dict[str, Any]:
        raise review_tasks.AnswerInvalid("no")

    with pytest.raises(review_tasks.AnswerInvalid):
        store.answer("cat-1", bad)
    assert store.get("cat-1") == claimed


def test_a_run_out_lease_lets_another_reviewer_claim(
    store: TaskStore, add_task: Callable[..., ReviewTask], clock: Clock
) -> None:
    add_task("cat-1")
    store.claim("cat-1", "ana")
    clock.advance(TIMING.lease_seconds)
    assert store.claim("cat-1", "ben").lease_owner == "ben"
    with pytest.raises(NotLeaseHolder):
        store.answer("cat-1", answer_as("ana"))


def test_release_and_stop(store: TaskStore, add_task: Callable[..., ReviewTask]) -> None:
    add_task("cat-1")
    store.claim("cat-1", "ana")
    assert store.release("cat-1", "ana").lease_owner is None
    stopped = store.stop("cat-1", "boss")
    assert stopped.status is TaskStatus.STOPPED
    assert [e["action"] for e in stopped.audit] == ["created", "claimed", "released", "stopped"]
    with pytest.raises(TaskNotFound):
        store.claim("nope", "ana")


def test_a_lost_write_is_decided_again_on_the_new_version(
    table: ReviewTaskTable, add_task: Callable[..., ReviewTask], clock: Clock
) -> None:
    """Ben read version 1; Ana's claim landed before his write: his retry meets her lease."""
    add_task("cat-1")
    ana = TaskStore(table, TIMING, clock)

    class ReadThenLose(ReviewTaskTable):
        def __init__(self) -> None:
            super().__init__(table._client, table.table_name)
            self.reads = 0

        def get(self, loop_name: str) -> ReviewTask | None:
            task = super().get(loop_name)
            self.reads += 1
            if self.reads == 1:
                ana.claim(loop_name, "ana")
            return task

    slow = ReadThenLose()
    with pytest.raises(LeaseHeld):
        TaskStore(slow, TIMING, clock).claim("cat-1", "ben")
    assert slow.reads == 2
    assert table.get("cat-1").lease_owner == "ana"


def test_a_task_that_keeps_changing_gives_up(
    table: ReviewTaskTable, add_task: Callable[..., ReviewTask], clock: Clock
) -> None:
    add_task("cat-1")

    class AlwaysLoses(ReviewTaskTable):
        def replace(self, read_version: int, task: ReviewTask) -> bool:
            return False

    with pytest.raises(TaskBusy):
        TaskStore(AlwaysLoses(table._client, table.table_name), TIMING, clock).claim("cat-1", "ana")


def test_two_reviewers_claiming_at_once_one_wins(moto_server_url: str) -> None:
    """Two threads, each with its own client to the moto server, read the same version and write."""
    name = f"tasks-{uuid.uuid4().hex[:8]}"

    def client() -> Any:
        return boto3.client("dynamodb", region_name=REGION, endpoint_url=moto_server_url)

    client().create_table(**REVIEW_TASK_TABLE.create_table_request(name))
    clock = Clock()
    ReviewTaskTable(client(), name).create(
        review_tasks.new_task("cat-1", '{"taskObject": "s3://b/k"}', clock())
    )
    both_read = threading.Barrier(2)

    class ReadTogether(ReviewTaskTable):
        def get(self, loop_name: str) -> ReviewTask | None:
            task = super().get(loop_name)
            both_read.wait(timeout=10)
            return task

    results: dict[str, str] = {}

    def claim(reviewer: str) -> None:
        store = TaskStore(ReadTogether(client(), name), TIMING, clock)
        try:
            store.claim("cat-1", reviewer)
            results[reviewer] = "won"
        except LeaseHeld:
            results[reviewer] = "refused"
        except threading.BrokenBarrierError:
            results[reviewer] = "refused"

    threads = [threading.Thread(target=claim, args=(r,)) for r in ("ana", "ben")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(results.values()) == ["refused", "won"]
    winner = next(r for r, outcome in results.items() if outcome == "won")
    assert ReviewTaskTable(client(), name).get("cat-1").lease_owner == winner
