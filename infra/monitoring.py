"""Alarms and a dashboard: parked messages, function failures, endpoint errors and latency, failed reviews."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import (
    Duration,
    RemovalPolicy,
)
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from hitl_core.wiring import human_loop_status_pattern
from infra.model_endpoint import ModelEndpoint
from infra.pipeline import METRICS_NAMESPACE, Pipeline, event_pattern

MODEL_LATENCY_THRESHOLD_MICROSECONDS = 5_000_000
REVIEW_SERVICE_DIMENSION = "review-complete"


@dataclass(frozen=True)
class MonitoringProps:
    pipeline: Pipeline
    detector: ModelEndpoint
    flow_definition_arn: str
    alarm_email: str | None
    removal_policy: RemovalPolicy
    log_retention: logs.RetentionDays


class Monitoring(Construct):
    """Every alarm goes to the optional e-mail topic; the dashboard shows the flow end to end."""

    def __init__(self, scope: Construct, construct_id: str, props: MonitoringProps) -> None:
        super().__init__(scope, construct_id)
        self._props = props
        pipeline = props.pipeline
        self.alarms: list[cloudwatch.Alarm] = []
        self.topic = self._topic(props.alarm_email) if props.alarm_email else None

        for name, pair in (("Ingest", pipeline.ingest), ("Review", pipeline.review)):
            self._alarm(
                f"{name}DlqNotEmpty",
                pair.dlq.metric_approximate_number_of_messages_visible(
                    period=Duration.minutes(1), statistic="Maximum"
                ),
                description=f"Messages parked in the {name.lower()} dead-letter queue: inspect and redrive.",
            )
        for name, function in (("Ingest", pipeline.ingest_function), ("Review", pipeline.review_function)):
            self._alarm(
                f"{name}Errors",
                function.metric_errors(period=Duration.minutes(5), statistic="Sum"),
                description=f"The {name.lower()} function failed invocations.",
            )
            self._alarm(
                f"{name}Throttles",
                function.metric_throttles(period=Duration.minutes(5), statistic="Sum"),
                description=f"The {name.lower()} function was throttled.",
            )

        detector = props.detector
        if detector.is_sagemaker:
            self._alarm(
                "Endpoint5xx",
                self._endpoint_metric("Invocation5XXErrors", "Sum"),
                description="The model endpoint answered with server errors.",
            )
            self._alarm(
                "EndpointLatency",
                self._endpoint_metric("ModelLatency", "p90"),
                threshold=MODEL_LATENCY_THRESHOLD_MICROSECONDS,
                evaluation_periods=3,
                description="The model's p90 latency stayed above 5 s for 15 minutes.",
            )

        self.failed_loops_rule = self._failed_loops_rule(props.flow_definition_arn)
        self._alarm(
            "HumanLoopsFailed",
            cloudwatch.Metric(
                namespace="AWS/Events",
                metric_name="MatchedEvents",
                dimensions_map={"RuleName": self.failed_loops_rule.rule_name},
                period=Duration.minutes(5),
                statistic="Sum",
            ),
            description="A2I human loops of this flow definition failed; see the failed-loops log group.",
        )
        self._alarm(
            "AnswersQuarantined",
            cloudwatch.Metric(
                namespace=METRICS_NAMESPACE,
                metric_name="AnswersQuarantined",
                dimensions_map={"service": REVIEW_SERVICE_DIMENSION},
                period=Duration.minutes(5),
                statistic="Sum",
            ),
            description="A human answer could not become a manifest line; it waits under quarantine/.",
        )
        self.dashboard = self._dashboard()

    def _topic(self, email: str) -> sns.Topic:
        key = kms.Key(
            self,
            "AlarmTopicKey",
            enable_key_rotation=True,
            description="Encrypts the alarm topic; CloudWatch alarms may publish to it.",
            removal_policy=self._props.removal_policy,
        )
        key.grant(iam.ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*")
        topic = sns.Topic(
            self, "AlarmTopic", master_key=key, enforce_ssl=True, display_name="HITL pipeline alarms"
        )
        topic.add_subscription(subscriptions.EmailSubscription(email))
        return topic

    def _endpoint_metric(self, metric_name: str, statistic: str) -> cloudwatch.Metric:
        detector = self._props.detector
        return cloudwatch.Metric(
            namespace="AWS/SageMaker",
            metric_name=metric_name,
            dimensions_map={
                "EndpointName": str(detector.endpoint_name),
                "VariantName": str(detector.variant_name),
            },
            period=Duration.minutes(5),
            statistic=statistic,
        )

    def _alarm(
        self,
        construct_id: str,
        metric: cloudwatch.IMetric,
        *,
        description: str,
        threshold: float = 1,
        evaluation_periods: int = 1,
    ) -> cloudwatch.Alarm:
        alarm = metric.create_alarm(
            self,
            construct_id,
            alarm_description=description,
            threshold=threshold,
            evaluation_periods=evaluation_periods,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        if self.topic is not None:
            alarm.add_alarm_action(actions.SnsAction(self.topic))
            alarm.add_ok_action(actions.SnsAction(self.topic))
        self.alarms.append(alarm)
        return alarm

    def _failed_loops_rule(self, flow_definition_arn: str) -> events.Rule:
        """Failed human loops, kept in a log group; the rule's MatchedEvents metric feeds the alarm."""
        pattern = human_loop_status_pattern(flow_definition_arn)
        pattern["detail"] = {**pattern["detail"], "humanLoopStatus": ["Failed"]}
        log_group = logs.LogGroup(
            self,
            "FailedHumanLoops",
            retention=self._props.log_retention,
            removal_policy=self._props.removal_policy,
        )
        return events.Rule(
            self,
            "HumanLoopFailed",
            description="Failed A2I human loops of this stack's flow definition.",
            event_pattern=event_pattern(pattern),
            targets=[targets.CloudWatchLogGroup(log_group)],
        )

    def _dashboard(self) -> cloudwatch.Dashboard:
        pipeline, detector = self._props.pipeline, self._props.detector
        dashboard = cloudwatch.Dashboard(self, "Dashboard", default_interval=Duration.hours(6))
        queues = [pipeline.ingest.queue, pipeline.review.queue, pipeline.ingest.dlq, pipeline.review.dlq]
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Queue depth",
                left=[q.metric_approximate_number_of_messages_visible() for q in queues],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Oldest message age (s)",
                left=[q.metric_approximate_age_of_oldest_message() for q in queues[:2]],
                width=12,
            ),
        )
        functions: list[lambda_.Function] = [pipeline.ingest_function, pipeline.review_function]
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Invocations", left=[f.metric_invocations() for f in functions], width=8
            ),
            cloudwatch.GraphWidget(
                title="Errors and throttles",
                left=[f.metric_errors() for f in functions] + [f.metric_throttles() for f in functions],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Duration p90 (ms)",
                left=[f.metric_duration(statistic="p90") for f in functions],
                width=8,
            ),
        )
        if detector.is_sagemaker:
            dashboard.add_widgets(
                cloudwatch.GraphWidget(
                    title="Endpoint invocations and errors",
                    left=[
                        self._endpoint_metric("Invocations", "Sum"),
                        self._endpoint_metric("Invocation4XXErrors", "Sum"),
                        self._endpoint_metric("Invocation5XXErrors", "Sum"),
                    ],
                    width=12,
                ),
                cloudwatch.GraphWidget(
                    title="Model latency p90 (us)",
                    left=[self._endpoint_metric("ModelLatency", "p90")],
                    width=12,
                ),
            )
        dashboard.add_widgets(cloudwatch.AlarmStatusWidget(title="Alarms", alarms=self.alarms, width=24))
        return dashboard
