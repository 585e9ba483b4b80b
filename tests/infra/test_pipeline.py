"""The pipeline: rules, queues and functions wired exactly as hitl_core.wiring says."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from cdk_scenarios import deployed_environment, only, policy_statements, resources, statement_for

from hitl_aws.settings import FunctionSettings
from hitl_core.config import PipelineConfig, load_config
from hitl_core.wiring import (
    INGEST_QUEUE,
    REVIEW_QUEUE,
    QueueSettings,
    human_loop_status_pattern,
    object_created_pattern,
    review_service_status_pattern,
)
from hitl_ingest.dependencies import IngestDependencies
from infra.pipeline import INGEST_HANDLER, REVIEW_HANDLER, event_pattern

# One synthesized app per worker: keep the tests that read it on one worker.
pytestmark = pytest.mark.xdist_group("cdk")


def function(template: dict[str, Any], handler: str) -> tuple[str, dict[str, Any]]:
    found = [(k, v) for k, v in resources(template, "AWS::Lambda::Function").items()
             if v["Properties"].get("Handler") == handler]  # fmt: skip
    assert len(found) == 1, handler
    return found[0]


def logical(template: dict[str, Any], resource_type: str, prefix: str) -> str:
    (name,) = [k for k in resources(template, resource_type) if k.startswith(prefix)]
    return name


@pytest.mark.parametrize(("name", "settings"), [("Ingest", INGEST_QUEUE), ("Review", REVIEW_QUEUE)])
def test_queues_match_the_wiring(synthesized, name: str, settings: QueueSettings) -> None:
    template = synthesized.templates["Default"]
    queue = template["Resources"][logical(template, "AWS::SQS::Queue", f"Pipeline{name}Queue")]["Properties"]
    dlq = logical(template, "AWS::SQS::Queue", f"Pipeline{name}Dlq")

    assert queue["VisibilityTimeout"] == settings.visibility_timeout_seconds
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dlq, "Arn"]},
        "maxReceiveCount": settings.max_receive_count,
    }
    assert queue["SqsManagedSseEnabled"] is True
    assert (
        template["Resources"][dlq]["Properties"]["MessageRetentionPeriod"]
        == settings.dlq_retention_days * 86400
    )


@pytest.mark.parametrize(
    ("handler", "settings", "queue"),
    [(INGEST_HANDLER, INGEST_QUEUE, "Ingest"), (REVIEW_HANDLER, REVIEW_QUEUE, "Review")],
)
def test_functions_poll_their_queue_in_batches_with_partial_failures(
    synthesized, handler: str, settings: QueueSettings, queue: str
) -> None:
    template = synthesized.templates["Default"]
    name, fn = function(template, handler)
    (mapping,) = [m["Properties"] for m in resources(template, "AWS::Lambda::EventSourceMapping").values()
                  if m["Properties"]["FunctionName"] == {"Ref": name}]  # fmt: skip

    assert fn["Properties"]["Runtime"] == "python3.14"
    assert fn["Properties"]["Architectures"] == ["arm64"]
    assert fn["Properties"]["Timeout"] == settings.function_timeout_seconds
    assert fn["Properties"]["TracingConfig"] == {"Mode": "Active"}
    assert mapping["EventSourceArn"]["Fn::GetAtt"][0].startswith(f"Pipeline{queue}Queue")
    assert mapping["BatchSize"] == settings.batch_size
    assert mapping["MaximumBatchingWindowInSeconds"] == settings.max_batching_window_seconds
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_ingest_concurrency_is_guarded_by_the_poller_and_reserved_only_when_asked(synthesized) -> None:
    for scenario, polled, reserved in (("Default", 10, None), ("ModelArtifact", 8, 12)):
        template = synthesized.templates[scenario]
        name, fn = function(template, INGEST_HANDLER)
        (mapping,) = [m["Properties"] for m in resources(template, "AWS::Lambda::EventSourceMapping").values()
                      if m["Properties"]["FunctionName"] == {"Ref": name}]  # fmt: skip

        assert fn["Properties"].get("ReservedConcurrentExecutions") == reserved, scenario
        assert mapping["ScalingConfig"] == {"MaximumConcurrency": polled}, scenario


@pytest.mark.parametrize("handler", [INGEST_HANDLER, REVIEW_HANDLER])
def test_snap_start_is_off_by_default_and_on_published_versions_when_asked(synthesized, handler: str) -> None:
    default = synthesized.templates["Default"]
    name, fn = function(default, handler)
    assert "SnapStart" not in fn["Properties"]
    assert resources(default, "AWS::Lambda::Alias") == {}

    template = synthesized.templates["Serverless"]
    name, fn = function(template, handler)
    assert fn["Properties"]["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    [(alias_id, alias)] = [(k, v) for k, v in resources(template, "AWS::Lambda::Alias").items()
                           if v["Properties"]["FunctionName"] == {"Ref": name}]  # fmt: skip
    version = template["Resources"][alias["Properties"]["FunctionVersion"]["Fn::GetAtt"][0]]
    assert version["Type"] == "AWS::Lambda::Version" and version["Properties"]["FunctionName"] == {
        "Ref": name
    }
    targets = [json.dumps(m["Properties"]["FunctionName"])
               for m in resources(template, "AWS::Lambda::EventSourceMapping").values()]  # fmt: skip
    assert sum(f'{{"Ref": "{alias_id}"}}' in target and ':live"' in target for target in targets) == 1
    assert not any(f'{{"Ref": "{name}"}}' in target for target in targets), "the queue feeds the alias only"


def test_function_environment_follows_the_settings_contract(
    synthesized, pipeline_config: PipelineConfig
) -> None:
    template = synthesized.templates["A2i"]
    bus = logical(template, "AWS::Events::EventBus", "PipelineBus")
    training = logical(template, "AWS::S3::Bucket", "StorageTrainingData")
    flow = logical(template, "Custom::A2iFlowDefinition", "HumanReviewFlowDefinition")

    for handler, service in ((INGEST_HANDLER, "hitl-ingest"), (REVIEW_HANDLER, "hitl-review")):
        env = function(template, handler)[1]["Properties"]["Environment"]["Variables"]
        deployed = load_config(env["HITL_CONFIG"])  # the scenario's config: cdk.json's with a review budget
        assert deployed.review.budget.per_hour == 50
        assert deployed.model_copy(update={"review": pipeline_config.review}) == pipeline_config
        assert env["EVENT_BUS_NAME"] == {"Ref": bus}
        assert env["TRAINING_BUCKET"] == {"Ref": training}
        assert env["REVIEW_BACKEND"] == "a2i"
        assert env["FLOW_DEFINITION_ARN"] == {"Fn::GetAtt": [flow, "FlowDefinitionArn"]}
        assert env["POWERTOOLS_SERVICE_NAME"] == service
        assert env["POWERTOOLS_METRICS_NAMESPACE"] == "HitlPipeline"
    ingest_env = function(template, INGEST_HANDLER)[1]["Properties"]["Environment"]["Variables"]
    assert ingest_env["ENDPOINT_NAME"] == "hitl-object-detector"
    rekognition = function(synthesized.templates["Rekognition"], INGEST_HANDLER)[1]
    assert "ENDPOINT_NAME" not in rekognition["Properties"]["Environment"]["Variables"]
    assert "REKOGNITION_PROJECT_VERSION_ARN" in rekognition["Properties"]["Environment"]["Variables"]


def rule(template: dict[str, Any], prefix: str) -> dict[str, Any]:
    return template["Resources"][logical(template, "AWS::Events::Rule", prefix)]["Properties"]


def test_rules_use_the_wiring_patterns(synthesized, pipeline_config: PipelineConfig) -> None:
    template = synthesized.templates["A2i"]
    stack = synthesized.stacks["A2i"]
    storage, review = stack.storage, stack.human_review

    created = rule(template, "PipelineObjectCreated")
    status = rule(template, "PipelineHumanLoopStatus")

    expected_created = object_created_pattern(storage.input.bucket_name, pipeline_config.prefixes.incoming)
    assert created["EventPattern"] == stack.resolve(expected_created)
    assert status["EventPattern"] == stack.resolve(
        human_loop_status_pattern(review.flow_definition_arn_prefix)
    )
    assert json.dumps(status["EventPattern"]["detail"]["flowDefinitionArn"]).endswith(
        ':flow-definition/hitl-flow-"]]}}]'
    )
    assert "EventBusName" not in created and "EventBusName" not in status  # AWS sends both to the default bus
    assert created["Targets"][0]["Arn"]["Fn::GetAtt"][0].startswith("PipelineIngestQueue")
    assert created["Targets"][0]["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0].startswith("PipelineIngestDlq")
    assert status["Targets"][0]["Arn"]["Fn::GetAtt"][0].startswith("PipelineReviewQueue")


def test_event_pattern_refuses_fields_it_cannot_map() -> None:
    with pytest.raises(ValueError, match="account"):
        event_pattern({"source": ["x"], "account": ["1"]})


def test_the_bus_is_archived_for_replay(synthesized) -> None:
    template = synthesized.templates["Default"]
    archive = only(template, "AWS::Events::Archive")["Properties"]

    assert archive["SourceArn"]["Fn::GetAtt"][0].startswith("PipelineBus")
    assert archive["RetentionDays"] == 30


def test_ingest_permissions_name_their_resources(synthesized) -> None:
    template = synthesized.templates["A2i"]
    statements = policy_statements(template, "PipelineIngestFunctionRole")
    flow = logical(template, "Custom::A2iFlowDefinition", "HumanReviewFlowDefinition")
    bus = logical(template, "AWS::Events::EventBus", "PipelineBus")

    assert statement_for(statements, "sagemaker:StartHumanLoop")["Resource"] == {
        "Fn::GetAtt": [flow, "FlowDefinitionArn"]
    }
    assert statement_for(statements, "events:PutEvents")["Resource"] == {"Fn::GetAtt": [bus, "Arn"]}
    read_images = json.dumps(statement_for(statements, "s3:GetObjectVersion")["Resource"])
    assert read_images.endswith('"/incoming/*"]]}')
    writes = json.dumps(statement_for(statements, "s3:PutObject")["Resource"])
    assert '"/predictions/*"' in writes and '"/rejected/*"' in writes
    assert "manifests/" not in writes and "reviews/" not in writes
    listings = {
        json.dumps(s["Resource"]): s["Condition"] for s in statements if s["Action"] == "s3:ListBucket"
    }
    training = json.dumps(
        {"Fn::GetAtt": [logical(template, "AWS::S3::Bucket", "StorageTrainingData"), "Arn"]}
    )
    images = json.dumps({"Fn::GetAtt": [logical(template, "AWS::S3::Bucket", "StorageInput"), "Arn"]})
    assert listings == {
        training: {"StringLike": {"s3:prefix": ["predictions/*", "rejected/*"]}},
        images: {"StringLike": {"s3:prefix": ["incoming/*"]}},
    }


def test_review_permissions_name_their_resources(synthesized) -> None:
    statements = policy_statements(synthesized.templates["Default"], "PipelineReviewFunctionRole")

    reads = [json.dumps(s["Resource"]) for s in statements if s["Action"] == "s3:GetObject"]
    assert any(r.endswith('"/a2i-output/*"]]}') for r in reads)
    writes = json.dumps(statement_for(statements, "s3:PutObject")["Resource"])
    assert '"/manifests/*"' in writes
    listings = [
        s["Condition"]["StringLike"]["s3:prefix"] for s in statements if s["Action"] == "s3:ListBucket"
    ]
    assert sorted(listings) == [["a2i-output/*"], ["reviews/*", "manifests/*", "quarantine/*"]]
    assert "predictions/" not in writes
    assert not [s for s in statements if "sagemaker:StartHumanLoop" in json.dumps(s)]


def test_builtin_backend_routes_the_services_status_events_from_the_project_bus(synthesized) -> None:
    template = synthesized.templates["Builtin"]
    stack = synthesized.stacks["Builtin"]

    status = rule(template, "PipelineReviewTaskStatus")

    assert status["EventPattern"] == stack.resolve(review_service_status_pattern("hitl"))
    assert status["EventBusName"] == {"Ref": logical(template, "AWS::Events::EventBus", "PipelineBus")}
    assert status["Targets"][0]["Arn"]["Fn::GetAtt"][0].startswith("PipelineReviewQueue")
    assert status["Targets"][0]["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0].startswith("PipelineReviewDlq")
    assert not [
        k for k in resources(template, "AWS::Events::Rule") if k.startswith("PipelineHumanLoopStatus")
    ]


def test_builtin_ingest_writes_tasks_and_never_calls_a2i(synthesized) -> None:
    template = synthesized.templates["Builtin"]
    table = logical(template, "AWS::DynamoDB::Table", "ReviewServiceTasks")
    env = function(template, INGEST_HANDLER)[1]["Properties"]["Environment"]["Variables"]
    statements = policy_statements(template, "PipelineIngestFunctionRole")

    assert env["REVIEW_BACKEND"] == "builtin"
    assert env["REVIEW_TASKS_TABLE"] == {"Ref": table}
    assert "FLOW_DEFINITION_ARN" not in env
    tasks = statement_for(statements, "dynamodb:PutItem")
    # The scenario's budget accepts images when spent, so ingest also reads the team's counters.
    assert (sorted(tasks["Action"]), tasks["Resource"]) == (
        ["dynamodb:GetItem", "dynamodb:PutItem"],
        {"Fn::GetAtt": [table, "Arn"]},
    )
    review_env = function(template, REVIEW_HANDLER)[1]["Properties"]["Environment"]["Variables"]
    assert (review_env["REVIEW_BACKEND"], review_env["REVIEW_SERVICE_NAME"]) == ("builtin", "hitl")
    assert "REVIEW_TASKS_TABLE" not in review_env
    assert not [
        s for s in policy_statements(template, "PipelineReviewFunctionRole") if "dynamodb:" in json.dumps(s)
    ]
    assert not [s for s in statements if "HumanLoop" in json.dumps(s["Action"])]


@pytest.mark.parametrize(("scenario", "backend"), [("Builtin", "builtin"), ("A2i", "a2i")])
def test_ingest_builds_the_review_starter_of_its_backend_from_the_deployed_environment(
    synthesized, scenario: str, backend: str
) -> None:
    template = synthesized.templates[scenario]
    session = boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name="eu-west-1")

    deps = IngestDependencies.from_env(deployed_environment(template, INGEST_HANDLER), session=session)
    review = FunctionSettings.from_env(deployed_environment(template, REVIEW_HANDLER))

    assert deps.reviews.backend == backend
    assert review.review_backend == backend
