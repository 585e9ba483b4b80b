"""The review service's operations on tasks: read, decide with the core, write only over what was read.

Each change is computed by `hitl_core.review_tasks` from the task as read and written on the
condition that its version is still the one read; when another writer got there first, the task
is read again and the decision made again (so a second reviewer's claim then meets the first
one's lease and is refused).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from hitl_aws.review_task_table import ReviewTaskTable, TaskPage
from hitl_core import review_tasks
from hitl_core.review_tasks import ReviewTask, ReviewTiming, TaskStatus

MAX_ATTEMPTS = 5

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


class TaskNotFound(LookupError):
    """No task of that name."""


class TaskBusy(review_tasks.TaskRefused):
    """The task kept changing under us; the caller may try again."""


def utc_now() -> datetime:
    return datetime.now(UTC)


class TaskStore:
    """Tasks of one table, changed race-free; `clock` is the time the rules are applied at."""

    def __init__(self, table: ReviewTaskTable, timing: ReviewTiming, clock: Clock = utc_now) -> None:
        self.table = table
        self.timing = timing
        self._clock = clock

    def now(self) -> datetime:
        return self._clock()

    def get(self, loop_name: str) -> ReviewTask:
        task = self.table.get(loop_name)
        if task is None:
            raise TaskNotFound(f"no task named {loop_name!r}")
        return task

    def page(
        self, status: TaskStatus, *, limit: int, next_token: str | None = None, newest_first: bool = False
    ) -> TaskPage:
        return self.table.page(status, limit=limit, next_token=next_token, newest_first=newest_first)

    def claim(self, loop_name: str, reviewer: str) -> ReviewTask:
        return self._change(loop_name, lambda task, now: review_tasks.claim(task, reviewer, now, self.timing))

    def release(self, loop_name: str, reviewer: str) -> ReviewTask:
        return self._change(loop_name, lambda task, now: review_tasks.release(task, reviewer, now))

    def answer(self, loop_name: str, build_answer: Callable[[ReviewTask, datetime], dict]) -> ReviewTask:
        """Record an answer built and checked against the task as read (AnswerInvalid if it does not fit)."""
        return self._change(
            loop_name,
            lambda task, now: review_tasks.answer(task, build_answer(task, now), now, self.timing),
        )

    def stop(self, loop_name: str, admin: str) -> ReviewTask:
        return self._change(loop_name, lambda task, now: review_tasks.stop(task, admin, now))

    def sweep(self) -> SweepResult:
        """Expire open tasks past their lifetime and return run-out leases, each only over the version read.

        The by-status index is eventually consistent: a task it shows stale (already answered or
        claimed again) fails the version check and is left for the next sweep.
        """
        now = self.now()
        expired = returned = skipped = 0
        open_since: list[datetime] = []
        for task in self.table.all_in(TaskStatus.IN_PROGRESS):
            changed = review_tasks.sweep(task, now, self.timing)
            if changed is not None and not self.table.replace(task.version, changed):
                skipped += 1
            elif changed is not None and changed.status is TaskStatus.FAILED:
                expired += 1
                continue
            elif changed is not None:
                returned += 1
            open_since.append(review_tasks.parse_timestamp(task.created_at))
        oldest = (now - min(open_since)).total_seconds() if open_since else 0.0
        return SweepResult(expired, returned, skipped, len(open_since), max(oldest, 0.0))

    def _change(self, loop_name: str, change: Change) -> ReviewTask:
        for _ in range(MAX_ATTEMPTS):
            task = self.get(loop_name)
            changed = change(task, self.now())
            if self.table.replace(task.version, changed):
                return changed
        raise TaskBusy(f"task {loop_name} kept changing; try again")
