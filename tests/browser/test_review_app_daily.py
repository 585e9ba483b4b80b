"""The review app's daily path in Chromium against the local built-in review service (the stack shared
with the session tests): next task, not a list (swapped in place, its image fetched ahead), one key
to accept or to say "nothing to label", a phone that sees the whole task, work that outlives a lost
lease, leases given back when the page closes, an image that is slow or fails, and the list that
sees every page of tasks. One test per finding of the daily-work audit (docs/review-page.md)."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from axe_driver import AXE, violations
from editor_driver import listed_boxes, near
from playwright.sync_api import Browser, Page, Request, Route, expect
from review_service_driver import LEASE_SECONDS, Reviewer, TaskMaker, draw_box, drop_rocket

from hitl.local.review_service.client import ReviewApiClient, ReviewApiError
from hitl.local.review_service.tokens import LOCAL_EMAIL_DOMAIN, reviewer_sub
from hitl.local.stack import LocalStack
from hitl_core.config import PipelineConfig

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.xdist_group("browser")]

ADMIN_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "images" / "team-overview.png"
PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True}
MODEL_BOX = {"left": 120, "top": 60, "width": 200, "height": 260}
DRAWN = {"left": 300, "top": 100, "width": 120, "height": 200}


@pytest.fixture(scope="module")
def rocket_task(service_stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> str:
    """One photo sent to review through the whole pipeline: the template of the tasks below."""
    view, _ = drop_rocket(service_stack, tmp_path_factory.mktemp("rocket"))
    return next(iter(view.loops))


@pytest.fixture
def tasks(
    service_stack: LocalStack, rocket_task: str, pipeline_config: PipelineConfig
) -> Iterator[TaskMaker]:
    """Makes open tasks of the rocket photo; every task still open at the end is stopped."""
    maker = TaskMaker(service_stack, rocket_task, pipeline_config.offered_labels)
    maker.stop_all_open()
    yield maker
    maker.stop_all_open()


@pytest.fixture
def reviewers(browser: Browser, service_stack: LocalStack) -> Iterator[list[Reviewer]]:
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
    service_stack: LocalStack, browser: Browser, tasks: TaskMaker, reviewers: list[Reviewer]
) -> None:
    assert service_stack.endpoints is not None
    (name,) = tasks.make(1, boxes=[MODEL_BOX])
    ana = reviewer(reviewers, browser, service_stack, **PHONE)
    ana.sign_in(f"{service_stack.endpoints.review_page}task.html?name={name}", "ana")
    ana.page.locator("svg[data-ready=true]").wait_for()
    assert ana.page.evaluate("document.documentElement.scrollWidth") <= 390, "nothing sticks out sideways"
    stage = ana.page.locator("#stage").bounding_box()
    assert stage is not None and stage["width"] >= 380 and stage["height"] >= 300, stage
    for control in ("#submit", "#nothing", "#skip"):
        box = ana.page.locator(control).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, (control, box)
        assert box["y"] + box["height"] <= 844, (control, box)


def test_submit_swaps_in_the_next_task_in_place_with_its_image_fetched_ahead(
    service_stack: LocalStack, browser: Browser, tasks: TaskMaker, reviewers: list[Reviewer]
) -> None:
    """Accept the model's boxes with one key (Ctrl+Enter): the next task is there without a page
    load, its image fetched while the reviewer worked on the first; the last one ends in "nothing
    left"."""
    assert service_stack.endpoints is not None
    first, second = tasks.make(2, boxes=[MODEL_BOX])
    ana = reviewer(reviewers, browser, service_stack)
    loads: list[str] = []
    ana.page.on("load", lambda loaded: loads.append(loaded.url))
    images: list[str] = []
    ana.page.on("request", lambda request: images.append(request.url) if ".jpg" in request.url else None)
    ana.sign_in(f"{service_stack.endpoints.review_page}task.html?name={first}", "ana")
    expect_task(ana.page, first)
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
    assert api_as(service_stack, "ana").task(first)["status"] == "Completed"
    expect(ana.page.locator("#queue-place")).to_contain_text("1 open")

    ana.page.locator("#canvas").focus()
    ana.page.keyboard.press("Control+Enter")
    expect(ana.page.locator("#message-text")).to_contain_text("No task is waiting")
    assert len(loads) == loads_before


