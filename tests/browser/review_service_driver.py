"""How the browser tests drive the review app against the local stack's built-in review service:
a reviewer in a browser context of their own, a photo dropped for review, drags on the image."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from urllib.parse import urlsplit

from e2e.e2e_helpers import all_decided, watch
from editor_driver import drag, to_screen
from playwright.sync_api import Browser, BrowserContext, Page, Route, expect

from hitl.local.pipeline_view import PipelineView
from hitl.local.sample_photos import copy_sample_photos
from hitl.local.stack import LocalStack

VIEWPORT = {"width": 1280, "height": 800}


class Reviewer:
    """A browser context of its own (its own storage: another person), failing on script errors and
    on any request that leaves the machine."""

    def __init__(self, browser: Browser) -> None:
        self.context: BrowserContext = browser.new_context(viewport=VIEWPORT)
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

    def sign_in(self, url: str, name: str) -> None:
        self.page.goto(url)
        self.fill_sign_in(name)

    def fill_sign_in(self, name: str) -> None:
        """Answer the local sign-in stand-in's form the page is on, and wait to be back signed in."""
        expect(self.page.locator(".local-banner")).to_contain_text("sign-in stand-in")
        self.page.get_by_label("Reviewer name").fill(name)
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
