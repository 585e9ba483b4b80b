"""How long the review page's editor takes per drag step and per arrow-key nudge among 200 boxes
(prints figures), in headless Chromium, against the editor before issue #15 on the same page.

The real review page and local A2I runtime (moto S3 and EventBridge behind them) serve a task
whose model proposed 200 boxes on a 1800x1200 photo. Playwright moves the real mouse and presses
the real keys; the page times each input event from its first listener (capture on window) to
after its last (bubble on window) plus a forced style and layout, so a figure is the script,
style and layout work one step costs (the paint after it is not in it). One frame at 60 Hz is
16.7 ms. Beside it, Chromium's own count of main-thread task time (its Performance domain's
TaskDuration) over all the steps, divided by their number, includes the paint too (and the
input's dispatch). The baseline loads the editor as of the commit before #15 from git into the
same page.
Run: `.venv/bin/python -m benchmarks.review_editor`.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import random
import statistics
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
from moto.server import ThreadedMotoServer
from PIL import Image
from playwright.sync_api import Page, Route, sync_playwright
from skimage import data as sample_photos

from hitl.local.a2i import EventBridgeEmitter, FlowDefinition, LoopStore, S3OutputWriter, create_a2i_app
from hitl.local.review_page import create_review_app
from hitl.local.servers import BackgroundServer
from hitl_core.config import config_from_file
from hitl_core.detections import Box, Detection, ImageDetections, ImageSize
from hitl_core.human_loop import build_input_content, serialize_input_content

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
VIEWPORT = {"width": 1280, "height": 800}
FRAME_MS = 16.7
BOXES = 200
IMAGE = ImageSize(1800, 1200)
FLOW_ARN = "arn:aws:sagemaker:us-east-1:123456789012:flow-definition/review-editor-benchmark"
PROJECT_ROOT = Path(__file__).resolve().parents[1]
# The last commit with the editor as it was when issue #15 was filed (whole box list rebuilt on each change).
BASELINE_COMMIT = "ae46b69"
BASELINE_PATH = "hitl/local/review_page/static/editor.js"

# Times every input event of `kind` from the first listener to after the last, with style and layout.
TIMER = """kind => {
  window.__steps = [];
  let started = 0;
  window.addEventListener(kind, () => { started = performance.now(); }, { capture: true });
  window.addEventListener(kind, () => {
    document.documentElement.getBoundingClientRect();
    document.getElementById('boxes').getBBox();
    window.__steps.push(performance.now() - started);
  });
}"""


def _labels() -> list[str]:
    """The labels the project's configuration offers reviewers: each box row lists them all."""
    return config_from_file(PROJECT_ROOT / "cdk.json").offered_labels


def _boxes(count: int, labels: list[str], seed: int = 15) -> list[Detection]:
    """`count` boxes of assorted sizes spread over the image, as a busy street scene gives."""
    rng = random.Random(seed)
    found = []
    for i in range(count):
        width, height = rng.randint(30, 260), rng.randint(30, 260)
        left, top = rng.randint(0, IMAGE.width - width), rng.randint(0, IMAGE.height - height)
        score = round(rng.uniform(0.3, 0.9), 2)
        found.append(Detection(labels[i % len(labels)], score, Box(left, top, width, height)))
    return found


def _photo() -> bytes:
    image = Image.fromarray(sample_photos.coffee()).convert("RGB").resize((IMAGE.width, IMAGE.height))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=88)
    return out.getvalue()


@contextmanager
def _review_page(boxes: list[Detection], labels: list[str]) -> Iterator[str]:
    """The review page's URL of a task holding `boxes`, served with the runtime behind it."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    clients = {
        "endpoint_url": f"http://{host}:{port}",
        "region_name": "us-east-1",
        "aws_access_key_id": "benchmark",
        "aws_secret_access_key": "benchmark",
    }
    s3, events = boto3.client("s3", **clients), boto3.client("events", **clients)
    suffix = uuid.uuid4().hex[:10]
    bucket = f"review-editor-{suffix}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="incoming/street.jpg", Body=_photo(), ContentType="image/jpeg")
    try:
        with tempfile.TemporaryDirectory(prefix="hitl-bench-") as state:
            store = LoopStore(Path(state))
            runtime = create_a2i_app(
                store,
                S3OutputWriter(s3),
                EventBridgeEmitter(events),
                flow_definitions=[FlowDefinition(FLOW_ARN, f"s3://{bucket}/a2i-output")],
            )
            with (
                BackgroundServer("benchmark-a2i", runtime, "127.0.0.1", 0) as a2i,
                BackgroundServer("benchmark-review", create_review_app(a2i.url, s3), "127.0.0.1", 0) as page,
            ):
                content = build_input_content(
                    task_object=f"s3://{bucket}/incoming/street.jpg",
                    shown=ImageDetections(IMAGE, tuple(boxes)),
                    labels=labels,
                    source={"bucket": bucket, "key": "incoming/street.jpg", "version": "1"},
                    model={"endpoint": "review-editor-benchmark"},
                )
                a2i_client = boto3.client("sagemaker-a2i-runtime", **{**clients, "endpoint_url": a2i.url})
                a2i_client.start_human_loop(
                    HumanLoopName="street",
                    FlowDefinitionArn=FLOW_ARN,
                    HumanLoopInput={"InputContent": serialize_input_content(content)},
                )
                yield f"{page.url}/tasks/street"
            store.close()
    finally:
        moto.stop()


def _baseline_editor() -> str | None:
    """The editor's source before #15, from git; None outside a clone that has that commit."""
    shown = subprocess.run(
        ["git", "show", f"{BASELINE_COMMIT}:{BASELINE_PATH}"],
        capture_output=True,
        text=True,
        check=False,
        cwd=PROJECT_ROOT,
    )
    return shown.stdout if shown.returncode == 0 else None


