"""Lambda entry point: a batch of SQS messages, each an S3 Object Created event from EventBridge.

A message that fails (throttling, quota, 5xx, a malformed body) is reported in
`batchItemFailures`, so only it is retried and, after the queue's receive limit, parked in
the DLQ; the others in the batch complete.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from hitl_ingest.dependencies import IngestDependencies
from hitl_ingest.ingest import SERVICE, Ingestor
from hitl_ingest.s3_event import parse_object_created

METRICS_NAMESPACE = "HitlPipeline"
CORRELATION_KEYS = ["image_key", "loop_name"]

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)
metrics = Metrics(
    namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", METRICS_NAMESPACE), service=SERVICE
)
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

_dependencies: IngestDependencies | None = None


def dependencies() -> IngestDependencies:
    """Settings and clients, built on the first message of this execution environment."""
    global _dependencies
    if _dependencies is None:
        _dependencies = IngestDependencies.from_env(os.environ)
    return _dependencies


@tracer.capture_method
def record_handler(record: SQSRecord) -> str:
    """Process one message; raising marks it failed so SQS delivers it again."""
    try:
        event = parse_object_created(record.body)
        logger.append_keys(image_key=event.key)
        tracer.put_annotation("image_key", event.key)
        result = Ingestor(dependencies(), metrics).ingest(event)
    except Exception:
        logger.exception("message failed; SQS will deliver it again", extra={"message_id": record.message_id})
        raise
    finally:
        logger.remove_keys(CORRELATION_KEYS)
    return result.status


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
