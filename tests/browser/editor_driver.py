"""How the browser tests drive the review page's editor: where the image lies on screen, the boxes
the page lists, drags, and the answers the page sends.
"""

from __future__ import annotations

import json
from typing import Any

from playwright.sync_api import Page

SLACK_PX = 2


def open_task(page: Page) -> None:
    page.locator("svg[data-ready=true]").wait_for()


def image_frame(page: Page) -> tuple[float, float, float]:
    """Where the whole image lies on screen: (left, top, screen pixels per image pixel)."""
    frame = page.locator("#photo").bounding_box()
    assert frame is not None
    width = float(page.locator("#photo").get_attribute("width") or 0)
    return frame["x"], frame["y"], frame["width"] / width


def to_screen(page: Page, x: float, y: float) -> tuple[float, float]:
    left, top, scale = image_frame(page)
    return left + x * scale, top + y * scale


def drag(page: Page, start: tuple[float, float], end: tuple[float, float]) -> None:
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(*end, steps=8)
    page.mouse.up()


def listed_boxes(page: Page) -> list[dict[str, Any]]:
    """The boxes as the page's box list shows them (image pixels)."""
    return [
        json.loads(raw)
        for raw in page.locator("#box-list .coords").evaluate_all(
            "items => items.map(item => item.dataset.box)"
        )
    ]


def near(box: dict[str, Any], label: str, left: int, top: int, width: int, height: int) -> bool:
    return box["label"] == label and all(
        abs(box[key] - value) <= SLACK_PX
        for key, value in (("left", left), ("top", top), ("width", width), ("height", height))
    )


def focused(page: Page) -> str:
    """The focused element, as 'tag#id' or 'tag:accessible text', to say where focus is."""
    return str(
        page.evaluate(
            "() => { const el = document.activeElement;"
            " return el.id ? `${el.localName}#${el.id}` : `${el.localName}:${el.textContent.trim()}`; }"
        )
    )


def tab_to(page: Page, target: str, limit: int = 60) -> None:
    """Press Tab until the element `focused` names `target` has focus (keyboard only)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if focused(page) == target:
            return
    raise AssertionError(f"Tab never reached {target}; focus is on {focused(page)}")


def record_answers(page: Page) -> list[str]:
    """The URLs of the answers the page posts, as they are sent."""
    sent: list[str] = []
    page.on("request", lambda request: sent.append(request.url) if request.method == "POST" else None)
    return sent
