"""The `hitl-deploy` context: defaults that synthesize, each endpoint mode, errors that name the key."""

from __future__ import annotations

import json

import pytest
from cdk_scenarios import CDK_JSON, PROJECT_VERSION, WORK_TEAM

from infra.deploy_config import (
    COGNITO_DEFAULT_EMAILS_PER_DAY,
    DeployConfig,
    DeployConfigError,
    ExistingEndpoint,
    InstanceVariant,
    ModelArtifactEndpoint,
    PrivateWorkTeam,
    RekognitionEndpoint,
    ServerlessVariant,
    load_deploy_config,
)


def test_no_context_gives_the_documented_defaults() -> None:
    deploy = load_deploy_config(None)

    assert deploy == DeployConfig()
    assert isinstance(deploy.endpoint, ExistingEndpoint)
    assert deploy.endpoint.endpoint_name == "hitl-object-detector"
    assert isinstance(deploy.work_team, PrivateWorkTeam)
    assert deploy.removal_policy == "retain"


def test_a_private_team_joins_the_regions_existing_workforce_by_default() -> None:
    for deploy in (load_deploy_config(None), load_deploy_config(CDK_JSON["context"]["hitl-deploy"])):
        assert isinstance(deploy.work_team, PrivateWorkTeam)
        assert deploy.work_team.create_workforce is False
        assert deploy.work_team.user_pool_id is None


def test_ingest_has_no_reservation_by_default_and_the_poller_is_the_guard() -> None:
    for deploy in (load_deploy_config(None), load_deploy_config(CDK_JSON["context"]["hitl-deploy"])):
        assert deploy.ingest_reserved_concurrency is None
        assert deploy.ingest_max_concurrency == 10


def test_the_builtin_review_backend_is_the_default() -> None:
    review = load_deploy_config({}).review

    assert review.backend == "builtin"
    assert (review.user_pool_id, review.domain_prefix, review.user_pool_domain, review.admins) == (
        None, None, None, [])  # fmt: skip


def test_builtin_sign_in_through_an_existing_pool_and_its_domain() -> None:
    review = load_deploy_config(
        {
            "review": {
                "user_pool_id": "eu-west-1_Ab1",
                "user_pool_domain": "team.auth.eu-west-1.amazoncognito.com",
            }
        }
    ).review

    assert (review.user_pool_id, review.user_pool_domain) == (
        "eu-west-1_Ab1",
        "team.auth.eu-west-1.amazoncognito.com",
    )


def test_snap_start_is_off_unless_asked() -> None:
    assert load_deploy_config(None).snap_start is False
    assert load_deploy_config({"snap_start": True}).snap_start is True


def test_the_repositorys_cdk_json_is_valid() -> None:
    deploy = load_deploy_config(CDK_JSON["context"]["hitl-deploy"])

    assert deploy.name_prefix == "hitl"


def test_json_text_from_the_command_line_is_accepted() -> None:
    text = json.dumps(
        {"endpoint": {"mode": "rekognition-custom-labels", "project_version_arn": PROJECT_VERSION}}
    )

    deploy = load_deploy_config(text)

    assert isinstance(deploy.endpoint, RekognitionEndpoint)


def test_model_artifact_defaults_to_one_autoscaled_instance() -> None:
    deploy = load_deploy_config(
        {"endpoint": {"mode": "model-artifact", "model_data_url": "s3://team-models/m/model.tar.gz"}}
    )

    assert isinstance(deploy.endpoint, ModelArtifactEndpoint)
    assert deploy.endpoint.image_uri is None
    assert deploy.endpoint.variant == InstanceVariant()


