"""Reviewers' sign-in: how many invitation e-mails the user pool may send, the SES identity it sends
from, and the Cognito sign-in domain the stack creates or uses (Cognito DescribeUserPool,
DescribeUserPoolDomain; SES GetIdentityVerificationAttributes; SES v2 GetAccount)."""

from __future__ import annotations

from botocore.exceptions import ClientError

from hitl.preflight.clients import ClientFactory, error_code
from hitl.preflight.deployment import Deployment
from hitl.preflight.result import CheckResult, failed, passed, warned
from infra.deploy_config import COGNITO_DEFAULT_EMAILS_PER_DAY, PrivateWorkTeam

EMAIL_NAME = "invitation-email"
DOMAIN_NAME = "sign-in-domain"
RESERVED_DOMAIN_WORDS = ("aws", "amazon", "cognito")
USE_SES = (
    "send from SES (a new pool: hitl-deploy.review.invitation_sender; an existing one: EmailSendingAccount "
    f"DEVELOPER with a verified identity), or invite at most {COGNITO_DEFAULT_EMAILS_PER_DAY} people a day"
)


def invitees(deployment: Deployment) -> list[str]:
    """Everyone the stack creates a user for (a pool does not tell case apart): one invitation each."""
    deploy = deployment.deploy
    reviewers = deploy.work_team.reviewers if isinstance(deploy.work_team, PrivateWorkTeam) else []
    admins = deploy.review.admins if deploy.review.backend == "builtin" else []
    return sorted({address.casefold() for address in [*reviewers, *admins]})


def _pool_to_invite_into(deployment: Deployment, clients: ClientFactory) -> tuple[str | None, bool]:
    """(existing user pool id, or None for a pool the stack creates; whether one could be found)."""
    deploy = deployment.deploy
    if deploy.review.backend == "builtin":
        return deploy.review.user_pool_id, True
    team = deploy.work_team
    if not isinstance(team, PrivateWorkTeam) or team.create_workforce:
        return None, True
    if team.user_pool_id is not None:
        return team.user_pool_id, True
    workforces = clients("sagemaker").list_workforces(MaxResults=10)["Workforces"]
    pool = workforces[0].get("CognitoConfig", {}).get("UserPool") if workforces else None
    return pool, pool is not None


def _daily_limit_result(count: int, where: str) -> CheckResult:
    if count > COGNITO_DEFAULT_EMAILS_PER_DAY:
        return failed(
            EMAIL_NAME,
            f"{count} invitations, but {where} sends with Cognito's default sender: "
            f"{COGNITO_DEFAULT_EMAILS_PER_DAY} e-mails a day, so the deploy fails creating users",
            USE_SES,
        )
    return passed(
        EMAIL_NAME,
        f"{count} invitations within the default sender's {COGNITO_DEFAULT_EMAILS_PER_DAY} e-mails a day "
        f"({where}; password resets share that budget)",
    )


def _ses_result(count: int, identity: str, region: str, clients: ClientFactory) -> CheckResult:
    """A pool sending through SES: its identity must be verified, and the account out of the sandbox."""
    attributes = clients("ses", region).get_identity_verification_attributes(Identities=[identity])
    status = attributes["VerificationAttributes"].get(identity, {}).get("VerificationStatus", "NotStarted")
    if status != "Success":
        return failed(
            EMAIL_NAME,
            f"SES identity {identity} is not verified in {region} ({status}): "
            "Cognito cannot send the invitations",
            f"verify {identity} in SES ({region})",
        )
    account = clients("sesv2", region).get_account()
    if not account.get("ProductionAccessEnabled", False):
        return warned(
            EMAIL_NAME,
            f"SES in {region} is in the sandbox: invitations reach verified addresses only",
            "request SES production access, or verify each reviewer's address in SES",
        )
    allowed = account.get("SendQuota", {}).get("Max24HourSend", 0)
    if 0 <= allowed < count:
        return failed(
            EMAIL_NAME,
            f"{count} invitations, but SES sends at most {allowed:.0f} a day in {region}",
            "raise the SES sending quota, or invite fewer people a day",
        )
    return passed(EMAIL_NAME, f"{count} invitations from verified SES identity {identity} ({region})")


