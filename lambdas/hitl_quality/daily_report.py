"""One daily run: read the windows' records, write the report, announce what crossed a line.

The report goes to `{quality_reports}{day}.html` (and `latest.html`), its figures as JSON beside
it; a rerun the same day rewrites the same keys. Events carry the day, so a consumer can tell a
repeat (EventBridge and the schedule deliver at least once).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime, timedelta

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from hitl_aws.publisher import EventPublisher
from hitl_aws.s3_uri import s3_uri
from hitl_core.events import AcceptedErrorRateExceeded, EventDetail, ModelQualityDegraded
from hitl_core.quality_assessment import QualityAssessment
from hitl_core.quality_report import build_report
from hitl_quality.record_reader import RecordReader
from hitl_quality.settings import QualitySettings

SERVICE = "quality-report"
METRIC_NAMESPACE = "HitlPipeline"
LATEST = "latest.html"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=METRIC_NAMESPACE, service=SERVICE)


def quality_events(assessment: QualityAssessment, report_uri: str) -> list[EventDetail]:
    """Accepted Error Rate Exceeded when the lower bound passes the maximum; a Model Quality
    Degraded per class and metric that dropped."""
    day = f"{assessment.generated_at:%Y-%m-%d}"
    windows = assessment.windows
    found: list[EventDetail] = []
    error = assessment.accepted_error
    if assessment.error_exceeded and error.estimate is not None:
        found.append(
            AcceptedErrorRateExceeded(
                report_date=day,
                window_start=windows.recent_start.isoformat(),
                window_end=windows.end.isoformat(),
                audited=error.audited,
                wrong=error.wrong,
                audit_percentage=error.audit_percentage,
                rate=error.estimate.rate,
                low=error.estimate.low,
                high=error.estimate.high,
                max_accepted_error_rate=assessment.max_accepted_error_rate,
                report_uri=report_uri,
            )
        )
    for drop in assessment.drops:
        found.append(
            ModelQualityDegraded(
                report_date=day,
                label=drop.label,
                metric=drop.metric,
                baseline=drop.baseline,
                recent=drop.recent,
                drop=drop.drop,
                margin=assessment.drift_margin,
                baseline_reviews=drop.baseline_reviews,
                recent_reviews=drop.recent_reviews,
                baseline_start=windows.baseline_start.isoformat(),
                recent_start=windows.recent_start.isoformat(),
                window_end=windows.end.isoformat(),
                report_uri=report_uri,
            )
        )
    return found


def record_metrics(assessment: QualityAssessment) -> None:
    """The figures the dashboard and the accepted-error alarm read (rates in percent)."""
    error = assessment.accepted_error
    metrics.add_metric(name="AuditedImages", unit=MetricUnit.Count, value=error.audited)
    metrics.add_metric(name="QualityDrops", unit=MetricUnit.Count, value=len(assessment.drops))
    recent = [day for day in assessment.days if day.start >= assessment.windows.recent_start]
    images = sum(day.images for day in recent)
    if images:
        reviewed = sum(day.reviewed for day in recent)
        metrics.add_metric(name="ReviewRate", unit=MetricUnit.Percent, value=100 * reviewed / images)
    if error.enough and error.estimate is not None:
        metrics.add_metric(name="AcceptedErrorRate", unit=MetricUnit.Percent, value=100 * error.estimate.rate)
        metrics.add_metric(
            name="AcceptedErrorRateLowerBound", unit=MetricUnit.Percent, value=100 * error.estimate.low
        )
        metrics.add_metric(
            name="AcceptedErrorRateUpperBound", unit=MetricUnit.Percent, value=100 * error.estimate.high
        )


class DailyReport:
    """The function's work, given its settings and clients (the handler builds it once)."""

    def __init__(self, settings: QualitySettings, s3: object, publisher: EventPublisher) -> None:
        self._settings = settings
        self._s3 = s3
        self._publisher = publisher
        self._reader = RecordReader(s3, settings.training_bucket)

    def run(self, now: datetime) -> dict[str, object]:
        """Report on the windows ending at `now` (the schedule's event time: a retry reports alike)."""
        config, bucket = self._settings.config, self._settings.training_bucket
        prefixes = config.prefixes
        since = now - timedelta(days=config.quality.recent_days + config.quality.baseline_days)
        documents = self._reader.quality_documents(prefixes, since, now)
        assessment, html = build_report(documents, config, now)
        folder = prefixes.quality_reports
        key = f"{folder}{now:%Y-%m-%d}.html"
        for name in (key, f"{folder}{LATEST}"):
            self._s3.put_object(
                Bucket=bucket, Key=name, Body=html.encode(), ContentType="text/html; charset=utf-8"
            )
        report_uri = s3_uri(bucket, key)
        summary = {
            "report_uri": report_uri,
            "summary": assessment.summary_lines(),
            "accepted_error": assessment.accepted_error.to_dict(),
            "advice": assessment.advice.to_dict() if assessment.advice else None,
            "drops": [asdict(drop) | {"drop": drop.drop} for drop in assessment.drops],
            "skipped": len(assessment.skipped),
        }
        self._s3.put_object(
            Bucket=bucket,
            Key=f"{folder}{now:%Y-%m-%d}.json",
            Body=json.dumps(summary, indent=2).encode(),
            ContentType="application/json",
        )
        announced = quality_events(assessment, report_uri)
        if announced:
            self._publisher.publish(announced)
        record_metrics(assessment)
        logger.info(
            "quality report written",
            extra={
                "report_uri": report_uri,
                "documents": len(documents),
                "events": len(announced),
                "summary": summary["summary"],
            },
        )
        return {"report_uri": report_uri, "events": len(announced), "summary": assessment.summary_lines()}
