"""The lifecycle sweep, run on a schedule: open tasks past their lifetime fail as `Expired`, run-out
leases go back to the queue, open tasks written before the queue index are put in it (a bounded
number per run), final tasks the outbox left unannounced are announced, and the queue's
size and oldest age become metrics for the alarms, and so does the review budget's use this hour
and today (`BudgetUsedThisHour`, `BudgetUsedToday`, with the limits beside when set).

DynamoDB TTL deletes late (up to days) and would lose the task; the sweep changes status in time
(at most one schedule interval late), and the outbox announces each expiry. The table's stream
keeps records 24 hours, so the table, not the stream, is what makes every final status announced.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from hitl_aws.review_task_table import ReviewTaskTable
from hitl_core import review_budget
from hitl_core.wiring import REVIEW_SERVICE_METRIC_NAMESPACE, REVIEW_SERVICE_METRIC_SERVICE
from hitl_review_service import outbox
from hitl_review_service.outbox import MissedAnnouncements
from hitl_review_service.settings import LifecycleSettings
from hitl_review_service.task_store import SweepResult, TaskStore

logger = Logger(service="review-lifecycle")
metrics = Metrics(namespace=REVIEW_SERVICE_METRIC_NAMESPACE, service=REVIEW_SERVICE_METRIC_SERVICE)


@cache
def store() -> TaskStore:
    """Built once per execution environment, from the function's environment."""
    settings = LifecycleSettings.from_env(os.environ)
    table = ReviewTaskTable(boto3.client("dynamodb"), settings.table_name)
    team = settings.team
    return TaskStore(table, settings.timing, budget=team.budget.budget(), priority=team.priority.rule())


def record_budget(sweeper: TaskStore) -> None:
    """The budget's state: reviews counted this UTC hour and today, and the limits when set."""
    now = sweeper.now()
    used = sweeper.records.counters(review_budget.team_counter_keys(now))
    for name, value in review_budget.budget_metrics(sweeper.budget, now, used).items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def record_metrics(result: SweepResult, missed: MissedAnnouncements) -> None:
    metrics.add_metric(name="TasksWaiting", unit=MetricUnit.Count, value=result.waiting)
    metrics.add_metric(name="OldestTaskAgeSeconds", unit=MetricUnit.Seconds, value=result.oldest_age_seconds)
    metrics.add_metric(name="TasksExpired", unit=MetricUnit.Count, value=result.expired)
    metrics.add_metric(name="LeasesReturned", unit=MetricUnit.Count, value=result.leases_returned)
    metrics.add_metric(name="TasksQueued", unit=MetricUnit.Count, value=result.queued)
    metrics.add_metric(name="TasksReannounced", unit=MetricUnit.Count, value=missed.announced)
    metrics.add_metric(name="ReannouncementsFailed", unit=MetricUnit.Count, value=missed.failed)


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    sweeper = store()
    result = sweeper.sweep()
    missed = outbox.outbox().announce_missed(sweeper.now(), sweeper.timing)
    record_metrics(result, missed)
    record_budget(sweeper)
    summary = asdict(result) | {"announced": missed.announced, "announce_failed": missed.failed}
    logger.info("sweep done", extra=summary)
    return summary
