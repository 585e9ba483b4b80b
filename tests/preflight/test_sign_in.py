"""Invitation e-mail limits and the Cognito sign-in domain (moto Cognito and SES; Stubber for SES v2
GetAccount, SageMaker ListWorkforces and the answers moto gives differently from AWS)."""

from __future__ import annotations

import boto3
import pytest

from hitl.preflight.result import Status
from hitl.preflight.sign_in import check_invitation_email, check_sign_in_domain, invitees

from .conftest import ACCOUNT, a2i, make_deployment


def people(count: int, domain: str = "example.com") -> list[str]:
    return [f"reviewer{n}@{domain}" for n in range(count)]


def user_pool(**settings) -> str:
    return boto3.client("cognito-idp").create_user_pool(PoolName="reviewers", **settings)["UserPool"]["Id"]


def existing_pool(pool_id: str, reviewers: list[str]) -> dict:
    return {
        "review": {"backend": "builtin", "user_pool_id": pool_id, "user_pool_domain": "login.example.com"},
        "work_team": {"mode": "private", "reviewers": reviewers},
    }


def test_every_reviewer_and_admin_gets_one_invitation():
    deployment = make_deployment(
        {
            "work_team": {"mode": "private", "reviewers": ["a@x.org", "b@x.org", "c@x.org"]},
            "review": {"backend": "builtin", "admins": ["c@x.org", "d@x.org"]},
        }
    )
    assert invitees(deployment) == ["a@x.org", "b@x.org", "c@x.org", "d@x.org"]


def test_a_new_pool_within_the_default_senders_day_passes_without_a_call(clients):
    deployment = make_deployment({"work_team": {"mode": "private", "reviewers": people(3)}})
    result = check_invitation_email(deployment, clients)
    assert result.status is Status.PASS
    assert "3 invitations within the default sender's 50 e-mails a day" in result.message
    assert clients.operations == []


def test_no_reviewers_means_no_invitations(clients):
    assert check_invitation_email(make_deployment(), clients) is None


def test_an_existing_pool_on_the_default_sender_fails_past_50(clients):
    pool_id = user_pool()
    result = check_invitation_email(make_deployment(existing_pool(pool_id, people(51))), clients)
    assert result.status is Status.FAIL
    assert f"51 invitations, but user pool {pool_id} sends with Cognito's default sender" in result.message
    assert "SES" in result.fix


def test_an_existing_pool_that_is_gone_fails(clients):
    result = check_invitation_email(make_deployment(existing_pool("us-east-1_Gone1", people(2))), clients)
    assert (result.status, result.message) == (
        Status.FAIL,
        "user pool us-east-1_Gone1 does not exist in us-east-1",
    )


def ses_pool(identity: str = "reviews@example.com") -> str:
    return user_pool(
        EmailConfiguration={
            "EmailSendingAccount": "DEVELOPER",
            "SourceArn": f"arn:aws:ses:us-east-1:{ACCOUNT}:identity/{identity}",
        }
    )


def ses_account(clients, production: bool, per_day: float = 50_000) -> None:
    clients.stub("sesv2").add_response(
        "get_account",
        {
            "ProductionAccessEnabled": production,
            "SendQuota": {"Max24HourSend": per_day, "MaxSendRate": 14, "SentLast24Hours": 0},
            "SendingEnabled": True,
        },
        {},
    )


@pytest.mark.parametrize(
    ("production", "per_day", "status"),
    [(True, 50_000, Status.PASS), (False, 200, Status.WARN), (True, 10, Status.FAIL)],
)
def test_a_pool_sending_through_ses(clients, production, per_day, status):
    boto3.client("ses").verify_email_identity(EmailAddress="reviews@example.com")
    ses_account(clients, production, per_day)
    result = check_invitation_email(make_deployment(existing_pool(ses_pool(), people(20))), clients)
    assert result.status is status


def test_an_unverified_ses_identity_fails(clients):
    result = check_invitation_email(make_deployment(existing_pool(ses_pool(), people(2))), clients)
    assert result.status is Status.FAIL
    assert "SES identity reviews@example.com is not verified" in result.message


