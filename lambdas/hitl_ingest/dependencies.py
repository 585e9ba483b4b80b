"""The ingest function's settings and AWS clients, built once per execution environment.

Clients come from boto3's defaults, so AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE>
(e.g. AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME) point them at the local stack. Tests build the
object themselves to hand in stubbed clients. boto3 is imported when the clients are built
(the first message), not with the handler: it is most of botocore's import time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hitl_aws.publisher import EventPublisher
from hitl_aws.settings import PENDING_LOOPS_TABLE, REVIEW_TASKS_TABLE, FunctionSettings
from hitl_core.config import ConfigError
from hitl_core.manifest import IOU_MATCH
from hitl_core.pending_loops import counts_loops
from hitl_ingest.detector import Detector, RekognitionCustomLabelsDetector, SageMakerEndpointDetector
from hitl_ingest.human_review import (
    BudgetedHumanReviewStarter,
    HumanReviewStarter,
    ReviewStarter,
    TaskStoreReviewStarter,
)
from hitl_ingest.record_store import RecordStore

if TYPE_CHECKING:  # imports boto3's DynamoDB helpers: built on first use
    from hitl_ingest.gold_loops import GoldLoopStarter
    from hitl_ingest.pending_loops import PendingLoops

REKOGNITION_ADAPTER = "rekognition-custom-labels"
# botocore Config arguments. Lambda's timeout leaves room for botocore's standard retries;
# InvokeEndpoint may take 60 s.
CLIENT_SETTINGS: dict[str, Any] = {"retries": {"mode": "standard", "max_attempts": 3}, "read_timeout": 70}


@dataclass(frozen=True)
class IngestDependencies:
    settings: FunctionSettings
    s3: Any
    records: RecordStore
    detector: Detector
    reviews: ReviewStarter
    publisher: EventPublisher

    @classmethod
    def from_env(cls, environ: Mapping[str, str], session: Any = None) -> IngestDependencies:
        """Clients and collaborators for the deployed settings (`session`: a boto3 session to use)."""
        import boto3
        from botocore.config import Config

        settings = FunctionSettings.from_env(environ)
        session = session or boto3.session.Session()
        config = Config(**CLIENT_SETTINGS)

        def client(service: str) -> Any:
            return session.client(service, config=config)

        s3 = client("s3")
        return cls(
            settings=settings,
            s3=s3,
            records=RecordStore(s3, settings.training_bucket),
            detector=build_detector(settings, client),
            reviews=build_review_starter(settings, client),
            publisher=EventPublisher(client("events"), settings.event_bus_name),
        )


def build_review_starter(settings: FunctionSettings, client: Any) -> ReviewStarter:
    """The built-in service's task table or A2I, as the settings' review backend says."""
    if settings.review_backend == "builtin":
        from hitl_aws.review_task_table import ReviewTaskTable  # imports boto3: built on first use

        if not settings.review_tasks_table:
            raise ConfigError(f"environment variables not set: {REVIEW_TASKS_TABLE} (the review task table)")
        assert settings.review_service_name  # checked by FunctionSettings.from_env
        # A large InputContent is kept beside the prediction records, in the training bucket.
        table = ReviewTaskTable(
            client("dynamodb"), settings.review_tasks_table, client("s3"), settings.training_bucket
        )
        return TaskStoreReviewStarter(
            table,
            settings.review_service_name,
            priority=settings.config.review.priority.rule(),
            over_budget=settings.config.review.budget.over_budget_rule(),
        )
    a2i = build_a2i_starter(settings, client)
    if not counts_loops(settings.config.review.budget.budget()):
        return a2i
    return BudgetedHumanReviewStarter(
        build_pending_loops(settings, client, a2i),
        a2i.flow_definition_arn,
        settings.config.review.budget.over_budget_rule(),
    )


def build_a2i_starter(settings: FunctionSettings, client: Any) -> HumanReviewStarter | GoldLoopStarter:
    """A2I's StartHumanLoop; with `review.gold`, gold loops start among the image loops (their lines read
    from the gold manifest on the first start)."""
    assert settings.flow_definition_arn  # checked by from_env
    a2i = HumanReviewStarter(client("sagemaker-a2i-runtime"), settings.flow_definition_arn)
    gold = settings.config.review.gold
    if gold is None:
        return a2i
    from hitl_aws.gold_manifest import read_gold_lines
    from hitl_core.gold_tasks import GoldLine
    from hitl_ingest.gold_loops import GoldLoopStarter, GoldLoopTable

    if not settings.pending_loops_table:
        raise ConfigError(
            f"environment variables not set: {PENDING_LOOPS_TABLE} (the a2i backend's gold loops)"
        )
    manifest, s3 = gold.manifest, client("s3")
    assert manifest  # check_a2i_review_team refuses gold with no manifest

    def read_lines() -> list[GoldLine]:
        try:
            return read_gold_lines(s3, manifest)
        except ValueError as err:
            raise ConfigError(f"review.gold.manifest {manifest}: {err}") from None

    table = GoldLoopTable(client("dynamodb"), settings.pending_loops_table)
    return GoldLoopStarter(a2i, table, read_lines, gold.rule(IOU_MATCH))


def build_pending_loops(
    settings: FunctionSettings, client: Any, a2i: HumanReviewStarter | GoldLoopStarter | None = None
) -> PendingLoops:
    """The a2i backend's budget: its table, A2I's StartHumanLoop and the prediction records' InputContent."""
    from hitl_ingest.pending_loops import PendingLoops, PendingLoopTable, input_content_reader

    if not settings.pending_loops_table:
        raise ConfigError(f"environment variables not set: {PENDING_LOOPS_TABLE} (the a2i backend's budget)")
    a2i = a2i or build_a2i_starter(settings, client)
    team = settings.config.review
    return PendingLoops(
        PendingLoopTable(client("dynamodb"), settings.pending_loops_table),
        a2i.start,
        input_content_reader(RecordStore(client("s3"), settings.training_bucket)),
        team.budget.budget(),
        team.priority.rule(),
    )


def build_detector(settings: FunctionSettings, client: Any) -> Detector:
    """The endpoint when ENDPOINT_NAME is set, else Rekognition Custom Labels; ConfigError if neither."""
    config = settings.config
    if settings.endpoint_name:
        if config.adapter == REKOGNITION_ADAPTER:
            raise ConfigError(f"adapter {REKOGNITION_ADAPTER!r} needs REKOGNITION_PROJECT_VERSION_ARN")
        return SageMakerEndpointDetector(
            client("sagemaker-runtime"), settings.endpoint_name, config.adapter, config.labels
        )
    if settings.rekognition_project_version_arn:
        if config.adapter != REKOGNITION_ADAPTER:
            raise ConfigError(f"REKOGNITION_PROJECT_VERSION_ARN needs adapter {REKOGNITION_ADAPTER!r}")
        return RekognitionCustomLabelsDetector(
            client("rekognition"), settings.rekognition_project_version_arn, config.labels
        )
    raise ConfigError("set ENDPOINT_NAME or REKOGNITION_PROJECT_VERSION_ARN")
