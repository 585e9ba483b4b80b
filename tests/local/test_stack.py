"""What the local stack hands its function workers and its users (the stack itself runs in tests/e2e)."""

from __future__ import annotations

from hitl.local.aws_resources import LocalNames
from hitl.local.stack import StackEndpoints, StackSettings, function_environment
from hitl_aws.settings import FunctionSettings
from hitl_core.config import PipelineConfig

ENDPOINTS = StackEndpoints(
    aws="http://127.0.0.1:1",
    sagemaker_runtime="http://127.0.0.1:2",
    a2i_runtime="http://127.0.0.1:3",
    review_page="http://127.0.0.1:4/",
    names=LocalNames(),
    queues={"hitl-ingest": {"url": "u", "dlq-url": "d"}},
)


def test_a_function_gets_its_lambda_settings_and_only_local_aws(pipeline_config: PipelineConfig) -> None:
    base = {"PATH": "/bin", "AWS_PROFILE": "production", "AWS_ACCESS_KEY_ID": "AKIAREAL"}

    environment = function_environment("ingest", StackSettings(config=pipeline_config), ENDPOINTS, base)

    settings = FunctionSettings.from_env(environment)
    assert settings.config == pipeline_config
    assert settings.endpoint_name == "hitl-local-detector"
    assert settings.flow_definition_arn == LocalNames().flow_definition_arn
    assert environment["AWS_ENDPOINT_URL"] == "http://127.0.0.1:1"
    assert environment["AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"] == "http://127.0.0.1:2"
    assert environment["AWS_ENDPOINT_URL_SAGEMAKER_A2I_RUNTIME"] == "http://127.0.0.1:3"
    assert environment["AWS_ACCESS_KEY_ID"] == "testing"
    assert "AWS_PROFILE" not in environment
    assert environment["POWERTOOLS_TRACE_DISABLED"] == "true"
    assert environment["POWERTOOLS_SERVICE_NAME"] == "hitl-ingest"
    assert environment["PATH"] == "/bin"


def test_the_endpoints_file_names_every_endpoint_and_resource() -> None:
    document = ENDPOINTS.to_dict()
    assert document["endpoints"]["s3"] == document["endpoints"]["sqs"] == "http://127.0.0.1:1"
    assert document["endpoints"]["sagemaker-a2i-runtime"] == "http://127.0.0.1:3"
    assert document["buckets"] == {
        "input": "hitl-input",
        "review-output": "hitl-review-output",
        "training": "hitl-training",
    }
    assert document["queues"]["hitl-ingest"]["dlq-url"] == "d"
