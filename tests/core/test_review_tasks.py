"""The built-in review service's task rules: leases, answers, expiry, stop, output.json, status event."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hitl_core import review_tasks
from hitl_core.review_tasks import (
    EXPIRED,
    AlreadyAnswered,
    AnswerInvalid,
    AnswerSubmission,
    LeaseHeld,
    NotLeaseHolder,
    ReviewTask,
    ReviewTiming,
    TaskFinished,
    TaskStatus,
    WorkerIdentity,
)

T0 = datetime(2024, 3, 4, 5, 0, 0, tzinfo=UTC)
TIMING = ReviewTiming(lease_seconds=600, availability_seconds=3600, task_count=1)
ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_pool"
CONTENT = {
    "taskObject": "s3://input/incoming/cat.jpg",
    "labels": ["cat", "dog"],
    "initialValue": [{"label": "cat", "left": 10, "top": 20, "width": 200, "height": 150}],
    "imageSize": {"width": 640, "height": 480, "depth": 3},
}


def task() -> ReviewTask:
    return review_tasks.new_task("cat-0123", json.dumps(CONTENT), T0)


def later(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def submission(boxes: list[dict[str, Any]] | None = None, **extra: Any) -> AnswerSubmission:
    result = {
        "boundingBoxes": CONTENT["initialValue"] if boxes is None else boxes,
        "inputImageProperties": {"width": 640, "height": 480},
    }
    body = {"answerContent": {"annotatedResult": result}, **extra}
    return review_tasks.parse_submission(body, AnswerSubmission)


def answer_of(sub: str, at: datetime, boxes: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return review_tasks.build_human_answer(submission(boxes), CONTENT, WorkerIdentity(sub, ISSUER), at)


def test_a_new_task_is_open_unleased_and_audited() -> None:
    new = task()
    assert (new.status, new.version, new.lease_holder(T0)) == (TaskStatus.IN_PROGRESS, 1, None)
    assert new.audit == ({"at": "2024-03-04T05:00:00.000Z", "action": "created", "actor": "ingest"},)
    assert new.expires_at(TIMING) == later(3600)
    with pytest.raises(ValueError, match="JSON object"):
        review_tasks.new_task("x", "[1]", T0)


def test_item_round_trip_keeps_every_field() -> None:
    claimed = review_tasks.claim(task(), "ana", later(5), TIMING)
    done = review_tasks.answer(claimed, answer_of("ana", later(9)), later(9), TIMING)
    assert ReviewTask.from_item(done.to_item()) == done
    assert ReviewTask.from_item(claimed.to_item()) == claimed
    assert "lease_owner" not in done.to_item()


def test_claim_takes_a_lease_for_the_time_limit_and_renews_for_its_holder() -> None:
    claimed = review_tasks.claim(task(), "ana", later(10), TIMING)
    assert claimed.lease_holder(later(10)) == "ana"
    assert claimed.lease_expires_at == "2024-03-04T05:10:10.000Z"
    assert claimed.version == 2
    renewed = review_tasks.claim(claimed, "ana", later(100), TIMING)
    assert renewed.lease_expires_at == "2024-03-04T05:11:40.000Z"
    assert [e["action"] for e in renewed.audit] == ["created", "claimed", "renewed"]


def test_a_held_lease_refuses_another_reviewer_until_it_runs_out() -> None:
    claimed = review_tasks.claim(task(), "ana", later(0), TIMING)
    with pytest.raises(LeaseHeld):
        review_tasks.claim(claimed, "ben", later(599), TIMING)
    taken_over = review_tasks.claim(claimed, "ben", later(600), TIMING)
    assert taken_over.lease_holder(later(600)) == "ben"


def test_release_only_by_the_holder() -> None:
    claimed = review_tasks.claim(task(), "ana", later(0), TIMING)
    with pytest.raises(NotLeaseHolder):
        review_tasks.release(claimed, "ben", later(1))
    released = review_tasks.release(claimed, "ana", later(1))
    assert released.lease_owner is None
    assert review_tasks.claim(released, "ben", later(2), TIMING).lease_owner == "ben"


def test_answer_needs_a_running_lease_and_completes_the_task() -> None:
    with pytest.raises(NotLeaseHolder):
        review_tasks.answer(task(), answer_of("ana", later(1)), later(1), TIMING)
    claimed = review_tasks.claim(task(), "ana", later(0), TIMING)
    with pytest.raises(NotLeaseHolder, match="ran out"):
        review_tasks.answer(claimed, answer_of("ana", later(601)), later(601), TIMING)
    done = review_tasks.answer(claimed, answer_of("ana", later(30)), later(30), TIMING)
    assert done.status is TaskStatus.COMPLETED
    assert done.lease_owner is None
    with pytest.raises(TaskFinished):
        review_tasks.claim(done, "ben", later(31), TIMING)


def test_task_count_needs_different_reviewers() -> None:
    timing = ReviewTiming(lease_seconds=600, availability_seconds=3600, task_count=2)
    first = review_tasks.answer(
        review_tasks.claim(task(), "ana", later(0), timing), answer_of("ana", later(5)), later(5), timing
    )
    assert first.status is TaskStatus.IN_PROGRESS
    assert first.lease_holder(later(5)) is None
    with pytest.raises(AlreadyAnswered):
        review_tasks.claim(first, "ana", later(6), timing)
    second = review_tasks.answer(
        review_tasks.claim(first, "ben", later(7), timing), answer_of("ben", later(9)), later(9), timing
    )
    assert second.status is TaskStatus.COMPLETED
    assert [a["workerId"] for a in second.answers] == ["ana", "ben"]


def test_stop_ends_an_open_task_once() -> None:
    stopped = review_tasks.stop(review_tasks.claim(task(), "ana", later(0), TIMING), "boss", later(3))
    assert (stopped.status, stopped.lease_owner, stopped.audit[-1]["actor"]) == (
        TaskStatus.STOPPED,
        None,
        "boss",
    )
    with pytest.raises(TaskFinished):
        review_tasks.stop(stopped, "boss", later(4))


def test_sweep_returns_run_out_leases_and_expires_old_tasks() -> None:
    claimed = review_tasks.claim(task(), "ana", later(0), TIMING)
    assert review_tasks.sweep(claimed, later(599), TIMING) is None
    returned = review_tasks.sweep(claimed, later(600), TIMING)
    assert returned is not None and returned.lease_owner is None
    assert returned.status is TaskStatus.IN_PROGRESS
    assert review_tasks.sweep(task(), later(3599), TIMING) is None
    expired = review_tasks.sweep(claimed, later(3600), TIMING)
    assert expired is not None
    assert (expired.status, expired.failure_code) == (TaskStatus.FAILED, EXPIRED)
    assert review_tasks.sweep(expired, later(9999), TIMING) is None


def test_past_its_lifetime_a_task_takes_no_claim_or_answer_even_before_the_sweep() -> None:
    claimed = review_tasks.claim(task(), "ana", later(3500), TIMING)
    with pytest.raises(TaskFinished, match="availability"):
        review_tasks.answer(claimed, answer_of("ana", later(3600)), later(3600), TIMING)
    with pytest.raises(TaskFinished):
        review_tasks.claim(task(), "ben", later(3600), TIMING)


def test_audit_trail_is_bounded() -> None:
    current = task()
    for i in range(review_tasks.MAX_AUDIT_ENTRIES + 5):
        current = review_tasks.claim(current, "ana", later(i), TIMING)
    assert len(current.audit) == review_tasks.MAX_AUDIT_ENTRIES
    assert current.audit[-1]["at"] == review_tasks.iso_millis(later(review_tasks.MAX_AUDIT_ENTRIES + 4))


def test_an_answer_becomes_a2i_human_answer_with_the_token_identity() -> None:
    body = submission(
        [{"label": "dog", "left": 0, "top": 0, "width": 640, "height": 480}], timeSpentInSeconds=4
    )
    entry = review_tasks.build_human_answer(body, CONTENT, WorkerIdentity("sub-1", ISSUER), later(60))
    assert entry == {
        "acceptanceTime": "2024-03-04T05:00:56.000Z",
        "answerContent": {
            "annotatedResult": {
                "boundingBoxes": [{"label": "dog", "left": 0, "top": 0, "width": 640, "height": 480}],
                "inputImageProperties": {"width": 640, "height": 480},
                "initialValueModified": True,
            }
        },
        "submissionTime": "2024-03-04T05:01:00.000Z",
        "timeSpentInSeconds": 4.0,
        "workerId": "sub-1",
        "workerMetadata": {
            "identityData": {"identityProviderType": "Cognito", "issuer": ISSUER, "sub": "sub-1"}
        },
    }
    unchanged = review_tasks.build_human_answer(submission(), CONTENT, WorkerIdentity("s", ISSUER), later(1))
    assert unchanged["answerContent"]["annotatedResult"]["initialValueModified"] is False


@pytest.mark.parametrize(
    ("boxes", "problem"),
    [
        ([{"label": "cat", "left": 1.5, "top": 0, "width": 5, "height": 5}], "left"),
        ([{"label": "cat", "left": 600, "top": 0, "width": 41, "height": 5}], "outside"),
        ([{"label": "cat", "left": 0, "top": 470, "width": 5, "height": 11}], "outside"),
        ([{"label": "horse", "left": 0, "top": 0, "width": 5, "height": 5}], "not one of the task's labels"),
        ([{"label": "cat", "left": 0, "top": 0, "width": 5, "height": 5, "colour": "red"}], "colour"),
        ([{"label": "cat", "left": 0, "top": 0, "width": 0, "height": 5}], "width"),
    ],
)
def test_answers_that_do_not_fit_the_task_are_refused(boxes: list[dict[str, Any]], problem: str) -> None:
    with pytest.raises(AnswerInvalid, match=problem):
        review_tasks.build_human_answer(submission(boxes), CONTENT, WorkerIdentity("s", ISSUER), T0)


def test_unknown_keys_wrong_size_and_bad_times_are_refused() -> None:
    with pytest.raises(AnswerInvalid, match="workerId"):
        review_tasks.parse_submission(
            {"answerContent": submission().model_dump(by_alias=True)["answerContent"], "workerId": "x"},
            AnswerSubmission,
        )
    wrong_size = review_tasks.parse_submission(
        {
            "answerContent": {
                "annotatedResult": {"boundingBoxes": [], "inputImageProperties": {"width": 64, "height": 48}}
            }
        },
        AnswerSubmission,
    )
    with pytest.raises(AnswerInvalid, match="differ from the task's imageSize"):
        review_tasks.build_human_answer(wrong_size, CONTENT, WorkerIdentity("s", ISSUER), T0)
    with pytest.raises(AnswerInvalid, match="acceptanceTime"):
        review_tasks.build_human_answer(
            submission(acceptanceTime="yesterday"), CONTENT, WorkerIdentity("s", ISSUER), T0
        )


def test_output_json_and_status_event_in_a2is_shape() -> None:
    claimed = review_tasks.claim(task(), "ana", later(0), TIMING)
    done = review_tasks.answer(claimed, answer_of("ana", later(30)), later(30), TIMING)
    output = review_tasks.task_output(done, "hitl")
    assert output == {
        "flowDefinitionArn": "hitl-review-service/hitl",
        "humanAnswers": list(done.answers),
        "humanLoopName": "cat-0123",
        "inputContent": CONTENT,
    }
    key = review_tasks.output_key("review-output/", "hitl", "cat-0123", done.created_at)
    assert key == "review-output/hitl/2024/03/04/05/00/00/cat-0123/output.json"
    detail = review_tasks.status_detail(done, "hitl", f"s3://out/{key}")
    assert detail == {
        "creationTime": "2024-03-04T05:00:00.000Z",
        "failureCode": None,
        "failureReason": None,
        "flowDefinitionArn": "hitl-review-service/hitl",
        "humanLoopArn": "hitl-review-service/hitl/task/cat-0123",
        "humanLoopName": "cat-0123",
        "humanLoopStatus": "Completed",
        "humanLoopOutput": {"outputS3Uri": f"s3://out/{key}"},
    }
    expired = review_tasks.sweep(task(), later(4000), TIMING)
    assert expired is not None
    failed = review_tasks.status_detail(expired, "hitl", None)
    assert (failed["humanLoopStatus"], failed["failureCode"]) == ("Failed", "Expired")
    assert "humanLoopOutput" not in failed
    with pytest.raises(ValueError, match="not in a final status"):
        review_tasks.status_detail(claimed, "hitl", None)


def test_entered_final_status_only_on_the_transition() -> None:
    open_task = task()
    done = review_tasks.stop(open_task, "boss", later(1))
    assert review_tasks.entered_final_status(open_task, done)
    assert review_tasks.entered_final_status(None, done)
    assert not review_tasks.entered_final_status(done, done)
    assert not review_tasks.entered_final_status(None, open_task)


def test_timestamps_round_trip_as_utc_milliseconds() -> None:
    assert (
        review_tasks.iso_millis(review_tasks.parse_timestamp("2020-05-01T20:08:47.5+02:00"))
        == "2020-05-01T18:08:47.500Z"
    )
    assert review_tasks.parse_timestamp("2020-02-24") == datetime(2020, 2, 24, tzinfo=UTC)
    with pytest.raises(ValueError):
        review_tasks.parse_timestamp("yesterday")


def test_a_final_task_awaits_its_announcement_after_the_streams_grace_time() -> None:
    stopped = review_tasks.stop(task(), "admin", T0)
    at_grace = T0 + review_tasks.ANNOUNCE_GRACE

    assert not review_tasks.awaiting_announcement(task(), T0 + timedelta(days=1))
    assert not review_tasks.awaiting_announcement(stopped, at_grace - timedelta(seconds=1))
    assert review_tasks.awaiting_announcement(stopped, at_grace)
    announced = ReviewTask.from_item({**stopped.to_item(), "announced_at": review_tasks.iso_millis(T0)})
    assert announced.announced_at == review_tasks.iso_millis(T0)
    assert not review_tasks.awaiting_announcement(announced, at_grace)


def test_the_lookback_reaches_every_task_that_can_be_final_and_unannounced() -> None:
    since = review_tasks.parse_timestamp(review_tasks.announcement_lookback(T0, TIMING))

    assert since == T0 - timedelta(seconds=TIMING.availability_seconds) - review_tasks.ANNOUNCE_LOOKBACK


# --- the team's queue: priority, claim name, admin release, agreement ------------------------------


def test_a_new_task_gets_its_priority_and_rank_from_the_shown_scores() -> None:
    from hitl_core.review_priority import PriorityRule

    rule = PriorityRule(threshold=0.5, aging_seconds=100)
    sure = review_tasks.new_task("a", json.dumps({**CONTENT, "initialScores": [0.95]}), T0, rule)
    unsure = review_tasks.new_task("b", json.dumps({**CONTENT, "initialScores": [0.5]}), T0, rule)
    assert (sure.priority, unsure.priority) == (0.1, 1.0)
    assert unsure.rank == sure.rank - 90_000
    plain = task()
    assert (plain.priority, plain.rank) == (0.0, 10**15 + int(T0.timestamp() * 1000))


def test_only_open_ordinary_tasks_are_in_the_queue_index() -> None:
    item = task().to_item()
    assert (item["queue"], item["queue_rank"]) == (review_tasks.QUEUE_OPEN, task().rank)
    done = review_tasks.stop(task(), "admin", later(1))
    assert "queue" not in done.to_item()
    gold = ReviewTask.from_item({**item, "gold": "[]"})
    assert "queue" not in gold.to_item() and gold.to_item()["gold"] == "[]"
    assert ReviewTask.from_item(item).rank == task().rank


def test_a_task_from_before_the_queue_index_gets_the_entry_ingest_would_have_given_it() -> None:
    from hitl_core.review_priority import PriorityRule

    rule = PriorityRule(threshold=0.5, aging_seconds=100)
    content = json.dumps({**CONTENT, "initialScores": [0.5]})
    item = review_tasks.new_task("old", content, T0, rule).to_item()
    legacy = {k: v for k, v in item.items() if k not in ("queue", "queue_rank", "priority")}
    old = ReviewTask.from_item(legacy)
    entry = review_tasks.queue_entry(old, rule, later(30))
    assert entry is not None and entry.to_item()["queue"] == review_tasks.QUEUE_OPEN
    assert (entry.priority, entry.rank) == (1.0, item["queue_rank"]), "as if ingest had ranked it"
    assert (entry.version, entry.audit[-1]["action"]) == (old.version + 1, "queued")
    assert review_tasks.queue_entry(entry, rule, later(60)) is None, "once only"
    assert review_tasks.queue_entry(review_tasks.stop(old, "admin", later(1)), rule, later(60)) is None
    assert review_tasks.queue_entry(ReviewTask.from_item({**legacy, "gold": "[]"}), rule, T0) is None


def test_claim_keeps_the_holders_name_until_the_lease_ends() -> None:
    claimed = review_tasks.claim(task(), "ana", later(5), TIMING, name="ana@example.com")
    assert claimed.lease_owner_name == "ana@example.com"
    assert review_tasks.claim(claimed, "ana", later(6), TIMING).lease_owner_name == "ana@example.com"
    assert review_tasks.release(claimed, "ana", later(7)).lease_owner_name is None
    assert review_tasks.is_renewal(claimed, "ana", later(6))
    assert not review_tasks.is_renewal(claimed, "bob", later(6))


def test_claimable_by_says_what_claim_would_allow() -> None:
    claimed = review_tasks.claim(task(), "ana", later(5), TIMING)
    assert review_tasks.claimable_by(claimed, "ana", later(6), TIMING)
    assert not review_tasks.claimable_by(claimed, "bob", later(6), TIMING)
    assert review_tasks.claimable_by(claimed, "bob", later(5 + 600), TIMING)
    assert not review_tasks.claimable_by(task(), "bob", later(3600), TIMING)


def test_an_admin_releases_anyones_lease_but_not_a_free_task() -> None:
    claimed = review_tasks.claim(task(), "ana", later(5), TIMING)
    released = review_tasks.admin_release(claimed, "boss", later(6))
    assert released.lease_holder(later(6)) is None
    assert released.audit[-1] == {
        "at": "2024-03-04T05:00:06.000Z",
        "action": "released-by-admin",
        "actor": "boss",
    }
    with pytest.raises(NotLeaseHolder):
        review_tasks.admin_release(released, "boss", later(7))


def test_disagreeing_reviewers_bring_one_more_until_the_maximum() -> None:
    from hitl_core.review_agreement import AgreementRule

    timing = ReviewTiming(600, 3600, task_count=2, agreement=AgreementRule(threshold=0.8, max_reviewers=3))
    cat = CONTENT["initialValue"]
    dog = [{"label": "dog", "left": 300, "top": 300, "width": 50, "height": 50}]
    current = task()
    for step, (sub, boxes) in enumerate([("ana", cat), ("bob", dog)]):
        current = review_tasks.claim(current, sub, later(step * 10), timing)
        current = review_tasks.answer(
            current, answer_of(sub, later(step * 10 + 1), boxes), later(step * 10 + 1), timing
        )
    assert current.status is TaskStatus.IN_PROGRESS, "1 of 2 agree: a third reviewer is asked"
    current = review_tasks.claim(current, "cy", later(30), timing)
    current = review_tasks.answer(current, answer_of("cy", later(31), cat), later(31), timing)
    assert current.status is TaskStatus.COMPLETED


def test_agreeing_reviewers_complete_at_the_task_count() -> None:
    from hitl_core.review_agreement import AgreementRule

    timing = ReviewTiming(600, 3600, task_count=2, agreement=AgreementRule(threshold=0.8))
    current = task()
    for step, sub in enumerate(["ana", "bob"]):
        current = review_tasks.claim(current, sub, later(step * 10), timing)
        current = review_tasks.answer(
            current, answer_of(sub, later(step * 10 + 1)), later(step * 10 + 1), timing
        )
    assert current.status is TaskStatus.COMPLETED


def test_output_json_of_several_answers_records_their_agreement() -> None:
    timing = ReviewTiming(600, 3600, task_count=2)
    dog = [{"label": "dog", "left": 300, "top": 300, "width": 50, "height": 50}]
    current = task()
    for step, (sub, boxes) in enumerate([("ana", None), ("bob", dog)]):
        current = review_tasks.claim(current, sub, later(step * 10), timing)
        human = answer_of(sub, later(step * 10 + 1), boxes)
        current = review_tasks.answer(current, human, later(step * 10 + 1), timing)
    assert review_tasks.task_output(current, "hitl")["agreement"] == 0.0
    single = review_tasks.answer(
        review_tasks.claim(task(), "ana", later(1), TIMING), answer_of("ana", later(2)), later(2), TIMING
    )
    assert "agreement" not in review_tasks.task_output(single, "hitl")