def test_nothing_to_label_is_one_key(
    service_stack: LocalStack, browser: Browser, tasks: TaskMaker, reviewers: list[Reviewer]
) -> None:
    """E on a task showing the model's untouched box: answered with no boxes, the next task opens."""
    assert service_stack.endpoints is not None
    first, second = tasks.make(2, boxes=[MODEL_BOX])
    ana = reviewer(reviewers, browser, service_stack)
    ana.sign_in(f"{service_stack.endpoints.review_page}task.html?name={first}", "ana")
    expect_task(ana.page, first)
    ana.page.locator("#canvas").focus()
    ana.page.keyboard.press("e")
    expect_task(ana.page, second)
    (answer,) = api_as(service_stack, "ana").task(first)["answers"]
    assert answer["byYou"] and answer["boundingBoxes"] == []


def test_a_skipped_task_comes_after_the_others(
    service_stack: LocalStack, browser: Browser, tasks: TaskMaker, reviewers: list[Reviewer]
) -> None:
    assert service_stack.endpoints is not None
    first, second, third = tasks.make(3, boxes=[MODEL_BOX])
    ana = reviewer(reviewers, browser, service_stack)
    ana.sign_in(f"{service_stack.endpoints.review_page}task.html?name={first}", "ana")
    expect_task(ana.page, first)
    ana.page.get_by_role("button", name="Skip for now").click()
    expect_task(ana.page, second)
    assert not api_as(service_stack, "ben").task(first)["leaseOwner"], "a skipped task is handed back"

    ana.page.locator("#canvas").focus()
    ana.page.keyboard.press("Control+Enter")
    expect_task(ana.page, third)
    ana.page.locator("#canvas").focus()
    ana.page.keyboard.press("Control+Enter")
    expect_task(ana.page, first)


def test_the_boxes_stay_when_another_reviewer_takes_the_task(
    service_stack: LocalStack,
    browser: Browser,
    tasks: TaskMaker,
    reviewers: list[Reviewer],
    pipeline_config: PipelineConfig,
) -> None:
    """An administrator frees Ana's task and Ben takes it: her next renewal is refused (409), and her
    boxes stay on screen with a note naming Ben."""
    assert service_stack.endpoints is not None
    (name,) = tasks.make(1, boxes=[])
    ana = reviewer(reviewers, browser, service_stack)
    refused: list[int] = []
    ana.page.on(
        "response",
        lambda r: refused.append(r.status) if r.url.endswith(f"/{name}/claim") and r.status == 409 else None,
    )
    ana.sign_in(f"{service_stack.endpoints.review_page}task.html?name={name}", "ana")
    ana.page.locator("svg[data-ready=true]").wait_for()
    draw_box(ana.page, DRAWN)
    tasks.store.admin_release(name, "browser-tests")
    api_as(service_stack, "ben").claim(name)
    deadline = time.time() + LEASE_SECONDS
    while not refused and time.time() < deadline:
        ana.page.wait_for_timeout(500)
    assert refused, "the page never renewed its lease"
    expect(ana.page.locator("#box-list .coords")).to_have_count(1)
    assert near(listed_boxes(ana.page)[0], pipeline_config.offered_labels[0], **DRAWN), "the boxes are kept"
    expect(ana.page.locator("#lease")).to_contain_text("ben")


def test_work_outlives_a_lost_lease_and_is_submitted_after_claiming_again(
    service_stack: LocalStack,
    browser: Browser,
    tasks: TaskMaker,
    reviewers: list[Reviewer],
    pipeline_config: PipelineConfig,
) -> None:
    assert service_stack.endpoints is not None
    (name,) = tasks.make(1, boxes=[])
    ana = reviewer(reviewers, browser, service_stack)
    ana.sign_in(f"{service_stack.endpoints.review_page}task.html?name={name}", "ana")
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
    ben = api_as(service_stack, "ben")
    deadline = time.time() + LEASE_SECONDS * 2
    while time.time() < deadline:
        try:
            ben.claim(name)
            break
        except ReviewApiError:
            ana.page.wait_for_timeout(1000)
    else:
        pytest.fail("the lease never ran out")
    # Ana's lease has ended: her page still tries to renew it (it cannot know the lease is gone).
    lapsed = time.time()
    while not [at for at in failed if at > lapsed] and time.time() < lapsed + LEASE_SECONDS / 2:
        ana.page.wait_for_timeout(500)
    assert [at for at in failed if at > lapsed], f"renewals stopped when the lease ran out: {failed}"
    network["up"] = True
    expect(ana.page.locator("#lease")).to_contain_text("ben", timeout=LEASE_SECONDS * 1000)
    expect(ana.page.locator("#lease")).to_contain_text("until")
    assert near(listed_boxes(ana.page)[0], pipeline_config.offered_labels[0], **DRAWN), "the boxes are kept"

    ben.release(name)
    ana.page.get_by_role("button", name="Claim again and submit").click()
    expect(ana.page.locator("#message-text")).to_contain_text("No task is waiting")
    assert api_as(service_stack, "carla").task(name)["status"] == "Completed"


