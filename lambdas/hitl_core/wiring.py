"""How the pipeline's parts are wired: event patterns, queue and batch settings.

Pure data, read by the CDK constructs and by the local stack alike, so the laptop runs
the same wiring that AWS does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

A2I_STATUS_DETAIL_TYPE = "SageMaker A2I HumanLoop Status Change"


@dataclass(frozen=True)
class QueueSettings:
    """An SQS queue feeding a function, with its dead-letter queue."""

    name: str
    function_timeout_seconds: int
    batch_size: int
    max_batching_window_seconds: int
    max_receive_count: int
    dlq_retention_days: int = 14

    @property
    def visibility_timeout_seconds(self) -> int:
        """Six times the function timeout, as AWS advises for SQS event sources."""
        return 6 * self.function_timeout_seconds

    @property
    def dlq_name(self) -> str:
        return f"{self.name}-dlq"


INGEST_QUEUE = QueueSettings(
    name="ingest",
    function_timeout_seconds=120,
    batch_size=5,
    max_batching_window_seconds=2,
    max_receive_count=5,
)
REVIEW_QUEUE = QueueSettings(
    name="review-complete",
    function_timeout_seconds=60,
    batch_size=10,
    max_batching_window_seconds=5,
    max_receive_count=5,
)


def object_created_pattern(bucket_name: str, prefix: str) -> dict[str, Any]:
    """EventBridge pattern: S3 'Object Created' under `prefix` of the input bucket."""
    return {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": [bucket_name]}, "object": {"key": [{"prefix": prefix}]}},
    }


def human_loop_status_pattern(flow_definition_arn: str) -> dict[str, Any]:
    """EventBridge pattern: A2I status changes of this project's flow definition only."""
    return {
        "source": ["aws.sagemaker"],
        "detail-type": [A2I_STATUS_DETAIL_TYPE],
        "detail": {"flowDefinitionArn": [flow_definition_arn]},
    }
