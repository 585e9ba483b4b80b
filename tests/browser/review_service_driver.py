"""How the browser tests drive the review app against the local stack's built-in review service:
a reviewer in a browser context of their own, a photo dropped for review, drags on the image."""

from __future__ import annotations

import json
import shutil
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from e2e.e2e_helpers import all_decided, watch
from editor_driver import drag, to_screen
from playwright.sync_api import Browser, BrowserContext, Page, Route, expect

from hitl.local.pipeline_view import PipelineView
from hitl.local.review_service.client import ReviewApiClient
from hitl.local.sample_photos import copy_sample_photos
from hitl.local.stack import LocalStack
from hitl_aws.review_task_table import ReviewTaskTable
from hitl_core.review_tasks import TaskStatus, new_task
from hitl_review_service.task_store import TaskStore, utc_now

VIEWPORT = {"width": 1280, "height": 800}
TOKEN_SECONDS = 20
"""The shared stack's ID token lifetime (conftest.py's service_stack): a task outlives a token."""
LEASE_SECONDS = 20
"""The shared stack's lease: it runs out within a test."""


class Reviewer:
    """A browser context of its own (its own storage: another person), failing on script errors and
    on any request that leaves the machine."""

    def __init__(self, browser: Browser, **options: Any) -> None:
        self.context: BrowserContext = browser.new_context(**{"viewport": VIEWPORT, **options})
        self.outside: list[str] = []
        self.errors: list[str] = []
        self.context.route("**/*", self._loopback_only)
        self.page: Page = self.context.new_page()
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))

    def _loopback_only(self, route: Route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1" or route.request.url.startswith("data:"):
            route.continue_()
        else:
            self.outside.append(route.request.url)
            route.abort()

    def sign_in(self, url: str, name: str, admin: bool = False) -> None:
        self.page.goto(url)
        self.fill_sign_in(name, admin)

    def fill_sign_in(self, name: str, admin: bool = False) -> None:
        """Answer the local sign-in stand-in's form the page is on (`admin`: in the review-admins
        group too), and wait to be back signed in."""
        expect(self.page.locator(".local-banner")).to_contain_text("sign-in stand-in")
        self.page.get_by_label("Reviewer name").fill(name)
        if admin:
            self.page.get_by_label("Administrator").check()
        self.page.get_by_role("button", name="Sign in").click()
        expect(self.page.locator("#signed-in")).to_have_text(f"Signed in as {name}")
        expect(self.page.locator(".local-badge")).to_be_visible()

    def close(self) -> None:
        self.context.close()
        assert not self.errors, f"script errors on the page: {self.errors}"
        assert not self.outside, f"the page asked for files from outside the machine: {self.outside}"


def draw_box(page: Page, box: dict[str, int]) -> None:
    """Draw `box` (image pixels: left, top, width, height) with the Draw box tool."""
    page.get_by_role("button", name="Draw box").click()
    right, bottom = box["left"] + box["width"], box["top"] + box["height"]
    drag(page, to_screen(page, box["left"], box["top"]), to_screen(page, right, bottom))


def drop_rocket(stack: LocalStack, folder: Path) -> tuple[PipelineView, str]:
    """scikit-image's rocket photo, on which the detector finds nothing: it goes to review."""
    assert stack.endpoints is not None and stack.resources is not None
    photos = folder / f"photos-{uuid.uuid4().hex[:8]}"
    photos.mkdir(parents=True)
    samples = copy_sample_photos(photos / "samples")
    shutil.copy(next(p for p in samples if p.name == "rocket.jpg"), photos)
    key = f"{stack.settings.config.prefixes.incoming}browser-{uuid.uuid4().hex[:8]}/rocket.jpg"
    body = (photos / "rocket.jpg").read_bytes()
    stack.client("s3").put_object(
        Bucket=stack.endpoints.names.input_bucket, Key=key, Body=body, ContentType="image/jpeg"
    )
    view = PipelineView([key])
    watch(stack.client, stack.resources.events_queue.url, view, all_decided, timeout=60)
    assert len(view.loops) == 1, view.images
    return view, key


class TaskMaker:
    """Open review tasks written straight to the local task table, each a copy of a task the pipeline
    made (its photo, its InputContent) with the model boxes and labels a test asks for."""

    def __init__(self, stack: LocalStack, template: str, labels: list[str]) -> None:
        assert stack.endpoints is not None and stack.endpoints.review_api and stack.review_tokens
        names = stack.settings.names
        self.table = ReviewTaskTable(stack.client("dynamodb"), names.review_tasks_table, stack.client("s3"))
        self.store = TaskStore(self.table, stack.settings.review_timing)
        found = self.table.get(template)
        assert found is not None, template
        self.template = json.loads(found.input_content)
        self.labels = labels
        self._s3 = stack.client("s3")
        self._api, self._tokens = stack.endpoints.review_api, stack.review_tokens

    def make(
        self,
        count: int,
        boxes: list[dict[str, int]],
        labels: list[str] | None = None,
        photo: str | None = None,
    ) -> list[str]:
        """`count` new open tasks, oldest first, each proposing `boxes` (of the first label); `photo`
        names the image file (default: `<task name>.jpg`)."""
        offered = labels or self.labels
        content = {
            **self.template,
            "labels": offered,
            "initialValue": [{"label": offered[0], **box} for box in boxes],
            "initialScores": [0.5 for _ in boxes],
        }
        names = []
        for _ in range(count):
            name = f"daily-{uuid.uuid4().hex[:12]}"
            assert self.table.create(
                new_task(name, json.dumps({**content, **self._own_photo(photo or f"{name}.jpg")}), utc_now())
            )
            names.append(name)
            time.sleep(0.002)  # one millisecond apart at least: the list's order is theirs
        return names

    def _own_photo(self, file_name: str) -> dict[str, Any]:
        """A copy of the template's photo under the task's own key: each task its own image URL."""
        source = self.template["source"]
        key = f"browser-tests/{file_name}"  # outside the incoming prefix: no review of its own
        copied = self._s3.copy_object(
            Bucket=source["bucket"], Key=key, CopySource={"Bucket": source["bucket"], "Key": source["key"]}
        )
        version = copied.get("VersionId") or copied["CopyObjectResult"]["ETag"].strip('"')
        return {
            "taskObject": f"s3://{source['bucket']}/{key}",
            "source": {**source, "key": key, "version": version},
        }

    def api(self, reviewer: str) -> ReviewApiClient:
        return ReviewApiClient(self._api, self._tokens.issue(reviewer))

    def answer(self, name: str, reviewer: str, boxes: list[dict[str, int]]) -> None:
        """`reviewer` claims the task and answers it with `boxes` (of the first label)."""
        size = self.template["imageSize"]
        api = self.api(reviewer)
        api.claim(name)
        result = {
            "boundingBoxes": [{"label": self.labels[0], **box} for box in boxes],
            "inputImageProperties": {"width": size["width"], "height": size["height"]},
        }
        api.answer(name, {"answerContent": {"annotatedResult": result}})

    def stop_all_open(self) -> None:
        """Stop every open task, so the next test starts from an empty queue."""
        for task in list(self.table.all_in(TaskStatus.IN_PROGRESS)):
            self.store.stop(task.loop_name, "browser-tests")
