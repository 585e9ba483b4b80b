"""The task store: race-free claims (one winner of two), answers only by the lease holder, stop, retries."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from hitl_aws.review_task_table import ReviewTaskTable
from hitl_core import review_tasks
from hitl_core.review_budget import ReviewBudget
from hitl_core.review_tasks import LeaseHeld, NotLeaseHolder, ReviewTask, TaskStatus, WorkerIdentity
from hitl_core.wiring import REVIEW_TASK_TABLE
from hitl_review_service.task_store import BudgetSpent, NextTask, TaskBusy, TaskNotFound, TaskStore
from review_service.builders import ISSUER, LABELS, REGION, Clock, answer_body, input_content
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


def test_an_answer_reads_its_task_once(
    store: TaskStore, table: ReviewTaskTable, add_task: Callable[..., ReviewTask]
) -> None:
    add_task("cat-1")
    store.claim("cat-1", "ana")
    reads: list[str] = []
    table._client.meta.events.register("before-call.dynamodb.GetItem", lambda **_: reads.append("GetItem"))

    assert store.answer("cat-1", answer_as("ana")).status is TaskStatus.COMPLETED

    assert reads == ["GetItem"]


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
    name, client = _server_table(moto_server_url)
    clock = Clock()
    ReviewTaskTable(client(), name).create(
        review_tasks.new_task("cat-1", '{"taskObject": "s3://b/k"}', clock())
    )
    both_read = threading.Barrier(2)

    class ReadTogether(ReviewTaskTable):
        """Its first read waits for the other thread's; the loser's second read finds the lease."""

        first_read = True

        def get(self, loop_name: str) -> ReviewTask | None:
            task = super().get(loop_name)
            if self.first_read:
                self.first_read = False
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

    threads = [threading.Thread(target=claim, args=(r,)) for r in ("ana", "ben")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(results.values()) == ["refused", "won"]
    winner = next(r for r, outcome in results.items() if outcome == "won")
    assert ReviewTaskTable(client(), name).get("cat-1").lease_owner == winner


# --- the team's queue: next, budget, admin release -----------------------------------------------


def add_ranked(table: ReviewTaskTable, clock: Clock, name: str, score: float) -> ReviewTask:
    """A task whose shown top score is `score`, ranked by the default priority rule."""
    from hitl_core.review_priority import PriorityRule

    content = json.dumps({**input_content(), "initialScores": [score]})
    task = review_tasks.new_task(name, content, clock(), PriorityRule(threshold=0.5, aging_seconds=600))
    assert table.create(task)
    return task


def test_next_serves_the_most_uncertain_task_first_and_ages_the_others(
    table: ReviewTaskTable, store: TaskStore, clock: Clock
) -> None:
    add_ranked(table, clock, "old-sure", 0.95)  # priority 0.1
    clock.advance(300)
    add_ranked(table, clock, "new-unsure", 0.5)  # priority 1.0, 300 s younger: 0.5 points ahead
    add_ranked(table, clock, "new-middling", 0.3)  # priority 0.6
    served = [store.next(r).task for r in ("ana", "ben", "cy")]
    assert [t.loop_name for t in served if t] == ["new-unsure", "new-middling", "old-sure"]
    assert store.next("dee") == NextTask(None)
    clock.advance(300)
    add_ranked(table, clock, "newest-unsure", 0.5)
    store.release("old-sure", "cy")
    # old-sure waited 600 s more (one aging period): 0.1 + 1.0 beats 1.0
    assert store.next("dee").task.loop_name == "old-sure"


def test_next_gives_back_the_task_the_caller_holds_and_serves_skipped_ones_last(
    add_task: Callable[..., ReviewTask], store: TaskStore, clock: Clock
) -> None:
    for name in ("t-1", "t-2", "t-3"):
        add_task(name)
        clock.advance(1)
    first = store.next("ana").task
    assert first.loop_name == "t-1"
    assert store.next("ana").task.loop_name == "t-1", "a reload gives back the held task"
    store.release("t-1", "ana")
    assert store.next("ana", skip=["t-1", "t-2"]).task.loop_name == "t-3"
    store.release("t-3", "ana")
    assert store.next("ana", skip=["t-2", "t-1", "t-3"]).task.loop_name == "t-2"


def test_next_passes_tasks_others_hold_or_the_caller_answered(
    add_task: Callable[..., ReviewTask], table: ReviewTaskTable, clock: Clock
) -> None:
    timing = review_tasks.ReviewTiming(600, 3600, task_count=2)
    store = TaskStore(table, timing, clock)
    add_task("t-1")
    clock.advance(1)
    add_task("t-2")
    assert store.next("ana").task.loop_name == "t-1"
    assert store.next("ben").task.loop_name == "t-2"
    store.answer("t-1", answer_as("ana"))
    assert store.next("ana").task is None, "t-1 answered by ana, t-2 held by ben"
    assert store.next("cy").task.loop_name == "t-1"
    clock.advance(601)
    assert store.next("ana").task.loop_name == "t-2", "ben's lease ran out"


def test_the_budget_stops_next_and_a_release_gives_the_review_back(
    add_task: Callable[..., ReviewTask], table: ReviewTaskTable, clock: Clock
) -> None:
    store = TaskStore(table, TIMING, clock, ReviewBudget(per_hour=2, per_reviewer_day=1))
    for name in ("t-1", "t-2", "t-3"):
        add_task(name)
        clock.advance(1)
    assert store.next("ana").task.loop_name == "t-1"
    assert store.next("ana").task.loop_name == "t-1", "a renewal counts nothing"
    store.answer("t-1", answer_as("ana"))
    assert store.next("ana") == NextTask(None, budget_spent=True), "ana's day is spent"
    assert store.next("ben").task.loop_name == "t-2"
    assert store.next("cy") == NextTask(None, budget_spent=True), "the hour is spent"
    with pytest.raises(BudgetSpent):
        store.claim("t-3", "cy")
    store.release("t-2", "ben")
    assert store.next("cy").task.loop_name == "t-2", "ben's review went back to the hour"
    hour = "~budget/hour/2024-03-04T05"
    assert store.records.counters([hour, "~budget/reviewer/2024-03-04/ben"]) == {
        hour: 2,
        "~budget/reviewer/2024-03-04/ben": 0,
    }
    assert store.get("t-3").status is TaskStatus.IN_PROGRESS, "a task over budget waits, nothing lost"
    clock.advance(3597)  # 06:00:00, before t-3's availability ends
    assert store.next("dee").task.loop_name == "t-2", "a new hour; cy's lease ran out, t-2 is oldest"
    assert store.next("eve").task.loop_name == "t-3"


def test_counters_are_not_tasks(
    add_task: Callable[..., ReviewTask], table: ReviewTaskTable, clock: Clock
) -> None:
    store = TaskStore(table, TIMING, clock, ReviewBudget(per_day=5))
    add_task("t-1")
    store.next("ana")
    with pytest.raises(TaskNotFound):
        store.get("~budget/day/2024-03-04")
    assert [t.loop_name for t in table.all_in(TaskStatus.IN_PROGRESS)] == ["t-1"]


def test_an_admin_releases_a_lease_and_its_review(
    add_task: Callable[..., ReviewTask], table: ReviewTaskTable, clock: Clock
) -> None:
    store = TaskStore(table, TIMING, clock, ReviewBudget(per_day=1))
    add_task("t-1")
    store.next("ana", name="ana@example.com")
    assert store.get("t-1").lease_owner_name == "ana@example.com"
    released = store.admin_release("t-1", "boss")
    assert released.lease_holder(clock()) is None
    assert store.records.counters(["~budget/day/2024-03-04"]) == {"~budget/day/2024-03-04": 0}
    assert store.next("ben").task.loop_name == "t-1"


def test_fifty_reviewers_asking_at_once_never_share_a_task(moto_server_url: str) -> None:
    """50 threads, each with its own client to the moto server, call next on 40 open tasks."""
    name, client = _server_table(moto_server_url)
    clock = Clock()
    setup = ReviewTaskTable(client(), name)
    for i in range(40):
        assert setup.create(review_tasks.new_task(f"t-{i:02d}", '{"taskObject": "s3://b/k"}', clock()))
        clock.advance(1)
    start = threading.Barrier(50)
    served: dict[str, str | None] = {}

    def ask(reviewer: str) -> None:
        store = TaskStore(ReviewTaskTable(client(), name), TIMING, clock)
        start.wait(timeout=30)
        task = store.next(reviewer).task
        served[reviewer] = task.loop_name if task else None

    threads = [threading.Thread(target=ask, args=(f"r-{i}",)) for i in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    names = [n for n in served.values() if n]
    assert len(served) == 50
    assert len(names) == len(set(names)) == 40, "every task served once, none skipped while free"
    holders = {t.loop_name: t.lease_owner for t in setup.all_in(TaskStatus.IN_PROGRESS)}
    assert holders == {n: r for r, n in served.items() if n}


# --- gold tasks ------------------------------------------------------------------------------------

GOLD_BOXES = [{"label": "cat", "left": 10, "top": 20, "width": 200, "height": 150}]
MODEL_CAT = {"label": "cat", "score": 0.46, "left": 60, "top": 90, "width": 250, "height": 180}
"""The model's box for the gold image: not where the known cat is."""


