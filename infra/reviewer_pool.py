"""Reviewers in Cognito, for either review backend: a pool only invited people join, and their invitations.

Both A2I's private work team and the built-in review service sign reviewers in this way.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cognito as cognito
from constructs import Construct

from infra.deploy_config import InvitationSender
from infra.nag import acknowledge

_READABLE_LENGTH = 40


def invited_reviewers_pool(
    scope: Construct,
    construct_id: str,
    *,
    invitation: str,
    removal_policy: RemovalPolicy,
    sender: InvitationSender | None = None,
) -> cognito.UserPool:
    """No self sign-up, e-mail sign-in, strong passwords, TOTP MFA; `invitation` holds {username}, {####}.

    Cognito's default e-mail refuses a custom invitation, so `invitation` is used only with an SES
    `sender`; without one reviewers get Cognito's own message (user name and temporary password).
    """
    pool = cognito.UserPool(
        scope,
        construct_id,
        self_sign_up_enabled=False,
        sign_in_aliases=cognito.SignInAliases(email=True),
        auto_verify=cognito.AutoVerifiedAttrs(email=True),
        account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
        mfa=cognito.Mfa.REQUIRED,
        mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
        password_policy=cognito.PasswordPolicy(
            min_length=12,
            require_digits=True,
            require_lowercase=True,
            require_uppercase=True,
            require_symbols=True,
            temp_password_validity=Duration.days(7),
        ),
        user_invitation=cognito.UserInvitationConfig(
            email_subject="You are invited to review images", email_body=invitation
        )
        if sender
        else None,
        email=cognito.UserPoolEmail.with_ses(
            from_email=sender.from_address,
            ses_region=sender.region,
            ses_verified_domain=sender.verified_domain,
        )
        if sender
        else None,
        removal_policy=removal_policy,
    )
    acknowledge(
        pool,
        "AwsSolutions-COG8",
        "The Plus feature plan is billed per user; this pool holds a few invited reviewers, "
        "no self sign-up, and requires TOTP MFA and 12-character passwords.",
    )
    return pool


def user_construct_id(email: str) -> str:
    """A user's construct id from its address alone, so no other address's change replaces it.

    Every property of a Cognito user forces replacement, and CloudFormation creates the new user
    before deleting the old: an id by list position would re-create a username that still exists.
    The letters and digits keep it readable; a digest of the exact address keeps `a.b@x` and `ab@x`
    (or `Ab@x`) apart.
    """
    readable = re.sub(r"[^A-Za-z0-9]", "", email)[:_READABLE_LENGTH]
    digest = hashlib.sha256(email.encode()).hexdigest()[:8]
    return f"User{readable}{digest}"


def invite_reviewers(
    scope: Construct, user_pool_id: str, memberships: Mapping[str, Sequence[cognito.CfnUserPoolGroup]]
) -> None:
    """Each e-mail address becomes a user (Cognito mails the invitation) in its groups."""
    for email, groups in memberships.items():
        user_id = user_construct_id(email)
        user = cognito.CfnUserPoolUser(
            scope,
            user_id,
            user_pool_id=user_pool_id,
            username=email,
            desired_delivery_mediums=["EMAIL"],
            user_attributes=[
                cognito.CfnUserPoolUser.AttributeTypeProperty(name="email", value=email),
                cognito.CfnUserPoolUser.AttributeTypeProperty(name="email_verified", value="true"),
            ],
        )
        for group in groups:
            membership = cognito.CfnUserPoolUserToGroupAttachment(
                scope,
                f"{user_id}In{group.node.id}",
                user_pool_id=user_pool_id,
                group_name=group.ref,
                username=email,
            )
            membership.node.add_dependency(user)
