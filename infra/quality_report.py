"""The daily quality report: a scheduled function that measures the model by its reviews.

It reads prediction and review records from the training-data bucket, writes the HTML report under
the quality-reports prefix, publishes the estimate and drift events on the bus and the estimate as
metrics, which the monitoring construct alarms on and shows.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from hitl_core.config import PipelineConfig, config_to_env
from hitl_core.review_batches import batches_prefix
from infra.nag import acknowledge_wildcards
from infra.pipeline import METRICS_NAMESPACE, list_under
from infra.python_function import PythonFunctionProps, python_function
from infra.storage import Storage

QUALITY_HANDLER = "hitl_quality.handler.lambda_handler"
QUALITY_SERVICE = "quality-report"
# After midnight UTC, so the day's report covers whole days of answers.
SCHEDULE = events.Schedule.cron(minute="30", hour="3")
TIMEOUT = Duration.minutes(15)
MEMORY_MB = 2048


@dataclass(frozen=True)
class QualityReportProps:
    config: PipelineConfig
    storage: Storage
    bus: events.IEventBus
    removal_policy: RemovalPolicy
    log_retention: logs.RetentionDays


class QualityReport(Construct):
    """The function, its daily schedule, and the metrics it publishes."""

    def __init__(self, scope: Construct, construct_id: str, props: QualityReportProps) -> None:
        super().__init__(scope, construct_id)
        self._props = props
        self.function = python_function(
            self,
            "Function",
            PythonFunctionProps(
                package="hitl_quality",
                handler=QUALITY_HANDLER,
                role_description="The quality-report function: records read, reports written, the bus.",
                description="Daily: the model measured by its reviews, to a report, events and metrics.",
                timeout=TIMEOUT,
                memory_size=MEMORY_MB,
                log_retention=props.log_retention,
                removal_policy=props.removal_policy,
                environment={
                    "HITL_CONFIG": config_to_env(props.config),
                    "EVENT_BUS_NAME": props.bus.event_bus_name,
                    "TRAINING_BUCKET": props.storage.training.bucket_name,
                    "POWERTOOLS_SERVICE_NAME": QUALITY_SERVICE,
                    "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
                    "MPLCONFIGDIR": "/tmp/matplotlib",
                },
            ),
        )
        # One run a day; a failed run is retried twice within two hours, then waits for tomorrow.
        self.schedule = events.Rule(
            self,
            "Schedule",
            description="Writes the day's quality report.",
            schedule=SCHEDULE,
            targets=[
                targets.LambdaFunction(self.function, retry_attempts=2, max_event_age=Duration.hours(2))
            ],
        )
        self._grant()

    def _grant(self) -> None:
        storage, prefixes = self._props.storage, self._props.config.prefixes
        records = [prefixes.predictions, batches_prefix(prefixes.reviews)]
        read = storage.training_arns(*records)
        written = storage.training_arns(prefixes.quality_reports)
        self.function.add_to_role_policy(iam.PolicyStatement(actions=["s3:GetObject"], resources=read))
        self.function.add_to_role_policy(iam.PolicyStatement(actions=["s3:PutObject"], resources=written))
        self.function.add_to_role_policy(list_under(storage.training, records))
        self._props.bus.grant_put_events_to(self.function)
        acknowledge_wildcards(
            self.function.role,
            [*read, *written],
            "The function reads prediction records and review-record batches under their prefixes and "
            "writes reports under its own; keys are only known at run time.",
        )

    def metric(self, name: str, statistic: str = "Maximum") -> cloudwatch.Metric:
        """One of the function's daily figures (AcceptedErrorRate*, ReviewRate in percent; counts)."""
        return cloudwatch.Metric(
            namespace=METRICS_NAMESPACE,
            metric_name=name,
            dimensions_map={"service": QUALITY_SERVICE},
            period=Duration.days(1),
            statistic=statistic,
        )

    @property
    def max_accepted_error_percent(self) -> float:
        """The alarm's threshold: `quality.max_accepted_error_rate`, in the metric's percent."""
        return 100 * self._props.config.quality.max_accepted_error_rate
