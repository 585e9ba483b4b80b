"""Browser-test fixtures: Debian's headless Chromium, the review page in front of the real local
A2I runtime (moto S3 and EventBridge behind it), each served on a loopback port, and the local stack
with the built-in review service.
"""

from __future__ import annotations

import io
import json
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

import boto3
import pytest
from e2e.e2e_helpers import MODEL_DIR
from PIL import Image
from playwright.sync_api import Browser, BrowserContext, Page, Route, sync_playwright
from review_service_driver import LEASE_SECONDS, TOKEN_SECONDS
from skimage import data as sample_photos

from hitl.local.a2i import EventBridgeEmitter, FlowDefinition, LoopStore, S3OutputWriter, create_a2i_app
from hitl.local.review_page import create_review_app
from hitl.local.review_service.site import TOKEN_LIFETIME
from hitl.local.servers import BackgroundServer
from hitl.local.stack import LocalStack, StackSettings
from hitl_core.config import PipelineConfig
from hitl_core.detections import Detection, ImageDetections, ImageSize
from hitl_core.human_loop import build_input_content, serialize_input_content
from hitl_core.review_tasks import ReviewTiming

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 800}
FLOW_ARN = "arn:aws:sagemaker:us-east-1:123456789012:flow-definition/review-page-tests"


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """Serve a WSGI app on a free loopback port for the duration of the block."""
    with BackgroundServer("review-page-test", app, "127.0.0.1", 0) as server:
        yield server.url


def photo(name: str, width: int, height: int) -> bytes:
    """A real photo shipped with scikit-image, resized to width x height, as JPEG."""
    image = Image.fromarray(getattr(sample_photos, name)()).convert("RGB").resize((width, height))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=88)
    return out.getvalue()


@dataclass
class ReviewStack:
    """The review page and the A2I runtime it talks to, with helpers to start loops and read answers."""

    url: str
    a2i: Any
    s3: Any
    input_bucket: str
    labels: list[str]

    def start_loop(
        self,
        name: str,
        size: ImageSize,
        detections: list[Detection],
        labels: list[str] | None = None,
        picture: str | None = None,
    ) -> str:
        """Upload scikit-image's photo `picture` (default: `name`) at `size` and start loop `name`
        for it (real StartHumanLoop).

        The task offers `labels` (default: the configuration's review labels); boxes of others are hidden.
        """
        key = f"incoming/{name}.jpg"
        image = photo(picture or name, size.width, size.height)
        self.s3.put_object(Bucket=self.input_bucket, Key=key, Body=image, ContentType="image/jpeg")
        content = build_input_content(
            task_object=f"s3://{self.input_bucket}/{key}",
            shown=ImageDetections(size, tuple(detections)),
            labels=self.labels if labels is None else labels,
            source={"bucket": self.input_bucket, "key": key, "version": "1"},
            model={"endpoint": "review-page-tests"},
        )
        self.a2i.start_human_loop(
            HumanLoopName=name,
            FlowDefinitionArn=FLOW_ARN,
            HumanLoopInput={"InputContent": serialize_input_content(content)},
        )
        return name

    def output(self, name: str) -> dict[str, Any]:
        """The loop's output.json, where the runtime wrote it (as the review-complete Lambda reads it)."""
        uri = self.a2i.describe_human_loop(HumanLoopName=name)["HumanLoopOutput"]["OutputS3Uri"]
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        return json.loads(self.s3.get_object(Bucket=bucket, Key=key)["Body"].read())


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip(f"Debian's Chromium is not installed at {CHROMIUM} (`make browser` installs it)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def new_page(browser: Browser) -> Iterator[Callable[..., Page]]:
    """Opens pages in fresh contexts (keyword arguments: Playwright's context options).

    A script error, or any request leaving the machine, fails the test.
    """
    contexts: list[BrowserContext] = []
    outside: list[str] = []
    errors: list[str] = []

    def loopback_only(route: Route) -> None:
        host = urlsplit(route.request.url).hostname
        if host == "127.0.0.1" or route.request.url.startswith("data:"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    def open_page(**options: Any) -> Page:
        context = browser.new_context(**{"viewport": VIEWPORT, **options})
        contexts.append(context)
        context.route("**/*", loopback_only)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert not errors, f"script errors on the page: {errors}"
    assert not outside, f"the page asked for files from outside the machine: {outside}"


@pytest.fixture
def page(new_page: Callable[..., Page]) -> Page:
    """A fresh desktop-sized page."""
    return new_page()


@pytest.fixture
def review_stack(moto_server_url: str, tmp_path: Path, pipeline_config: Any) -> Iterator[ReviewStack]:
    """The real A2I runtime (state in tmp_path) and the review page, on their own buckets."""
    suffix = uuid.uuid4().hex[:10]
    s3 = boto3.client("s3", endpoint_url=moto_server_url)
    events = boto3.client("events", endpoint_url=moto_server_url)
    input_bucket, output_bucket = f"review-input-{suffix}", f"review-output-{suffix}"
    for bucket in (input_bucket, output_bucket):
        s3.create_bucket(Bucket=bucket)
    store = LoopStore(tmp_path / "a2i")
    runtime = create_a2i_app(
        store,
        S3OutputWriter(s3),
        EventBridgeEmitter(events),
        flow_definitions=[FlowDefinition(FLOW_ARN, f"s3://{output_bucket}/a2i-output")],
    )
    with serving(runtime) as a2i_url, serving(create_review_app(a2i_url, s3)) as review_url:
        a2i = boto3.client("sagemaker-a2i-runtime", endpoint_url=a2i_url)
        yield ReviewStack(review_url, a2i, s3, input_bucket, pipeline_config.offered_labels)
    store.close()


@pytest.fixture(scope="session")
def service_stack(
    tmp_path_factory: pytest.TempPathFactory, pipeline_config: PipelineConfig
) -> Iterator[LocalStack]:
    """The local stack with the built-in review service, shared by the review app's session and daily
    tests: short-lived ID tokens, short leases and a lifecycle sweep every two seconds (a lapsed
    lease is handed back at once). Each test leaves no task open."""
    local = LocalStack(
        StackSettings(
            config=pipeline_config,
            state_dir=tmp_path_factory.mktemp("service") / "state",
            model_dir=MODEL_DIR,
            visibility_timeout_seconds=5,
            review_timing=ReviewTiming(lease_seconds=LEASE_SECONDS, availability_seconds=86_400),
            review_sweep_seconds=2.0,
        ),
        on_line=print,
    )
    # The review site's process reads the tokens' lifetime from the environment it starts with.
    with mock.patch.dict(os.environ, {TOKEN_LIFETIME: str(TOKEN_SECONDS)}):
        local.start()
    yield local
    local.stop()
