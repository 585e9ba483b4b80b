"""The review app in Chromium against the local built-in review service (the whole local stack):
sign in with the local stand-in, list, open, draw a box, submit, and the answer reaches the
manifest; a second reviewer sees the claimed task as taken. Then the Cognito code path (authorization
code + PKCE), against a stub of the managed login."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from e2e.e2e_helpers import MODEL_DIR, all_reviewed, manifest_file, watch
from playwright.sync_api import Browser, Response, Route, expect
from review_service_driver import VIEWPORT, Reviewer, TaskMaker, draw_box, drop_rocket

from hitl.local.stack import LocalStack, StackSettings
from hitl_core.config import PipelineConfig, ReviewBudgetConfig, ReviewGold

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.xdist_group("browser")]

ROCKET_SIZE = (640, 427)
DRAWN = {"left": 200, "top": 80, "width": 160, "height": 300}
SLACK_PX = 2
COGNITO = "https://stub-review.auth.us-east-1.amazoncognito.com"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, pipeline_config: PipelineConfig) -> Iterator[LocalStack]:
    """The local stack with the built-in review service (its default), where each reviewer may take
    one task a day (review.budget.per_reviewer_day: 1): every test here has its own reviewers. Its
    gold manifest is missing, so gold tasks are off and the team overview says why."""
    missing_gold = tmp_path_factory.mktemp("gold") / "gold.manifest"
    review = pipeline_config.review.model_copy(
        update={
            "budget": ReviewBudgetConfig(per_reviewer_day=1),
            "gold": ReviewGold(manifest=str(missing_gold)),
        }
    )
    local = LocalStack(
        StackSettings(
            config=pipeline_config.model_copy(update={"review": review}),
            state_dir=tmp_path_factory.mktemp("service-app") / "state",
            model_dir=MODEL_DIR,
            visibility_timeout_seconds=5,
        ),
        on_line=print,
    )
    local.start()
    yield local
    local.stop()


def test_a_reviewer_signs_in_edits_and_submits_and_the_answer_reaches_the_manifest(
    stack: LocalStack, browser: Browser, tmp_path: Path, pipeline_config: PipelineConfig
) -> None:
    assert stack.endpoints is not None and stack.resources is not None
    view, key = drop_rocket(stack, tmp_path)
    name = next(iter(view.loops))
    ana, ben = Reviewer(browser), Reviewer(browser)

    ana.sign_in(stack.endpoints.review_page, "ana")
    row = ana.page.locator(f"#pending tr[data-task='{name}']")
    expect(row).to_contain_text("rocket.jpg")
    expect(row).to_contain_text("open")
    row.get_by_role("link", name="rocket.jpg").click()
    ana.page.locator("svg[data-ready=true]").wait_for()

    # Ben follows a link to the task: signing in brings him back to it, and it is taken.
    ben.sign_in(f"{stack.endpoints.review_page}task.html?name={name}", "ben")
    taken = "ana@reviewers.local is working on this task until"
    expect(ben.page.locator("#message-text")).to_contain_text(taken)
    ben.page.get_by_role("link", name="All tasks").first.click()
    row = ben.page.locator(f"#pending tr[data-task='{name}']")
    expect(row).to_contain_text("taken by ana@reviewers.local until")
    expect(ben.page.get_by_role("link", name="rocket.jpg")).to_have_count(0)

    label = pipeline_config.offered_labels[0]
    draw_box(ana.page, DRAWN)
    listed = ana.page.locator("#box-list .coords").evaluate_all("items => items.map(i => i.dataset.box)")
    shown = [json.loads(raw) for raw in listed]
    assert len(shown) == 1 and shown[0]["label"] == label
    assert all(abs(shown[0][k] - v) <= SLACK_PX for k, v in DRAWN.items()), shown
    ana.page.get_by_role("button", name="Submit", exact=True).click()
    expect(ana.page.locator("#message-text")).to_contain_text("No task is waiting for you")
    ana.page.get_by_role("link", name="Back to all tasks").click()
    expect(ana.page.locator(f"#completed tr[data-task='{name}']")).to_contain_text("rocket.jpg")

    watch(stack.client, stack.resources.events_queue.url, view, all_reviewed, timeout=60)
    lines = manifest_file(stack.client, view.manifest_uri or "", tmp_path / "manifest.jsonl")
    line = next(line for line in lines if line["source-ref"].endswith(key))
    attribute = pipeline_config.manifest_attribute
    assert line[attribute]["image_size"] == [{"width": ROCKET_SIZE[0], "height": ROCKET_SIZE[1], "depth": 3}]
    assert line[attribute]["annotations"] == [
        {"class_id": pipeline_config.labels.index(label), **{k: shown[0][k] for k in DRAWN}}
    ]
    assert line[f"{attribute}-metadata"]["human-annotated"] == "yes"
    ana.close()
    ben.close()


def test_a_spent_budget_and_nothing_left_each_say_so(
    stack: LocalStack, browser: Browser, tmp_path: Path, pipeline_config: PipelineConfig
) -> None:
    """Fay answers one task, her day's budget: the next one waiting is refused by the API (204 with
    X-Review-Budget: spent) and the page says why. With no task open, Gus is told none is waiting."""
    assert stack.endpoints is not None
    view, _ = drop_rocket(stack, tmp_path)
    rocket = next(iter(view.loops))
    tasks = TaskMaker(stack, rocket, pipeline_config.offered_labels)
    (waiting,) = tasks.make(1, boxes=[])
    fay, gus = Reviewer(browser), Reviewer(browser)
    nexts: list[tuple[int, str | None]] = []

    def seen(response: Response) -> None:
        if response.url.endswith("/tasks/next"):
            nexts.append((response.status, response.headers.get("x-review-budget")))

    fay.page.on("response", seen)
    fay.sign_in(f"{stack.endpoints.review_page}task.html", "fay")
    expect(fay.page.locator("#task-name")).to_have_text(rocket)
    fay.page.locator("svg[data-ready=true]").wait_for()
    fay.page.locator("#canvas").focus()
    fay.page.keyboard.press("e")  # nothing to label: the rocket has no box of the model's
    expect(fay.page.locator("#message-text")).to_contain_text("The review budget for now is spent")
    assert nexts == [(200, None), (204, "spent")], nexts
    assert tasks.api("fay").task(rocket)["status"] == "Completed"
    assert not tasks.api("fay").task(waiting)["leaseOwner"], "the waiting task is left for others"

    tasks.stop_all_open()
    gus.sign_in(f"{stack.endpoints.review_page}task.html", "gus")
    expect(gus.page.locator("#message-text")).to_contain_text("No task is waiting for you")
    fay.close()
    gus.close()


def test_the_team_overview_says_why_gold_tasks_are_off(stack: LocalStack, browser: Browser) -> None:
    assert stack.endpoints is not None
    hal = Reviewer(browser)
    hal.sign_in(stack.endpoints.review_page, "hal", admin=True)
    hal.page.goto(f"{stack.endpoints.review_page}admin.html")
    expect(hal.page.locator("#overview")).to_be_visible()
    expect(hal.page.locator("#gold-problem")).to_have_text(
        re.compile(r"^Gold tasks are off: .*gold\.manifest: .*No such file")
    )
    hal.close()


def _challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def test_on_aws_the_app_signs_in_with_cognito_authorization_code_and_pkce(
    stack: LocalStack, browser: Browser
) -> None:
    """The app in `cognito` mode, with Cognito's managed login stubbed: the authorize redirect it
    builds, and the token exchange whose verifier must match the challenge it sent."""
    assert stack.endpoints is not None and stack.review_tokens is not None
    site = stack.endpoints.review_page
    config = {
        "auth": {
            "mode": "cognito",
            "userPoolClientId": "client-123",
            "domain": urlsplit(COGNITO).netloc,
            "region": "us-east-1",
        },
    }
    seen: dict[str, Any] = {}
    context = browser.new_context(viewport=VIEWPORT)

    def app(route: Route) -> None:
        if route.request.url.split("?")[0].endswith("/config.json"):
            route.fulfill(json=config)
            return
        response = route.fetch()
        headers = dict(response.headers)
        # As CloudFront's policy does on AWS: the app may call the sign-in domain's token endpoint.
        # (The API's JSON answers, under the same origin, carry no policy.)
        if "content-security-policy" in headers:
            headers["content-security-policy"] = headers["content-security-policy"].replace(
                "connect-src 'self'", f"connect-src 'self' {COGNITO}"
            )
        route.fulfill(response=response, headers=headers)

    def cognito(route: Route) -> None:
        url = urlsplit(route.request.url)
        if url.path == "/oauth2/authorize":
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            seen["authorize"] = query
            target = f"{query['redirect_uri']}?{urlencode({'code': 'code-1', 'state': query['state']})}"
            # Back to the app as managed login sends a signed-in user (a page, not a 302: Playwright
            # does not route the request a redirect makes, and the app's page must be routed).
            refresh = f'<meta http-equiv="refresh" content="0;url={html.escape(target)}">'
            route.fulfill(content_type="text/html", body=refresh)
        elif url.path == "/oauth2/token" and route.request.method == "OPTIONS":
            route.fulfill(status=204, headers=_cors())
        elif url.path == "/oauth2/token":
            form = {k: v[0] for k, v in parse_qs(route.request.post_data or "").items()}
            seen["token"] = form
            if _challenge(form.get("code_verifier", "")) != seen["authorize"]["code_challenge"]:
                route.fulfill(status=400, json={"error": "invalid_grant"}, headers=_cors())
                return
            tokens = {"id_token": stack.review_tokens.issue("carla"), "token_type": "Bearer"}
            route.fulfill(json=tokens, headers=_cors())
        else:
            route.abort()

    context.route(lambda url: url.startswith(site), app)
    context.route(f"{COGNITO}/**", cognito)
    page = context.new_page()
    page.goto(site)
    expect(page.locator("#signed-in")).to_have_text("Signed in as carla")
    expect(page.locator(".local-badge")).to_have_count(0)
    # The signed-in app goes on fetching its lists: let the routes' calls in flight end quietly.
    context.unroute_all(behavior="ignoreErrors")
    context.close()

    authorize = seen["authorize"]
    assert authorize["response_type"] == "code"
    assert authorize["client_id"] == "client-123"
    assert authorize["redirect_uri"] == site
    assert authorize["code_challenge_method"] == "S256"
    assert set(authorize["scope"].split()) == {"openid", "email", "profile"}
    verifier = seen["token"]["code_verifier"]
    assert 43 <= len(verifier) <= 128 and set(verifier) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
    )
    assert seen["token"] == {
        "grant_type": "authorization_code",
        "client_id": "client-123",
        "code": "code-1",
        "redirect_uri": site,
        "code_verifier": verifier,
    }
    assert authorize["state"] and authorize["state"] != verifier


def _cors() -> dict[str, str]:
    return {
        "Access-Control-Allow-Origin": "*",
        "Access-Control-Allow-Headers": "Content-Type",
        "Access-Control-Allow-Methods": "POST",
    }
