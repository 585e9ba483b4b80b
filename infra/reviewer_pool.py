"""Reviewers in Cognito, for either review backend: a pool only invited people join, and their invitations.

Both A2I's private work team and the built-in review service sign reviewers in this way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cognito as cognito
from constructs import Construct

from infra.nag import acknowledge


def invited_reviewers_pool(
    scope: Construct, construct_id: str, *, invitation: str, removal_policy: RemovalPolicy
) -> cognito.UserPool:
    """No self sign-up, e-mail sign-in, strong passwords, TOTP MFA; `invitation` holds {username}, {####}."""
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
        ),
        removal_policy=removal_policy,
    )
    acknowledge(
        pool,
        "AwsSolutions-COG8",
        "The Plus feature plan is billed per user; this pool holds a few invited reviewers, "
        "no self sign-up, and requires TOTP MFA and 12-character passwords.",
    )
    return pool


def invite_reviewers(
    scope: Construct, user_pool_id: str, memberships: Mapping[str, Sequence[cognito.CfnUserPoolGroup]]
) -> None:
    """Each e-mail address becomes a user (Cognito mails the invitation) in its groups."""
    for index, (email, groups) in enumerate(memberships.items()):
        user = cognito.CfnUserPoolUser(
            scope,
            f"Reviewer{index}",
            user_pool_id=user_pool_id,
            username=email,
            desired_delivery_mediums=["EMAIL"],
            user_attributes=[
                cognito.CfnUserPoolUser.AttributeTypeProperty(name="email", value=email),
                cognito.CfnUserPoolUser.AttributeTypeProperty(name="email_verified", value="true"),
            ],
        )
        for position, group in enumerate(groups):
            membership = cognito.CfnUserPoolUserToGroupAttachment(
                scope,
                f"Reviewer{index}Membership{position or ''}",
                user_pool_id=user_pool_id,
                group_name=group.ref,
                username=email,
            )
            membership.node.add_dependency(user)
