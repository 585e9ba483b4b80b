"""Lambda entry point of the review-complete function (also run by the local stack's worker)."""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from hitl_aws.publisher import EventPublisher
from hitl_aws.settings import PENDING_LOOPS_TABLE, FunctionSettings
from hitl_core.config import ConfigError
from hitl_core.manifest import IOU_MATCH
from hitl_review.completion import ManifestBatchProcessor, PendingAnswer, ReviewCompletion, logger, metrics


@cache
def completion() -> ReviewCompletion:
    """Built once per execution environment, from the function's environment.

    boto3 is imported here, on the first message, not with the handler (most of the cold import).
    """
    import boto3

    settings = FunctionSettings.from_env(os.environ)
    publisher = EventPublisher(boto3.client("events"), settings.event_bus_name)
    gold = settings.config.review.gold
    if settings.review_backend != "a2i" or gold is None:
        return ReviewCompletion(settings, boto3.client("s3"), publisher)
    from hitl_review.gold_answers import GoldAnswers

    if not settings.pending_loops_table:  # gold loops' answers must never reach the manifest unscored
        raise ConfigError(
            f"environment variables not set: {PENDING_LOOPS_TABLE} (the a2i backend's gold loops)"
        )

    scorer = GoldAnswers(
        boto3.client("dynamodb"), settings.pending_loops_table, gold.rule(IOU_MATCH), publisher
    )
    return ReviewCompletion(settings, boto3.client("s3"), publisher, scorer)


def record_handler(record: SQSRecord) -> PendingAnswer | None:
    return completion().handle(record.message_id, record.body)


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    processor = ManifestBatchProcessor(completion().append)
    with processor(records=event["Records"], handler=record_handler, lambda_context=context):
        processor.process()
    return processor.response()