def test_a_task_is_handed_back_when_the_reviewer_moves_on_to_the_list(
    service_stack: LocalStack, browser: Browser, tasks: TaskMaker, reviewers: list[Reviewer]
) -> None:
    assert service_stack.endpoints is not None
    (name,) = tasks.make(1, boxes=[MODEL_BOX])
    ben = api_as(service_stack, "ben")
    ana = reviewer(reviewers, browser, service_stack)
    ana.sign_in(f"{service_stack.endpoints.review_page}task.html?name={name}", "ana")
    ana.page.locator("svg[data-ready=true]").wait_for()
    assert ben.task(name)["leaseOwner"]
    ana.page.get_by_role("link", name="All tasks").click()
    expect(ana.page.locator(f"#pending tr[data-task='{name}']")).to_be_visible()
    assert not ben.task(name)["leaseOwner"], "moving on to the list hands the task back"

    ana.page.get_by_role("link", name="Start reviewing").click()
    expect_task(ana.page, name)


def test_the_next_task_opened_after_a_submit_is_handed_back_when_the_page_closes(
    service_stack: LocalStack, browser: Browser, tasks: TaskMaker, reviewers: list[Reviewer]
) -> None:
    assert service_stack.endpoints is not None
    first, second = tasks.make(2, boxes=[MODEL_BOX])
    ben = api_as(service_stack, "ben")
    ana = reviewer(reviewers, browser, service_stack)
    ana.sign_in(f"{service_stack.endpoints.review_page}task.html?name={first}", "ana")
    expect_task(ana.page, first)
    ana.page.locator("#canvas").focus()
    ana.page.keyboard.press("Control+Enter")
    expect_task(ana.page, second)
    assert ben.task(second)["leaseOwner"], "the next task is opened for ana"
    ana.page.close(run_before_unload=True)
    time.sleep(1)
    assert not ben.task(second)["leaseOwner"], "closing the page hands the task back"


def test_a_slow_image_keeps_submit_off_until_it_shows(
    service_stack: LocalStack, browser: Browser, tasks: TaskMaker, reviewers: list[Reviewer]
) -> None:
    assert service_stack.endpoints is not None
    (name,) = tasks.make(1, boxes=[MODEL_BOX])
    ana = reviewer(reviewers, browser, service_stack)
    held: list[Route] = []
    network = {"slow": True}

    def slow(route: Route) -> None:
        if network["slow"]:
            held.append(route)
        else:
            route.fallback()

    ana.context.route("**/daily-*.jpg*", slow)
    answers: list[Request] = []
    ana.page.on("request", lambda r: answers.append(r) if r.url.endswith("/answer") else None)
    ana.sign_in(f"{service_stack.endpoints.review_page}task.html?name={name}", "ana")
    while not held:
        ana.page.wait_for_timeout(100)
    expect(ana.page.locator("#submit")).to_be_disabled()
    ana.page.locator("#canvas").focus()
    ana.page.keyboard.press("Control+Enter")
    expect(ana.page.locator("#status")).to_contain_text("still loading")
    assert answers == []
    expect(ana.page.locator("#notice")).to_contain_text("Loading the image")

    network["slow"] = False
    held.pop().fallback()
    ana.page.locator("svg[data-ready=true]").wait_for()
    expect(ana.page.locator("#notice")).to_be_hidden()
    expect(ana.page.locator("#submit")).to_be_enabled()


def test_a_failed_image_can_be_tried_again_and_keeps_submit_off_until_then(
    service_stack: LocalStack, browser: Browser, tasks: TaskMaker, reviewers: list[Reviewer]
) -> None:
    assert service_stack.endpoints is not None
    (name,) = tasks.make(1, boxes=[MODEL_BOX])
    ana = reviewer(reviewers, browser, service_stack)
    ana.context.route("**/daily-*.jpg*", lambda route: route.abort("failed"), times=1)
    ana.sign_in(f"{service_stack.endpoints.review_page}task.html?name={name}", "ana")
    expect(ana.page.locator("#notice")).to_contain_text("could not be loaded")
    retry = ana.page.get_by_role("button", name="Try the image again")
    expect(retry).to_be_visible()
    expect(ana.page.locator("#submit")).to_be_disabled()
    retry.click()
    ana.page.locator("svg[data-ready=true]").wait_for()
    expect(ana.page.locator("#submit")).to_be_enabled()