def _summary(steps: list[float]) -> dict[str, float]:
    ordered = sorted(steps)
    return {
        "median_ms": round(statistics.median(ordered), 2),
        "p95_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))], 2),
        "max_ms": round(ordered[-1], 2),
        "steps": len(ordered),
    }


def _largest_box_centre(page: Page) -> tuple[float, float]:
    """The screen point in the middle of the largest box (a smaller box drawn over it there is what moves)."""
    found = page.evaluate(
        """() => {
          const groups = [...document.querySelectorAll('#boxes .box')];
          const rect = groups[0].querySelector('.box-rect').getBoundingClientRect();
          return [rect.x + rect.width / 2, rect.y + rect.height / 2];
        }"""
    )
    return found[0], found[1]


LISTED = "() => [...document.querySelectorAll('#box-list .coords')].map(c => c.dataset.box)"


def _moved(before: list[str], after: list[str]) -> int:
    return sum(1 for old, new in zip(before, after, strict=True) if old != new)


def _main_thread_ms(cdp: Any) -> float:
    """Chromium's running total of the page's main-thread task time (script, style, layout, paint)."""
    metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    return float(metrics["TaskDuration"]) * 1000


def _measure(page: Page, url: str, steps: int) -> dict[str, Any]:
    cdp = page.context.new_cdp_session(page)
    cdp.send("Performance.enable")
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)
    page.locator("svg[data-ready=true]").wait_for()
    start = page.evaluate(LISTED)
    # Whether the editor rebuilds the box list on a change: its first row is then a new element.
    page.evaluate("() => { window.__firstRow = document.querySelector('#box-list li'); }")
    # Drag: the box under the middle of the largest one, moved step by step.
    page.evaluate(TIMER, "pointermove")
    x, y = _largest_box_centre(page)
    page.mouse.move(x, y)
    page.evaluate("() => { window.__steps = []; }")
    page.mouse.down()
    main_thread = _main_thread_ms(cdp)
    for i in range(steps):
        page.mouse.move(x + (i + 1) * 0.5, y + (i % 3))
    drag_main = (_main_thread_ms(cdp) - main_thread) / steps
    page.mouse.up()
    drag = page.evaluate("() => window.__steps")
    dragged = page.evaluate(LISTED)
    # Nudge: the selected box moved 1 px per arrow key, with the image focused.
    page.evaluate(TIMER, "keydown")
    page.locator("#canvas").focus()
    page.evaluate("() => { window.__steps = []; }")
    main_thread = _main_thread_ms(cdp)
    for i in range(steps):
        page.keyboard.press("ArrowRight" if i % 2 == 0 else "ArrowDown")
    nudge_main = (_main_thread_ms(cdp) - main_thread) / steps
    nudge = page.evaluate("() => window.__steps")
    nudged = page.evaluate(LISTED)
    list_rebuilt = page.evaluate("() => !window.__firstRow.isConnected")
    if errors:
        raise RuntimeError(f"the editor failed: {errors}")
    return {
        "box_list_rebuilt": list_rebuilt,
        "drag": {
            **_summary(drag),
            "main_thread_ms": round(drag_main, 2),
            "boxes_moved": _moved(start, dragged),
        },
        "nudge": {
            **_summary(nudge),
            "main_thread_ms": round(nudge_main, 2),
            "boxes_moved": _moved(dragged, nudged),
        },
    }


def run(boxes: int = BOXES, steps: int = 120) -> dict[str, Any]:
    """Drag and nudge figures of the current editor and, when git has it, of the one before #15."""
    if not CHROMIUM.exists():
        return {"skipped": f"Debian's Chromium is not installed at {CHROMIUM} (`make browser` installs it)"}
    baseline = _baseline_editor()
    results: dict[str, Any] = {"boxes": boxes, "steps": steps, "frame_ms": FRAME_MS}
    labels = _labels()
    results["labels"] = len(labels)
    with _review_page(_boxes(boxes, labels), labels) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            results["current"] = _measure(page, url, steps)
            page.close()
            if baseline is not None:
                old = browser.new_page(viewport=VIEWPORT)

                def serve_baseline(route: Route) -> None:
                    route.fulfill(body=baseline, content_type="text/javascript")

                old.route("**/editor.js", serve_baseline)
                results["before_15"] = _measure(old, url, steps)
                results["before_15"]["commit"] = BASELINE_COMMIT
                old.close()
        finally:
            browser.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--boxes", type=int, default=BOXES)
    parser.add_argument("--steps", type=int, default=120)
    args = parser.parse_args()
    print(json.dumps(run(args.boxes, args.steps), indent=2))


if __name__ == "__main__":
    main()
