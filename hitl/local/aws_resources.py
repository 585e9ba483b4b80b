"""The AWS resources the local stack creates in moto, derived from the configuration and the wiring.

The CDK stack reads the same `hitl_core.wiring` and configuration, so the laptop gets the
buckets, queues, dead-letter queues, bus and rules that AWS gets, not a second hand-kept list.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from typing import Any

from hitl_aws.settings import ReviewBackend
from hitl_core import pending_loops
from hitl_core.config import PipelineConfig
from hitl_core.events import EVENT_SOURCE
from hitl_core.pending_loops import counts_loops
from hitl_core.wiring import (
    INGEST_QUEUE,
    REVIEW_QUEUE,
    REVIEW_TASK_TABLE,
    QueueSettings,
    human_loop_status_pattern,
    object_created_pattern,
    review_service_status_pattern,
)

REGION = "us-east-1"
ACCOUNT = "123456789012"
DEFAULT_BUS = "default"
REVIEW_BACKENDS: tuple[ReviewBackend, ...] = ("builtin", "a2i")


@dataclass(frozen=True)
class LocalNames:
    """What the local stand-ins for the deployed resources are called."""

    input_bucket: str = "hitl-input"
    review_output_bucket: str = "hitl-review-output"
    training_bucket: str = "hitl-training"
    event_bus: str = "hitl-events"
    flow_definition_name: str = "hitl-local"
    endpoint_name: str = "hitl-local-detector"
    queue_prefix: str = "hitl-"
    review_tasks_table: str = "hitl-review-tasks"
    review_service_name: str = "hitl-local"
    pending_loops_table: str = "hitl-pending-loops"

    @property
    def flow_definition_arn(self) -> str:
        return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:flow-definition/{self.flow_definition_name}"


@dataclass(frozen=True)
class BucketSpec:
    """A private, encrypted bucket; `eventbridge` turns on S3 -> EventBridge notifications."""

    name: str
    versioned: bool = False
    eventbridge: bool = False
    cors_get: bool = False


@dataclass(frozen=True)
class QueueSpec:
    """A queue with its dead-letter queue; `wiring` is None for a queue no function drains."""

    name: str
    visibility_timeout_seconds: int
    wiring: QueueSettings | None = None

    @property
    def dlq_name(self) -> str:
        return f"{self.name}-dlq"


@dataclass(frozen=True)
class RuleSpec:
    """An EventBridge rule on `bus` sending matching events to the queue named `target_queue`."""

    name: str
    bus: str
    pattern: dict[str, Any]
    target_queue: str


@dataclass(frozen=True)
class AwsResources:
    """Everything the local stack creates in moto, in the order it must be created."""

    names: LocalNames
    buckets: tuple[BucketSpec, ...]
    queues: tuple[QueueSpec, ...]
    buses: tuple[str, ...]
    rules: tuple[RuleSpec, ...]
    tables: tuple[str, ...] = ()
    pending_loop_tables: tuple[str, ...] = ()
    """The a2i backend's budget: its table of waiting images (`hitl_core.pending_loops`)."""

    def queue(self, wiring: QueueSettings) -> QueueSpec:
        """The queue a function (described by its wiring) drains."""
        return next(q for q in self.queues if q.wiring == wiring)


@dataclass(frozen=True)
class CreatedQueue:
    """A queue as it exists in moto."""

    spec: QueueSpec
    url: str
    arn: str
    dlq_url: str
    dlq_arn: str


@dataclass
class CreatedResources:
    """The queues' URLs and ARNs, as created (buckets, buses and rules are known by name)."""

    resources: AwsResources
    queues: dict[str, CreatedQueue] = field(default_factory=dict)

    def queue(self, wiring: QueueSettings) -> CreatedQueue:
        return self.queues[self.resources.queue(wiring).name]

    @property
    def events_queue(self) -> CreatedQueue:
        return self.queues[events_queue_name(self.resources.names)]


def events_queue_name(names: LocalNames) -> str:
    return f"{names.queue_prefix}pipeline-events"


def review_status_rule(backend: ReviewBackend, names: LocalNames, review_queue: str) -> RuleSpec:
    """The rule that brings a finished review to the review-complete queue: A2I's status change on
    the default bus, or the built-in service's on the project bus."""
    if backend == "a2i":
        return RuleSpec(
            name="hitl-review-status",
            bus=DEFAULT_BUS,
            pattern=human_loop_status_pattern(names.flow_definition_arn),
            target_queue=review_queue,
        )
    return RuleSpec(
        name="hitl-review-status",
        bus=names.event_bus,
        pattern=review_service_status_pattern(names.review_service_name),
        target_queue=review_queue,
    )