def gold_manifest_text() -> str:
    """A gold line as `hitl review gold predict` leaves it: the known cat, and the model's own box."""
    line = {
        "source-ref": "s3://hitl-input/gold/cat-known.jpg",
        "bounding-box": {
            "image_size": [{"width": 640, "height": 480, "depth": 3}],
            "annotations": [{"class_id": 3, "left": 10, "top": 20, "width": 200, "height": 150}],
        },
        "bounding-box-metadata": {
            "objects": [{"confidence": 1}],
            "class-map": {"3": "cat"},
            "type": "groundtruth/object-detection",
            "human-annotated": "yes",
            "creation-date": "2024-01-01T00:00:00.000Z",
            "job-name": "gold",
            "model-detections": {
                "detections": [MODEL_CAT],
                "model": {"detector": "sagemaker-endpoint", "endpoint_name": "hitl-detector"},
                "source": {
                    "bucket": "hitl-input",
                    "key": "gold/cat-known.jpg",
                    "version": "v7",
                    "uri": "s3://hitl-input/gold/cat-known.jpg",
                },
                "labels": LABELS,
                "predicted-at": "2026-12-07T10:00:00.000Z",
            },
        },
    }
    return json.dumps(line) + "\n"


def test_a_share_of_a_reviewers_tasks_are_gold_scored_and_never_announced(
    add_task: Callable[..., ReviewTask], table: ReviewTaskTable, clock: Clock
) -> None:
    from hitl_core.gold_tasks import GoldRule, gold_lines

    rule = GoldRule(share=0.5, min_score=0.9, min_tasks=1)
    store = TaskStore(table, TIMING, clock, gold=rule, gold_lines=gold_lines(gold_manifest_text()))
    add_task("t-1")
    add_task("t-2")
    first = store.next("ana").task
    assert first.loop_name == "t-1" and first.gold is None
    store.answer("t-1", answer_as("ana"))
    gold = store.next("ana").task
    assert gold.gold is not None and gold.loop_name.startswith("cat-known-")
    assert gold.input["taskObject"] == "s3://hitl-input/gold/cat-known.jpg"
    assert gold.input["labels"] == LABELS, "the labels any task offers"
    assert "queue" not in gold.to_item(), "never served to anyone else by the queue"
    done = store.answer(gold.loop_name, answer_as("ana"))  # answer_body draws the known cat box
    assert done.status is TaskStatus.COMPLETED and done.announced_at is not None
    assert not review_tasks.entered_final_status(gold, done), "the outbox announces nothing"
    assert store.gold_standing("ana") == (1, 1.0)
    assert not rule.below_total(*store.gold_standing("ana"))
    assert store.next("ana").task.loop_name == "t-2", "served 3, gold 1: the next one is not gold"


