"""Fixtures for the local built-in review service: a token issuer for a made-up site."""

from __future__ import annotations

import pytest

from hitl.local.review_service.tokens import LocalTokens

SITE = "http://127.0.0.1:9"


@pytest.fixture
def tokens() -> LocalTokens:
    return LocalTokens(b"k" * 32, f"{SITE}/local-sign-in")
