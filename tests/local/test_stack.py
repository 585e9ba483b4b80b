"""What the local stack hands its function workers and its users, with either review backend (the
stack itself runs in tests/e2e)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hitl.local.aws_resources import LocalNames
from hitl.local.stack import (
    LOCAL_REVIEW_TIMING,
    LocalStack,
    StackEndpoints,
    StackSettings,
    function_environment,
)
from hitl_aws.settings import FunctionSettings
from hitl_core.config import ConfigError, PipelineConfig, load_config
from hitl_review_service.settings import ApiSettings, LifecycleSettings, OutboxSettings

A2I_ENDPOINTS = StackEndpoints(
    aws="http://127.0.0.1:1",
    sagemaker_runtime="http://127.0.0.1:2",
    review_page="http://127.0.0.1:4/",
    names=LocalNames(),
    queues={"hitl-ingest": {"url": "u", "dlq-url": "d"}},
    review_backend="a2i",
    a2i_runtime="http://127.0.0.1:3",
)
BUILTIN_ENDPOINTS = StackEndpoints(
    aws="http://127.0.0.1:1",
    sagemaker_runtime="http://127.0.0.1:2",
    review_page="http://127.0.0.1:4/",
    names=LocalNames(),
    queues={"hitl-ingest": {"url": "u", "dlq-url": "d"}},
    review_api="http://127.0.0.1:4/api",
)
BASE = {"PATH": "/bin", "AWS_PROFILE": "production", "AWS_ACCESS_KEY_ID": "AKIAREAL"}


def test_a_function_gets_its_lambda_settings_and_only_local_aws(pipeline_config: PipelineConfig) -> None:
    settings = StackSettings(config=pipeline_config, review_backend="a2i")
    environment = function_environment("ingest", settings, A2I_ENDPOINTS, BASE)

    function = FunctionSettings.from_env(environment)
    assert function.config == pipeline_config
    assert function.endpoint_name == "hitl-local-detector"
    assert function.flow_definition_arn == LocalNames().flow_definition_arn
    assert environment["REVIEW_BACKEND"] == "a2i"
    assert "REVIEW_TASKS_TABLE" not in environment
    assert environment["AWS_ENDPOINT_URL"] == "http://127.0.0.1:1"
    assert environment["AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"] == "http://127.0.0.1:2"
    assert environment["AWS_ENDPOINT_URL_SAGEMAKER_A2I_RUNTIME"] == "http://127.0.0.1:3"
    assert environment["AWS_ACCESS_KEY_ID"] == "testing"
    assert "AWS_PROFILE" not in environment
    assert environment["POWERTOOLS_TRACE_DISABLED"] == "true"
    assert environment["POWERTOOLS_SERVICE_NAME"] == "hitl-ingest"
    assert environment["PATH"] == "/bin"


def test_with_the_builtin_backend_ingest_writes_tasks_and_no_a2i_is_reachable(
    pipeline_config: PipelineConfig,
) -> None:
    environment = function_environment(
        "ingest", StackSettings(config=pipeline_config, review_backend="builtin"), BUILTIN_ENDPOINTS, BASE
    )

    assert environment["REVIEW_BACKEND"] == "builtin"
    assert environment["REVIEW_TASKS_TABLE"] == LocalNames().review_tasks_table
    assert "AWS_ENDPOINT_URL_SAGEMAKER_A2I_RUNTIME" not in environment


def test_the_review_service_functions_get_the_service_settings(pipeline_config: PipelineConfig) -> None:
    settings = StackSettings(config=pipeline_config, review_backend="builtin")
    names = settings.names

    api = function_environment("review-api", settings, BUILTIN_ENDPOINTS, BASE)
    outbox = OutboxSettings.from_env(function_environment("review-outbox", settings, BUILTIN_ENDPOINTS, BASE))
    lifecycle = function_environment("review-lifecycle", settings, BUILTIN_ENDPOINTS, BASE)

    assert ApiSettings.from_env(api).table_name == names.review_tasks_table
    assert ApiSettings.from_env(api).timing == LOCAL_REVIEW_TIMING
    assert LifecycleSettings.from_env(lifecycle).timing == LOCAL_REVIEW_TIMING
    assert outbox.output_bucket == names.review_output_bucket
    assert outbox.output_prefix == pipeline_config.prefixes.review_output
    assert outbox.event_bus_name == names.event_bus
    assert outbox.service_name == names.review_service_name
    assert api["POWERTOOLS_SERVICE_NAME"] == "hitl-review-service"


def test_the_endpoints_file_names_every_endpoint_and_resource() -> None:
    document = A2I_ENDPOINTS.to_dict()
    assert document["review-backend"] == "a2i"
    assert document["endpoints"]["s3"] == document["endpoints"]["sqs"] == "http://127.0.0.1:1"
    assert document["endpoints"]["sagemaker-a2i-runtime"] == "http://127.0.0.1:3"
    assert document["flow-definition-arn"] == LocalNames().flow_definition_arn
    assert document["buckets"] == {
        "input": "hitl-input",
        "review-output": "hitl-review-output",
        "training": "hitl-training",
    }
    assert document["queues"]["hitl-ingest"]["dlq-url"] == "d"


def test_the_builtin_endpoints_file_names_the_review_api_and_task_table() -> None:
    document = BUILTIN_ENDPOINTS.to_dict()
    assert document["review-backend"] == "builtin"
    assert document["endpoints"]["review-api"] == "http://127.0.0.1:4/api"
    assert document["endpoints"]["dynamodb"] == "http://127.0.0.1:1"
    assert "sagemaker-a2i-runtime" not in document["endpoints"]
    assert document["review-tasks-table"] == LocalNames().review_tasks_table
    assert "AWS_ENDPOINT_URL_SAGEMAKER_A2I_RUNTIME" not in BUILTIN_ENDPOINTS.client_environment()


def test_the_a2i_backend_refuses_more_labels_than_its_element_takes_before_starting(tmp_path: Path) -> None:
    config = load_config({"labels": [f"voc-{i}" for i in range(20)]})
    stack = LocalStack(StackSettings(config=config, state_dir=tmp_path / "state", review_backend="a2i"))

    with pytest.raises(ConfigError, match="labels has 20 labels; A2I's crowd-bounding-box"):
        stack.start()
    assert not (tmp_path / "state").exists()


def test_a2i_with_a_budget_gives_ingest_and_the_loop_starter_the_pending_loop_table(
    pipeline_config: PipelineConfig,
) -> None:
    from hitl.local.aws_resources import describe_resources
    from hitl.local.review_service.__main__ import HANDLERS
    from hitl.local.stack import LOOP_STARTER

    review = pipeline_config.review.model_validate({"budget": {"per_day": 30}})
    config = pipeline_config.model_copy(update={"review": review})
    settings = StackSettings(config=config, review_backend="a2i")

    for function in ("ingest", LOOP_STARTER):
        environment = function_environment(function, settings, A2I_ENDPOINTS, BASE)
        assert FunctionSettings.from_env(environment).pending_loops_table == LocalNames().pending_loops_table
    assert HANDLERS[LOOP_STARTER] == "hitl_ingest.loop_starter:handler"
    assert describe_resources(config, review_backend="a2i").pending_loop_tables == ("hitl-pending-loops",)
    assert describe_resources(pipeline_config, review_backend="a2i").pending_loop_tables == ()
    plain = function_environment(
        "ingest", StackSettings(config=pipeline_config, review_backend="a2i"), A2I_ENDPOINTS, BASE
    )
    assert "PENDING_LOOPS_TABLE" not in plain


def test_a2i_with_gold_gives_ingest_and_review_complete_the_pending_loop_table(
    pipeline_config: PipelineConfig,
) -> None:
    from hitl.local.aws_resources import describe_resources

    review = pipeline_config.review.model_validate({"gold": {"manifest": "s3://team-gold/gold/lines.jsonl"}})
    config = pipeline_config.model_copy(update={"review": review})
    settings = StackSettings(config=config, review_backend="a2i")

    for function in ("ingest", "review-complete"):
        environment = function_environment(function, settings, A2I_ENDPOINTS, BASE)
        assert FunctionSettings.from_env(environment).pending_loops_table == LocalNames().pending_loops_table
    assert describe_resources(config, review_backend="a2i").pending_loop_tables == ("hitl-pending-loops",)
