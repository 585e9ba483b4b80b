"""Alarms and a dashboard: parked messages, function failures, endpoint errors and latency, failed reviews.

With the built-in review backend also the review service: API 5xx, tasks waiting, the oldest task's age.
"""

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
from infra.loop_budget import LoopBudget
from infra.model_endpoint import ModelEndpoint
from infra.pipeline import METRICS_NAMESPACE, A2iBackend, Pipeline, ReviewBackend, event_pattern
from infra.quality_report import QualityReport
from infra.review_service import ReviewService

MODEL_LATENCY_THRESHOLD_MICROSECONDS = 5_000_000
REVIEW_SERVICE_DIMENSION = "review-complete"
TASKS_WAITING_THRESHOLD = 100
# An open task alarms once this share of its availability lifetime has passed unanswered.
OLDEST_TASK_LIFETIME_SHARE = 0.5
OUTBOX_ITERATOR_AGE_THRESHOLD_MS = 5 * 60 * 1000


@dataclass(frozen=True)
class MonitoringProps:
    pipeline: Pipeline
    detector: ModelEndpoint
    review: ReviewBackend
    alarm_email: str | None
    removal_policy: RemovalPolicy
    log_retention: logs.RetentionDays
    review_service: ReviewService | None = None
    quality_report: QualityReport | None = None
    loop_budget: LoopBudget | None = None


