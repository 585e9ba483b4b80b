"""The review site on one loopback port: the static review app, its `config.json`, the local
sign-in stand-in and the review API (behind the local JWT authorizer) under `/api`.

On AWS the app and the API (its `/api/*` behaviour, to the HTTP API's stage `api`) come from one
CloudFront distribution and sign-in from Cognito; here one origin serves all three, so the browser
makes no cross-origin request except for the task images, which come from the local S3 through the
API's presigned URLs. The API sends no CORS headers, as on AWS.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify, send_from_directory
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from hitl.local.review_service.api_gateway import HttpApiGateway
from hitl.local.review_service.sign_in import create_sign_in_blueprint
from hitl.local.review_service.tokens import LocalTokens
from hitl.local.worker import Handler
from hitl_core.wiring import REVIEW_API_STAGE

API_PATH = f"/{REVIEW_API_STAGE}"
SIGN_IN_SECRET = "HITL_LOCAL_SIGN_IN_SECRET"
"""The environment variable holding the sign-in stand-in's signing key (hex), made up per stack start."""
SITE_URL = "HITL_REVIEW_SITE_URL"
TOKEN_LIFETIME = "HITL_LOCAL_TOKEN_LIFETIME_SECONDS"
"""The environment variable that shortens the stand-in's ID tokens (seconds; tests of their renewal)."""
SIGN_IN_PATH = "/local-sign-in"
API_ENVIRONMENTS = "HITL_LOCAL_API_ENVIRONMENTS"
"""How many execution environments (processes) serve the API concurrently; 4 unless set."""
DEFAULT_API_ENVIRONMENTS = 4


def sign_in_url(site_url: str) -> str:
    """Where the stand-in lives; also the issuer of its tokens."""
    return f"{site_url.rstrip('/')}{SIGN_IN_PATH}"


def local_config(site_url: str, tokens: LocalTokens) -> dict[str, Any]:
    """The app's `config.json` on the local stack (the contract's `auth.mode` = `local`)."""
    return {
        "auth": {"mode": "local", "userPoolClientId": tokens.audience, "signInUrl": sign_in_url(site_url)},
    }


def content_security_policy(image_origin: str) -> str:
    """As CloudFront's response headers policy: only this origin, plus S3 for the task images."""
    return (
        f"default-src 'self'; img-src 'self' data: {image_origin}; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
    )


def create_review_site(
    app_dir: Path,
    site_url: str,
    tokens: LocalTokens,
    api_handler: Handler,
    image_origin: str,
    api_environments: int = 1,
) -> Any:
    """The WSGI app serving the review site at `site_url`, its API in `api_environments` execution
    environments."""
    site = Flask(__name__, static_folder=str(app_dir), static_url_path="")
    site.register_blueprint(create_sign_in_blueprint(tokens), url_prefix=SIGN_IN_PATH)
    config = local_config(site_url, tokens)
    policy = content_security_policy(image_origin)

    @site.get("/")
    def index() -> Response:
        return send_from_directory(app_dir, "index.html")

    @site.get("/config.json")
    def runtime_config() -> Response:
        return jsonify(config)

    @site.get("/healthz")
    def health() -> Response:
        return jsonify(status="ok")

    @site.after_request
    def security_headers(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = policy
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Cache-Control"] = "no-cache"
        return response

    api = HttpApiGateway(api_handler, tokens, stage=REVIEW_API_STAGE, environments=api_environments)
    site.wsgi_app = DispatcherMiddleware(site.wsgi_app, {API_PATH: api})
    return site
