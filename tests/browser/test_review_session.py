"""The review app's sign-in session in Chromium against the local stack, with ID tokens and leases of
twenty seconds (the app renews a token in its last quarter, whatever its lifetime): a reviewer's
boxes outlive the token and are submitted, the lease keeps being renewed, and an authorizer's
refusal (a 401, or the network error a browser reports for a 401 without CORS headers) ends in a
renewal or a new sign-in, never in lost work."""

from __future__ import annotations

import base64
import itertools
import json
import time
from pathlib import Path
from typing import Any

import pytest
from e2e.e2e_helpers import all_reviewed, manifest_file, watch
from editor_driver import listed_boxes, near
from playwright.sync_api import Browser, Response, Route, expect
from review_service_driver import LEASE_SECONDS, TOKEN_SECONDS, Reviewer, draw_box, drop_rocket

from hitl.local.pipeline_view import PipelineView
from hitl.local.stack import LocalStack
from hitl_core.config import PipelineConfig

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.xdist_group("browser")]

DRAWN = {"left": 200, "top": 80, "width": 160, "height": 300}
TOKENS_KEY = "hitl-review.tokens"


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def is_renewal(url: str, body: str | None) -> bool:
    return url.endswith("/oauth2/token") and "grant_type=refresh_token" in (body or "")


@pytest.fixture
def rocket(service_stack: LocalStack, tmp_path: Path) -> tuple[PipelineView, str, str]:
    """A photo sent to review: its view of the pipeline, its key and its task's name."""
    view, key = drop_rocket(service_stack, tmp_path)
    return view, key, next(iter(view.loops))


def assert_answered_with_the_drawn_box(
    service_stack: LocalStack, view: PipelineView, key: str, folder: Path, config: PipelineConfig
) -> None:
    """The rolling manifest's line for the reviewed image holds exactly the box drawn (DRAWN)."""
    assert service_stack.resources is not None
    watch(service_stack.client, service_stack.resources.events_queue.url, view, all_reviewed, timeout=60)
    lines = manifest_file(service_stack.client, view.manifest_uri or "", folder / "manifest.jsonl")
    line = next(line for line in lines if line["source-ref"].endswith(key))
    (box,) = line[config.manifest_attribute]["annotations"]
    assert near({**box, "label": config.labels[box["class_id"]]}, config.offered_labels[0], **DRAWN)


def test_boxes_outlive_the_id_token_and_are_submitted_and_the_lease_keeps_renewing(
    service_stack: LocalStack,
    browser: Browser,
    rocket: tuple[PipelineView, str, str],
    tmp_path: Path,
    pipeline_config: PipelineConfig,
) -> None:
    assert service_stack.endpoints is not None
    view, key, name = rocket
    ana = Reviewer(browser)
    claims: list[tuple[float, int, str]] = []
    renewals: list[int] = []

    def seen(response: Response) -> None:
        request = response.request
        if request.url.endswith(f"/api/tasks/{name}/claim"):
            claims.append((time.time(), response.status, request.headers.get("authorization", "")))
        elif is_renewal(request.url, request.post_data):
            renewals.append(response.status)

    ana.page.on("response", seen)
    ana.sign_in(f"{service_stack.endpoints.review_page}task.html?name={name}", "ana")
    ana.page.locator("svg[data-ready=true]").wait_for()
    label = pipeline_config.offered_labels[0]
    draw_box(ana.page, DRAWN)
    first = claims_of(claims[0][2].removeprefix("Bearer "))
    assert first["exp"] - first["iat"] == TOKEN_SECONDS

    # Past the first token's end, and long enough after it for one more lease renewal.
    while time.time() < first["exp"] + LEASE_SECONDS / 2 + 2:
        ana.page.wait_for_timeout(1000)

    assert renewals and set(renewals) == {200}, renewals
    later = [claim for claim in claims if claim[0] > first["exp"]]
    assert later, "the lease was renewed after the first ID token had expired"
    assert {status for _, status, _ in claims} == {200}, claims
    assert all(claims_of(auth.removeprefix("Bearer "))["iat"] > first["iat"] for _, _, auth in later)
    gaps = [after[0] - before[0] for before, after in itertools.pairwise(claims)]
    assert len(claims) >= 2 and max(gaps) < LEASE_SECONDS, gaps

    assert near(listed_boxes(ana.page)[0], label, **DRAWN)
    ana.page.get_by_role("button", name="Submit", exact=True).click()
    expect(ana.page.locator("#message-text")).to_contain_text("No task is waiting for you")
    assert_answered_with_the_drawn_box(service_stack, view, key, tmp_path, pipeline_config)
    ana.close()


def test_a_refusal_without_cors_headers_keeps_the_boxes_through_a_new_sign_in(
    service_stack: LocalStack,
    browser: Browser,
    rocket: tuple[PipelineView, str, str],
    tmp_path: Path,
    pipeline_config: PipelineConfig,
) -> None:
    assert service_stack.endpoints is not None
    view, key, name = rocket
    ben = Reviewer(browser)
    dialogs: list[str] = []
    ben.page.on("dialog", lambda dialog: (dialogs.append(dialog.type), dialog.dismiss()))
    task_url = f"{service_stack.endpoints.review_page}task.html?name={name}"
    ben.sign_in(task_url, "ben")
    ben.page.locator("svg[data-ready=true]").wait_for()
    label = pipeline_config.offered_labels[0]
    draw_box(ben.page, DRAWN)

    # API Gateway's authorizer refuses the answer with a 401 without CORS headers, which a browser
    # reports as a network error; and the refresh token was revoked, so only a new sign-in helps.
    def revoked(route: Route) -> None:
        if is_renewal(route.request.url, route.request.post_data):
            route.fulfill(status=400, json={"error": "invalid_grant"})
        else:
            route.fallback()

    ben.page.route(f"**/api/tasks/{name}/answer", lambda route: route.abort("failed"), times=1)
    ben.page.route("**/oauth2/token", revoked, times=1)
    ben.page.get_by_role("button", name="Submit", exact=True).click()
    ben.fill_sign_in("ben")
    ben.page.wait_for_url(task_url)
    ben.page.locator("svg[data-ready=true]").wait_for()
    (kept,) = listed_boxes(ben.page)
    assert near(kept, label, **DRAWN)
    expect(ben.page.locator("#status")).to_contain_text("boxes from before the new sign-in")
    assert dialogs == [], "the page left for the sign-in without asking to discard the boxes"

    # Now the local authorizer itself refuses a token (signature broken): one renewal, one retry.
    answers: list[tuple[int, dict[str, str]]] = []
    ben.page.on(
        "response",
        lambda response: (
            answers.append((response.status, response.headers))
            if response.url.endswith(f"/api/tasks/{name}/answer")
            else None
        ),
    )
    ben.page.evaluate(
        """key => {
          const tokens = JSON.parse(localStorage.getItem(key));
          const [header, payload, signature] = tokens.idToken.split(".");
          const forged = signature.slice(0, -4) + (signature.endsWith("AAAA") ? "BBBB" : "AAAA");
          tokens.idToken = [header, payload, forged].join(".");
          localStorage.setItem(key, JSON.stringify(tokens));
        }""",
        TOKENS_KEY,
    )
    ben.page.get_by_role("button", name="Submit", exact=True).click()
    expect(ben.page.locator("#message-text")).to_contain_text("No task is waiting for you")
    assert [status for status, _ in answers] == [401, 200]
    assert not [header for header in answers[0][1] if header.startswith("access-control-")]
    assert_answered_with_the_drawn_box(service_stack, view, key, tmp_path, pipeline_config)
    assert dialogs == []
    ben.close()