def test_serverless_variant_is_chosen_by_kind() -> None:
    deploy = load_deploy_config(
        {
            "endpoint": {
                "mode": "model-artifact",
                "model_data_url": "s3://team-models/model.tar.gz",
                "variant": {"kind": "serverless", "memory_size_mb": 2048},
            }
        }
    )

    assert deploy.endpoint.variant == ServerlessVariant(kind="serverless", memory_size_mb=2048)


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        (
            {"endpoint": {"mode": "model-artifact", "model_data_url": "https://x/model.tar.gz"}},
            "model_data_url",
        ),
        ({"endpoint": {"mode": "sagemaker"}}, "hitl-deploy: endpoint"),
        ({"endpoint": {"mode": "existing-endpoint", "endpoint_name": "bad name"}}, "endpoint_name"),
        ({"work_team": {"mode": "private", "reviewers": ["not-an-email"]}}, "reviewers"),
        (
            {
                "work_team": {
                    "mode": "private",
                    "create_workforce": True,
                    "user_pool_id": "us-east-1_Ab1",
                    "app_client_id": "abc",
                }
            },
            "create_workforce",
        ),
        (
            {"work_team": {"mode": "private", "create_workforce": False, "user_pool_id": "us-east-1_Ab1"}},
            "app_client_id",
        ),
        (
            {"work_team": {"mode": "existing", "arn": "arn:aws:s3:::bucket"}, "review": {"backend": "a2i"}},
            "work_team.existing.arn",
        ),
        ({"review": {"backend": "ground-truth"}}, "review.backend"),
        ({"work_team": {"mode": "existing", "arn": WORK_TEAM}}, "work_team.mode 'existing' names an A2I"),
        ({"review": {"backend": "a2i", "user_pool_id": "eu-west-1_Ab1"}}, r"\['user_pool_id'\] configure"),
        ({"review": {"user_pool_id": "not a pool"}}, "review.user_pool_id"),
        ({"review": {"user_pool_domain": "login.example.com"}}, "give its user_pool_id"),
        (
            {"review": {"user_pool_id": "eu-west-1_Ab1", "user_pool_domain": "a.b.co", "domain_prefix": "x"}},
            "either domain_prefix",
        ),
        ({"review": {"domain_prefix": "team-amazon"}}, "review.domain_prefix"),
        ({"review": {"domain_prefix": "-bad"}}, "review.domain_prefix"),
        ({"review": {"admins": ["lead"]}}, "review.admins"),
        ({"review": {"task_count": 4}}, "review.task_count"),
        ({"review": {"task_time_limit_seconds": 7200, "task_availability_lifetime_seconds": 3600}}, "review"),
        ({"ingest_reserved_concurrency": 1}, "ingest_reserved_concurrency"),
        ({"ingest_max_concurrency": 1}, "ingest_max_concurrency"),
        (
            {"ingest_reserved_concurrency": 5},
            "ingest_reserved_concurrency .5. is below ingest_max_concurrency",
        ),
        (
            {
                "endpoint": {
                    "mode": "marketplace-model-package",
                    "model_package_arn": "arn:aws:sagemaker:us-east-1:123456789012:model-package/x",
                    "variant": {"kind": "serverless"},
                }
            },
            "serverless endpoints cannot host AWS Marketplace model packages",
        ),
        (
            {
                "endpoint": {
                    "mode": "model-artifact",
                    "model_data_url": "s3://team-models/model.tar.gz",
                    "network_isolation": True,
                    "variant": {"kind": "serverless"},
                }
            },
            "serverless endpoints do not support network_isolation",
        ),
        ({"alarm_email": "ops"}, "alarm_email"),
        ({"removal_policy": "snapshot"}, "removal_policy"),
        ({"log_retention_days": 10}, "log_retention_days"),
        ({"name_prefix": "Hitl"}, "name_prefix"),
        ({"endpoint_name": "x"}, "endpoint_name"),
    ],
)
def test_bad_settings_fail_naming_the_key(settings: dict, named: str) -> None:
    with pytest.raises(DeployConfigError, match=named) as caught:
        load_deploy_config(settings)

    assert str(caught.value).startswith("hitl-deploy")