def test_a_wrong_gold_answer_scores_zero(
    add_task: Callable[..., ReviewTask], table: ReviewTaskTable, clock: Clock
) -> None:
    from hitl_core.gold_tasks import GoldRule, gold_lines

    rule = GoldRule(share=0.5, min_score=0.9, min_tasks=1)
    store = TaskStore(table, TIMING, clock, gold=rule, gold_lines=gold_lines(gold_manifest_text()))
    add_task("t-1")
    store.next("ana")
    store.answer("t-1", answer_as("ana"))
    gold = store.next("ana").task
    submission = review_tasks.parse_submission(answer_body(boxes=[]), review_tasks.AnswerSubmission)
    store.answer(
        gold.loop_name,
        lambda task, now: review_tasks.build_human_answer(
            submission, task.input, WorkerIdentity("ana", ISSUER), now
        ),
    )
    assert store.gold_standing("ana") == (1, 0.0)
    assert rule.below_total(*store.gold_standing("ana"))


def test_a_gold_task_shows_the_models_boxes_but_is_scored_by_the_known_ones(
    add_task: Callable[..., ReviewTask], table: ReviewTaskTable, clock: Clock
) -> None:
    from hitl_core.gold_tasks import GoldRule, gold_lines

    store = TaskStore(
        table, TIMING, clock, gold=GoldRule(share=0.5), gold_lines=gold_lines(gold_manifest_text())
    )
    add_task("t-1")
    store.next("ana")
    store.answer("t-1", answer_as("ana"))
    gold = store.next("ana").task
    model_box = {k: v for k, v in MODEL_CAT.items() if k != "score"}
    assert (gold.input["initialValue"], gold.input["initialScores"]) == ([model_box], [MODEL_CAT["score"]])
    kept = review_tasks.parse_submission(answer_body(boxes=[model_box]), review_tasks.AnswerSubmission)
    done = store.answer(
        gold.loop_name,
        lambda task, now: review_tasks.build_human_answer(
            kept, task.input, WorkerIdentity("ana", ISSUER), now
        ),
    )
    assert review_tasks.answer_boxes(done.answers[0]) == [model_box]
    assert store.gold_standing("ana") == (1, 0.0), "the model's box is not where the known cat is"


