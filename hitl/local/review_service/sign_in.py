"""The local sign-in stand-in for Cognito's managed login: the same authorization code + PKCE
exchange the review app runs against Cognito on AWS, but you only type a reviewer name.

Routes (under the mount point): `GET|POST /oauth2/authorize`, `POST /oauth2/token`, `GET /logout`.
Only the review app's own pages are accepted as redirect targets, as the app client's callback
URLs are on AWS; a code is used once, within a minute, with the verifier its challenge came from.
The code's exchange also yields a refresh token, which `grant_type=refresh_token` trades for a new
ID token for as long as the app client's refresh tokens live (no new refresh token: no rotation).
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, Response, jsonify, redirect, render_template_string, request

from hitl.local.review_service.tokens import ADMIN_GROUP, REVIEWER_GROUP, LocalTokens

CODE_LIFETIME_SECONDS = 60
REFRESH_TOKEN_LIFETIME_SECONDS = 12 * 3600
"""As the review app's Cognito client (`refresh_token_validity`)."""
APP_PAGES = ("/", "/index.html")
REVIEWER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,39}$")

FORM = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Local sign-in (stand-in) · review</title>
  <link rel="icon" href="data:,">
  <link rel="stylesheet" href="/review.css">
  <link rel="stylesheet" href="/app.css">
</head>
<body>
  <header class="topbar"><h1>Local sign-in</h1><span class="spacer"></span>
    <span class="meta">stand-in for Cognito managed login</span></header>
  <main class="page sign-in">
    <p class="local-banner" role="note"><strong>This is the local stack's sign-in stand-in.</strong>
      It asks for no password and only works on this machine. On AWS, reviewers sign in with
      Cognito's managed login instead.</p>
    {% if error %}<p class="error" role="alert">{{ error }}</p>{% endif %}
    <form method="post">
      {% for key, value in hidden.items() %}
      <input type="hidden" name="{{ key }}" value="{{ value }}">{% endfor %}
      <label for="reviewer">Reviewer name</label>
      <input id="reviewer" name="reviewer" required autocomplete="username" maxlength="40"
             pattern="[A-Za-z0-9][A-Za-z0-9 ._\\-]*" value="{{ reviewer }}">
      <label class="check"><input type="checkbox" name="admin" value="yes"> Administrator
        (group <code>{{ admin_group }}</code>: may stop tasks)</label>
      <button type="submit" class="primary" id="sign-in">Sign in</button>
    </form>
  </main>
</body>
</html>
"""
AUTHORIZE_PARAMETERS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "state",
    "code_challenge",
    "code_challenge_method",
    "scope",
)


@dataclass(frozen=True)
class PendingCode:
    """An issued authorization code, waiting to be exchanged once."""

    reviewer: str
    admin: bool
    client_id: str
    redirect_uri: str
    challenge: str
    expires_at: float


def pkce_challenge(verifier: str) -> str:
    """RFC 7636 S256: base64url(SHA-256(verifier)) without padding."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


@dataclass(frozen=True)
class SignedIn:
    """Who a refresh token was issued to, for which client, and until when."""

    reviewer: str
    admin: bool
    client_id: str
    expires_at: float


class SignInRefused(ValueError):
    """An authorize request the stand-in refuses, as Cognito would."""


