"""The review service's operations on tasks: read, decide with the core, write only over what was read.

Each change is computed by `hitl_core.review_tasks` from the task as read and written on the
condition that its version is still the one read; when another writer got there first, the task
is read again and the decision made again (so a second reviewer's claim then meets the first
one's lease and is refused).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from hitl_aws.review_task_table import ReviewTaskTable, TaskPage, TeamRecords, WriteOutcome
from hitl_core import review_tasks
from hitl_core.gold_tasks import (
    GoldLine,
    GoldRule,
    gold_answer_adds,
    gold_standing,
    gold_task,
    reviewer_record_key,
)
from hitl_core.review_budget import ReviewBudget
from hitl_core.review_priority import PriorityRule
from hitl_core.review_tasks import ReviewTask, ReviewTiming, TaskStatus

MAX_ATTEMPTS = 5
QUEUE_PAGE = 50
"""Queue index entries read per query by `next`: enough to pass the tasks others hold right now."""
QUEUE_BACKFILL_PER_SWEEP = 200
"""Open tasks from before the queue index that one sweep puts in it (one write each); the rest wait."""

Clock = Callable[[], datetime]
Change = Callable[[ReviewTask, datetime], ReviewTask]


@dataclass(frozen=True)
class SweepResult:
    """What one sweep did, and the queue it left: open tasks and the age of the oldest."""

    expired: int
    leases_returned: int
    skipped: int
    waiting: int
    oldest_age_seconds: float
    queued: int = 0
    """Open tasks from before the queue index put in it by this sweep."""
    left_unqueued: int = 0
    """Such tasks left for the next sweep (over `QUEUE_BACKFILL_PER_SWEEP`)."""


class TaskNotFound(LookupError):
    """No task of that name."""


class TaskBusy(review_tasks.TaskRefused):
    """The task kept changing under us; the caller may try again."""


class BudgetSpent(review_tasks.TaskRefused):
    """The review budget (the hour's, the day's or the caller's day's) has no review left."""


@dataclass(frozen=True)
class NextTask:
    """What `next` served: a task the caller now holds, or none (and whether the budget is why)."""

    task: ReviewTask | None
    budget_spent: bool = False


def utc_now() -> datetime:
    return datetime.now(UTC)


class TaskStore:
    """Tasks of one table, changed race-free; `clock` is the time the rules are applied at."""

    def __init__(
        self,
        table: ReviewTaskTable,
        timing: ReviewTiming,
        clock: Clock = utc_now,
        budget: ReviewBudget | None = None,
        gold: GoldRule | None = None,
        gold_lines: Sequence[GoldLine] = (),
        priority: PriorityRule | None = None,
    ) -> None:
        self.table = table
        self.timing = timing
        self._clock = clock
        self.budget = budget or ReviewBudget()
        self.priority = priority or PriorityRule()
        self.records = TeamRecords(table)
        self.gold = gold if gold_lines else None
        self.gold_lines = list(gold_lines)

    def now(self) -> datetime:
        return self._clock()

    def get(self, loop_name: str) -> ReviewTask:
        task = self.table.get(loop_name) if review_tasks.is_task_key(loop_name) else None
        if task is None:
            raise TaskNotFound(f"no task named {loop_name!r}")
        return task

    def page(
        self, status: TaskStatus, *, limit: int, next_token: str | None = None, newest_first: bool = False
    ) -> TaskPage:
        return self.table.page(status, limit=limit, next_token=next_token, newest_first=newest_first)

    def claim(self, loop_name: str, reviewer: str, name: str | None = None) -> ReviewTask:
        """Take (or renew) the lease; a new claim counts one review against the budget (BudgetSpent)."""
        for _ in range(MAX_ATTEMPTS):
            task = self.get(loop_name)
            outcome, changed = self._claim(task, reviewer, name, self.now())
            if outcome is WriteOutcome.WRITTEN:
                return changed
            if outcome is WriteOutcome.SPENT:
                raise BudgetSpent("the review budget is spent; the task waits until the next hour or day")
        raise TaskBusy(f"task {loop_name} kept changing; try again")

    def next(self, reviewer: str, name: str | None = None, skip: Sequence[str] = ()) -> NextTask:
        """Claim the best open task the caller may take, by the queue index: one they hold (of the page
        read) first, tasks in `skip` only after every other. On a lost race the next candidate is
        tried; a new claim the budget refuses ends the search (`budget_spent`)."""
        gold = self._gold_next(reviewer)
        if gold is not None:
            return NextTask(gold)
        skipped = set(skip)
        later: list[str] = []
        start = None
        while True:
            candidates, start = self.records.queue_candidates(QUEUE_PAGE, start)
            ordered = sorted(candidates, key=lambda c: c.get("lease_owner") != reviewer)
            for candidate in ordered:
                loop_name = str(candidate["loop_name"])
                if loop_name in skipped:
                    later.append(loop_name)
                elif self._free_for(candidate, reviewer):
                    served = self._try(loop_name, reviewer, name)
                    if served is not None:
                        return served
            if start is None:
                break
        for loop_name in sorted(later, key=list(skip).index):
            served = self._try(loop_name, reviewer, name)
            if served is not None:
                return served
        return NextTask(None)

    def release(self, loop_name: str, reviewer: str) -> ReviewTask:
        """Give one's lease back; a counted claim's review goes back to the budget."""
        return self._change(
            loop_name, lambda task, now: review_tasks.release(task, reviewer, now), refund_of=reviewer
        )

    def admin_release(self, loop_name: str, admin: str) -> ReviewTask:
        """An administrator gives back anyone's lease (and its holder's counted review)."""
        for _ in range(MAX_ATTEMPTS):
            task = self.get(loop_name)
            holder = task.lease_owner or ""
            changed = review_tasks.admin_release(task, admin, self.now())
            if self._write(task, changed, refund_of=holder):
                return changed
        raise TaskBusy(f"task {loop_name} kept changing; try again")

    def _free_for(self, candidate: dict, reviewer: str) -> bool:
        """From the index entry: nobody else holds a running lease, and the caller has not answered."""
        if reviewer in (candidate.get("reviewers") or []):
            return False
        owner, until = candidate.get("lease_owner"), candidate.get("lease_expires_at")
        now = review_tasks.iso_millis(self.now())
        return not owner or owner == reviewer or not until or str(until) <= now

    def _try(self, loop_name: str, reviewer: str, name: str | None) -> NextTask | None:
        """One candidate, read consistently: claimed (a NextTask), or None when it is no longer free."""
        task = self.table.get(loop_name)
        now = self.now()
        if task is None or not review_tasks.claimable_by(task, reviewer, now, self.timing):
            return None
        outcome, changed = self._claim(task, reviewer, name, now)
        if outcome is WriteOutcome.SPENT:
            return NextTask(None, budget_spent=True)
        return NextTask(changed) if outcome is WriteOutcome.WRITTEN else None

    def _claim(
        self, task: ReviewTask, reviewer: str, name: str | None, now: datetime
    ) -> tuple[WriteOutcome, ReviewTask]:
        renewal = review_tasks.is_renewal(task, reviewer, now)
        windows = [] if renewal else self.budget.windows(reviewer, now)
        changed = review_tasks.claim(task, reviewer, now, self.timing, name=name, counted=bool(windows))
        served = None if renewal or self.gold is None else (reviewer_record_key(reviewer), {"served": 1})
        outcome = self.records.replace_counted(task.version, changed, count=windows, record=served)
        if outcome is WriteOutcome.WRITTEN and name and not renewal:
            self.records.name_reviewer(reviewer_record_key(reviewer), name)
        return outcome, changed

    def reviewer_names(self, reviewers: Sequence[str]) -> dict[str, str]:
        """The names reviewers signed in with when they last took a task (those who never did: absent)."""
        found = {r: self.records.record(reviewer_record_key(r)).get("name") for r in reviewers}
        return {r: str(name) for r, name in found.items() if name}

    def _gold_next(self, reviewer: str) -> ReviewTask | None:
        """The reviewer's next task is gold when their counts say so (`GoldRule.serve_gold`)."""
        if self.gold is None:
            return None
        record = self.records.record(reviewer_record_key(reviewer))
        served, gold_served = int(record.get("served", 0)), int(record.get("gold_served", 0))
        if not self.gold.serve_gold(served, gold_served):
            return None
        line = self.gold_lines[gold_served % len(self.gold_lines)]
        task = gold_task(line, reviewer, gold_served, self.now(), self.timing, self.priority)
        written = self.records.put_gold(task, reviewer_record_key(reviewer), gold_served)
        return task if written else None

    def gold_standing(self, reviewer: str) -> tuple[int, float]:
        """The reviewer's gold answers and the sum of their scores."""
        return gold_standing(self.records.record(reviewer_record_key(reviewer)))

    def _write(self, task: ReviewTask, changed: ReviewTask, refund_of: str | None = None) -> bool:
        claimed_at = review_tasks.counted_claim_time(task, refund_of) if refund_of else None
        refund = []
        if refund_of and claimed_at is not None:
            refund = [w.key for w in self.budget.windows(refund_of, claimed_at)]
        outcome = self.records.replace_counted(task.version, changed, uncount=refund)
        return outcome is WriteOutcome.WRITTEN

    def answer(self, loop_name: str, build_answer: Callable[[ReviewTask, datetime], dict]) -> ReviewTask:
        """Record an answer built and checked against the task as read (AnswerInvalid if it does not fit).

        A gold task completes with its one answer, scored into the reviewer's record in the same
        transaction and marked announced: it has nothing to announce and never reaches the manifest.
        """
        task = self.get(loop_name)
        if task.gold is None:

            def change(task: ReviewTask, now: datetime) -> ReviewTask:
                human_answer = build_answer(task, now)
                timing = self._timing_for(str(human_answer["workerId"]), task)
                return review_tasks.answer(task, human_answer, now, timing)

            return self._change(loop_name, change, first_read=task)
        for _ in range(MAX_ATTEMPTS):
            assert task.gold is not None  # a task's gold answer is set when it is made, never changed
            now = self.now()
            human_answer = build_answer(task, now)
            once = ReviewTiming(self.timing.lease_seconds, self.timing.availability_seconds)
            changed = review_tasks.answer(task, human_answer, now, once)
            changed = replace(changed, announced_at=review_tasks.iso_millis(now))
            rule = self.gold or GoldRule()
            score = rule.score(json.loads(task.gold), review_tasks.answer_boxes(human_answer))
            record = (reviewer_record_key(str(human_answer["workerId"])), gold_answer_adds(score))
            if self.records.replace_counted(task.version, changed, record=record) is WriteOutcome.WRITTEN:
                return changed
            task = self.get(loop_name)
        raise TaskBusy(f"task {loop_name} kept changing; try again")

    def _timing_for(self, reviewer: str, task: ReviewTask) -> ReviewTiming:
        """The task's timing, asking one more answer when the reviewer's gold score is below the rule's
        (`second_reviewer`; at most three answers, A2I's task count limit)."""
        if self.gold is None or not self.gold.second_reviewer:
            return self.timing
        if not self.gold.below_total(*self.gold_standing(reviewer)):
            return self.timing
        wanted = min(max(self.timing.task_count, len(task.answers) + 2), 3)
        return replace(self.timing, task_count=wanted)

    def stop(self, loop_name: str, admin: str) -> ReviewTask:
        return self._change(loop_name, lambda task, now: review_tasks.stop(task, admin, now))

    def sweep(self) -> SweepResult:
        """Expire open tasks past their lifetime, return run-out leases and put tasks written before the
        queue index in it (`review_tasks.queue_entry`, at most `QUEUE_BACKFILL_PER_SWEEP`), each in one
        write over the version read.

        The by-status index is eventually consistent: a task it shows stale (already answered or
        claimed again) fails the version check and is left for the next sweep.
        """
        now = self.now()
        expired = returned = skipped = queued = unqueued = 0
        open_since: list[datetime] = []
        for task in self.table.all_in(TaskStatus.IN_PROGRESS):
            swept = review_tasks.sweep(task, now, self.timing)
            entry = None
            if swept is None or not swept.is_final:
                entry = review_tasks.queue_entry(swept or task, self.priority, now)
                if entry is not None and queued >= QUEUE_BACKFILL_PER_SWEEP:
                    entry, unqueued = None, unqueued + 1
            changed = entry or swept
            if changed is not None and not self.table.replace(task.version, changed):
                skipped += 1
            elif changed is not None and changed.status is TaskStatus.FAILED:
                expired += 1
                continue
            else:
                returned += swept is not None
                queued += entry is not None
            open_since.append(review_tasks.parse_timestamp(task.created_at))
        oldest = (now - min(open_since)).total_seconds() if open_since else 0.0
        return SweepResult(expired, returned, skipped, len(open_since), max(oldest, 0.0), queued, unqueued)

    def _change(
        self,
        loop_name: str,
        change: Change,
        refund_of: str | None = None,
        first_read: ReviewTask | None = None,
    ) -> ReviewTask:
        """Apply `change` to the task as read and write it over that version, reading again when another
        write came first (`first_read`: the caller's read, used for the first attempt)."""
        for attempt in range(MAX_ATTEMPTS):
            task = first_read if attempt == 0 and first_read is not None else self.get(loop_name)
            changed = change(task, self.now())
            if self._write(task, changed, refund_of):
                return changed
        raise TaskBusy(f"task {loop_name} kept changing; try again")