def test_a_reviewer_below_the_gold_threshold_never_completes_a_task_alone(
    add_task: Callable[..., ReviewTask], table: ReviewTaskTable, clock: Clock
) -> None:
    from hitl_core.gold_tasks import GoldRule, gold_lines

    rule = GoldRule(share=0.5, min_score=0.9, min_tasks=1, second_reviewer=True)
    store = TaskStore(table, TIMING, clock, gold=rule, gold_lines=gold_lines(gold_manifest_text()))
    add_task("t-1")
    add_task("t-2")
    assert store.next("ana").task.loop_name == "t-1"
    assert store.answer("t-1", answer_as("ana")).status is TaskStatus.COMPLETED, "no gold answer yet"
    gold = store.next("ana").task
    submission = review_tasks.parse_submission(answer_body(boxes=[]), review_tasks.AnswerSubmission)
    store.answer(
        gold.loop_name,
        lambda task, now: review_tasks.build_human_answer(
            submission, task.input, WorkerIdentity("ana", ISSUER), now
        ),
    )
    assert store.next("ana").task.loop_name == "t-2"
    alone = store.answer("t-2", answer_as("ana"))
    assert alone.status is TaskStatus.IN_PROGRESS, "ana is below: a second reviewer is asked"
    assert store.next("ben").task.loop_name == "t-2"
    both = store.answer("t-2", answer_as("ben"))
    assert both.status is TaskStatus.COMPLETED and len(both.answers) == 2


def _server_table(moto_server_url: str) -> tuple[str, Callable[[], Any]]:
    """A fresh task table on the moto server, and a factory of clients to it (one per thread)."""
    name = f"tasks-{uuid.uuid4().hex[:8]}"

    def client() -> Any:
        return boto3.client("dynamodb", region_name=REGION, endpoint_url=moto_server_url)

    client().create_table(**REVIEW_TASK_TABLE.create_table_request(name))
    return name, client
