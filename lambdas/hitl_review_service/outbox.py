"""The outbox: every task change that reaches a final status becomes its output.json and its status event.

Fed by the task table's stream, so a status change and its event happen together: the change is
committed first, and the stream keeps offering it until this function has sent the event (at
least once, never zero times). Writing output.json again gives the same object and
review-complete takes a repeated event as a no-op, so a redelivered record is harmless.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from hitl_aws.publisher import PublishError
from hitl_aws.s3_uri import s3_uri
from hitl_core import review_tasks
from hitl_core.review_tasks import ReviewTask, TaskStatus
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
class Outbox:
    """Writes output.json of completed tasks and announces every final status on the project bus."""

    settings: OutboxSettings
    s3: Any
    events: Any

    @classmethod
    def from_env(cls, environ: Any) -> Outbox:
        return cls(OutboxSettings.from_env(environ), boto3.client("s3"), boto3.client("events"))

    def handle(self, old_image: dict[str, Any], new_image: dict[str, Any]) -> str | None:
        """One stream record's images; returns the status announced, None when nothing was due."""
        if not new_image:
            return None
        new = ReviewTask.from_item(new_image)
        old = ReviewTask.from_item(old_image) if old_image else None
        if not review_tasks.entered_final_status(old, new):
            return None
        output_uri = self._write_output(new) if new.status is TaskStatus.COMPLETED else None
        self._announce(new, output_uri)
        metrics.add_metric(name=f"Tasks{new.status}", unit=MetricUnit.Count, value=1)
        logger.info("task status announced", extra={"loop_name": new.loop_name, "status": str(new.status)})
        return str(new.status)

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
