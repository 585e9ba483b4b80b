"""The service functions' environment contract: defaults, and a ConfigError naming what is missing."""

from __future__ import annotations

import pytest

from hitl_core.config import ConfigError
from hitl_review_service.settings import ApiSettings, LifecycleSettings, OutboxSettings

ENV = {
    "REVIEW_TASKS_TABLE": "tasks",
    "REVIEW_OUTPUT_BUCKET": "out",
    "REVIEW_OUTPUT_PREFIX": "review-output",
    "EVENT_BUS_NAME": "bus",
    "REVIEW_TASK_COUNT": "2",
    "REVIEW_TASK_TIME_LIMIT_SECONDS": "600",
    "REVIEW_TASK_AVAILABILITY_SECONDS": "86400",
    "REVIEW_SERVICE_NAME": "hitl",
}


def test_api_settings_with_defaults() -> None:
    settings = ApiSettings.from_env(ENV)
    assert settings.table_name == "tasks"
    assert (settings.timing.lease_seconds, settings.timing.availability_seconds) == (600, 86400)
    assert settings.timing.task_count == 2
    assert (settings.image_url_ttl_seconds, settings.admin_group, settings.reviewer_group) == (
        300,
        "review-admins",
        "reviewers",
    )


def test_outbox_settings_end_the_prefix_with_a_slash() -> None:
    settings = OutboxSettings.from_env(ENV)
    assert (settings.output_bucket, settings.output_prefix, settings.service_name) == (
        "out",
        "review-output/",
        "hitl",
    )
    assert OutboxSettings.from_env(ENV | {"REVIEW_OUTPUT_PREFIX": ""}).output_prefix == ""


@pytest.mark.parametrize(
    ("reader", "missing"),
    [
        (ApiSettings, "REVIEW_TASKS_TABLE"),
        (ApiSettings, "REVIEW_TASK_TIME_LIMIT_SECONDS"),
        (LifecycleSettings, "REVIEW_TASK_AVAILABILITY_SECONDS"),
        (OutboxSettings, "REVIEW_SERVICE_NAME"),
        (OutboxSettings, "EVENT_BUS_NAME"),
    ],
)
def test_a_missing_variable_is_named(reader: type, missing: str) -> None:
    env = {k: v for k, v in ENV.items() if k != missing}
    with pytest.raises(ConfigError, match=missing):
        reader.from_env(env)


@pytest.mark.parametrize(
    ("name", "value"),
    [("REVIEW_TASK_COUNT", "4"), ("REVIEW_TASK_COUNT", "two"), ("IMAGE_URL_TTL_SECONDS", "0")],
)
def test_bad_values_are_config_errors(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        ApiSettings.from_env(ENV | {name: value})


def test_the_team_rules_come_from_review_team() -> None:
    team = '{"budget": {"per_hour": 40}, "agreement": {"threshold": 0.9, "max_reviewers": 3}}'
    settings = ApiSettings.from_env(ENV | {"REVIEW_TEAM": team})
    assert settings.team.budget.budget().per_hour == 40
    assert settings.timing.agreement is not None and settings.timing.agreement.threshold == 0.9
    assert ApiSettings.from_env(ENV).timing.agreement is None
    with pytest.raises(ConfigError, match=r"REVIEW_TEAM: budget\.per_hour"):
        ApiSettings.from_env(ENV | {"REVIEW_TEAM": '{"budget": {"per_hour": -1}}'})