def test_instance_counts_must_be_ordered() -> None:
    variant = {"kind": "instance", "min_instance_count": 2, "initial_instance_count": 1}

    with pytest.raises(DeployConfigError, match="min_instance_count <= initial_instance_count"):
        load_deploy_config(
            {
                "endpoint": {
                    "mode": "model-artifact",
                    "model_data_url": "s3://team-models/model.tar.gz",
                    "variant": variant,
                }
            }
        )


@pytest.mark.parametrize("raw", ["{not json", "[1, 2]"])
def test_context_that_is_not_an_object_is_refused(raw: str) -> None:
    with pytest.raises(DeployConfigError, match="hitl-deploy"):
        load_deploy_config(raw)


def test_an_existing_pool_needs_its_sign_in_domain_named() -> None:
    """A second domain on a pool that has one fails at deploy time: refuse it at load."""
    with pytest.raises(DeployConfigError, match="user_pool_domain") as caught:
        load_deploy_config({"review": {"user_pool_id": "eu-west-1_Ab1"}})

    assert "already has" in str(caught.value)


def test_an_existing_pool_keeps_its_domain_even_with_a_prefix_given() -> None:
    with pytest.raises(DeployConfigError, match="user_pool_domain"):
        load_deploy_config({"review": {"user_pool_id": "eu-west-1_Ab1", "domain_prefix": "team-review"}})


def invitees(count: int) -> list[str]:
    return [f"reviewer{i}@example.com" for i in range(count)]


def test_cognitos_default_email_takes_at_most_its_daily_quota_of_invitations() -> None:
    load_deploy_config(
        {"work_team": {"mode": "private", "reviewers": invitees(COGNITO_DEFAULT_EMAILS_PER_DAY)}}
    )

    with pytest.raises(DeployConfigError, match=r"review\.invitation_sender") as caught:
        load_deploy_config(
            {
                "work_team": {"mode": "private", "reviewers": invitees(COGNITO_DEFAULT_EMAILS_PER_DAY - 1)},
                "review": {"admins": ["lead@example.com", "boss@example.com"]},
            }
        )

    assert f"{COGNITO_DEFAULT_EMAILS_PER_DAY + 1} addresses" in str(caught.value)


def test_an_ses_sender_lifts_the_invitation_quota() -> None:
    deploy = load_deploy_config(
        {
            "work_team": {"mode": "private", "reviewers": invitees(COGNITO_DEFAULT_EMAILS_PER_DAY + 10)},
            "review": {"invitation_sender": {"from_address": "reviews@example.com"}},
        }
    )

    assert deploy.review.invitation_sender is not None
    assert deploy.review.invitation_sender.from_address == "reviews@example.com"


def test_a_new_a2i_workforce_pool_sends_through_cognitos_default_email_too() -> None:
    with pytest.raises(DeployConfigError, match="create_workforce"):
        load_deploy_config(
            {
                "work_team": {
                    "mode": "private",
                    "create_workforce": True,
                    "reviewers": invitees(COGNITO_DEFAULT_EMAILS_PER_DAY + 1),
                },
                "review": {"backend": "a2i"},
            }
        )


def test_an_existing_pool_sends_with_its_own_email_settings() -> None:
    with pytest.raises(DeployConfigError, match="invitation_sender"):
        load_deploy_config(
            {
                "review": {
                    "user_pool_id": "eu-west-1_Ab1",
                    "user_pool_domain": "team.auth.eu-west-1.amazoncognito.com",
                    "invitation_sender": {"from_address": "reviews@example.com"},
                }
            }
        )


@pytest.mark.parametrize("field", ["reviewers", "admins"])
def test_addresses_that_differ_only_in_case_are_one_address(field: str) -> None:
    addresses = ["Ana@example.com", "ana@example.com"]
    settings = (
        {"work_team": {"mode": "private", "reviewers": addresses}}
        if field == "reviewers"
        else {"review": {"admins": addresses}}
    )

    with pytest.raises(DeployConfigError, match="unique"):
        load_deploy_config(settings)
