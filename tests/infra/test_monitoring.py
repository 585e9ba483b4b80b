"""Monitoring: the alarms each scenario needs, the optional e-mail topic, the dashboard."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cdk_scenarios import A2I_SCENARIOS, only, resources

from hitl_core.wiring import (
    REVIEW_SERVICE_METRIC_NAMESPACE,
    REVIEW_SERVICE_METRIC_SERVICE,
    review_service_status_pattern,
)
from infra.monitoring import OLDEST_TASK_LIFETIME_SHARE

# One synthesized app per worker: keep the tests that read it on one worker.
pytestmark = pytest.mark.xdist_group("cdk")


def alarms(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: v["Properties"] for k, v in resources(template, "AWS::CloudWatch::Alarm").items()}


def alarm(template: dict[str, Any], prefix: str) -> dict[str, Any]:
    (found,) = [v for k, v in alarms(template).items() if k.startswith(prefix)]
    return found


def test_queue_function_and_review_alarms_exist_in_every_scenario(synthesized) -> None:
    for scenario, template in synthesized.templates.items():
        names = set(alarms(template))
        for prefix in ("IngestDlqNotEmpty", "ReviewDlqNotEmpty", "IngestErrors", "IngestThrottles",
                       "ReviewErrors", "ReviewThrottles", "AnswersQuarantined"):  # fmt: skip
            assert any(n.startswith(f"Monitoring{prefix}") for n in names), (scenario, prefix)
        failed_reviews = "HumanLoopsFailed" if scenario in A2I_SCENARIOS else "ReviewTasksFailed"
        assert any(n.startswith(f"Monitoring{failed_reviews}") for n in names), scenario


def test_dlq_alarm_fires_on_the_first_parked_message(synthesized) -> None:
    found = alarm(synthesized.templates["Default"], "MonitoringIngestDlqNotEmpty")

    assert found["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert found["Threshold"] == 1
    assert found["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert found["Dimensions"][0]["Value"]["Fn::GetAtt"][0].startswith("PipelineIngestDlq")


def test_endpoint_alarms_only_where_a_sagemaker_endpoint_is_called(synthesized) -> None:
    for scenario in ("Default", "ModelArtifact", "Marketplace"):
        found = alarm(synthesized.templates[scenario], "MonitoringEndpoint5xx")
        assert found["MetricName"] == "Invocation5XXErrors"
        assert {d["Name"]: d["Value"] for d in found["Dimensions"]} == {
            "EndpointName": "hitl-object-detector",
            "VariantName": "AllTraffic",
        }
        assert (
            alarm(synthesized.templates[scenario], "MonitoringEndpointLatency")["ExtendedStatistic"] == "p90"
        )
    rekognition = set(alarms(synthesized.templates["Rekognition"]))
    assert not [n for n in rekognition if n.startswith("MonitoringEndpoint")]


def test_failed_human_loops_are_counted_by_their_own_rule(synthesized) -> None:
    template = synthesized.templates["A2i"]
    rules = resources(template, "AWS::Events::Rule")
    (failed_rule,) = [k for k in rules if k.startswith("MonitoringHumanLoopFailed")]

    pattern = rules[failed_rule]["Properties"]["EventPattern"]["detail"]
    assert pattern["humanLoopStatus"] == ["Failed"]
    assert "prefix" in pattern["flowDefinitionArn"][0], "loops of a replaced flow definition fail too"
    found = alarm(template, "MonitoringHumanLoopsFailed")
    assert found["Namespace"] == "AWS/Events" and found["MetricName"] == "MatchedEvents"
    assert found["Dimensions"] == [{"Name": "RuleName", "Value": {"Ref": failed_rule}}]


def test_alarm_email_adds_an_encrypted_topic_every_alarm_notifies(synthesized) -> None:
    template = synthesized.templates["ModelArtifact"]
    topic_id = next(iter(resources(template, "AWS::SNS::Topic")))
    subscription = only(template, "AWS::SNS::Subscription")["Properties"]

    assert "KmsMasterKeyId" in only(template, "AWS::SNS::Topic")["Properties"]
    assert subscription == {"Protocol": "email", "TopicArn": {"Ref": topic_id}, "Endpoint": "ops@example.com"}
    for name, props in alarms(template).items():
        assert props["AlarmActions"] == [{"Ref": topic_id}], name
    assert not resources(synthesized.templates["Default"], "AWS::SNS::Topic")


def test_dashboard_shows_queues_functions_and_alarms(synthesized) -> None:
    body = json.dumps(
        only(synthesized.templates["ModelArtifact"], "AWS::CloudWatch::Dashboard")["Properties"]
    )

    for text in ("Queue depth", "Errors and throttles", "Model latency p90", "Alarms"):
        assert text in body


def test_a_quarantined_answer_raises_an_alarm_from_the_review_functions_metric(synthesized) -> None:
    found = alarm(synthesized.templates["Default"], "MonitoringAnswersQuarantined")

    assert (found["Namespace"], found["MetricName"]) == ("HitlPipeline", "AnswersQuarantined")
    assert found["Dimensions"] == [{"Name": "service", "Value": "review-complete"}]
    assert found["Threshold"] == 1


def test_failed_review_tasks_are_counted_from_the_project_bus(synthesized) -> None:
    template = synthesized.templates["Builtin"]
    stack = synthesized.stacks["Builtin"]
    rules = resources(template, "AWS::Events::Rule")
    (failed_rule,) = [k for k in rules if k.startswith("MonitoringReviewTaskFailed")]
    pattern = rules[failed_rule]["Properties"]["EventPattern"]

    assert pattern == stack.resolve(
        {**review_service_status_pattern("hitl"), "detail": {
            **review_service_status_pattern("hitl")["detail"], "humanLoopStatus": ["Failed"]}}
    )  # fmt: skip
    assert rules[failed_rule]["Properties"]["EventBusName"]["Ref"].startswith("PipelineBus")
    found = alarm(template, "MonitoringReviewTasksFailed")
    assert found["Dimensions"] == [{"Name": "RuleName", "Value": {"Ref": failed_rule}}]
    assert not [k for k in rules if k.startswith("MonitoringHumanLoopFailed")]


def test_review_service_alarms_watch_the_api_the_queue_of_tasks_and_the_outbox(synthesized) -> None:
    template = synthesized.templates["Builtin"]
    topic_id = next(iter(resources(template, "AWS::SNS::Topic")))
    api = next(iter(resources(template, "AWS::ApiGatewayV2::Api")))

    api_5xx = alarm(template, "MonitoringReviewApi5xx")
    waiting = alarm(template, "MonitoringReviewTasksWaiting")
    oldest = alarm(template, "MonitoringReviewOldestTask")
    outbox_dlq = alarm(template, "MonitoringReviewOutboxDlqNotEmpty")
    lag = alarm(template, "MonitoringReviewOutboxIteratorAge")

    assert (api_5xx["Namespace"], api_5xx["MetricName"]) == ("AWS/ApiGateway", "5xx")
    assert api_5xx["Dimensions"] == [{"Name": "ApiId", "Value": {"Ref": api}}]
    service = [{"Name": "service", "Value": REVIEW_SERVICE_METRIC_SERVICE}]
    assert (waiting["Namespace"], waiting["MetricName"], waiting["Dimensions"]) == (
        REVIEW_SERVICE_METRIC_NAMESPACE,
        "TasksWaiting",
        service,
    )
    assert (oldest["MetricName"], oldest["Dimensions"]) == ("OldestTaskAgeSeconds", service)
    assert oldest["Threshold"] == 86400 * OLDEST_TASK_LIFETIME_SHARE  # the review settings' lifetime
    assert outbox_dlq["Dimensions"][0]["Value"]["Fn::GetAtt"][0].startswith("ReviewServiceOutboxDlq")
    assert lag["MetricName"] == "IteratorAge"
    for prefix in ("ReviewApiErrors", "ReviewLifecycleErrors", "ReviewOutboxErrors"):
        assert alarm(template, f"Monitoring{prefix}")["MetricName"] == "Errors"
    for name, props in alarms(template).items():
        assert props["AlarmActions"] == [{"Ref": topic_id}], name


def test_review_service_widgets_only_with_the_builtin_backend(synthesized) -> None:
    for scenario, template in synthesized.templates.items():
        body = json.dumps(only(template, "AWS::CloudWatch::Dashboard")["Properties"])
        shown = all(text in body for text in ("Review tasks waiting", "Oldest open review task", "5xx"))
        assert shown == (scenario not in A2I_SCENARIOS), scenario
