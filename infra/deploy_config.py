"""Deployment-only settings (CDK context `hitl-deploy`): the model endpoint, the reviewers, alarms.

The pipeline's behaviour lives in context `hitl` (`hitl_core.config`); this model holds only
what exists in an AWS account. Every field has a default, so `cdk synth` works with no input.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hitl_core.config import validate_json_object

CONTEXT_KEY = "hitl-deploy"
DEFAULT_ENDPOINT_NAME = "hitl-object-detector"
_ENDPOINT_NAME = r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$"
_LOWER_NAME = r"^[a-z0-9](-*[a-z0-9]){0,29}$"
_USER_POOL_ID = r"^[\w-]+_[0-9a-zA-Z]+$"
_COGNITO_DOMAIN_PREFIX = r"^[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?$"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
COGNITO_DEFAULT_EMAILS_PER_DAY = 50


def _unique_emails(addresses: list[str]) -> list[str]:
    bad = [a for a in addresses if not _EMAIL.match(a)]
    if bad:
        raise ValueError(f"not e-mail addresses: {bad}")
    if len({a.casefold() for a in addresses}) != len(addresses):
        raise ValueError("addresses must be unique (ignoring case: a pool may not tell them apart)")
    return addresses


class DeployConfigError(ValueError):
    """Deployment settings that cannot be used; the message names the bad key."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InstanceVariant(_Section):
    """Real-time instances, scaled on invocations per instance."""

    kind: Literal["instance"] = "instance"
    instance_type: Annotated[str, Field(pattern=r"^ml\.[a-z0-9]+\.[a-z0-9]+$")] = "ml.m5.xlarge"
    initial_instance_count: Annotated[int, Field(ge=1)] = 1
    min_instance_count: Annotated[int, Field(ge=1)] = 1
    max_instance_count: Annotated[int, Field(ge=1)] = 2
    target_invocations_per_instance: Annotated[int, Field(ge=1)] = 100
    scale_in_cooldown_seconds: Annotated[int, Field(ge=0)] = 300
    scale_out_cooldown_seconds: Annotated[int, Field(ge=0)] = 60

    @model_validator(mode="after")
    def _counts_ordered(self) -> InstanceVariant:
        if not self.min_instance_count <= self.initial_instance_count <= self.max_instance_count:
            raise ValueError("need min_instance_count <= initial_instance_count <= max_instance_count")
        return self


class ServerlessVariant(_Section):
    """Serverless inference: pay per request, 4 MB payload limit, cold starts."""

    kind: Literal["serverless"]
    memory_size_mb: Literal[1024, 2048, 3072, 4096, 5120, 6144] = 3072
    max_concurrency: Annotated[int, Field(ge=1, le=200)] = 5


Variant = Annotated[InstanceVariant | ServerlessVariant, Field(discriminator="kind")]


class _HostedModel(_Section):
    endpoint_name: Annotated[str, Field(pattern=_ENDPOINT_NAME)] = DEFAULT_ENDPOINT_NAME
    variant: Variant = InstanceVariant()


class ModelArtifactEndpoint(_HostedModel):
    """A trained model.tar.gz served by a container (default: the built-in object-detection image)."""

    mode: Literal["model-artifact"]
    model_data_url: Annotated[str, Field(pattern=r"^s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]/.+\.tar\.gz$")]
    image_uri: (
        Annotated[str, Field(pattern=r"^\d{12}\.dkr\.ecr\.[a-z0-9\-]+\.amazonaws\.com(\.cn)?/.+$")] | None
    ) = None
    network_isolation: bool | None = None
    """None: on for instance variants; serverless endpoints refuse network isolation."""

    @model_validator(mode="after")
    def _serverless_without_isolation(self) -> ModelArtifactEndpoint:
        if isinstance(self.variant, ServerlessVariant) and self.network_isolation:
            raise ValueError(
                "serverless endpoints do not support network_isolation; drop it or use an instance"
            )
        return self

    @property
    def isolated(self) -> bool | None:
        """EnableNetworkIsolation as the model gets it (None: not set, as serverless requires)."""
        if isinstance(self.variant, ServerlessVariant):
            return None
        return True if self.network_isolation is None else self.network_isolation


class MarketplaceEndpoint(_HostedModel):
    """An AWS Marketplace model package (subscribed to in the account)."""

    mode: Literal["marketplace-model-package"]
    model_package_arn: Annotated[
        str, Field(pattern=r"^arn:aws[a-z\-]*:sagemaker:[a-z0-9\-]+:\d{12}:model-package/.+$")
    ]

    @model_validator(mode="after")
    def _instances_only(self) -> MarketplaceEndpoint:
        if isinstance(self.variant, ServerlessVariant):
            raise ValueError(
                "serverless endpoints cannot host AWS Marketplace model packages; use variant kind 'instance'"
            )
        return self


class ExistingEndpoint(_Section):
    """An endpoint managed elsewhere: nothing is created, the functions only invoke it."""

    mode: Literal["existing-endpoint"]
    endpoint_name: Annotated[str, Field(pattern=_ENDPOINT_NAME)] = DEFAULT_ENDPOINT_NAME
    variant_name: str = "AllTraffic"