def test_a_completed_task_opens_read_only_with_its_answer(
    service_stack: LocalStack, browser: Browser, tasks: TaskMaker, reviewers: list[Reviewer]
) -> None:
    assert service_stack.endpoints is not None
    (done,) = tasks.make(1, boxes=[MODEL_BOX])
    tasks.answer(done, "ben", [DRAWN])
    ana = reviewer(reviewers, browser, service_stack)
    ana.sign_in(f"{service_stack.endpoints.review_page}task.html?name={done}", "ana")
    expect(ana.page.locator("body")).to_have_class("task-page read-only")
    ana.page.locator("svg[data-ready=true]").wait_for()
    (box,) = listed_boxes(ana.page)
    assert near(box, tasks.labels[0], **DRAWN), "ben's answer, not the model's box"
    expect(ana.page.locator("#submit")).to_be_hidden()


def test_a_taken_task_says_by_whom_and_until_when(
    service_stack: LocalStack, browser: Browser, tasks: TaskMaker, reviewers: list[Reviewer]
) -> None:
    assert service_stack.endpoints is not None
    (taken,) = tasks.make(1, boxes=[MODEL_BOX])
    held = api_as(service_stack, "ben").claim(taken)
    ana = reviewer(reviewers, browser, service_stack)
    ana.sign_in(f"{service_stack.endpoints.review_page}task.html?name={taken}", "ana")
    expect(ana.page.locator("#message-text")).to_contain_text("is working on this task until")
    assert ana.page.locator("#message-text").inner_text().startswith("ben"), "who holds the task"
    until = ana.page.locator("#message-text time").get_attribute("datetime")
    assert until == held["leaseExpiresAt"]


def test_the_list_and_its_count_follow_every_page(
    service_stack: LocalStack, browser: Browser, tasks: TaskMaker, reviewers: list[Reviewer]
) -> None:
    """56 open tasks, more than the API's page of 50: every one listed and counted."""
    assert service_stack.endpoints is not None
    names = tasks.make(56, boxes=[])
    ana = reviewer(reviewers, browser, service_stack)
    ana.sign_in(service_stack.endpoints.review_page, "ana")
    expect(ana.page.locator("#pending tbody tr")).to_have_count(56)
    expect(ana.page.locator("#pending-count")).to_have_text("56 for you")
    expect(ana.page.locator(f"#pending tr[data-task='{names[-1]}'] a")).to_be_visible()


def test_the_next_task_is_found_past_the_first_page(
    service_stack: LocalStack, browser: Browser, tasks: TaskMaker, reviewers: list[Reviewer]
) -> None:
    """After a submit, the only task free for the reviewer is on the list's second page (the 50
    before it are held by others): it opens next."""
    assert service_stack.endpoints is not None
    first, *others, free = tasks.make(52, boxes=[MODEL_BOX])
    for index, name in enumerate(others):
        tasks.store.claim(name, f"holder-{index}")
    ana = reviewer(reviewers, browser, service_stack)
    ana.sign_in(f"{service_stack.endpoints.review_page}task.html?name={first}", "ana")
    expect_task(ana.page, first)
    ana.page.locator("#canvas").focus()
    ana.page.keyboard.press("Control+Enter")
    expect_task(ana.page, free)


def test_the_list_keeps_the_focus_through_its_refresh(
    service_stack: LocalStack, browser: Browser, tasks: TaskMaker, reviewers: list[Reviewer]
) -> None:
    assert service_stack.endpoints is not None
    names = tasks.make(3, boxes=[])
    ana = reviewer(reviewers, browser, service_stack)
    ana.page.clock.install()
    ana.sign_in(service_stack.endpoints.review_page, "ana")
    last = ana.page.locator(f"#pending tr[data-task='{names[-1]}'] a")
    last.focus()
    ana.page.evaluate("() => { window.rowBefore = document.activeElement.closest('tr'); }")
    ana.page.clock.run_for(16_000)
    ana.page.wait_for_function("() => !document.contains(window.rowBefore)")  # the list was redrawn
    assert ana.page.evaluate("document.activeElement.closest('tr')?.dataset.task") == names[-1]


