"""Lambda entry point: a batch of SQS messages, each an S3 Object Created event from EventBridge.

A message that fails (throttling, quota, 5xx, a malformed body) is reported in
`batchItemFailures`, so only it is retried and, after the queue's receive limit, parked in
the DLQ; the others in the batch complete.

The tracer is built on the first invocation, not at import: constructing it imports the X-Ray
SDK (about a third of the cold import). Under SnapStart it is built during init instead, so the
snapshot holds it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cache
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
SNAPSHOT_INITIALIZATION = "snap-start"  # AWS_LAMBDA_INITIALIZATION_TYPE while SnapStart initializes

logger = Logger(service=SERVICE)
metrics = Metrics(
    namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", METRICS_NAMESPACE), service=SERVICE
)
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

_dependencies: IngestDependencies | None = None
_ingested_in_batch: set[tuple[str, str, str]] = set()
"""The object versions the current batch has ingested: S3 may announce one upload twice (an aws
CLI multipart upload), and both messages can land in one batch; the second is acknowledged only."""


@cache
def tracer() -> Tracer:
    """The Powertools tracer (X-Ray), built once per execution environment."""
    return Tracer(service=SERVICE)


def dependencies() -> IngestDependencies:
    """Settings and clients, built on the first message of this execution environment."""
    global _dependencies
    if _dependencies is None:
        _dependencies = IngestDependencies.from_env(os.environ)
    return _dependencies


@cache
def traced_ingest_record() -> Callable[[SQSRecord], str]:
    """`ingest_record` traced as a subsegment, decorated once: decorating costs about 0.1 ms."""
    return tracer().capture_method(ingest_record)


@cache
def traced_process_batch() -> Callable[[dict[str, Any], LambdaContext], dict[str, Any]]:
    """`process_batch` traced as the handler's segment, decorated once."""
    return tracer().capture_lambda_handler(process_batch)


def record_handler(record: SQSRecord) -> str:
    """Process one message (traced as a subsegment); raising marks it failed so SQS retries it."""
    return traced_ingest_record()(record)


def ingest_record(record: SQSRecord) -> str:
    try:
        event = parse_object_created(record.body)
        logger.append_keys(image_key=event.key)
        tracer().put_annotation("image_key", event.key)
        if event.identity in _ingested_in_batch:
            logger.info("this object version was ingested earlier in the batch")
            return "duplicate"
        result = Ingestor(dependencies(), metrics).ingest(event)
        _ingested_in_batch.add(event.identity)
    except Exception:
        logger.exception("message failed; SQS will deliver it again", extra={"message_id": record.message_id})
        raise
    finally:
        logger.remove_keys(CORRELATION_KEYS)
    return result.status


def process_batch(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    _ingested_in_batch.clear()
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return traced_process_batch()(event, context)


if os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") == SNAPSHOT_INITIALIZATION:
    traced_ingest_record()
    traced_process_batch()
