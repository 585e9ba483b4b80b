"""The stack: storage, detector, human review, pipeline and monitoring composed from two configurations."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import App, CfnOutput, RemovalPolicy, Stack, Validations
from aws_cdk import aws_logs as logs
from cdk_nag import AwsSolutionsChecks
from constructs import Construct

from hitl_core.config import (
    CONTEXT_KEY,
    SERVERLESS_PAYLOAD_LIMIT,
    ConfigError,
    PipelineConfig,
    check_a2i_labels,
    check_a2i_review_team,
    load_config,
)
from infra.deploy_config import CONTEXT_KEY as DEPLOY_CONTEXT_KEY
from infra.deploy_config import (
    DeployConfig,
    DeployConfigError,
    PrivateWorkTeam,
    RekognitionEndpoint,
    ServerlessVariant,
    load_deploy_config,
)
from infra.event_schemas import EventSchemas, EventSchemasProps
from infra.human_review import HumanReview, HumanReviewProps
from infra.loop_budget import LoopBudget, LoopBudgetProps, has_loop_budget, has_pending_loop_table
from infra.model_endpoint import ModelEndpoint, ModelEndpointProps
from infra.monitoring import Monitoring, MonitoringProps
from infra.nag import acknowledge_cdk_helpers
from infra.pipeline import A2iBackend, BuiltinBackend, Pipeline, PipelineProps, ReviewBackend
from infra.quality_report import QualityReport, QualityReportProps
from infra.review_service import ReviewService, ReviewServiceProps
from infra.storage import Storage, StorageProps
from infra.training import Training, TrainingProps

STACK_ID = "HitlPipeline"
REKOGNITION_ADAPTER = "rekognition-custom-labels"


def check_compatible(config: PipelineConfig, deploy: DeployConfig) -> None:
    """Settings valid alone but not together fail before anything is built."""
    rekognition = isinstance(deploy.endpoint, RekognitionEndpoint)
    if rekognition != (config.adapter == REKOGNITION_ADAPTER):
        raise DeployConfigError(
            f"{DEPLOY_CONTEXT_KEY}.endpoint.mode '{deploy.endpoint.mode}' does not read the responses of "
            f"{CONTEXT_KEY}.adapter '{config.adapter}': use adapter '{REKOGNITION_ADAPTER}' exactly with "
            f"mode 'rekognition-custom-labels'"
        )
    variant = getattr(deploy.endpoint, "variant", None)
    if isinstance(variant, ServerlessVariant) and config.endpoint_payload_limit > SERVERLESS_PAYLOAD_LIMIT:
        raise DeployConfigError(
            f"{DEPLOY_CONTEXT_KEY}.endpoint.variant: a serverless endpoint takes at most "
            f"{SERVERLESS_PAYLOAD_LIMIT:,} bytes; set {CONTEXT_KEY}.endpoint_payload_limit to that or less "
            f"(it is {config.endpoint_payload_limit:,})"
        )
    if deploy.review.backend == "a2i":
        check_a2i_labels(config)
        check_a2i_review_team(config)


class HitlStack(Stack):
    """Everything the pipeline needs in one account and region."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PipelineConfig,
        deploy: DeployConfig,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        check_compatible(config, deploy)
        removal = RemovalPolicy.DESTROY if deploy.removal_policy == "destroy" else RemovalPolicy.RETAIN
        retention = logs.RetentionDays(_retention_name(deploy.log_retention_days))

        self.storage = Storage(
            self,
            "Storage",
            StorageProps(
                prefixes=config.prefixes,
                removal_policy=removal,
                access_log_retention_days=deploy.access_log_retention_days,
            ),
        )
        self.detector = ModelEndpoint(self, "Detector", ModelEndpointProps(settings=deploy.endpoint))
        # Exactly one review backend: A2I where the account has it, else the project's own service.
        self.human_review: HumanReview | None = None
        self.review_service: ReviewService | None = None
        if deploy.review.backend == "a2i":
            self.human_review = HumanReview(
                self,
                "HumanReview",
                HumanReviewProps(
                    storage=self.storage,
                    name_prefix=deploy.name_prefix,
                    work_team=deploy.work_team,
                    review=deploy.review,
                    removal_policy=removal,
                    log_retention=retention,
                ),
            )
        review_backend: ReviewBackend = (
            A2iBackend(self.human_review.flow_definition_arn, self.human_review.flow_definition_arn_prefix)
            if self.human_review
            else BuiltinBackend(deploy.name_prefix)
        )
        self.pipeline = Pipeline(
            self,
            "Pipeline",
            PipelineProps(
                config=config,
                storage=self.storage,
                detector=self.detector,
                review=review_backend,
                ingest_max_concurrency=deploy.ingest_max_concurrency,
                ingest_reserved_concurrency=deploy.ingest_reserved_concurrency,
                snap_start=deploy.snap_start,
                removal_policy=removal,
                log_retention=retention,
                event_archive_retention_days=deploy.event_archive_retention_days,
            ),
        )
        self.loop_budget: LoopBudget | None = None
        if self.human_review is not None and has_pending_loop_table(config):
            self.loop_budget = LoopBudget(
                self,
                "LoopBudget",
                LoopBudgetProps(
                    config=config,
                    storage=self.storage,
                    event_bus_name=self.pipeline.bus.event_bus_name,
                    flow_definition_arn=self.human_review.flow_definition_arn,
                    removal_policy=removal,
                    log_retention=retention,
                ),
            )
            self.loop_budget.connect_ingest(self.pipeline.ingest_function)
            self.loop_budget.connect_review_complete(self.pipeline.review_function)
            self.loop_budget.grant_gold_images(self.human_review.service_role)
        self.event_schemas = EventSchemas(
            self, "EventSchemas", EventSchemasProps(name_prefix=deploy.name_prefix)
        )
        if deploy.review.backend == "builtin":
            self.review_service = ReviewService(
                self,
                "ReviewService",
                ReviewServiceProps(
                    storage=self.storage,
                    bus=self.pipeline.bus,
                    name_prefix=deploy.name_prefix,
                    review=deploy.review,
                    team=config.review,
                    # DeployConfig refuses an existing A2I work team with the builtin backend.
                    reviewers=deploy.work_team.reviewers
                    if isinstance(deploy.work_team, PrivateWorkTeam)
                    else [],
                    removal_policy=removal,
                    log_retention=retention,
                ),
            )
            self.review_service.connect_ingest(self.pipeline.ingest_function)
        self.quality_report = QualityReport(
            self,
            "QualityReport",
            QualityReportProps(
                config=config,
                storage=self.storage,
                bus=self.pipeline.bus,
                removal_policy=removal,
                log_retention=retention,
            ),
        )
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            MonitoringProps(
                pipeline=self.pipeline,
                detector=self.detector,
                review=review_backend,
                alarm_email=deploy.alarm_email,
                removal_policy=removal,
                log_retention=retention,
                review_service=self.review_service,
                loop_budget=self.loop_budget if has_loop_budget(config) else None,
                quality_report=self.quality_report,
            ),
        )
        self.training = Training(
            self,
            "Training",
            TrainingProps(
                config=config,
                storage=self.storage,
                detector=self.detector,
                bus=self.pipeline.bus,
                name_prefix=deploy.name_prefix,
                rollback_alarms=self.monitoring.endpoint_alarms,
                removal_policy=removal,
                log_retention=retention,
            ),
        )
        self._outputs()
        acknowledge_cdk_helpers(self)

    def _outputs(self) -> None:
        outputs = {
            "InputBucket": self.storage.input.bucket_name,
            "IncomingPrefix": self.storage.prefixes.incoming,
            "ReviewOutputBucket": self.storage.review_output.bucket_name,
            "TrainingDataBucket": self.storage.training.bucket_name,
            "EventBusName": self.pipeline.bus.event_bus_name,
            "DashboardName": self.monitoring.dashboard.dashboard_name,
            "TrainingStateMachineArn": self.training.state_machine.state_machine_arn,
        }
        if self.human_review is not None:
            outputs["FlowDefinitionArn"] = self.human_review.flow_definition_arn
            outputs["WorkTeamArn"] = self.human_review.work_team_arn
        if self.review_service is not None:
            outputs["ReviewPageUrl"] = self.review_service.site_url
            outputs["ReviewApiUrl"] = self.review_service.api_url
            outputs["ReviewUserPoolId"] = self.review_service.user_pool.user_pool_id
            outputs["ReviewTasksTable"] = self.review_service.table.table_name
        if self.detector.endpoint_name is not None:
            outputs["EndpointName"] = self.detector.endpoint_name
        for name, value in outputs.items():
            CfnOutput(self, name, value=value)


