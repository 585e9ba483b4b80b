"""Lambda entry point of the daily quality-report function (an EventBridge schedule invokes it)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from hitl_aws.publisher import EventPublisher
from hitl_core.quality_sample import parse_time
from hitl_quality.daily_report import DailyReport, logger, metrics
from hitl_quality.settings import QualitySettings


@cache
def daily_report() -> DailyReport:
    """Built once per execution environment, from the function's environment."""
    import boto3

    settings = QualitySettings.from_env(os.environ)
    publisher = EventPublisher(boto3.client("events"), settings.event_bus_name)
    return DailyReport(settings, boto3.client("s3"), publisher)


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    scheduled = event.get("time")
    return daily_report().run(parse_time(scheduled) if scheduled else datetime.now(UTC))
