"""The local review site: the static app, its config.json, the sign-in stand-in and the API on one
origin, with a content security policy that lets in only the task images from S3."""

from __future__ import annotations

from typing import Any

from werkzeug.test import Client

from hitl.local.review_app_files import REVIEW_APP_DIR
from hitl.local.review_service.site import create_review_site, local_config
from hitl.local.review_service.tokens import LOCAL_CLIENT_ID, LocalTokens

from .conftest import SITE

S3 = "http://127.0.0.1:4566"


def echo(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"path": event["rawPath"], "stage": event["requestContext"]["stage"]}


def site(tokens: LocalTokens) -> Client:
    return Client(create_review_site(REVIEW_APP_DIR, SITE, tokens, echo, S3))


def test_config_points_the_app_at_the_local_sign_in(tokens: LocalTokens) -> None:
    config = site(tokens).get("/config.json").json
    assert config == local_config(SITE, tokens)
    assert config == {
        "auth": {"mode": "local", "userPoolClientId": LOCAL_CLIENT_ID, "signInUrl": f"{SITE}/local-sign-in"},
    }
    assert tokens.issuer == config["auth"]["signInUrl"]


def test_the_app_pages_and_scripts_are_served_with_a_strict_policy(tokens: LocalTokens) -> None:
    client = site(tokens)
    for path in ("/", "/task.html", "/editor.js", "/app.js", "/review.css", "/editor.html"):
        reply = client.get(path)
        assert reply.status_code == 200, path
        policy = reply.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert f"img-src 'self' data: {S3}" in policy
    assert "tasks.js" in client.get("/").text


def test_the_api_is_mounted_behind_the_authorizer(tokens: LocalTokens) -> None:
    client = site(tokens)
    assert client.get("/api/tasks").status_code == 401
    reply = client.get("/api/tasks", headers={"Authorization": f"Bearer {tokens.issue('ana')}"})
    # As CloudFront's /api/* behaviour hands it to the HTTP API's stage `api`.
    assert reply.json == {"path": "/api/tasks", "stage": "api"}
