"""The sign-in stand-in: authorization code + PKCE as Cognito's managed login runs it."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient

from hitl.local.review_service.sign_in import create_sign_in_blueprint, pkce_challenge
from hitl.local.review_service.tokens import ADMIN_GROUP, LOCAL_CLIENT_ID, REVIEWER_GROUP, LocalTokens

APP = "http://localhost/"


@pytest.fixture
def client(tokens: LocalTokens) -> FlaskClient:
    app = Flask(__name__)
    app.register_blueprint(create_sign_in_blueprint(tokens), url_prefix="/local-sign-in")
    return app.test_client()


def authorize(verifier: str, **overrides: str) -> dict[str, str]:
    return {
        "response_type": "code",
        "client_id": LOCAL_CLIENT_ID,
        "redirect_uri": APP,
        "state": "st-1",
        "code_challenge": pkce_challenge(verifier),
        "code_challenge_method": "S256",
        **overrides,
    }


def sign_in(client: FlaskClient, verifier: str, reviewer: str = "ana", admin: bool = False) -> dict[str, Any]:
    form = {**authorize(verifier), "reviewer": reviewer, **({"admin": "yes"} if admin else {})}
    reply = client.post("/local-sign-in/oauth2/authorize", data=form)
    assert reply.status_code == 302, reply.text
    location = urlsplit(reply.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == APP
    return {key: values[0] for key, values in parse_qs(location.query).items()}


def exchange(client: FlaskClient, code: str, verifier: str) -> Any:
    return client.post(
        "/local-sign-in/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "client_id": LOCAL_CLIENT_ID,
            "code": code,
            "redirect_uri": APP,
            "code_verifier": verifier,
        },
    )


def test_rfc_7636_example_challenge() -> None:
    assert (
        pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
        == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    )


def test_the_form_says_it_is_the_local_stand_in(client: FlaskClient) -> None:
    page = client.get("/local-sign-in/oauth2/authorize", query_string=authorize("v" * 43))
    assert page.status_code == 200
    assert "local stack's sign-in stand-in" in page.text
    assert 'name="code_challenge"' in page.text


def test_code_and_verifier_give_a_reviewer_token(client: FlaskClient, tokens: LocalTokens) -> None:
    verifier = secrets.token_urlsafe(32)
    answer = sign_in(client, verifier, "ana")
    assert answer["state"] == "st-1"
    reply = exchange(client, answer["code"], verifier)
    assert reply.status_code == 200
    claims = tokens.verify(reply.json["id_token"])
    assert claims["cognito:username"] == "ana"
    assert claims["cognito:groups"] == [REVIEWER_GROUP]


def test_an_administrator_gets_the_admin_group(client: FlaskClient, tokens: LocalTokens) -> None:
    verifier = secrets.token_urlsafe(32)
    code = sign_in(client, verifier, "boss", admin=True)["code"]
    claims = tokens.verify(exchange(client, code, verifier).json["id_token"])
    assert claims["cognito:groups"] == [REVIEWER_GROUP, ADMIN_GROUP]


def test_a_code_needs_its_own_verifier_and_works_once(client: FlaskClient) -> None:
    verifier = secrets.token_urlsafe(32)
    code = sign_in(client, verifier)["code"]
    assert exchange(client, code, "another-verifier-" + "x" * 30).json == {"error": "invalid_grant"}
    code = sign_in(client, verifier)["code"]
    assert exchange(client, code, verifier).status_code == 200
    assert exchange(client, code, verifier).status_code == 400


@pytest.mark.parametrize(
    "change",
    [
        {"redirect_uri": "http://evil.example/"},
        {"redirect_uri": "http://localhost/elsewhere.html"},
        {"client_id": "someone-else"},
        {"code_challenge_method": "plain"},
        {"code_challenge": ""},
        {"response_type": "token"},
    ],
)
def test_requests_cognito_would_refuse_are_refused(client: FlaskClient, change: dict[str, str]) -> None:
    query = authorize("v" * 43, **change)
    assert client.get("/local-sign-in/oauth2/authorize", query_string=query).status_code == 400
    reply = client.post("/local-sign-in/oauth2/authorize", data={**query, "reviewer": "ana"})
    assert reply.status_code == 400


def test_a_reviewer_name_must_be_plain(client: FlaskClient) -> None:
    reply = client.post(
        "/local-sign-in/oauth2/authorize", data={**authorize("v" * 43), "reviewer": "<script>"}
    )
    assert reply.status_code == 400
    assert "<script>" not in reply.text


def test_sign_out_returns_to_the_app_only(client: FlaskClient) -> None:
    ok = client.get("/local-sign-in/logout", query_string={"client_id": LOCAL_CLIENT_ID, "logout_uri": APP})
    assert ok.status_code == 302 and ok.headers["Location"] == APP
    bad = {"client_id": LOCAL_CLIENT_ID, "logout_uri": "http://evil.example/"}
    assert client.get("/local-sign-in/logout", query_string=bad).status_code == 400


def refresh(client: FlaskClient, refresh_token: str, client_id: str = LOCAL_CLIENT_ID) -> Any:
    return client.post(
        "/local-sign-in/oauth2/token",
        data={"grant_type": "refresh_token", "client_id": client_id, "refresh_token": refresh_token},
    )


def test_the_refresh_token_renews_the_id_token_as_cognitos_public_client_does(
    client: FlaskClient, tokens: LocalTokens
) -> None:
    verifier = secrets.token_urlsafe(32)
    first = exchange(client, sign_in(client, verifier, admin=True)["code"], verifier).json
    assert first["refresh_token"] and first["refresh_token"] != first["id_token"]

    renewed = refresh(client, first["refresh_token"])
    assert renewed.status_code == 200, renewed.text
    claims = tokens.verify(renewed.json["id_token"])
    assert claims["cognito:username"] == "ana"
    assert claims["cognito:groups"] == [REVIEWER_GROUP, ADMIN_GROUP]
    assert renewed.json["expires_in"] == tokens.lifetime_seconds
    # No rotation (Cognito's default): no new refresh token, the first one keeps working.
    assert "refresh_token" not in renewed.json
    assert refresh(client, first["refresh_token"]).status_code == 200


def test_an_unknown_refresh_token_or_another_client_is_refused(client: FlaskClient) -> None:
    verifier = secrets.token_urlsafe(32)
    first = exchange(client, sign_in(client, verifier)["code"], verifier).json
    unknown = refresh(client, "made-up")
    assert (unknown.status_code, unknown.json) == (400, {"error": "invalid_grant"})
    other = refresh(client, first["refresh_token"], client_id="another-client")
    assert (other.status_code, other.json) == (400, {"error": "invalid_client"})
    unsupported = client.post("/local-sign-in/oauth2/token", data={"grant_type": "password"})
    assert (unsupported.status_code, unsupported.json) == (400, {"error": "unsupported_grant_type"})
