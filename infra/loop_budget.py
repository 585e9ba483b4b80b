"""The a2i backend's review budget and gold loops: a table of images waiting for their loop (and the
budget's counters, the gold counters and gold-loop records) and, with a budget, the scheduled loop
starter that starts waiting images best first while the budget allows.

Built when `review.budget.per_hour` or `per_day`, or `review.gold`, is set with review backend `a2i`
(`hitl_core.pending_loops`, `hitl_ingest.pending_loops`, `hitl_core.gold_loops`).
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Aws, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from hitl_aws import settings as env
from hitl_aws.s3_uri import parse_s3_uri
from hitl_core.config import PipelineConfig, config_to_env
from hitl_core.gold_loops import gold_image_folder
from hitl_core.pending_loops import PARTITION_KEY, PENDING_INDEX, QUEUE_KEY, RANK_KEY, counts_loops
from hitl_core.wiring import REVIEW_LIFECYCLE_INTERVAL_MINUTES
from infra.nag import acknowledge_wildcards
from infra.pipeline import METRICS_NAMESPACE
from infra.python_function import PythonFunctionProps, python_function
from infra.review_service import budget_metrics, service_metric
from infra.storage import Storage

LOOP_STARTER_HANDLER = "hitl_ingest.loop_starter.handler"


def has_loop_budget(config: PipelineConfig) -> bool:
    """Whether the a2i backend's budget (and so the loop starter) is needed."""
    return counts_loops(config.review.budget.budget())


def has_pending_loop_table(config: PipelineConfig) -> bool:
    """Whether this construct is needed: the a2i budget's or gold loops' table."""
    return has_loop_budget(config) or config.review.gold is not None


@dataclass(frozen=True)
class LoopBudgetProps:
    config: PipelineConfig
    storage: Storage
    event_bus_name: str
    flow_definition_arn: str
    removal_policy: RemovalPolicy
    log_retention: logs.RetentionDays