def create_sign_in_blueprint(tokens: LocalTokens, name: str = "local_sign_in") -> Blueprint:
    """The stand-in's routes; mount it with `url_prefix` where `config.json` says it lives."""
    blueprint = Blueprint(name, __name__)
    codes: dict[str, PendingCode] = {}
    sessions: dict[str, SignedIn] = {}
    lock = threading.Lock()

    def app_page(uri: str) -> bool:
        parts = urlsplit(uri)
        own = urlsplit(request.host_url)
        return (parts.scheme, parts.netloc) == (own.scheme, own.netloc) and parts.path in APP_PAGES

    def checked(params: dict[str, str]) -> dict[str, str]:
        if params.get("client_id") != tokens.audience:
            raise SignInRefused("unknown client_id")
        if not app_page(params.get("redirect_uri", "")):
            raise SignInRefused("redirect_uri is not one of the review app's pages")
        if params.get("response_type") != "code":
            raise SignInRefused("only response_type=code is supported")
        if params.get("code_challenge_method") != "S256" or not params.get("code_challenge"):
            raise SignInRefused("PKCE is required: code_challenge with code_challenge_method=S256")
        return {key: params[key] for key in AUTHORIZE_PARAMETERS if key in params}

    def form(hidden: dict[str, str], reviewer: str = "", error: str | None = None) -> str:
        return render_template_string(
            FORM, hidden=hidden, error=error, reviewer=reviewer, admin_group=ADMIN_GROUP
        )

    @blueprint.route("/oauth2/authorize", methods=["GET", "POST"])
    def authorize() -> Response | tuple[str, int] | str:
        source = request.args if request.method == "GET" else request.form
        try:
            hidden = checked(source.to_dict())
        except SignInRefused as err:
            return render_template_string("<p>Sign-in refused: {{ e }}</p>", e=str(err)), 400
        if request.method == "GET":
            return form(hidden)
        reviewer = request.form.get("reviewer", "").strip()
        if not REVIEWER_NAME.match(reviewer):
            error = "A reviewer name is 1-40 letters, digits, spaces, dots, dashes or underscores."
            return form(hidden, reviewer, error), 400
        code = secrets.token_urlsafe(24)
        with lock:
            codes[code] = PendingCode(
                reviewer=reviewer,
                admin=request.form.get("admin") == "yes",
                client_id=hidden["client_id"],
                redirect_uri=hidden["redirect_uri"],
                challenge=hidden["code_challenge"],
                expires_at=time.monotonic() + CODE_LIFETIME_SECONDS,
            )
        query = {"code": code, **({"state": hidden["state"]} if "state" in hidden else {})}
        return redirect(f"{hidden['redirect_uri']}?{urlencode(query)}", code=302)

    def id_token_reply(signed_in: SignedIn, **extra: str) -> tuple[Response, int]:
        groups = [REVIEWER_GROUP, ADMIN_GROUP] if signed_in.admin else [REVIEWER_GROUP]
        id_token = tokens.issue(signed_in.reviewer, groups)
        return jsonify(
            id_token=id_token,
            access_token=id_token,
            token_type="Bearer",
            expires_in=tokens.lifetime_seconds,
            **extra,
        ), 200

    def exchange_code(form: Mapping[str, str]) -> tuple[Response, int]:
        with lock:
            pending = codes.pop(form.get("code", ""), None)
        if (
            pending is None
            or pending.expires_at < time.monotonic()
            or form.get("client_id") != pending.client_id
            or form.get("redirect_uri") != pending.redirect_uri
            or pkce_challenge(form.get("code_verifier", "")) != pending.challenge
        ):
            return jsonify(error="invalid_grant"), 400
        lasts_until = time.monotonic() + REFRESH_TOKEN_LIFETIME_SECONDS
        signed_in = SignedIn(pending.reviewer, pending.admin, pending.client_id, lasts_until)
        refresh_token = secrets.token_urlsafe(32)
        with lock:
            sessions[refresh_token] = signed_in
        return id_token_reply(signed_in, refresh_token=refresh_token)

    def renew(form: Mapping[str, str]) -> tuple[Response, int]:
        with lock:
            signed_in = sessions.get(form.get("refresh_token", ""))
        if signed_in is None or signed_in.expires_at < time.monotonic():
            return jsonify(error="invalid_grant"), 400
        if form.get("client_id") != signed_in.client_id:
            return jsonify(error="invalid_client"), 400
        return id_token_reply(signed_in)

    @blueprint.post("/oauth2/token")
    def token() -> tuple[Response, int]:
        grant = request.form.get("grant_type")
        if grant == "authorization_code":
            return exchange_code(request.form)
        if grant == "refresh_token":
            return renew(request.form)
        return jsonify(error="unsupported_grant_type"), 400

    @blueprint.get("/logout")
    def logout() -> Response | tuple[str, int]:
        target = request.args.get("logout_uri", "")
        if request.args.get("client_id") != tokens.audience or not app_page(target):
            return "Sign-out refused: unknown client or logout_uri.", 400
        return redirect(target, code=302)

    return blueprint
