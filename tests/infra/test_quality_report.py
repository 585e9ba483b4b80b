"""The daily quality report: its schedule, its named-resource permissions, its alarms and the dashboard,
and its real S3 and EventBridge calls run with only its role's permissions."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from cdk_scenarios import resources
from hitl_quality.daily_report import DailyReport
from hitl_quality.settings import QualitySettings
from iam_harness import REGION, CallRecorder, Names, as_role, evaluate, function_policies, without
from moto import mock_aws
from review.builders import BUS_NAME, TRAINING_BUCKET, EventTap

from hitl.quality_traffic import Traffic, traffic_objects
from hitl_aws.publisher import EventPublisher
from hitl_core.config import load_config
from infra.quality_report import QUALITY_HANDLER

pytestmark = pytest.mark.xdist_group("cdk")


def _function(template: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    (found,) = [
        (k, v) for k, v in resources(template, "AWS::Lambda::Function").items()
        if v["Properties"]["Handler"] == QUALITY_HANDLER
    ]  # fmt: skip
    return found


def test_a_daily_schedule_invokes_the_function_in_every_scenario(synthesized) -> None:
    for scenario, template in synthesized.templates.items():
        logical, function = _function(template)
        rules = [
            r["Properties"] for r in resources(template, "AWS::Events::Rule").values()
            if "ScheduleExpression" in r["Properties"]
            and any(t["Arn"] == {"Fn::GetAtt": [logical, "Arn"]} for t in r["Properties"]["Targets"])
        ]  # fmt: skip
        assert [r["ScheduleExpression"] for r in rules] == ["cron(30 3 * * ? *)"], scenario
        assert rules[0]["Targets"][0]["RetryPolicy"]["MaximumRetryAttempts"] == 2
        properties = function["Properties"]
        assert properties["Timeout"] == 900 and properties["MemorySize"] == 2048
        assert set(properties["Environment"]["Variables"]) >= {
            "HITL_CONFIG",
            "EVENT_BUS_NAME",
            "TRAINING_BUCKET",
        }


def test_every_statement_names_its_resources(synthesized) -> None:
    template = synthesized.templates["Default"]
    statements = [
        s
        for document in function_policies(template, QUALITY_HANDLER, _names())
        for s in document["Statement"]
    ]
    by_action = {json.dumps(s["Action"]): s for s in statements}
    assert by_action['"s3:GetObject"']["Resource"] == [
        f"arn:aws:s3:::{TRAINING_BUCKET}/predictions/*",
        f"arn:aws:s3:::{TRAINING_BUCKET}/reviews/batches/*",
    ]
    assert by_action['"s3:PutObject"']["Resource"] == f"arn:aws:s3:::{TRAINING_BUCKET}/quality-reports/*"
    listing = by_action['"s3:ListBucket"']
    assert listing["Condition"] == {"StringLike": {"s3:prefix": ["predictions/*", "reviews/batches/*"]}}
    assert all(s["Resource"] != "*" for s in statements if "xray" not in json.dumps(s["Action"]))


def test_the_accepted_error_alarm_reads_the_lower_bound_at_the_configured_maximum(
    synthesized, pipeline_config
) -> None:
    template = synthesized.templates["Default"]
    alarms = {k: v["Properties"] for k, v in resources(template, "AWS::CloudWatch::Alarm").items()}
    (found,) = [v for k, v in alarms.items() if k.startswith("MonitoringAcceptedErrorRateExceeded")]
    assert found["MetricName"] == "AcceptedErrorRateLowerBound"
    assert found["Namespace"] == "HitlPipeline"
    assert found["Dimensions"] == [{"Name": "service", "Value": "quality-report"}]
    assert found["Threshold"] == pytest.approx(100 * pipeline_config.quality.max_accepted_error_rate)
    assert found["Period"] == 86_400 and found["TreatMissingData"] == "notBreaching"
    assert any(k.startswith("MonitoringQualityReportErrors") for k in alarms)
    (dashboard,) = resources(template, "AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    assert "Accepted images wrong" in body and "AcceptedErrorRateLowerBound" in body


def _names() -> Names:
    return Names(
        refs={"PipelineBus": BUS_NAME},
        attributes={
            ("StorageTrainingData", "Arn"): f"arn:aws:s3:::{TRAINING_BUCKET}",
            ("PipelineBus", "Arn"): f"arn:aws:events:{REGION}:123456789012:event-bus/{BUS_NAME}",
            ("QualityReportFunctionLogs", "Arn"): f"arn:aws:logs:{REGION}:123456789012:log-group:quality:*",
        },
    )


CONFIG = {
    "labels": ["person", "car", "dog"],
    "routing": {"preset": "top-score-below", "sampling_percentage": 30},
    "quality": {"max_accepted_error_rate": 0.01, "min_audited": 5},
}


def _run(policies: list[dict[str, Any]], role: str, recorder: CallRecorder) -> dict[str, object]:
    settings = QualitySettings(load_config(CONFIG), BUS_NAME, TRAINING_BUCKET)
    with as_role(policies, role) as session:
        s3 = recorder.attach(session.client("s3"))
        publisher = EventPublisher(recorder.attach(session.client("events")), BUS_NAME)
        return DailyReport(settings, s3, publisher).run(datetime.now(UTC))


def test_the_daily_run_reads_writes_and_publishes_with_only_its_roles_permissions(synthesized) -> None:
    policies = function_policies(synthesized.templates["Default"], QUALITY_HANDLER, _names())
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=TRAINING_BUCKET)
        tap = EventTap()
        for name, raw in traffic_objects(Traffic(300, end=datetime.now(UTC), audit_percentage=30)):
            s3.put_object(Bucket=TRAINING_BUCKET, Key=name, Body=raw)
        recorder = CallRecorder()

        result = _run(policies, "quality", recorder)
        published = tap.drain()

        with pytest.raises(Exception, match="AccessDenied"):
            _run(without(policies, "s3:PutObject"), "quality-without-put", CallRecorder())

    actions = {c.action for c in recorder.calls}
    assert {"s3:ListBucket", "s3:GetObject", "s3:PutObject", "events:PutEvents"} <= actions
    assert any(c.action == "s3:GetObject" and "/reviews/batches/date=" in c.resource for c in recorder.calls)
    assert published and result["events"] == len(published)
    assert evaluate(policies, recorder.calls) == []
