"""What the review service's functions are deployed with: the environment contract and its checks.

The names are the contract with the CDK `ReviewService` construct and the local stack; every
function reads the ones it needs, and a missing or malformed one is a ConfigError naming it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from hitl_aws.settings import EVENT_BUS_NAME, REVIEW_SERVICE_NAME, REVIEW_TASKS_TABLE
from hitl_core.config import ConfigError, ReviewTeam, validate_json_object
from hitl_core.manifest import IOU_MATCH
from hitl_core.review_tasks import ReviewTiming

REVIEW_OUTPUT_BUCKET = "REVIEW_OUTPUT_BUCKET"
REVIEW_OUTPUT_PREFIX = "REVIEW_OUTPUT_PREFIX"
REVIEW_TASK_COUNT = "REVIEW_TASK_COUNT"
REVIEW_TASK_TIME_LIMIT_SECONDS = "REVIEW_TASK_TIME_LIMIT_SECONDS"
REVIEW_TASK_AVAILABILITY_SECONDS = "REVIEW_TASK_AVAILABILITY_SECONDS"
IMAGE_URL_TTL_SECONDS = "IMAGE_URL_TTL_SECONDS"
REVIEW_ADMIN_GROUP = "REVIEW_ADMIN_GROUP"
REVIEWER_GROUP = "REVIEWER_GROUP"
REVIEW_TEAM = "REVIEW_TEAM"
"""The configuration's `review` section as JSON (priority, budget, gold, agreement); absent: defaults."""

DEFAULT_IMAGE_URL_TTL_SECONDS = 300
DEFAULT_ADMIN_GROUP = "review-admins"
DEFAULT_REVIEWER_GROUP = "reviewers"


def _required(environ: Mapping[str, str], *names: str) -> None:
    missing = [name for name in names if not environ.get(name)]
    if missing:
        raise ConfigError(f"environment variables not set: {', '.join(missing)}")


def _positive_int(environ: Mapping[str, str], name: str, default: int | None = None) -> int:
    raw = environ.get(name) or (str(default) if default is not None else "")
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number of seconds or a count, got {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"{name} must be positive, got {value}")
    return value


def team_from_env(environ: Mapping[str, str]) -> ReviewTeam:
    """The team's review rules (`REVIEW_TEAM`); the defaults when it is not set."""
    raw = environ.get(REVIEW_TEAM)
    return validate_json_object(ReviewTeam, raw, REVIEW_TEAM, ConfigError) if raw else ReviewTeam()


def timing_from_env(environ: Mapping[str, str]) -> ReviewTiming:
    """Lease length, availability lifetime and answers per task (A2I's flow-definition settings), and
    the team's rule for asking one more reviewer on disagreement."""
    _required(environ, REVIEW_TASK_COUNT, REVIEW_TASK_TIME_LIMIT_SECONDS, REVIEW_TASK_AVAILABILITY_SECONDS)
    agreement = team_from_env(environ).agreement
    try:
        return ReviewTiming(
            lease_seconds=_positive_int(environ, REVIEW_TASK_TIME_LIMIT_SECONDS),
            availability_seconds=_positive_int(environ, REVIEW_TASK_AVAILABILITY_SECONDS),
            task_count=_positive_int(environ, REVIEW_TASK_COUNT),
            agreement=agreement.rule(IOU_MATCH) if agreement else None,
        )
    except ValueError as err:
        raise ConfigError(f"{REVIEW_TASK_COUNT}: {err}") from None


@dataclass(frozen=True)
class ApiSettings:
    """The API function: the table, the review timing, image URL lifetime and the groups allowed."""

    table_name: str
    timing: ReviewTiming
    image_url_ttl_seconds: int = DEFAULT_IMAGE_URL_TTL_SECONDS
    admin_group: str = DEFAULT_ADMIN_GROUP
    reviewer_group: str = DEFAULT_REVIEWER_GROUP
    team: ReviewTeam = field(default_factory=ReviewTeam)
    event_bus_name: str | None = None
    """Where a reviewer's low gold score is announced (the project bus)."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> ApiSettings:
        _required(environ, REVIEW_TASKS_TABLE)
        return cls(
            table_name=environ[REVIEW_TASKS_TABLE],
            timing=timing_from_env(environ),
            image_url_ttl_seconds=_positive_int(
                environ, IMAGE_URL_TTL_SECONDS, DEFAULT_IMAGE_URL_TTL_SECONDS
            ),
            admin_group=environ.get(REVIEW_ADMIN_GROUP) or DEFAULT_ADMIN_GROUP,
            reviewer_group=environ.get(REVIEWER_GROUP) or DEFAULT_REVIEWER_GROUP,
            team=team_from_env(environ),
            event_bus_name=environ.get(EVENT_BUS_NAME) or None,
        )


@dataclass(frozen=True)
class LifecycleSettings:
    """The scheduled sweep: the table, the review timing and the team's rules (for the budget metrics)."""

    table_name: str
    timing: ReviewTiming
    team: ReviewTeam = field(default_factory=ReviewTeam)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> LifecycleSettings:
        _required(environ, REVIEW_TASKS_TABLE)
        table, timing = environ[REVIEW_TASKS_TABLE], timing_from_env(environ)
        return cls(table_name=table, timing=timing, team=team_from_env(environ))


@dataclass(frozen=True)
class OutboxSettings:
    """The outbox: where output.json goes, which bus hears the status events, the service's name, and
    the task table, where it marks each task announced."""

    output_bucket: str
    output_prefix: str
    event_bus_name: str
    service_name: str
    table_name: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> OutboxSettings:
        _required(environ, REVIEW_OUTPUT_BUCKET, EVENT_BUS_NAME, REVIEW_SERVICE_NAME, REVIEW_TASKS_TABLE)
        prefix = environ.get(REVIEW_OUTPUT_PREFIX, "")
        return cls(
            output_bucket=environ[REVIEW_OUTPUT_BUCKET],
            output_prefix=prefix if not prefix or prefix.endswith("/") else f"{prefix}/",
            event_bus_name=environ[EVENT_BUS_NAME],
            service_name=environ[REVIEW_SERVICE_NAME],
            table_name=environ[REVIEW_TASKS_TABLE],
        )