def test_a_long_label_list_says_there_are_more(
    service_stack: LocalStack, browser: Browser, tasks: TaskMaker, reviewers: list[Reviewer]
) -> None:
    assert service_stack.endpoints is not None
    (name,) = tasks.make(1, boxes=[], labels=[f"label-{i:02d}" for i in range(20)])
    ana = reviewer(reviewers, browser, service_stack)
    ana.sign_in(f"{service_stack.endpoints.review_page}task.html?name={name}", "ana")
    ana.page.locator("svg[data-ready=true]").wait_for()
    expect(ana.page.locator("#labels-more")).to_be_visible()
    expect(ana.page.locator("#labels-more")).to_contain_text("20 labels")


def test_a_photo_named_with_html_runs_no_script_in_the_list_or_on_the_task_page(
    service_stack: LocalStack, browser: Browser, tasks: TaskMaker, reviewers: list[Reviewer]
) -> None:
    assert service_stack.endpoints is not None
    photo = '<img src=x onerror="document.body.dataset.injected=1">.jpg'
    (name,) = tasks.make(1, boxes=[MODEL_BOX], photo=photo)
    ana = reviewer(reviewers, browser, service_stack)
    ana.sign_in(service_stack.endpoints.review_page, "ana")
    expect(ana.page.locator(f"#pending tr[data-task='{name}'] .name")).to_have_text(photo)
    ana.page.locator(f"#pending tr[data-task='{name}'] a").click()
    expect_task(ana.page, name)
    expect(ana.page.locator("#task-title")).to_have_text(photo)
    assert ana.page.locator("img[src='x']").count() == 0, "the file name became markup"
    assert ana.page.evaluate("document.body.dataset.injected") is None


def test_the_team_overview_shows_the_queue_and_reviewers_and_stops_and_frees_tasks(
    service_stack: LocalStack, browser: Browser, tasks: TaskMaker, reviewers: list[Reviewer], tmp_path: Path
) -> None:
    assert service_stack.endpoints is not None
    answered, held, stopped = tasks.make(3, boxes=[MODEL_BOX])
    tasks.answer(answered, "erin", [MODEL_BOX, DRAWN])
    tasks.api("erin").claim(held)

    ana = reviewer(reviewers, browser, service_stack)
    ana.sign_in(service_stack.endpoints.review_page, "ana")
    expect(ana.page.locator("#admin-link")).to_be_hidden()
    ana.page.goto(f"{service_stack.endpoints.review_page}admin.html")
    expect(ana.page.locator("#problem")).to_contain_text("for the review-admins group")

    dana = reviewer(reviewers, browser, service_stack)
    dana.sign_in(service_stack.endpoints.review_page, "dana", admin=True)
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
    if os.environ.get("HITL_WRITE_DOCS") == "1":  # the docs' picture, retaken on request only
        dana.page.screenshot(path=str(ADMIN_SCREENSHOT), full_page=True)


def test_the_next_task_flow_and_the_team_overview_have_no_serious_accessibility_violation(
    service_stack: LocalStack, browser: Browser, tasks: TaskMaker, reviewers: list[Reviewer]
) -> None:
    assert service_stack.endpoints is not None
    if not AXE.exists():
        pytest.fail(f"axe-core is missing at {AXE}: `npm ci` installs the pinned dev dependencies")
    tasks.make(2, boxes=[MODEL_BOX])
    dana = reviewer(reviewers, browser, service_stack, bypass_csp=True)
    dana.sign_in(f"{service_stack.endpoints.review_page}task.html", "dana", admin=True)
    dana.page.locator("svg[data-ready=true]").wait_for()
    assert violations(dana.page) == [], "the first task"
    dana.page.locator("#canvas").focus()
    dana.page.keyboard.press("Control+Enter")
    expect(dana.page.locator("#status")).to_have_text("")
    dana.page.locator("svg[data-ready=true]").wait_for()
    assert violations(dana.page) == [], "the next task, swapped in place"
    dana.page.goto(f"{service_stack.endpoints.review_page}admin.html")
    expect(dana.page.locator("#overview")).to_be_visible()
    assert violations(dana.page) == [], "the team overview"
    dana.page.goto(service_stack.endpoints.review_page)
    expect(dana.page.locator("#admin-link")).to_be_visible()
    assert violations(dana.page) == [], "the list with its links to start and to the overview"