def _retention_name(days: int) -> str:
    names = {7: "ONE_WEEK", 14: "TWO_WEEKS", 30: "ONE_MONTH", 60: "TWO_MONTHS", 90: "THREE_MONTHS"}
    names |= {180: "SIX_MONTHS", 365: "ONE_YEAR", 731: "TWO_YEARS"}
    return names[days]


def configurations(context: Mapping[str, Any]) -> tuple[PipelineConfig, DeployConfig]:
    """Both configurations from CDK context; ConfigError / DeployConfigError name the bad key."""
    raw = context.get(CONTEXT_KEY)
    if raw is None:
        raise ConfigError(f"CDK context has no '{CONTEXT_KEY}' key (see cdk.json)")
    return load_config(raw, f"context '{CONTEXT_KEY}'"), load_deploy_config(context.get(DEPLOY_CONTEXT_KEY))


def build_app(app: App) -> HitlStack:
    """The whole CDK app: one stack from the context, checked by cdk-nag's AwsSolutions pack."""
    context = {key: app.node.try_get_context(key) for key in (CONTEXT_KEY, DEPLOY_CONTEXT_KEY)}
    config, deploy = configurations(context)
    stack = HitlStack(
        app,
        STACK_ID,
        config=config,
        deploy=deploy,
        description=(
            "Human-in-the-loop object detection: S3, EventBridge, SQS, Lambda, SageMaker, "
            + (
                "A2I."
                if deploy.review.backend == "a2i"
                else "a review service on DynamoDB, Cognito, CloudFront."
            )
        ),
    )
    Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))
    return stack
