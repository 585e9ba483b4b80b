"""Building the function's clients and detector from its environment."""

from __future__ import annotations

import pytest

from hitl_core.config import ConfigError, PipelineConfig, config_to_env
from hitl_ingest.dependencies import IngestDependencies
from hitl_ingest.detector import RekognitionCustomLabelsDetector, SageMakerEndpointDetector
from hitl_ingest.human_review import HumanReviewStarter, TaskStoreReviewStarter

FLOW = "arn:aws:sagemaker:us-east-1:123456789012:flow-definition/review"
PROJECT_VERSION = "arn:aws:rekognition:us-east-1:123456789012:project/p/version/p.1/1700000000000"


def environment(config: PipelineConfig, **extra: str) -> dict[str, str]:
    return {
        "HITL_CONFIG": config_to_env(config),
        "EVENT_BUS_NAME": "bus",
        "TRAINING_BUCKET": "training",
        "FLOW_DEFINITION_ARN": FLOW,
        **extra,
    }


def test_endpoint_name_selects_the_sagemaker_detector(pipeline_config: PipelineConfig) -> None:
    deps = IngestDependencies.from_env(environment(pipeline_config, ENDPOINT_NAME="ep"))

    assert isinstance(deps.detector, SageMakerEndpointDetector)
    assert deps.reviews.flow_definition_arn == FLOW
    assert deps.records.bucket == "training"


def test_project_version_selects_rekognition(pipeline_config: PipelineConfig) -> None:
    config = pipeline_config.model_copy(update={"adapter": "rekognition-custom-labels"})

    deps = IngestDependencies.from_env(environment(config, REKOGNITION_PROJECT_VERSION_ARN=PROJECT_VERSION))

    assert isinstance(deps.detector, RekognitionCustomLabelsDetector)


@pytest.mark.parametrize(
    ("adapter", "extra", "problem"),
    [
        ("sagemaker-object-detection", {}, "ENDPOINT_NAME or REKOGNITION_PROJECT_VERSION_ARN"),
        ("sagemaker-object-detection", {"REKOGNITION_PROJECT_VERSION_ARN": PROJECT_VERSION}, "needs adapter"),
        ("rekognition-custom-labels", {"ENDPOINT_NAME": "ep"}, "needs REKOGNITION_PROJECT_VERSION_ARN"),
    ],
)
def test_detector_settings_that_do_not_fit_are_refused(
    pipeline_config: PipelineConfig, adapter: str, extra: dict[str, str], problem: str
) -> None:
    config = pipeline_config.model_copy(update={"adapter": adapter})

    with pytest.raises(ConfigError, match=problem):
        IngestDependencies.from_env(environment(config, **extra))


def test_standard_endpoint_url_variables_redirect_the_clients(
    pipeline_config: PipelineConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:4599")

    deps = IngestDependencies.from_env(environment(pipeline_config, ENDPOINT_NAME="ep"))

    assert deps.s3.meta.endpoint_url == "http://127.0.0.1:4599"


def builtin_environment(config: PipelineConfig, **extra: str) -> dict[str, str]:
    env = environment(
        config, ENDPOINT_NAME="ep", REVIEW_TASKS_TABLE="tasks", REVIEW_SERVICE_NAME="hitl", **extra
    )
    del env["FLOW_DEFINITION_ARN"]
    return env


def test_the_task_table_selects_the_builtin_review_service(pipeline_config: PipelineConfig) -> None:
    deps = IngestDependencies.from_env(builtin_environment(pipeline_config))

    assert isinstance(deps.reviews, TaskStoreReviewStarter)
    assert deps.settings.review_backend == "builtin"
    assert deps.reviews.flow_definition_arn == "hitl-review-service/hitl"
    explicit = IngestDependencies.from_env(builtin_environment(pipeline_config, REVIEW_BACKEND="builtin"))
    assert isinstance(explicit.reviews, TaskStoreReviewStarter)


def test_a2i_is_chosen_by_name_or_by_a_flow_definition_alone(pipeline_config: PipelineConfig) -> None:
    by_flow = IngestDependencies.from_env(environment(pipeline_config, ENDPOINT_NAME="ep"))
    assert isinstance(by_flow.reviews, HumanReviewStarter)
    both = environment(pipeline_config, ENDPOINT_NAME="ep", REVIEW_BACKEND="a2i", REVIEW_TASKS_TABLE="tasks")
    assert isinstance(IngestDependencies.from_env(both).reviews, HumanReviewStarter)


@pytest.mark.parametrize(
    ("changes", "removed", "problem"),
    [
        ({}, "REVIEW_SERVICE_NAME", "REVIEW_SERVICE_NAME"),
        ({"REVIEW_BACKEND": "builtin"}, "REVIEW_TASKS_TABLE", "REVIEW_TASKS_TABLE"),
        ({"REVIEW_BACKEND": "a2i"}, None, "FLOW_DEFINITION_ARN"),
        ({"REVIEW_BACKEND": "mechanical-turk"}, None, "builtin or a2i"),
        ({}, "REVIEW_TASKS_TABLE", "REVIEW_BACKEND"),
    ],
)
def test_review_backend_settings_that_do_not_fit_are_named(
    pipeline_config: PipelineConfig, changes: dict[str, str], removed: str | None, problem: str
) -> None:
    env = builtin_environment(pipeline_config, **changes)
    if removed:
        del env[removed]

    with pytest.raises(ConfigError, match=problem):
        IngestDependencies.from_env(env)


def test_a2i_with_a_budget_starts_loops_within_it_from_the_pending_loop_table(
    pipeline_config: PipelineConfig,
) -> None:
    from hitl_ingest.human_review import BudgetedHumanReviewStarter

    review = pipeline_config.review.model_validate({"budget": {"per_hour": 4, "when_spent": "accept"}})
    config = pipeline_config.model_copy(update={"review": review})
    with pytest.raises(ConfigError, match="PENDING_LOOPS_TABLE"):
        IngestDependencies.from_env(environment(config, ENDPOINT_NAME="ep"))

    deps = IngestDependencies.from_env(environment(config, ENDPOINT_NAME="ep", PENDING_LOOPS_TABLE="loops"))

    assert isinstance(deps.reviews, BudgetedHumanReviewStarter)
    assert deps.reviews.flow_definition_arn == FLOW
    plain = IngestDependencies.from_env(environment(pipeline_config, ENDPOINT_NAME="ep"))
    assert isinstance(plain.reviews, HumanReviewStarter)
