"""Reviewers in Cognito: a user keeps its logical id whatever the lists do; invitations fit the e-mail."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import App, RemovalPolicy, Stack
from aws_cdk import aws_cognito as cognito
from aws_cdk.assertions import Template
from cdk_scenarios import resources

from infra.deploy_config import InvitationSender
from infra.reviewer_pool import invite_reviewers, invited_reviewers_pool, user_construct_id

POOL_ID = "eu-west-1_AbCdEf123"


def invited(*lists: dict[str, list[str]]) -> list[dict[str, Any]]:
    """One template per membership list (e-mail -> group names), from one app."""
    app = App()
    stacks = []
    for index, memberships in enumerate(lists):
        stack = Stack(app, f"Invited{index}")
        groups = {
            name: cognito.CfnUserPoolGroup(
                stack, f"{name.title()}Group", user_pool_id=POOL_ID, group_name=name
            )
            for name in ("reviewers", "admins")
        }
        invite_reviewers(
            stack, POOL_ID, {email: [groups[g] for g in names] for email, names in memberships.items()}
        )
        stacks.append(stack)
    return [Template.from_stack(stack).to_json() for stack in stacks]


def users_by_logical_id(template: dict[str, Any]) -> dict[str, str]:
    return {
        k: v["Properties"]["Username"] for k, v in resources(template, "AWS::Cognito::UserPoolUser").items()
    }


def memberships(template: dict[str, Any]) -> dict[str, tuple[str, str]]:
    found = resources(template, "AWS::Cognito::UserPoolUserToGroupAttachment")
    return {k: (v["Properties"]["Username"], v["Properties"]["GroupName"]["Ref"]) for k, v in found.items()}


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (["ana@example.com", "bo@example.com"], ["bo@example.com"]),
        (["ana@example.com", "bo@example.com"], ["bo@example.com", "ana@example.com"]),
        (["bo@example.com"], ["ana@example.com", "bo@example.com"]),
    ],
    ids=["remove-first", "reorder", "insert-first"],
)
def test_a_user_keeps_its_logical_id_when_others_are_removed_added_or_reordered(
    before: list[str], after: list[str]
) -> None:
    old, new = invited({e: ["reviewers"] for e in before}, {e: ["reviewers"] for e in after})

    old_users, new_users = users_by_logical_id(old), users_by_logical_id(new)
    kept = set(old_users) & set(new_users)
    assert {old_users[k] for k in kept} == set(before) & set(after)
    assert all(old_users[k] == new_users[k] for k in kept)
    assert set(memberships(old).items()) >= {i for i in memberships(new).items() if i[1][0] in before}


def test_a_reviewer_made_admin_keeps_the_user_and_the_reviewer_membership() -> None:
    old, new = invited({"bo@example.com": ["reviewers"]}, {"bo@example.com": ["reviewers", "admins"]})

    assert users_by_logical_id(old) == users_by_logical_id(new)
    assert set(memberships(old).items()) < set(memberships(new).items())


def test_addresses_differing_only_in_punctuation_or_case_get_distinct_valid_ids() -> None:
    addresses = ["a.b@example.com", "ab@example.com", "a-b@example.com", "AB@example.com", "a+b@example.com"]

    ids = [user_construct_id(a) for a in addresses]

    assert len(set(ids)) == len(addresses)
    assert all(i.isalnum() and len(i) <= 64 for i in ids)
    assert user_construct_id("a.b@example.com") == ids[0]


def pool_template(sender: InvitationSender | None) -> dict[str, Any]:
    stack = Stack(App(), "Pool")
    invited_reviewers_pool(
        stack,
        "Reviewers",
        invitation="Open the page as {username} with {####}",
        removal_policy=RemovalPolicy.DESTROY,
        sender=sender,
    )
    (pool,) = resources(Template.from_stack(stack).to_json(), "AWS::Cognito::UserPool").values()
    return pool["Properties"]


def test_without_ses_the_pool_sends_cognitos_own_invitation() -> None:
    pool = pool_template(None)

    assert "InviteMessageTemplate" not in pool["AdminCreateUserConfig"]
    assert (
        pool.get("EmailConfiguration", {}).get("EmailSendingAccount", "COGNITO_DEFAULT") == "COGNITO_DEFAULT"
    )


def test_with_ses_the_invitation_names_the_page_and_is_sent_by_ses() -> None:
    pool = pool_template(InvitationSender(from_address="reviews@example.com", region="eu-west-1"))

    assert pool["EmailConfiguration"]["EmailSendingAccount"] == "DEVELOPER"
    assert pool["EmailConfiguration"]["From"] == "reviews@example.com"
    assert "ses:eu-west-1" in str(pool["EmailConfiguration"]["SourceArn"])
    assert pool["AdminCreateUserConfig"]["InviteMessageTemplate"]["EmailMessage"].startswith("Open the page")
