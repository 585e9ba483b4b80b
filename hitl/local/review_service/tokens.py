"""The local sign-in stand-in's tokens: HS256-signed JWTs shaped like Cognito's ID tokens.

They carry what the review API reads (`sub`, `iss`, `cognito:groups`, `email`) and are checked
as API Gateway's JWT authorizer checks Cognito's: signature, issuer, audience, expiry. The key is
made up per stack start, so a token never outlives the stack that issued it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

LOCAL_CLIENT_ID = "hitl-local-review-app"
REVIEWER_GROUP = "reviewers"
ADMIN_GROUP = "review-admins"
TOKEN_LIFETIME_SECONDS = 3600
"""As the review app's Cognito client (`id_token_validity`): the app renews them with its refresh token."""
LOCAL_EMAIL_DOMAIN = "reviewers.local"
_HEADER = {"alg": "HS256", "typ": "JWT"}


class InvalidToken(ValueError):
    """The token is missing, malformed, forged, expired or meant for another issuer or client."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def reviewer_sub(name: str) -> str:
    """A stable subject per reviewer name, so one person keeps one identity across sign-ins."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"hitl-local-reviewer:{name}"))


class LocalTokens:
    """Issues and verifies the local stand-in's ID tokens for one issuer URL and one app client."""

    def __init__(
        self,
        secret: bytes,
        issuer: str,
        audience: str = LOCAL_CLIENT_ID,
        lifetime_seconds: int = TOKEN_LIFETIME_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if len(secret) < 32:
            raise ValueError("the signing key must be at least 32 bytes")
        self.secret = secret
        self.issuer = issuer
        self.audience = audience
        self.lifetime_seconds = lifetime_seconds
        self._clock = clock

    def _sign(self, signing_input: bytes) -> str:
        return _b64(hmac.new(self.secret, signing_input, hashlib.sha256).digest())

    def issue(self, name: str, groups: Iterable[str] = (REVIEWER_GROUP,)) -> str:
        """An ID token for the reviewer called `name` in `groups`."""
        now = int(self._clock())
        claims = {
            "sub": reviewer_sub(name),
            "iss": self.issuer,
            "aud": self.audience,
            "token_use": "id",
            "auth_time": now,
            "iat": now,
            "exp": now + self.lifetime_seconds,
            "cognito:username": name,
            "cognito:groups": list(groups),
            "email": f"{name}@{LOCAL_EMAIL_DOMAIN}",
            "name": name,
        }
        signing_input = f"{_b64(json.dumps(_HEADER).encode())}.{_b64(json.dumps(claims).encode())}"
        return f"{signing_input}.{self._sign(signing_input.encode())}"

    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims, or InvalidToken saying what is wrong with it."""
        parts = token.split(".")
        if len(parts) != 3:
            raise InvalidToken("not a JWT")
        header_b64, claims_b64, signature = parts
        if not hmac.compare_digest(signature, self._sign(f"{header_b64}.{claims_b64}".encode())):
            raise InvalidToken("bad signature")
        try:
            header = json.loads(_unb64(header_b64))
            claims = json.loads(_unb64(claims_b64))
        except ValueError:
            raise InvalidToken("unreadable header or claims") from None
        if header.get("alg") != "HS256" or not isinstance(claims, dict):
            raise InvalidToken("unexpected token type")
        if claims.get("iss") != self.issuer:
            raise InvalidToken("issued by someone else")
        if claims.get("aud") != self.audience:
            raise InvalidToken("meant for another client")
        if not isinstance(claims.get("exp"), int) or claims["exp"] <= self._clock():
            raise InvalidToken("expired")
        return claims


def authorizer_claims(claims: dict[str, Any]) -> dict[str, str]:
    """Claims as API Gateway's JWT authorizer hands them to the function: every value a string,
    lists written as `[a b]`."""
    return {
        key: f"[{' '.join(str(item) for item in value)}]" if isinstance(value, list) else str(value)
        for key, value in claims.items()
    }
