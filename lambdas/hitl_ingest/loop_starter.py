"""The a2i backend's loop starter, run on a schedule when a review budget is set: starts the waiting
images' loops, best first, while the budget allows, and reports the budget's state as the review
service's sweep does (`BudgetUsedThisHour`, `BudgetUsedToday`, the limits), plus `LoopsWaitingStarted`
(this run's starts) and `LoopsWaiting` (images still waiting after it).

It runs from the ingest function's package (same code, settings and clients as ingest's starts).
Runs may overlap: every start is counted once and started once (`hitl_ingest.pending_loops`).
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from hitl_core.review_budget import budget_metrics, team_counter_keys
from hitl_core.wiring import REVIEW_SERVICE_METRIC_NAMESPACE, REVIEW_SERVICE_METRIC_SERVICE
from hitl_ingest.pending_loops import PendingLoops

MAX_LOOPS_PER_RUN = 200
"""A run starts at most so many loops (three calls each), well within its timeout; the next run goes on."""

logger = Logger(service="a2i-loop-starter")
metrics = Metrics(namespace=REVIEW_SERVICE_METRIC_NAMESPACE, service=REVIEW_SERVICE_METRIC_SERVICE)


@cache
def pending_loops() -> PendingLoops:
    """Built once per execution environment, from the function's environment (as ingest builds it)."""
    import boto3
    from botocore.config import Config

    from hitl_aws.settings import FunctionSettings
    from hitl_ingest.dependencies import CLIENT_SETTINGS, build_pending_loops

    session, config = boto3.session.Session(), Config(**CLIENT_SETTINGS)
    settings = FunctionSettings.from_env(os.environ)
    return build_pending_loops(settings, lambda service: session.client(service, config=config))


def start_and_report(loops: PendingLoops) -> dict[str, Any]:
    """One scheduled run: start what the budget allows, then emit the budget's state."""
    run = loops.start_waiting(MAX_LOOPS_PER_RUN)
    now = loops.clock()
    used = loops.table.counters(team_counter_keys(now))
    for name, value in budget_metrics(loops.budget, now, used).items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    metrics.add_metric(name="LoopsWaitingStarted", unit=MetricUnit.Count, value=run.started)
    waiting = loops.table.waiting_count()
    metrics.add_metric(name="LoopsWaiting", unit=MetricUnit.Count, value=waiting)
    return {"started": run.started, "budget_spent": run.spent, "waiting": waiting}


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    summary = start_and_report(pending_loops())
    logger.info("loop starter run done", extra=summary)
    return summary