class RekognitionEndpoint(_Section):
    """A Rekognition Custom Labels model version (started by ops); no SageMaker endpoint at all."""

    mode: Literal["rekognition-custom-labels"]
    project_version_arn: Annotated[
        str,
        Field(pattern=r"^arn:aws[a-z\-]*:rekognition:[a-z0-9\-]+:\d{12}:project/[^/]+/version/[^/]+/\d+$"),
    ]


EndpointSettings = Annotated[
    ModelArtifactEndpoint | MarketplaceEndpoint | ExistingEndpoint | RekognitionEndpoint,
    Field(discriminator="mode"),
]


class ExistingWorkTeam(_Section):
    """A work team that already exists (private, vendor, or one shared with other projects)."""

    mode: Literal["existing"]
    arn: Annotated[str, Field(pattern=r"^arn:aws[a-z\-]*:sagemaker:[a-z0-9\-]+:\d{12}:workteam/.+$")]


class PrivateWorkTeam(_Section):
    """A new private work team: a Cognito group of invited reviewers.

    A private workforce is one per account and region, so by default the team joins the
    region's existing Cognito workforce (looked up at deploy time, or named by `user_pool_id`
    and `app_client_id`); `create_workforce` makes the workforce on a new user pool, which
    fails in an account that has (or ever had) one in this region.
    """

    mode: Literal["private"] = "private"
    reviewers: list[str] = []
    create_workforce: bool = False
    user_pool_id: Annotated[str, Field(pattern=_USER_POOL_ID)] | None = None
    app_client_id: Annotated[str, Field(pattern=r"^[\w+]+$")] | None = None

    @field_validator("reviewers")
    @classmethod
    def _emails(cls, reviewers: list[str]) -> list[str]:
        return _unique_emails(reviewers)

    @model_validator(mode="after")
    def _one_user_pool(self) -> PrivateWorkTeam:
        existing = self.user_pool_id is not None or self.app_client_id is not None
        if existing and (self.user_pool_id is None or self.app_client_id is None):
            raise ValueError("give both user_pool_id and app_client_id of the existing workforce")
        if existing and self.create_workforce:
            raise ValueError("create_workforce makes a new user pool; drop it to use user_pool_id")
        return self


WorkTeamSettings = Annotated[ExistingWorkTeam | PrivateWorkTeam, Field(discriminator="mode")]


class InvitationSender(_Section):
    """A verified SES identity the new user pool sends invitations through (EmailSendingAccount DEVELOPER).

    Cognito's default e-mail sends at most `COGNITO_DEFAULT_EMAILS_PER_DAY` messages a day per
    account and refuses a custom invitation text; through SES the invitation names the review page.
    """

    from_address: str
    verified_domain: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9.\-]*\.[a-z]{2,}$")] | None = None
    """The verified domain, when the identity is a domain rather than the address itself."""
    region: Annotated[str, Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")] | None = None
    """The SES region, when it differs from the stack's."""

    @field_validator("from_address")
    @classmethod
    def _email(cls, value: str) -> str:
        if not _EMAIL.match(value):
            raise ValueError(f"not an e-mail address: {value!r}")
        return value


class ReviewSettings(_Section):
    """How each human review task is offered, and by which backend.

    `builtin` is the project's own review service (every account); `a2i` is Amazon A2I's flow
    definition, task UI and work team (only accounts already admitted to A2I). The sign-in
    settings below apply to `builtin` only.
    """

    backend: Literal["builtin", "a2i"] = "builtin"
    user_pool_id: Annotated[str, Field(pattern=_USER_POOL_ID)] | None = None
    domain_prefix: Annotated[str, Field(pattern=_COGNITO_DOMAIN_PREFIX)] | None = None
    user_pool_domain: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9.\-]*\.[a-z]{2,}$")] | None = None
    admins: list[str] = []
    invitation_sender: InvitationSender | None = None
    task_title: Annotated[str, Field(min_length=1, max_length=128)] = "Check the boxes around objects"
    task_description: Annotated[str, Field(min_length=1, max_length=255)] = (
        "Correct, add or remove the boxes the model drew, and label each object."
    )
    task_count: Annotated[int, Field(ge=1, le=3)] = 1
    task_time_limit_seconds: Annotated[int, Field(ge=30, le=28_800)] = 3_600
    task_availability_lifetime_seconds: Annotated[int, Field(ge=60, le=864_000)] = 86_400

    @model_validator(mode="after")
    def _time_fits(self) -> ReviewSettings:
        if self.task_time_limit_seconds > self.task_availability_lifetime_seconds:
            raise ValueError("task_time_limit_seconds must not exceed task_availability_lifetime_seconds")
        return self

    @field_validator("admins")
    @classmethod
    def _admin_emails(cls, admins: list[str]) -> list[str]:
        return _unique_emails(admins)

    @field_validator("domain_prefix")
    @classmethod
    def _allowed_prefix(cls, prefix: str | None) -> str | None:
        if prefix is not None and any(word in prefix for word in ("aws", "amazon", "cognito")):
            raise ValueError("Cognito refuses domain prefixes containing 'aws', 'amazon' or 'cognito'")
        return prefix

    @model_validator(mode="after")
    def _one_sign_in_domain(self) -> ReviewSettings:
        builtin_only = {
            "user_pool_id",
            "domain_prefix",
            "user_pool_domain",
            "admins",
            "invitation_sender",
        } & self.model_fields_set
        if self.backend == "a2i" and builtin_only:
            raise ValueError(
                f"{sorted(builtin_only)} configure the builtin backend's sign-in; "
                "with backend 'a2i' reviewers sign in through the work team (work_team)"
            )
        if self.user_pool_domain is not None and self.user_pool_id is None:
            raise ValueError(
                "user_pool_domain is the sign-in domain of an existing pool: give its user_pool_id"
            )
        if self.user_pool_domain is not None and self.domain_prefix is not None:
            raise ValueError(
                "give either domain_prefix (a new sign-in domain) or user_pool_domain (the existing pool's)"
            )
        if self.user_pool_id is not None and self.user_pool_domain is None:
            raise ValueError(
                "user_pool_id names an existing pool: give its sign-in domain as user_pool_domain (a pool "
                "that already has a domain refuses a second one; give a pool without one a domain first)"
            )
        if self.user_pool_id is not None and self.invitation_sender is not None:
            raise ValueError(
                "invitation_sender configures a new pool's e-mail; the existing pool (user_pool_id) "
                "sends invitations with its own e-mail settings"
            )
        return self


