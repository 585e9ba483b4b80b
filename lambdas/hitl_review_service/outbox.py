"""The outbox: every task change that reaches a final status becomes its output.json and its status event.

Fed by the task table's stream, so a status change and its event happen together: the change is
committed first, and the stream offers it until this function has sent the event. The stream
keeps records 24 hours and its failure destination gets only their position, so each task is
marked announced once its event is out, and the lifecycle sweep announces final tasks left
unmarked (at least once, never zero times). Writing output.json again gives the same object and
review-complete takes a repeated event as the same manifest version, so a repeat is harmless.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from hitl_aws.publisher import PublishError
from hitl_aws.review_task_table import ReviewTaskTable
from hitl_aws.s3_uri import s3_uri
from hitl_core import review_tasks
from hitl_core.review_tasks import ReviewTask, ReviewTiming, TaskStatus
from hitl_core.wiring import (
    REVIEW_SERVICE_METRIC_NAMESPACE,
    REVIEW_SERVICE_METRIC_SERVICE,
    REVIEW_SERVICE_SOURCE,
    REVIEW_TASK_STATUS_DETAIL_TYPE,
)
from hitl_review_service.settings import OutboxSettings

logger = Logger(service="review-outbox")
metrics = Metrics(namespace=REVIEW_SERVICE_METRIC_NAMESPACE, service=REVIEW_SERVICE_METRIC_SERVICE)
processor = BatchProcessor(event_type=EventType.DynamoDBStreams, raise_on_entire_batch_failure=False)


@dataclass(frozen=True)
class MissedAnnouncements:
    """What one sweep's re-announcement did: tasks announced, and tasks whose announcement failed."""

    announced: int
    failed: int


@dataclass(frozen=True)
class Outbox:
    """Writes output.json of completed tasks, announces every final status on the project bus, marks it."""

    settings: OutboxSettings
    s3: Any
    events: Any
    table: ReviewTaskTable

    @classmethod
    def from_env(cls, environ: Any) -> Outbox:
        settings = OutboxSettings.from_env(environ)
        table = ReviewTaskTable(boto3.client("dynamodb"), settings.table_name)
        return cls(settings, boto3.client("s3"), boto3.client("events"), table)

    def handle(self, old_image: dict[str, Any], new_image: dict[str, Any]) -> str | None:
        """One stream record's images; returns the status announced, None when nothing was due."""
        if not new_image or not review_tasks.is_task_key(str(new_image["loop_name"])):
            return None  # a deleted item, or a budget counter or reviewer record beside the tasks
        new = ReviewTask.from_item(new_image)
        old = ReviewTask.from_item(old_image) if old_image else None
        if not review_tasks.entered_final_status(old, new):
            return None
        self.announce(self.table.task(new_image))
        return str(new.status)

    def announce(self, task: ReviewTask) -> None:
        """output.json (when completed) and the status event, then the task's mark that both are out."""
        output_uri = self._write_output(task) if task.status is TaskStatus.COMPLETED else None
        self._announce(task, output_uri)
        self.table.mark_announced(task, review_tasks.iso_millis(datetime.now(UTC)))
        metrics.add_metric(name=f"Tasks{task.status}", unit=MetricUnit.Count, value=1)
        logger.info("task status announced", extra={"loop_name": task.loop_name, "status": str(task.status)})

    def announce_missed(self, now: datetime, timing: ReviewTiming) -> MissedAnnouncements:
        """Announce final tasks the stream left unmarked past its grace time; a failure waits a sweep."""
        announced = failed = 0
        for task in self.table.unannounced(review_tasks.announcement_lookback(now, timing)):
            if not review_tasks.awaiting_announcement(task, now):
                continue
            try:
                self.announce(task)
            except Exception:  # one task's failure must not keep the others from their events
                logger.exception("re-announcement failed", extra={"loop_name": task.loop_name})
                failed += 1
            else:
                announced += 1
        return MissedAnnouncements(announced, failed)

    def _write_output(self, task: ReviewTask) -> str:
        """Put output.json; the same task always gives the same bytes at the same key."""
        document = review_tasks.task_output(task, self.settings.service_name)
        key = review_tasks.output_key(
            self.settings.output_prefix, self.settings.service_name, task.loop_name, task.created_at
        )
        self.s3.put_object(
            Bucket=self.settings.output_bucket,
            Key=key,
            Body=json.dumps(document, indent=2, sort_keys=True).encode(),
            ContentType="application/json",
        )
        return s3_uri(self.settings.output_bucket, key)

    def _announce(self, task: ReviewTask, output_uri: str | None) -> None:
        detail = review_tasks.status_detail(task, self.settings.service_name, output_uri)
        response = self.events.put_events(
            Entries=[
                {
                    "Source": REVIEW_SERVICE_SOURCE,
                    "DetailType": REVIEW_TASK_STATUS_DETAIL_TYPE,
                    "Detail": json.dumps(detail),
                    "EventBusName": self.settings.event_bus_name,
                }
            ]
        )
        if response.get("FailedEntryCount"):
            result = response["Entries"][0]
            raise PublishError(
                f"EventBridge refused the status event of {task.loop_name}: "
                f"{result.get('ErrorCode')} {result.get('ErrorMessage')}"
            )


@cache
def outbox() -> Outbox:
    """Built once per execution environment, from the function's environment."""
    return Outbox.from_env(os.environ)


def record_handler(record: DynamoDBRecord) -> str | None:
    """One stream record; raising reports it in batchItemFailures, so the stream offers it again."""
    stream = record.dynamodb
    if stream is None:
        return None
    return outbox().handle(stream.old_image, stream.new_image)


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