class LoopBudget(Construct):
    """The pending-loop table and (with a budget) the loop starter; `connect_ingest` lets ingest count,
    add and start, `connect_review_complete` score gold loops, `grant_gold_images` A2I show them."""

    def __init__(self, scope: Construct, construct_id: str, props: LoopBudgetProps) -> None:
        super().__init__(scope, construct_id)
        self._props = props
        self.table = dynamodb.Table(
            self,
            "PendingLoops",
            partition_key=dynamodb.Attribute(name=PARTITION_KEY, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            removal_policy=props.removal_policy,
        )
        self.table.add_global_secondary_index(
            index_name=PENDING_INDEX,
            partition_key=dynamodb.Attribute(name=QUEUE_KEY, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=RANK_KEY, type=dynamodb.AttributeType.NUMBER),
            projection_type=dynamodb.ProjectionType.ALL,
        )
        self.index_arn = f"{self.table.table_arn}/index/{PENDING_INDEX}"
        self.starter: lambda_.Function | None = None
        if has_loop_budget(props.config):
            self._starter()

    def _starter(self) -> None:
        props = self._props
        self.starter = python_function(
            self,
            "StarterFunction",
            PythonFunctionProps(
                package="hitl_ingest",
                handler=LOOP_STARTER_HANDLER,
                role_description="The a2i loop starter: the pending-loop table, prediction records, A2I.",
                description="Starts the A2I loops of images waiting for the review budget, best first.",
                timeout=Duration.seconds(90),
                memory_size=512,
                log_retention=props.log_retention,
                removal_policy=props.removal_policy,
                environment={
                    "HITL_CONFIG": config_to_env(props.config),
                    env.EVENT_BUS_NAME: props.event_bus_name,
                    env.TRAINING_BUCKET: props.storage.training.bucket_name,
                    env.REVIEW_BACKEND: "a2i",
                    env.FLOW_DEFINITION_ARN: props.flow_definition_arn,
                    env.PENDING_LOOPS_TABLE: self.table.table_name,
                    "POWERTOOLS_SERVICE_NAME": "a2i-loop-starter",
                    "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
                },
            ),
        )
        events.Rule(
            self,
            "Schedule",
            description="Starts the loops of images waiting for the review budget.",
            schedule=events.Schedule.rate(Duration.minutes(REVIEW_LIFECYCLE_INTERVAL_MINUTES)),
            targets=[
                targets.LambdaFunction(self.starter, retry_attempts=2, max_event_age=Duration.minutes(2))
            ],
        )
        self._grant_table(self.starter)
        self._grant_starts(self.starter)
        self._grant_gold_manifest(self.starter)

    def _grant_table(self, function: lambda_.Function) -> None:
        """Add (PutItem), read and count (GetItem; a transaction of UpdateItems), take out of the waiting
        index (UpdateItem), and read the waiting index best first (Query)."""
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem"],
                resources=[self.table.table_arn],
            )
        )
        function.add_to_role_policy(
            iam.PolicyStatement(actions=["dynamodb:Query"], resources=[self.index_arn])
        )

    def _grant_starts(self, function: lambda_.Function) -> None:
        """Read a waiting image's InputContent from its prediction record, and start its loop."""
        props = self._props
        records = props.storage.training_arns(props.config.prefixes.predictions)
        human_loops = Stack.of(self).format_arn(service="sagemaker", resource="human-loop", resource_name="*")
        function.add_to_role_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=records))
        function.add_to_role_policy(
            iam.PolicyStatement(actions=["sagemaker:StartHumanLoop"], resources=[props.flow_definition_arn])
        )
        function.add_to_role_policy(
            iam.PolicyStatement(actions=["sagemaker:DescribeHumanLoop"], resources=[human_loops])
        )
        acknowledge_wildcards(
            function.role,
            [*records, human_loops],
            "The starter reads the prediction record of any waiting image (keys known at run time) and "
            "describes a loop whose start was retried (names derive from each image).",
        )

    def _grant_gold_manifest(self, function: lambda_.Function) -> None:
        """With gold, a function that starts loops reads the gold manifest (one named object) at start."""
        gold = self._props.config.review.gold
        if gold is None or not gold.manifest:
            return
        bucket, key = parse_s3_uri(gold.manifest)
        manifest = f"arn:{Aws.PARTITION}:s3:::{bucket}/{key}"
        function.add_to_role_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=[manifest]))

    def connect_ingest(self, function: lambda_.Function) -> None:
        """Ingest adds each image routed to review here and starts the best waiting loop the budget allows;
        with gold it counts the loops started and writes each gold loop's record."""
        function.add_environment(env.PENDING_LOOPS_TABLE, self.table.table_name)
        self._grant_table(function)
        self._grant_gold_manifest(function)

    def connect_review_complete(self, function: lambda_.Function) -> None:
        """With gold, review-complete reads a loop's gold record (GetItem) and scores it into the workers'
        reviewer records (a transaction of UpdateItems); it reads a worker's record (GetItem)."""
        if self._props.config.review.gold is None:
            return
        function.add_environment(env.PENDING_LOOPS_TABLE, self.table.table_name)
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["dynamodb:GetItem", "dynamodb:UpdateItem"], resources=[self.table.table_arn]
            )
        )

    def grant_gold_images(self, role: iam.IRole) -> None:
        """A2I's role reads the gold images for the worker template: the gold manifest's folder only."""
        gold = self._props.config.review.gold
        if gold is None or not gold.manifest:
            return
        bucket, key = parse_s3_uri(gold_image_folder(gold.manifest))
        images = f"arn:{Aws.PARTITION}:s3:::{bucket}/{key}*"
        role.add_to_principal_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=[images]))
        acknowledge_wildcards(
            role,
            [images],
            "A2I shows a gold loop's image: any object under the gold manifest's folder (gold images).",
        )

    def metric_budget(self) -> list[cloudwatch.Metric]:
        """Loops counted this hour and today, and the limits (the loop starter's)."""
        return budget_metrics()

    def metric_started_from_waiting(self) -> cloudwatch.Metric:
        return service_metric("LoopsWaitingStarted", "Sum")

    def metric_waiting(self) -> cloudwatch.Metric:
        return service_metric("LoopsWaiting", "Maximum")