class Monitoring(Construct):
    """Every alarm goes to the optional e-mail topic; the dashboard shows the flow end to end."""

    def __init__(self, scope: Construct, construct_id: str, props: MonitoringProps) -> None:
        super().__init__(scope, construct_id)
        self._props = props
        pipeline = props.pipeline
        self.alarms: list[cloudwatch.Alarm] = []
        self.endpoint_alarms: list[cloudwatch.Alarm] = []
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
            errors = self._alarm(
                "Endpoint5xx",
                self._endpoint_metric("Invocation5XXErrors", "Sum"),
                description="The model endpoint answered with server errors.",
            )
            latency = self._alarm(
                "EndpointLatency",
                self._endpoint_metric("ModelLatency", "p90"),
                threshold=MODEL_LATENCY_THRESHOLD_MICROSECONDS,
                evaluation_periods=3,
                description="The model's p90 latency stayed above 5 s for 15 minutes.",
            )
            self.endpoint_alarms = [errors, latency]  # a blue/green rollout rolls back on these

        if isinstance(props.review, A2iBackend):
            self.failed_loops_rule = self._failed_loops_rule(props.review.flow_definition_arn_prefix)
            self._alarm(
                "HumanLoopsFailed",
                self._matched_events(self.failed_loops_rule),
                description="A2I human loops of this flow definition failed; see the failed-loops log group.",
            )
        if props.review_service is not None:
            self._review_service_alarms(props.review_service)
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
        if props.quality_report is not None:
            self._quality_alarms(props.quality_report)
        self.dashboard = self._dashboard()

    def _quality_alarms(self, report: QualityReport) -> None:
        self._alarm(
            "AcceptedErrorRateExceeded",
            report.metric("AcceptedErrorRateLowerBound"),
            threshold=report.max_accepted_error_percent,
            description="Even the 95% interval's lower bound of accepted images the model got wrong is at "
            "or above quality.max_accepted_error_rate; see the day's quality report.",
        )
        self._alarm(
            "QualityReportErrors",
            report.function.metric_errors(period=Duration.days(1), statistic="Sum"),
            description="The daily quality-report function failed: no report, no estimate, no drift events.",
        )

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

    @staticmethod
    def _matched_events(rule: events.Rule) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace="AWS/Events",
            metric_name="MatchedEvents",
            dimensions_map={"RuleName": rule.rule_name},
            period=Duration.minutes(5),
            statistic="Sum",
        )

    def _review_service_alarms(self, service: ReviewService) -> None:
        self._alarm(
            "ReviewApi5xx",
            service.metric_api_5xx(),
            description="The review API answered with server errors; see the API function's logs.",
        )
        self._alarm(
            "ReviewTasksWaiting",
            service.metric_tasks_waiting(),
            threshold=TASKS_WAITING_THRESHOLD,
            evaluation_periods=3,
            description=f"{TASKS_WAITING_THRESHOLD} or more review tasks waited 15 minutes: more reviewers?",
        )
        self._alarm(
            "ReviewOldestTask",
            service.metric_oldest_task_age(),
            threshold=int(service.task_availability_seconds * OLDEST_TASK_LIFETIME_SHARE),
            description="An open review task has used half its availability lifetime; it fails as Expired "
            "when the lifetime ends.",
        )
        self._alarm(
            "ReviewOutboxDlqNotEmpty",
            service.outbox_dlq.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(1), statistic="Maximum"
            ),
            description="Task status changes the outbox could not announce: see them and the outbox logs.",
        )
        self._alarm(
            "ReviewOutboxIteratorAge",
            service.outbox_function.metric("IteratorAge", period=Duration.minutes(5), statistic="Maximum"),
            threshold=OUTBOX_ITERATOR_AGE_THRESHOLD_MS,
            description="The outbox lags the task table's stream by more than 5 minutes.",
        )
        for name, function in (
            ("ReviewApi", service.api_function),
            ("ReviewLifecycle", service.lifecycle_function),
            ("ReviewOutbox", service.outbox_function),
        ):
            self._alarm(
                f"{name}Errors",
                function.metric_errors(period=Duration.minutes(5), statistic="Sum"),
                description=f"The review service's {name.removeprefix('Review').lower()} function failed.",
            )
        self.failed_tasks_rule = self._failed_tasks_rule(service)
        self._alarm(
            "ReviewTasksFailed",
            self._matched_events(self.failed_tasks_rule),
            description="Review tasks failed (expired unanswered); see the failed-tasks log group.",
        )

    def _failed_tasks_rule(self, service: ReviewService) -> events.Rule:
        """Failed review tasks, kept in a log group; the rule's MatchedEvents metric feeds the alarm."""
        pattern = service.status_pattern()
        pattern["detail"] = {**pattern["detail"], "humanLoopStatus": ["Failed"]}
        log_group = logs.LogGroup(
            self,
            "FailedReviewTasks",
            retention=self._props.log_retention,
            removal_policy=self._props.removal_policy,
        )
        return events.Rule(
            self,
            "ReviewTaskFailed",
            description="Failed tasks of this stack's review service.",
            event_bus=self._props.pipeline.bus,
            event_pattern=event_pattern(pattern),
            targets=[targets.CloudWatchLogGroup(log_group)],
        )

    def _failed_loops_rule(self, flow_definition_arn_prefix: str) -> events.Rule:
        """Failed human loops, kept in a log group; the rule's MatchedEvents metric feeds the alarm."""
        pattern = human_loop_status_pattern(flow_definition_arn_prefix)
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
        if self._props.review_service is not None:
            self._review_service_widgets(dashboard, self._props.review_service)
        if self._props.loop_budget is not None:
            dashboard.add_widgets(
                cloudwatch.GraphWidget(
                    title="Review budget used and its limits",
                    left=self._props.loop_budget.metric_budget(),
                    width=8,
                ),
                cloudwatch.GraphWidget(
                    title="Images waiting for the budget, and their loops started",
                    left=[
                        self._props.loop_budget.metric_waiting(),
                        self._props.loop_budget.metric_started_from_waiting(),
                    ],
                    width=8,
                ),
            )
        if self._props.quality_report is not None:
            self._quality_widgets(dashboard, self._props.quality_report)
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

    @staticmethod
    def _quality_widgets(dashboard: cloudwatch.Dashboard, report: QualityReport) -> None:
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Accepted images wrong (%, 95% interval)",
                left=[
                    report.metric("AcceptedErrorRateLowerBound"),
                    report.metric("AcceptedErrorRate"),
                    report.metric("AcceptedErrorRateUpperBound"),
                ],
                left_annotations=[
                    cloudwatch.HorizontalAnnotation(value=report.max_accepted_error_percent, label="maximum")
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Images sent to a person (%)", left=[report.metric("ReviewRate")], width=8
            ),
            cloudwatch.GraphWidget(
                title="Audited images and quality drops",
                left=[report.metric("AuditedImages"), report.metric("QualityDrops")],
                width=8,
            ),
        )

    @staticmethod
    def _review_service_widgets(dashboard: cloudwatch.Dashboard, service: ReviewService) -> None:
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Review tasks waiting", left=[service.metric_tasks_waiting()], width=8
            ),
            cloudwatch.GraphWidget(
                title="Oldest open review task (s)", left=[service.metric_oldest_task_age()], width=8
            ),
            cloudwatch.GraphWidget(
                title="Review budget used and its limits", left=service.metric_budget(), width=8
            ),
            cloudwatch.GraphWidget(
                title="Review API requests and errors",
                left=[
                    service.api.metric_count(period=Duration.minutes(5), statistic="Sum"),
                    service.api.metric_client_error(period=Duration.minutes(5), statistic="Sum"),
                    service.metric_api_5xx(),
                ],
                width=8,
            ),
        )