def test_a2i_invites_into_the_existing_workforces_pool(clients):
    pool_id = user_pool()
    clients.stub("sagemaker").add_response(
        "list_workforces",
        {
            "Workforces": [
                {
                    "WorkforceName": "default",
                    "WorkforceArn": f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:workforce/default",
                    "CognitoConfig": {"UserPool": pool_id, "ClientId": "client1"},
                }
            ]
        },
    )
    result = check_invitation_email(make_deployment(a2i(reviewers=people(60))), clients)
    assert result.status is Status.FAIL
    assert f"user pool {pool_id}" in result.message


def test_a_free_domain_prefix_passes(clients):
    result = check_sign_in_domain(make_deployment(), clients)
    assert result.status is Status.PASS
    assert result.message == f"domain prefix hitl-review-{ACCOUNT} is free in us-east-1"


def taken(clients, domain: str, account: str) -> None:
    clients.stub("cognito-idp").add_response(
        "describe_user_pool_domain",
        {"DomainDescription": {"UserPoolId": "us-east-1_Owner1", "AWSAccountId": account, "Domain": domain}},
        {"Domain": domain},
    )


def test_a_prefix_this_account_already_has_warns(clients):
    taken(clients, "reviews-team", ACCOUNT)
    deployment = make_deployment({"review": {"backend": "builtin", "domain_prefix": "reviews-team"}})
    result = check_sign_in_domain(deployment, clients)
    assert result.status is Status.WARN
    assert "hitl-deploy.review.domain_prefix" in result.fix


def test_a_prefix_another_account_has_fails(clients):
    taken(clients, f"hitl-reviewers-{ACCOUNT}", "210987654321")
    result = check_sign_in_domain(make_deployment(a2i(create_workforce=True)), clients)
    assert result.status is Status.FAIL
    assert result.fix == "change hitl-deploy.name_prefix"


def test_a_prefix_with_a_word_cognito_refuses_fails_without_a_call(clients):
    result = check_sign_in_domain(make_deployment({"name_prefix": "awsome"}), clients)
    assert result.status is Status.FAIL
    assert "contains ['aws']" in result.message
    assert clients.operations == []


def test_the_existing_pools_domain_must_be_that_pools(clients):
    pool_id = user_pool()
    boto3.client("cognito-idp").create_user_pool_domain(Domain="login.example.com", UserPoolId=pool_id)
    assert check_sign_in_domain(make_deployment(existing_pool(pool_id, [])), clients).status is Status.PASS
    other = user_pool()
    result = check_sign_in_domain(make_deployment(existing_pool(other, [])), clients)
    assert result.status is Status.FAIL
    assert f"belongs to {pool_id}, not to user pool {other}" in result.message


def test_a2i_joining_a_workforce_creates_no_domain(clients):
    assert check_sign_in_domain(make_deployment(a2i()), clients) is None


def sender_pool(reviewers: list[str], **sender) -> dict:
    return {
        "review": {
            "backend": "builtin",
            "invitation_sender": {"from_address": "reviews@example.com", **sender},
        },
        "work_team": {"mode": "private", "reviewers": reviewers},
    }


def test_a_new_pool_sending_through_a_verified_ses_sender_passes(clients):
    boto3.client("ses").verify_email_identity(EmailAddress="reviews@example.com")
    ses_account(clients, production=True)
    result = check_invitation_email(make_deployment(sender_pool(people(80))), clients)
    assert result.status is Status.PASS
    assert result.message == "80 invitations from verified SES identity reviews@example.com (us-east-1)"


def test_a_sender_in_another_region_is_checked_there(clients):
    boto3.client("ses", region_name="eu-west-1").verify_domain_identity(Domain="example.com")
    clients.stub("sesv2", "eu-west-1").add_response(
        "get_account", {"ProductionAccessEnabled": True, "SendQuota": {"Max24HourSend": 50_000}}, {}
    )
    deployment = make_deployment(sender_pool(people(2), verified_domain="example.com", region="eu-west-1"))
    result = check_invitation_email(deployment, clients)
    assert result.message == "2 invitations from verified SES identity example.com (eu-west-1)"


def test_a_sender_not_verified_in_its_region_fails(clients):
    boto3.client("ses").verify_email_identity(EmailAddress="reviews@example.com")  # us-east-1, not eu-west-1
    deployment = make_deployment(sender_pool(people(2), region="eu-west-1"))
    result = check_invitation_email(deployment, clients)
    assert result.status is Status.FAIL
    assert "not verified in eu-west-1" in result.message