def describe_resources(
    config: PipelineConfig,
    names: LocalNames = LocalNames(),
    visibility_timeout_seconds: int | None = None,
    review_backend: ReviewBackend = "builtin",
) -> AwsResources:
    """The local resources for `config`; `visibility_timeout_seconds` overrides the wiring's
    (six times the function timeout) so that a failed message is retried within seconds locally.
    The built-in review backend adds its task table (A2I's runtime is not AWS's to create here), A2I
    with a review budget its table of waiting images.
    """

    def drained(wiring: QueueSettings) -> QueueSpec:
        return QueueSpec(
            name=f"{names.queue_prefix}{wiring.name}",
            visibility_timeout_seconds=visibility_timeout_seconds or wiring.visibility_timeout_seconds,
            wiring=wiring,
        )

    ingest, review = drained(INGEST_QUEUE), drained(REVIEW_QUEUE)
    events_log = QueueSpec(name=events_queue_name(names), visibility_timeout_seconds=30)
    return AwsResources(
        names=names,
        buckets=(
            BucketSpec(names.input_bucket, eventbridge=True, cors_get=True),
            BucketSpec(names.review_output_bucket),
            BucketSpec(names.training_bucket, versioned=True),
        ),
        queues=(ingest, review, events_log),
        buses=(names.event_bus,),
        rules=(
            RuleSpec(
                name="hitl-image-uploaded",
                bus=DEFAULT_BUS,
                pattern=object_created_pattern(names.input_bucket, config.prefixes.incoming),
                target_queue=ingest.name,
            ),
            review_status_rule(review_backend, names, review.name),
            RuleSpec(
                name="hitl-pipeline-events",
                bus=names.event_bus,
                pattern={"source": [EVENT_SOURCE]},
                target_queue=events_log.name,
            ),
        ),
        tables=(names.review_tasks_table,) if review_backend == "builtin" else (),
        pending_loop_tables=(names.pending_loops_table,)
        if has_pending_loop_table(config, review_backend)
        else (),
    )


def counts_a2i_loops(config: PipelineConfig, review_backend: ReviewBackend) -> bool:
    """True when A2I reviews within a budget: the loop starter and its table run too."""
    return review_backend == "a2i" and counts_loops(config.review.budget.budget())


def has_pending_loop_table(config: PipelineConfig, review_backend: ReviewBackend) -> bool:
    """True when A2I reviews within a budget or with gold loops: their table exists (as on AWS)."""
    return counts_a2i_loops(config, review_backend) or (
        review_backend == "a2i" and config.review.gold is not None
    )


def create_resources(clients: Any, resources: AwsResources) -> CreatedResources:
    """Create (or find, when they already exist) every resource in moto; safe to run again.

    `clients` is a callable returning a boto3 client for a service name.
    """
    _create_buckets(clients("s3"), resources.buckets)
    created = CreatedResources(resources)
    sqs = clients("sqs")
    for spec in resources.queues:
        created.queues[spec.name] = _create_queue(sqs, spec)
    _create_rules(clients("events"), resources, created)
    _create_tables(clients("dynamodb"), resources.tables)
    for table in resources.pending_loop_tables:
        dynamodb = clients("dynamodb")
        with contextlib.suppress(dynamodb.exceptions.ResourceInUseException):
            dynamodb.create_table(**pending_loops.create_table_request(table))
    return created


def _create_tables(dynamodb: Any, tables: tuple[str, ...]) -> None:
    """The review task tables, laid out as `hitl_core.wiring.REVIEW_TASK_TABLE` says (as CDK does)."""
    for table in tables:
        with contextlib.suppress(dynamodb.exceptions.ResourceInUseException):
            dynamodb.create_table(**REVIEW_TASK_TABLE.create_table_request(table))


def _create_buckets(s3: Any, buckets: tuple[BucketSpec, ...]) -> None:
    for bucket in buckets:
        with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
            s3.create_bucket(Bucket=bucket.name)
        s3.put_public_access_block(
            Bucket=bucket.name,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
        s3.put_bucket_encryption(
            Bucket=bucket.name,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
        )
        if bucket.versioned:
            s3.put_bucket_versioning(Bucket=bucket.name, VersioningConfiguration={"Status": "Enabled"})
        if bucket.cors_get:
            s3.put_bucket_cors(
                Bucket=bucket.name,
                CORSConfiguration={
                    "CORSRules": [{"AllowedMethods": ["GET"], "AllowedOrigins": ["*"], "MaxAgeSeconds": 3000}]
                },
            )
        if bucket.eventbridge:
            s3.put_bucket_notification_configuration(
                Bucket=bucket.name, NotificationConfiguration={"EventBridgeConfiguration": {}}
            )


def _queue_arn(sqs: Any, url: str) -> str:
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def _create_queue(sqs: Any, spec: QueueSpec) -> CreatedQueue:
    retention = str((spec.wiring.dlq_retention_days if spec.wiring else 14) * 24 * 3600)
    dlq_url = sqs.create_queue(QueueName=spec.dlq_name, Attributes={"MessageRetentionPeriod": retention})[
        "QueueUrl"
    ]
    dlq_arn = _queue_arn(sqs, dlq_url)
    redrive = {
        "deadLetterTargetArn": dlq_arn,
        "maxReceiveCount": spec.wiring.max_receive_count if spec.wiring else 5,
    }
    attributes = {
        "VisibilityTimeout": str(spec.visibility_timeout_seconds),
        "RedrivePolicy": json.dumps(redrive),
    }
    url = sqs.create_queue(QueueName=spec.name)["QueueUrl"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)
    return CreatedQueue(spec=spec, url=url, arn=_queue_arn(sqs, url), dlq_url=dlq_url, dlq_arn=dlq_arn)


def _create_rules(events: Any, resources: AwsResources, created: CreatedResources) -> None:
    existing = {bus["Name"] for bus in events.list_event_buses()["EventBuses"]}
    for bus in resources.buses:
        if bus not in existing:
            events.create_event_bus(Name=bus)
    for rule in resources.rules:
        events.put_rule(
            Name=rule.name,
            EventBusName=rule.bus,
            EventPattern=json.dumps(rule.pattern),
            State="ENABLED",
        )
        events.put_targets(
            Rule=rule.name,
            EventBusName=rule.bus,
            Targets=[{"Id": rule.target_queue, "Arn": created.queues[rule.target_queue].arn}],
        )