def check_invitation_email(deployment: Deployment, clients: ClientFactory) -> CheckResult | None:
    """Each invited reviewer or admin is one e-mail; Cognito's default sender allows a few a day."""
    count = len(invitees(deployment))
    if count == 0:
        return None
    pool_id, known = _pool_to_invite_into(deployment, clients)
    if not known:
        return None  # the workforce check reports the missing workforce
    sender = deployment.deploy.review.invitation_sender
    if pool_id is None and sender is not None:
        identity = sender.verified_domain or sender.from_address
        return _ses_result(count, identity, sender.region or deployment.region, clients)
    if pool_id is None:
        return _daily_limit_result(count, "the user pool the stack creates")
    try:
        pool = clients("cognito-idp").describe_user_pool(UserPoolId=pool_id)["UserPool"]
    except ClientError as err:
        if error_code(err) != "ResourceNotFoundException":
            raise
        return failed(
            EMAIL_NAME, f"user pool {pool_id} does not exist in {deployment.region}", "fix the user_pool_id"
        )
    email = pool.get("EmailConfiguration", {})
    source = email.get("SourceArn")
    if email.get("EmailSendingAccount", "COGNITO_DEFAULT") == "DEVELOPER" and source:
        return _ses_result(count, source.split(":identity/", 1)[-1], source.split(":")[3], clients)
    return _daily_limit_result(count, f"user pool {pool_id}")


def _new_domain_prefix(deployment: Deployment) -> tuple[str, str] | None:
    """The prefix of the sign-in domain the stack creates, and the setting that changes it."""
    deploy = deployment.deploy
    if deploy.review.backend == "builtin":
        if deploy.review.user_pool_domain is not None:
            return None
        if deploy.review.domain_prefix is not None:
            return deploy.review.domain_prefix, "hitl-deploy.review.domain_prefix"
        return f"{deploy.name_prefix}-review-{deployment.account}", "hitl-deploy.review.domain_prefix"
    team = deploy.work_team
    if isinstance(team, PrivateWorkTeam) and team.create_workforce:
        return f"{deploy.name_prefix}-reviewers-{deployment.account}", "hitl-deploy.name_prefix"
    return None


def check_sign_in_domain(deployment: Deployment, clients: ClientFactory) -> CheckResult | None:
    """A new Cognito domain prefix must be free in the region; an existing one must be the pool's."""
    review = deployment.deploy.review
    cognito = clients("cognito-idp")
    if review.backend == "builtin" and review.user_pool_domain is not None:
        found = cognito.describe_user_pool_domain(Domain=review.user_pool_domain).get("DomainDescription", {})
        if found.get("UserPoolId") != review.user_pool_id:
            owner = found.get("UserPoolId") or "no user pool"
            return failed(
                DOMAIN_NAME,
                f"domain {review.user_pool_domain} belongs to {owner}, "
                f"not to user pool {review.user_pool_id}",
                "set hitl-deploy.review.user_pool_domain to the existing pool's sign-in domain",
            )
        return passed(DOMAIN_NAME, f"{review.user_pool_domain} is user pool {review.user_pool_id}'s domain")
    new = _new_domain_prefix(deployment)
    if new is None:
        return None
    prefix, setting = new
    reserved = [word for word in RESERVED_DOMAIN_WORDS if word in prefix]
    if reserved:
        return failed(
            DOMAIN_NAME,
            f"domain prefix {prefix} contains {reserved}, which Cognito refuses",
            f"change {setting}",
        )
    found = cognito.describe_user_pool_domain(Domain=prefix).get("DomainDescription", {})
    if not found.get("UserPoolId"):
        return passed(DOMAIN_NAME, f"domain prefix {prefix} is free in {deployment.region}")
    if found.get("AWSAccountId") == deployment.account:
        return warned(
            DOMAIN_NAME,
            f"domain prefix {prefix} already exists in this account (user pool {found['UserPoolId']}): "
            "fine when it is this stack's own, else creating it fails",
            f"if it is not this stack's, delete that domain or change {setting}",
        )
    return failed(DOMAIN_NAME, f"domain prefix {prefix} is taken by another account", f"change {setting}")
