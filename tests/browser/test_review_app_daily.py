"""The review app's daily path in Chromium against the local built-in review service: next task, not a
list (swapped in place, its image fetched ahead), one key to accept or to say "nothing to label", a
phone that sees the whole task, work that outlives a lost lease, leases given back when the page
closes, an image that is slow or fails, and the list that sees every page of tasks."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from axe_driver import AXE, violations
from e2e.e2e_helpers import MODEL_DIR
from editor_driver import listed_boxes, near
from playwright.sync_api import Browser, Page, Request, Route, expect
from review_service_driver import Reviewer, TaskMaker, draw_box, drop_rocket

from hitl.local.review_service.client import ReviewApiClient, ReviewApiError
from hitl.local.review_service.tokens import LOCAL_EMAIL_DOMAIN, reviewer_sub
from hitl.local.stack import LocalStack, StackSettings
from hitl_core.config import PipelineConfig
from hitl_core.review_tasks import ReviewTiming

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.xdist_group("browser")]

LEASE_SECONDS = 20
ADMIN_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "images" / "team-overview.png"
PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True}
MODEL_BOX = {"left": 120, "top": 60, "width": 200, "height": 260}
DRAWN = {"left": 300, "top": 100, "width": 120, "height": 200}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, pipeline_config: PipelineConfig) -> Iterator[LocalStack]:
    """The local stack with the built-in review service, 20-second leases and a sweep every 2 s."""
    local = LocalStack(
        StackSettings(
            config=pipeline_config,
            state_dir=tmp_path_factory.mktemp("daily") / "state",
            model_dir=MODEL_DIR,
            visibility_timeout_seconds=5,
            review_timing=ReviewTiming(lease_seconds=LEASE_SECONDS, availability_seconds=86_400),
            review_sweep_seconds=2.0,
        ),
        on_line=print,
    )
    local.start()
    yield local
    local.stop()


@pytest.fixture(scope="module")
def rocket_task(stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> str:
    """One photo sent to review through the whole pipeline: the template of the tasks below."""
    view, _ = drop_rocket(stack, tmp_path_factory.mktemp("rocket"))
    return next(iter(view.loops))


@pytest.fixture
def tasks(stack: LocalStack, rocket_task: str, pipeline_config: PipelineConfig) -> Iterator[TaskMaker]:
    """Makes open tasks of the rocket photo; every task still open at the end is stopped."""
    maker = TaskMaker(stack, rocket_task, pipeline_config.offered_labels)
    maker.stop_all_open()
    yield maker
    maker.stop_all_open()


@pytest.fixture
def reviewers(browser: Browser, stack: LocalStack) -> Iterator[list[Reviewer]]:
    made: list[Reviewer] = []
    yield made
    for reviewer in made:
        reviewer.close()


def reviewer(made: list[Reviewer], browser: Browser, stack: LocalStack, **options: Any) -> Reviewer:
    person = Reviewer(browser, **options)
    made.append(person)
    return person


def api_as(stack: LocalStack, name: str) -> ReviewApiClient:
    assert stack.endpoints is not None and stack.endpoints.review_api and stack.review_tokens
    return ReviewApiClient(stack.endpoints.review_api, stack.review_tokens.issue(name))


def expect_task(page: Page, name: str) -> None:
    """The task page shows task `name`, its image loaded."""
    expect(page.locator("#task-name")).to_have_text(name)
    expect(page.locator("svg[data-ready=true]")).to_have_count(1)


def test_the_task_page_fits_a_phone(
    stack: LocalStack, browser: Browser, tasks: TaskMaker, reviewers: list[Reviewer]
) -> None:
    assert stack.endpoints is not None
    (name,) = tasks.make(1, boxes=[MODEL_BOX])
    ana = reviewer(reviewers, browser, stack, **PHONE)
    ana.sign_in(f"{stack.endpoints.review_page}task.html?name={name}", "ana")
    ana.page.locator("svg[data-ready=true]").wait_for()
    assert ana.page.evaluate("document.documentElement.scrollWidth") <= 390, "nothing sticks out sideways"
    stage = ana.page.locator("#stage").bounding_box()
    assert stage is not None and stage["width"] >= 380 and stage["height"] >= 300, stage
    for control in ("#submit", "#nothing", "#skip"):
        box = ana.page.locator(control).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, (control, box)
        assert box["y"] + box["height"] <= 844, (control, box)


def test_submit_swaps_in_the_next_task_in_place_with_its_image_fetched_ahead(
    stack: LocalStack, browser: Browser, tasks: TaskMaker, reviewers: list[Reviewer]
) -> None:
    """Start reviewing, accept the model's boxes with one key (Ctrl+Enter), the next task is there
    without a page load, its image already fetched; the last one ends in "nothing left"."""
    assert stack.endpoints is not None
    first, second = tasks.make(2, boxes=[MODEL_BOX])
    ana = reviewer(reviewers, browser, stack)
    loads: list[str] = []
    ana.page.on("load", lambda loaded: loads.append(loaded.url))
    images: list[str] = []
    ana.page.on("request", lambda request: images.append(request.url) if ".jpg" in request.url else None)
    ana.sign_in(stack.endpoints.review_page, "ana")
    ana.page.get_by_role("link", name="Start reviewing").click()
    expect_task(ana.page, first)
    expect(ana.page.locator("#queue-place")).to_contain_text("2 open")
    # The next task's image is asked for while the reviewer still works on the first.
    deadline = time.time() + 10
    while not any(second in url for url in images) and time.time() < deadline:
        ana.page.wait_for_timeout(100)
    assert [url for url in images if second in url], f"the next image is not fetched ahead: {images}"
    fetched_ahead = len(images)
    loads_before = len(loads)

    ana.page.locator("#canvas").focus()
    ana.page.keyboard.press("Control+Enter")
    expect_task(ana.page, second)
    assert len(loads) == loads_before, f"a page load for the next task: {loads[loads_before:]}"
    assert ana.page.url.endswith(f"task.html?name={second}")
    assert len(images) == fetched_ahead, f"the next image was fetched again: {images}"
    assert api_as(stack, "ana").task(first)["status"] == "Completed"

    ana.page.locator("#canvas").focus()
    ana.page.keyboard.press("Control+Enter")
    expect(ana.page.locator("#message-text")).to_contain_text("No task is waiting")
    assert len(loads) == loads_before


def test_nothing_to_label_is_one_key_and_a_skipped_task_comes_after_the_others(
    stack: LocalStack, browser: Browser, tasks: TaskMaker, reviewers: list[Reviewer]
) -> None:
    assert stack.endpoints is not None
    first, second, third = tasks.make(3, boxes=[MODEL_BOX])
    ana = reviewer(reviewers, browser, stack)
    ana.sign_in(f"{stack.endpoints.review_page}task.html", "ana")
    expect_task(ana.page, first)
    ana.page.get_by_role("button", name="Skip for now").click()
    expect_task(ana.page, second)
    assert not api_as(stack, "ben").task(first)["leaseOwner"], "a skipped task is handed back"

    ana.page.locator("#canvas").focus()
    ana.page.keyboard.press("e")
    expect_task(ana.page, third)
    answered = api_as(stack, "ana").task(second)
    assert answered["status"] == "Completed"
    ana.page.locator("#canvas").focus()
    ana.page.keyboard.press("Control+Enter")
    expect_task(ana.page, first)


def test_nothing_left_and_a_spent_budget_say_so(
    stack: LocalStack, browser: Browser, tasks: TaskMaker, reviewers: list[Reviewer]
) -> None:
    assert stack.endpoints is not None
    ana = reviewer(reviewers, browser, stack)
    ana.sign_in(f"{stack.endpoints.review_page}task.html", "ana")
    expect(ana.page.locator("#message-text")).to_contain_text("No task is waiting for you")
    # The API's answer when the review budget is the reason (its rules are tested with the API).
    ana.page.route(
        "**/api/tasks/next", lambda route: route.fulfill(status=204, headers={"X-Review-Budget": "spent"})
    )
    ana.page.get_by_role("link", name="Open the next task").click()
    expect(ana.page.locator("#message-text")).to_contain_text("The review budget for now is spent")


def test_work_outlives_a_lost_lease_and_is_submitted_after_claiming_again(
    stack: LocalStack,
    browser: Browser,
    tasks: TaskMaker,
    reviewers: list[Reviewer],
    pipeline_config: PipelineConfig,
) -> None:
    assert stack.endpoints is not None
    (name,) = tasks.make(1, boxes=[])
    ana = reviewer(reviewers, browser, stack)
    claims: list[int] = []
    ana.page.on("requestfinished", lambda r: claims.append(1) if r.url.endswith(f"/{name}/claim") else None)
    ana.sign_in(f"{stack.endpoints.review_page}task.html?name={name}", "ana")
    ana.page.locator("svg[data-ready=true]").wait_for()
    draw_box(ana.page, DRAWN)

    # The network drops every renewal for longer than the lease; Ben takes the task meanwhile.
    # (The route stays in place and lets calls through once the network is back: an unroute while
    # a renewal is in flight makes Playwright handle that call twice and leaves it hanging.)
    failed: list[float] = []
    network = {"up": False}

    def offline(route: Route) -> None:
        if network["up"]:
            route.fallback()
            return
        failed.append(time.time())
        route.abort("internetdisconnected")

    ana.page.route(f"**/api/tasks/{name}/claim", offline)
    ben = api_as(stack, "ben")
    deadline = time.time() + LEASE_SECONDS * 2
    while time.time() < deadline:
        try:
            ben.claim(name)
            break
        except ReviewApiError:
            ana.page.wait_for_timeout(1000)
    else:
        pytest.fail("the lease never ran out")
    assert len(failed) >= 2, f"renewals stopped after one failed request: {failed}"
    network["up"] = True
    expect(ana.page.locator("#lease")).to_contain_text("ben", timeout=LEASE_SECONDS * 1000)
    expect(ana.page.locator("#lease")).to_contain_text("until")
    assert near(listed_boxes(ana.page)[0], pipeline_config.offered_labels[0], **DRAWN), "the boxes are kept"

    ben.release(name)
    ana.page.get_by_role("button", name="Claim again and submit").click()
    expect(ana.page.locator("#message-text")).to_contain_text("No task is waiting")
    assert api_as(stack, "carla").task(name)["status"] == "Completed"


def test_a_task_is_handed_back_when_the_page_closes_or_the_reviewer_moves_on(
    stack: LocalStack, browser: Browser, tasks: TaskMaker, reviewers: list[Reviewer]
) -> None:
    assert stack.endpoints is not None
    first, second = tasks.make(2, boxes=[MODEL_BOX])
    ben = api_as(stack, "ben")
    ana = reviewer(reviewers, browser, stack)
    ana.sign_in(f"{stack.endpoints.review_page}task.html?name={first}", "ana")
    ana.page.locator("svg[data-ready=true]").wait_for()
    assert ben.task(first)["leaseOwner"]
    ana.page.get_by_role("link", name="All tasks").click()
    expect(ana.page.locator(f"#pending tr[data-task='{first}']")).to_be_visible()
    assert not ben.task(first)["leaseOwner"], "moving on to the list hands the task back"

    ana.page.get_by_role("link", name="Start reviewing").click()
    expect_task(ana.page, first)
    ana.page.close(run_before_unload=True)
    time.sleep(1)
    assert not ben.task(first)["leaseOwner"], "closing the page hands the task back"
    assert not ben.task(second)["leaseOwner"]


def test_a_slow_image_keeps_submit_off_and_a_failed_one_can_be_retried(
    stack: LocalStack, browser: Browser, tasks: TaskMaker, reviewers: list[Reviewer]
) -> None:
    assert stack.endpoints is not None
    (name,) = tasks.make(1, boxes=[MODEL_BOX])
    ana = reviewer(reviewers, browser, stack)
    held: list[Route] = []
    ana.context.route("**/daily-*.jpg*", lambda route: held.append(route))
    answers: list[Request] = []
    ana.page.on("request", lambda r: answers.append(r) if r.url.endswith("/answer") else None)
    ana.sign_in(f"{stack.endpoints.review_page}task.html?name={name}", "ana")
    expect(ana.page.locator("#notice")).to_contain_text("Loading the image")
    expect(ana.page.locator("#submit")).to_be_disabled()
    ana.page.locator("#canvas").focus()
    ana.page.keyboard.press("Control+Enter")
    expect(ana.page.locator("#status")).to_contain_text("still loading")
    assert answers == []

    while not held:
        ana.page.wait_for_timeout(100)
    held.pop().abort("failed")
    expect(ana.page.locator("#notice")).to_contain_text("could not be loaded")
    expect(ana.page.locator("#submit")).to_be_disabled()
    ana.context.unroute("**/daily-*.jpg*")
    ana.page.get_by_role("button", name="Try the image again").click()
    ana.page.locator("svg[data-ready=true]").wait_for()
    expect(ana.page.locator("#submit")).to_be_enabled()


def test_a_completed_task_opens_read_only_with_its_answer_and_a_taken_one_says_by_whom(
    stack: LocalStack, browser: Browser, tasks: TaskMaker, reviewers: list[Reviewer]
) -> None:
    assert stack.endpoints is not None
    done, taken = tasks.make(2, boxes=[MODEL_BOX])
    tasks.answer(done, "ben", [MODEL_BOX])
    held = api_as(stack, "ben").claim(taken)
    ana = reviewer(reviewers, browser, stack)
    ana.sign_in(f"{stack.endpoints.review_page}task.html?name={done}", "ana")
    ana.page.locator("svg[data-ready=true]").wait_for()
    expect(ana.page.locator("body")).to_have_class("task-page read-only")
    (box,) = listed_boxes(ana.page)
    assert near(box, tasks.labels[0], **MODEL_BOX)
    expect(ana.page.locator("#submit")).to_be_hidden()

    ana.page.goto(f"{stack.endpoints.review_page}task.html?name={taken}")
    expect(ana.page.locator("#message-text")).to_contain_text("is working on this task until")
    assert ana.page.locator("#message-text").inner_text().startswith("ben"), "who holds the task"
    until = ana.page.locator("#message-text time").get_attribute("datetime")
    assert until == held["leaseExpiresAt"]


def test_the_list_follows_every_page_keeps_focus_and_the_labels_say_there_are_more(
    stack: LocalStack, browser: Browser, tasks: TaskMaker, reviewers: list[Reviewer]
) -> None:
    assert stack.endpoints is not None
    names = tasks.make(55, boxes=[])
    many_labels = tasks.make(1, boxes=[], labels=[f"label-{i:02d}" for i in range(20)])
    ana = reviewer(reviewers, browser, stack)
    ana.page.clock.install()
    ana.sign_in(stack.endpoints.review_page, "ana")
    expect(ana.page.locator("#pending tbody tr")).to_have_count(56)
    expect(ana.page.locator("#pending-count")).to_have_text("56 for you")
    last = ana.page.locator(f"#pending tr[data-task='{names[-1]}'] a")
    last.focus()
    ana.page.clock.run_for(16_000)
    ana.page.wait_for_function("() => document.body.dataset.refreshes >= '2'")
    assert ana.page.evaluate("document.activeElement.closest('tr')?.dataset.task") == names[-1]

    ana.page.goto(f"{stack.endpoints.review_page}task.html?name={many_labels[0]}")
    ana.page.locator("svg[data-ready=true]").wait_for()
    expect(ana.page.locator("#labels-more")).to_be_visible()
    expect(ana.page.locator("#labels-more")).to_contain_text("more")


def test_the_team_overview_shows_the_queue_and_reviewers_and_stops_and_frees_tasks(
    stack: LocalStack, browser: Browser, tasks: TaskMaker, reviewers: list[Reviewer], tmp_path: Path
) -> None:
    assert stack.endpoints is not None
    answered, held, stopped = tasks.make(3, boxes=[MODEL_BOX])
    tasks.answer(answered, "erin", [MODEL_BOX, DRAWN])
    tasks.api("erin").claim(held)

    ana = reviewer(reviewers, browser, stack)
    ana.sign_in(stack.endpoints.review_page, "ana")
    expect(ana.page.locator("#admin-link")).to_be_hidden()
    ana.page.goto(f"{stack.endpoints.review_page}admin.html")
    expect(ana.page.locator("#problem")).to_contain_text("for the review-admins group")

    dana = reviewer(reviewers, browser, stack)
    dana.sign_in(stack.endpoints.review_page, "dana", admin=True)
    dana.page.get_by_role("link", name="Team overview").click()
    expect(dana.page.locator("#queue-open")).to_have_text("2")
    expect(dana.page.locator("#queue-claimed")).to_have_text("1")
    expect(dana.page.locator("#queue-oldest")).not_to_be_empty()
    expect(dana.page.locator("#budget-day")).to_have_text(re.compile(r"^\d+ (of \d+|\(no limit\))$"))
    # A reviewer is shown by the e-mail they signed in with, not their sign-in subject.
    erin_row = dana.page.locator("#reviewers tbody tr", has_text=f"erin@{LOCAL_EMAIL_DOMAIN}")
    expect(erin_row.locator("td").first).to_have_text(f"erin@{LOCAL_EMAIL_DOMAIN}")
    expect(erin_row.locator("td").nth(1)).to_have_text("1")
    expect(erin_row.locator("td").nth(4)).to_have_text("100%")  # a box added: the model's boxes changed
    expect(dana.page.locator(f"#open-tasks tr[data-task='{held}']")).to_contain_text("erin")

    dana.page.locator(f"#open-tasks tr[data-task='{held}']").get_by_role("button", name="Release").click()
    expect(dana.page.locator("#action-status")).to_contain_text(f"{held} released")
    assert not tasks.api("carla").task(held)["leaseOwner"]
    dana.page.locator(f"#open-tasks tr[data-task='{stopped}']").get_by_role("button", name="Stop").click()
    expect(dana.page.locator("#action-status")).to_contain_text(f"{stopped} stopped")
    assert tasks.api("carla").task(stopped)["status"] == "Stopped"

    with dana.page.expect_download() as download:
        dana.page.get_by_role("button", name="Export CSV").click()
    saved = tmp_path / "team.csv"
    download.value.save_as(saved)
    header, *rows = saved.read_text().splitlines()
    assert "reviewer" in header.lower()
    assert any(
        row.startswith(reviewer_sub("erin")) and row.endswith(f"erin@{LOCAL_EMAIL_DOMAIN}") for row in rows
    ), rows
    dana.page.screenshot(path=str(ADMIN_SCREENSHOT), full_page=True)


def test_the_next_task_flow_and_the_team_overview_have_no_serious_accessibility_violation(
    stack: LocalStack, browser: Browser, tasks: TaskMaker, reviewers: list[Reviewer]
) -> None:
    assert stack.endpoints is not None
    if not AXE.exists():
        pytest.fail(f"axe-core is missing at {AXE}: `npm ci` installs the pinned dev dependencies")
    tasks.make(2, boxes=[MODEL_BOX])
    dana = reviewer(reviewers, browser, stack, bypass_csp=True)
    dana.sign_in(f"{stack.endpoints.review_page}task.html", "dana", admin=True)
    dana.page.locator("svg[data-ready=true]").wait_for()
    assert violations(dana.page) == [], "the first task"
    dana.page.locator("#canvas").focus()
    dana.page.keyboard.press("Control+Enter")
    expect(dana.page.locator("#status")).to_have_text("")
    dana.page.locator("svg[data-ready=true]").wait_for()
    assert violations(dana.page) == [], "the next task, swapped in place"
    dana.page.goto(f"{stack.endpoints.review_page}admin.html")
    expect(dana.page.locator("#overview")).to_be_visible()
    assert violations(dana.page) == [], "the team overview"
    dana.page.goto(stack.endpoints.review_page)
    expect(dana.page.locator("#admin-link")).to_be_visible()
    assert violations(dana.page) == [], "the list with its links to start and to the overview"
