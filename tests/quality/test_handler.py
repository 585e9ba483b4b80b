"""The scheduled handler: settings from the environment, the report dated by the schedule's event."""

from __future__ import annotations

import boto3
import pytest
from hitl_quality import handler
from hitl_quality.settings import QualitySettings
from review.builders import BUS_NAME, REGION, TRAINING_BUCKET, LambdaContext

from hitl_core.config import ConfigError, config_to_env


@pytest.fixture
def function_env(monkeypatch: pytest.MonkeyPatch, quality_world):
    monkeypatch.setenv("HITL_CONFIG", config_to_env(quality_world.config))
    monkeypatch.setenv("EVENT_BUS_NAME", BUS_NAME)
    monkeypatch.setenv("TRAINING_BUCKET", TRAINING_BUCKET)
    handler.daily_report.cache_clear()
    yield quality_world
    handler.daily_report.cache_clear()


def test_the_report_is_dated_by_the_schedules_event_time(function_env):
    scheduled = function_env.now.strftime("%Y-%m-%dT%H:%M:%SZ")
    event = {"detail-type": "Scheduled Event", "source": "aws.events", "time": scheduled, "detail": {}}

    result = handler.lambda_handler(event, LambdaContext())

    key = f"quality-reports/{function_env.now:%Y-%m-%d}.html"
    assert result["report_uri"] == f"s3://{TRAINING_BUCKET}/{key}"
    body = boto3.client("s3", region_name=REGION).get_object(Bucket=TRAINING_BUCKET, Key=key)["Body"].read()
    assert b"Model quality report" in body
    assert len(result["summary"]) == 3


def test_settings_name_what_is_missing():
    with pytest.raises(ConfigError, match="EVENT_BUS_NAME, TRAINING_BUCKET"):
        QualitySettings.from_env({"HITL_CONFIG": '{"labels": ["cat"]}'})
    with pytest.raises(ConfigError, match="HITL_CONFIG"):
        QualitySettings.from_env({"EVENT_BUS_NAME": "bus", "TRAINING_BUCKET": "bucket"})
