"""The sign-in stand-in's tokens: what they carry, and every way a token is refused."""

from __future__ import annotations

import base64
import json

import pytest

from hitl.local.review_service.tokens import (
    ADMIN_GROUP,
    LOCAL_CLIENT_ID,
    REVIEWER_GROUP,
    InvalidToken,
    LocalTokens,
    authorizer_claims,
    reviewer_sub,
)


def _claims_part(token: str) -> dict:
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def test_a_token_carries_what_the_review_api_reads(tokens: LocalTokens) -> None:
    claims = tokens.verify(tokens.issue("ana", [REVIEWER_GROUP, ADMIN_GROUP]))
    assert claims["sub"] == reviewer_sub("ana")
    assert claims["iss"] == tokens.issuer
    assert claims["aud"] == LOCAL_CLIENT_ID
    assert claims["cognito:groups"] == [REVIEWER_GROUP, ADMIN_GROUP]
    assert claims["email"] == "ana@reviewers.local"


def test_one_name_keeps_one_subject_and_two_names_differ() -> None:
    assert reviewer_sub("ana") == reviewer_sub("ana") != reviewer_sub("ben")


def test_a_forged_or_altered_token_is_refused(tokens: LocalTokens) -> None:
    token = tokens.issue("ana")
    header, claims, signature = token.split(".")
    lifted = _claims_part(token) | {"cognito:groups": [ADMIN_GROUP]}
    altered = base64.urlsafe_b64encode(json.dumps(lifted).encode()).rstrip(b"=").decode()
    other_key = LocalTokens(b"x" * 32, tokens.issuer).issue("ana")
    for bad in (f"{header}.{altered}.{signature}", other_key, "not-a-token", f"{header}.{claims}"):
        with pytest.raises(InvalidToken):
            tokens.verify(bad)


def test_an_expired_token_or_one_for_another_issuer_or_client_is_refused() -> None:
    now = [1_000_000.0]
    issuer = LocalTokens(b"k" * 32, "http://a/local-sign-in", lifetime_seconds=60, clock=lambda: now[0])
    token = issuer.issue("ana")
    now[0] += 61
    with pytest.raises(InvalidToken, match="expired"):
        issuer.verify(token)
    fresh = LocalTokens(b"k" * 32, "http://a/local-sign-in").issue("ana")
    with pytest.raises(InvalidToken, match="someone else"):
        LocalTokens(b"k" * 32, "http://b/local-sign-in").verify(fresh)
    with pytest.raises(InvalidToken, match="another client"):
        LocalTokens(b"k" * 32, "http://a/local-sign-in", audience="other").verify(fresh)


def test_a_short_key_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        LocalTokens(b"short", "http://a")


def test_claims_reach_the_function_as_the_jwt_authorizer_passes_them() -> None:
    passed = authorizer_claims({"sub": "s", "cognito:groups": ["reviewers", "review-admins"], "exp": 5})
    assert passed == {"sub": "s", "cognito:groups": "[reviewers review-admins]", "exp": "5"}
