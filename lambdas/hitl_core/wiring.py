"""How the pipeline's parts are wired: event patterns, queue and batch settings.

Pure data, read by the CDK constructs and by the local stack alike, so the laptop runs
the same wiring that AWS does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hitl_core.review_tasks import review_service_id

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


def human_loop_status_pattern(flow_definition_arn_prefix: str) -> dict[str, Any]:
    """EventBridge pattern: A2I status changes of this deployment's flow definitions only.

    Matched by ARN prefix: a replaced flow definition keeps its open loops, and their answers
    must still arrive (the review function then checks the name exactly: `owns_flow_definition`).
    """
    return {
        "source": ["aws.sagemaker"],
        "detail-type": [A2I_STATUS_DETAIL_TYPE],
        "detail": {"flowDefinitionArn": [{"prefix": flow_definition_arn_prefix}]},
    }


def owns_flow_definition(flow_definition_arn: str, arn_prefix: str) -> bool:
    """Whether an ARN is one of this deployment's flow definitions: the prefix, then only its content hash."""
    rest = flow_definition_arn.removeprefix(arn_prefix)
    return flow_definition_arn.startswith(arn_prefix) and all(c in "0123456789abcdef" for c in rest)


REVIEW_SERVICE_SOURCE = "hitl.review-service"
REVIEW_TASK_STATUS_DETAIL_TYPE = "Review Task Status Change"
REVIEW_SERVICE_METRIC_NAMESPACE = "HitlPipeline"
REVIEW_SERVICE_METRIC_SERVICE = "review-service"
"""The `service` dimension of the review service's metrics (TasksWaiting, OldestTaskAgeSeconds, ...)."""
REVIEW_LIFECYCLE_INTERVAL_MINUTES = 1
"""How often the lifecycle sweep runs (expiry and lease return are at most this late)."""
REVIEW_API_STAGE = "api"
"""The review API's stage, which is also the path the review site serves it under (`/api/...`)."""


@dataclass(frozen=True)
class TaskTableSettings:
    """The built-in review service's task table: one item per review, keyed by the loop name."""

    partition_key: str
    status_index_name: str
    status_index_partition_key: str
    status_index_sort_key: str
    stream_view_type: str
    queue_index_name: str = "by-queue"
    queue_index_partition_key: str = "queue"
    queue_index_sort_key: str = "queue_rank"
    queue_index_attributes: tuple[str, ...] = ("version", "lease_owner", "lease_expires_at", "reviewers")
    """What `tasks/next` needs to pick a candidate (the claim then reads the whole task)."""

    def create_table_request(self, table_name: str) -> dict[str, Any]:
        """DynamoDB CreateTable parameters for this layout (the local stand-in and tests create it so)."""
        return {
            "TableName": table_name,
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [
                *(
                    {"AttributeName": name, "AttributeType": "S"}
                    for name in (
                        self.partition_key,
                        self.status_index_partition_key,
                        self.status_index_sort_key,
                        self.queue_index_partition_key,
                    )
                ),
                {"AttributeName": self.queue_index_sort_key, "AttributeType": "N"},
            ],
            "KeySchema": [{"AttributeName": self.partition_key, "KeyType": "HASH"}],
            "GlobalSecondaryIndexes": [
                {
                    "IndexName": self.status_index_name,
                    "KeySchema": [
                        {"AttributeName": self.status_index_partition_key, "KeyType": "HASH"},
                        {"AttributeName": self.status_index_sort_key, "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                },
                {
                    "IndexName": self.queue_index_name,
                    "KeySchema": [
                        {"AttributeName": self.queue_index_partition_key, "KeyType": "HASH"},
                        {"AttributeName": self.queue_index_sort_key, "KeyType": "RANGE"},
                    ],
                    "Projection": {
                        "ProjectionType": "INCLUDE",
                        "NonKeyAttributes": list(self.queue_index_attributes),
                    },
                },
            ],
            "StreamSpecification": {"StreamEnabled": True, "StreamViewType": self.stream_view_type},
        }


REVIEW_TASK_TABLE = TaskTableSettings(
    partition_key="loop_name",
    status_index_name="by-status",
    status_index_partition_key="status",
    status_index_sort_key="created_at",
    stream_view_type="NEW_AND_OLD_IMAGES",
)


def review_service_status_pattern(service_name: str) -> dict[str, Any]:
    """EventBridge pattern (project bus): this deployment's review service's task status changes only."""
    return {
        "source": [REVIEW_SERVICE_SOURCE],
        "detail-type": [REVIEW_TASK_STATUS_DETAIL_TYPE],
        "detail": {"flowDefinitionArn": [review_service_id(service_name)]},
    }
