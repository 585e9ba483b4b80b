"""The event-driven core: the project's bus, the rules, the queues and the two functions.

Queue, batch and timeout settings and both event patterns come from `hitl_core.wiring`, the
module the local stack wires itself with, so laptop and AWS run the same wiring.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_cdk import (
    Duration,
    RemovalPolicy,
    Stack,
)
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from hitl_core.config import PipelineConfig, config_to_env
from hitl_core.wiring import (
    INGEST_QUEUE,
    REVIEW_QUEUE,
    QueueSettings,
    human_loop_status_pattern,
    object_created_pattern,
    review_service_status_pattern,
)
from infra.model_endpoint import ModelEndpoint
from infra.nag import acknowledge_wildcards
from infra.python_function import PythonFunctionProps, python_function
from infra.storage import Storage

INGEST_HANDLER = "hitl_ingest.handler.lambda_handler"
REVIEW_HANDLER = "hitl_review.handler.lambda_handler"
METRICS_NAMESPACE = "HitlPipeline"
LIVE_ALIAS = "live"


def event_pattern(pattern: dict[str, Any]) -> events.EventPattern:
    """A wiring pattern (EventBridge's JSON) as CDK's EventPattern."""
    fields = {"source": "source", "detail-type": "detail_type", "detail": "detail", "resources": "resources"}
    unknown = set(pattern) - set(fields)
    if unknown:
        raise ValueError(f"event pattern fields not mapped: {sorted(unknown)}")
    return events.EventPattern(**{fields[key]: value for key, value in pattern.items()})


@dataclass(frozen=True)
class A2iBackend:
    """Reviews by Amazon A2I: human loops of this flow definition, status events on the default bus.

    Answers to loops of a replaced flow definition of this deployment (same ARN prefix) still count.
    """

    flow_definition_arn: str
    flow_definition_arn_prefix: str


@dataclass(frozen=True)
class BuiltinBackend:
    """Reviews by the project's own review service of this name, status events on the project's bus."""

    service_name: str


ReviewBackend = A2iBackend | BuiltinBackend


@dataclass(frozen=True)
class PipelineProps:
    config: PipelineConfig
    storage: Storage
    detector: ModelEndpoint
    review: ReviewBackend
    ingest_max_concurrency: int
    ingest_reserved_concurrency: int | None
    removal_policy: RemovalPolicy
    log_retention: logs.RetentionDays
    event_archive_retention_days: int
    snap_start: bool = False


@dataclass(frozen=True)
class QueuePair:
    queue: sqs.Queue
    dlq: sqs.Queue


class Pipeline(Construct):
    """S3 -> rule -> ingest queue -> ingest function; A2I status -> rule -> review queue -> review function.

    Both functions publish on the project's bus, which archives every event for replay.
    """

    def __init__(self, scope: Construct, construct_id: str, props: PipelineProps) -> None:
        super().__init__(scope, construct_id)
        self._props = props
        storage, prefixes = props.storage, props.config.prefixes

        self.bus = events.EventBus(self, "Bus", description="Announcements of the object-detection pipeline.")
        self.bus.apply_removal_policy(props.removal_policy)
        self.archive = self.bus.archive(
            "Archive",
            description="Every pipeline event, for replay.",
            event_pattern=events.EventPattern(account=[Stack.of(self).account]),
            retention=Duration.days(props.event_archive_retention_days),
        )

        self.ingest = self._queue_pair("Ingest", INGEST_QUEUE)
        self.review = self._queue_pair("Review", REVIEW_QUEUE)

        self.object_created_rule = events.Rule(
            self,
            "ObjectCreated",
            description="Images dropped under the incoming prefix go to the ingest queue.",
            event_pattern=event_pattern(object_created_pattern(storage.input.bucket_name, prefixes.incoming)),
            targets=[targets.SqsQueue(self.ingest.queue, dead_letter_queue=self.ingest.dlq)],
        )
        self.review_status_rule = self._review_status_rule()

        self.ingest_function = self._function(
            "IngestFunction",
            package="hitl_ingest",
            handler=INGEST_HANDLER,
            settings=INGEST_QUEUE,
            queue=self.ingest.queue,
            memory_size=1536,
            max_concurrency=props.ingest_max_concurrency,
            reserved_concurrency=props.ingest_reserved_concurrency,
            environment=props.detector.environment,
        )
        self.review_function = self._function(
            "ReviewFunction",
            package="hitl_review",
            handler=REVIEW_HANDLER,
            settings=REVIEW_QUEUE,
            queue=self.review.queue,
            memory_size=512,
            max_concurrency=None,
            reserved_concurrency=None,
            environment={},
        )
        self._grant_ingest()
        self._grant_review()

    def _review_status_rule(self) -> events.Rule:
        """Finished reviews go to the review queue: A2I's events (default bus) or the service's (ours)."""
        review_target = targets.SqsQueue(self.review.queue, dead_letter_queue=self.review.dlq)
        backend = self._props.review
        if isinstance(backend, BuiltinBackend):
            return events.Rule(
                self,
                "ReviewTaskStatus",
                description="The review service's task status changes go to the review queue.",
                event_bus=self.bus,
                event_pattern=event_pattern(review_service_status_pattern(backend.service_name)),
                targets=[review_target],
            )
        return events.Rule(
            self,
            "HumanLoopStatus",
            description="A2I status changes of this stack's flow definitions go to the review queue.",
            event_pattern=event_pattern(human_loop_status_pattern(backend.flow_definition_arn_prefix)),
            targets=[review_target],
        )

    def _queue_pair(self, name: str, settings: QueueSettings) -> QueuePair:
        dlq = sqs.Queue(
            self,
            f"{name}Dlq",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(settings.dlq_retention_days),
            removal_policy=self._props.removal_policy,
        )
        queue = sqs.Queue(
            self,
            f"{name}Queue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            visibility_timeout=Duration.seconds(settings.visibility_timeout_seconds),
            retention_period=Duration.days(4),
            dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=settings.max_receive_count),
            removal_policy=self._props.removal_policy,
        )
        return QueuePair(queue=queue, dlq=dlq)

    def _function(
        self,
        construct_id: str,
        *,
        package: str,
        handler: str,
        settings: QueueSettings,
        queue: sqs.IQueue,
        memory_size: int,
        max_concurrency: int | None,
        reserved_concurrency: int | None,
        environment: dict[str, str],
    ) -> lambda_.Function:
        props = self._props
        function = python_function(
            self,
            construct_id,
            PythonFunctionProps(
                package=package,
                handler=handler,
                role_description=(
                    f"The {package} function: its queue, bucket prefixes, the bus, the detector and A2I."
                ),
                timeout=Duration.seconds(settings.function_timeout_seconds),
                memory_size=memory_size,
                reserved_concurrency=reserved_concurrency,
                snap_start=props.snap_start,
                log_retention=props.log_retention,
                removal_policy=props.removal_policy,
                environment={
                    "HITL_CONFIG": config_to_env(props.config),
                    "EVENT_BUS_NAME": self.bus.event_bus_name,
                    "TRAINING_BUCKET": props.storage.training.bucket_name,
                    **_review_backend_environment(props.review),
                    "POWERTOOLS_SERVICE_NAME": package.replace("_", "-"),
                    "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
                    **environment,
                },
            ),
        )
        # SnapStart snapshots published versions only: the queue then feeds an alias of the latest.
        target = function.add_alias(LIVE_ALIAS) if props.snap_start else function
        target.add_event_source(
            sources.SqsEventSource(
                queue,
                batch_size=settings.batch_size,
                max_batching_window=Duration.seconds(settings.max_batching_window_seconds),
                report_batch_item_failures=True,
                # The guard on the detector: never more batches at once (a reservation, if any, holds them).
                max_concurrency=max_concurrency,
            )
        )
        self.bus.grant_put_events_to(function)
        return function

    def _grant_ingest(self) -> None:
        storage, prefixes = self._props.storage, self._props.config.prefixes
        function = self.ingest_function
        images = [storage.input_objects_arn()]
        own = [prefixes.predictions, prefixes.rejected]
        records = storage.training_arns(*own)
        function.add_to_role_policy(
            iam.PolicyStatement(actions=["s3:GetObject", "s3:GetObjectVersion"], resources=images)
        )
        function.add_to_role_policy(
            iam.PolicyStatement(actions=["s3:GetObject", "s3:PutObject"], resources=records)
        )
        function.add_to_role_policy(list_under(storage.training, own))
        # A deleted image must read as 404 (rejected as not-found), not 403 (retried into the DLQ).
        function.add_to_role_policy(list_under(storage.input, [prefixes.incoming]))
        if isinstance(self._props.review, A2iBackend):
            self._grant_human_loops(self._props.review.flow_definition_arn)
        self._props.detector.grant_invoke(function)
        acknowledge_wildcards(
            function.role,
            [*images, *records],
            "The function reads any image under the incoming prefix and writes prediction and rejection "
            "records under their prefixes of the training-data bucket; keys are only known at run time.",
        )

    def _grant_human_loops(self, flow_definition_arn: str) -> None:
        """A2I backend: start loops of this flow definition, describe any (to settle a retried start)."""
        function = self.ingest_function
        human_loops = Stack.of(self).format_arn(service="sagemaker", resource="human-loop", resource_name="*")
        function.add_to_role_policy(
            iam.PolicyStatement(actions=["sagemaker:StartHumanLoop"], resources=[flow_definition_arn])
        )
        function.add_to_role_policy(
            iam.PolicyStatement(actions=["sagemaker:DescribeHumanLoop"], resources=[human_loops])
        )
        acknowledge_wildcards(
            function.role,
            [human_loops],
            "Human loop names derive from each image at run time; describing one settles a retried start.",
        )

    def _grant_review(self) -> None:
        storage, prefixes = self._props.storage, self._props.config.prefixes
        function = self.review_function
        answers = [storage.review_output_arn()]
        own = [prefixes.reviews, prefixes.manifests, prefixes.quarantine]
        records = storage.training_arns(*own)
        function.add_to_role_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=answers))
        function.add_to_role_policy(list_under(storage.review_output, [prefixes.review_output]))
        function.add_to_role_policy(
            iam.PolicyStatement(actions=["s3:GetObject", "s3:PutObject"], resources=records)
        )
        function.add_to_role_policy(list_under(storage.training, own))
        acknowledge_wildcards(
            function.role,
            [*answers, *records],
            "The function reads A2I answers under the output prefix and writes review records, quarantine "
            "and manifests under their prefixes of the training bucket; keys are only known at run time.",
        )


def _review_backend_environment(backend: ReviewBackend) -> dict[str, str]:
    """How the functions learn which backend reviews (`hitl_aws.settings`)."""
    if isinstance(backend, BuiltinBackend):
        return {"REVIEW_BACKEND": "builtin", "REVIEW_SERVICE_NAME": backend.service_name}
    return {
        "REVIEW_BACKEND": "a2i",
        "FLOW_DEFINITION_ARN": backend.flow_definition_arn,
        "FLOW_DEFINITION_ARN_PREFIX": backend.flow_definition_arn_prefix,
    }


def list_under(bucket: s3.IBucket, prefixes: list[str]) -> iam.PolicyStatement:
    """ListBucket under the given prefixes only: without it S3 answers a missing key with 403, not 404.

    For a GET of a missing key S3 evaluates ListBucket with the key as `s3:prefix`, so the
    condition admits exactly the keys under these prefixes (see the README's limits).
    """
    return iam.PolicyStatement(
        actions=["s3:ListBucket"],
        resources=[bucket.bucket_arn],
        conditions={"StringLike": {"s3:prefix": [f"{prefix}*" for prefix in prefixes]}},
    )