class DeployConfig(_Section):
    """Everything ops decide at deploy time; see the README's configuration reference."""

    name_prefix: Annotated[str, Field(pattern=_LOWER_NAME)] = "hitl"
    endpoint: EndpointSettings = ExistingEndpoint(mode="existing-endpoint")
    work_team: WorkTeamSettings = PrivateWorkTeam()
    review: ReviewSettings = ReviewSettings()
    ingest_max_concurrency: Annotated[int, Field(ge=2, le=1000)] = 10
    ingest_reserved_concurrency: Annotated[int, Field(ge=2, le=1000)] | None = None
    snap_start: bool = False
    alarm_email: str | None = None
    removal_policy: Literal["retain", "destroy"] = "retain"
    log_retention_days: Literal[7, 14, 30, 60, 90, 180, 365, 731] = 90
    event_archive_retention_days: Annotated[int, Field(ge=0)] = 30
    access_log_retention_days: Annotated[int, Field(ge=1)] = 365

    @model_validator(mode="after")
    def _reservation_holds_the_pollers(self) -> DeployConfig:
        reserved = self.ingest_reserved_concurrency
        if reserved is not None and reserved < self.ingest_max_concurrency:
            raise ValueError(
                f"ingest_reserved_concurrency ({reserved}) is below ingest_max_concurrency "
                f"({self.ingest_max_concurrency}): the queue would poll more batches than may run"
            )
        return self

    @field_validator("alarm_email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not _EMAIL.match(value):
            raise ValueError(f"not an e-mail address: {value!r}")
        return value

    @model_validator(mode="after")
    def _invitations_fit_cognitos_default_email(self) -> DeployConfig:
        """A new pool without an SES sender mails through Cognito, which refuses more than its daily quota."""
        team = self.work_team
        if not isinstance(team, PrivateWorkTeam):
            return self
        if self.review.backend == "builtin":
            new_pool = self.review.user_pool_id is None and self.review.invitation_sender is None
            fix = "set review.invitation_sender (a verified SES identity)"
        else:
            new_pool = team.create_workforce
            fix = "join an existing workforce (drop create_workforce) or invite in smaller batches"
        invitees = {a.casefold() for a in team.reviewers} | {a.casefold() for a in self.review.admins}
        if new_pool and len(invitees) > COGNITO_DEFAULT_EMAILS_PER_DAY:
            raise ValueError(
                f"{len(invitees)} addresses to invite, but a new pool mails through Cognito's default "
                f"e-mail, which sends at most {COGNITO_DEFAULT_EMAILS_PER_DAY} messages a day per account: "
                f"{fix}"
            )
        return self

    @model_validator(mode="after")
    def _builtin_invites_reviewers(self) -> DeployConfig:
        if self.review.backend == "builtin" and isinstance(self.work_team, ExistingWorkTeam):
            raise ValueError(
                "work_team.mode 'existing' names an A2I work team, which the builtin review backend "
                "cannot use: list work_team.reviewers (mode 'private'), or set review.backend 'a2i'"
            )
        return self


def load_deploy_config(raw: Mapping[str, Any] | str | None) -> DeployConfig:
    """Validate the `hitl-deploy` context (a mapping, or JSON text from `cdk -c`)."""
    if raw is None:
        return DeployConfig()
    return validate_json_object(DeployConfig, raw, CONTEXT_KEY, DeployConfigError)
