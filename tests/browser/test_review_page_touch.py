"""The review page on a 390x844 touch phone: the image takes the screen, the panel is a bottom sheet,
resize handles are big enough for a finger, and pinching zooms.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from editor_driver import listed_boxes, open_task, to_screen
from playwright.sync_api import Page, expect

from hitl_core.detections import Box, Detection, ImageSize

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True}
CAT_SIZE = ImageSize(1353, 900)
CAT = Detection("cat", 0.64, Box(240, 150, 720, 720))
MIN_TARGET_PX = 24


def frame(page: Page, selector: str) -> dict[str, float]:
    box = page.locator(selector).first.bounding_box()
    assert box is not None, selector
    return box


def overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return (
        a["x"] < b["x"] + b["width"] - 0.5
        and b["x"] < a["x"] + a["width"] - 0.5
        and a["y"] < b["y"] + b["height"] - 0.5
        and b["y"] < a["y"] + a["height"] - 0.5
    )


def pinch(page: Page, centre: tuple[float, float], start_gap: float, end_gap: float, steps: int = 8) -> None:
    """Two fingers on the screen moving apart (or together), as Chromium's touch input delivers them."""
    cdp = page.context.new_cdp_session(page)
    x, y = centre

    def fingers(gap: float) -> list[dict[str, float]]:
        return [{"x": x - gap / 2, "y": y, "id": 0}, {"x": x + gap / 2, "y": y, "id": 1}]

    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": fingers(start_gap)})
    for step in range(1, steps + 1):
        gap = start_gap + (end_gap - start_gap) * step / steps
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": fingers(gap)})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


def test_a_phone_gets_the_image_a_bottom_sheet_big_handles_and_pinch_zoom(
    review_stack: Any, new_page: Callable[..., Page]
) -> None:
    page = new_page(**PHONE)
    cat = review_stack.start_loop("chelsea", CAT_SIZE, [CAT])
    page.goto(f"{review_stack.url}/tasks/{cat}")
    open_task(page)

    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "nothing sticks out sideways"
    stage, panel, toolbar = frame(page, "#stage"), frame(page, ".panel"), frame(page, ".toolbar")
    assert stage["width"] >= 380 and stage["height"] >= 400, f"the image gets the screen: {stage}"
    assert panel["y"] >= stage["y"] + stage["height"] - 1, "the panel is a sheet below the image"
    assert panel["y"] + panel["height"] <= 844 + 0.5
    assert toolbar["y"] + toolbar["height"] <= stage["y"] + 0.5
    submit = frame(page, "#submit")
    assert submit["y"] + submit["height"] <= 844 and submit["height"] >= MIN_TARGET_PX
    controls = [
        box
        for box in page.locator(".toolbar button:visible, .submit-row button:visible").evaluate_all(
            "els => els.map(el => { const r = el.getBoundingClientRect();"
            " return {x: r.x, y: r.y, width: r.width, height: r.height}; })"
        )
        if box["x"] < 390 and box["x"] + box["width"] > 0
    ]
    assert len(controls) >= 5
    for i, a in enumerate(controls):
        assert a["height"] >= MIN_TARGET_PX, f"a control is {a['height']} px tall"
        for b in controls[i + 1 :]:
            assert not overlap(a, b), f"controls overlap: {a} {b}"

    # Tap the box: its handles are finger-sized.
    page.touchscreen.tap(*to_screen(page, 600, 500))
    expect(page.locator(".box.selected")).to_have_count(1)
    handles = page.locator(".handle").evaluate_all(
        "els => els.map(el => { const r = el.getBoundingClientRect(); return [r.width, r.height]; })"
    )
    assert len(handles) == 8
    assert all(min(size) >= MIN_TARGET_PX for size in handles), handles
    assert listed_boxes(page) == [{"label": "cat", **CAT.box.to_dict()}], "a tap does not move the box"

    # Pinch open around the middle of the image: it is shown larger.
    zoom_before = page.locator("#zoom-level").inner_text()
    width_before = frame(page, "#photo")["width"]
    pinch(page, (stage["x"] + stage["width"] / 2, stage["y"] + stage["height"] / 2), 60, 180)
    assert frame(page, "#photo")["width"] > width_before * 2
    assert page.locator("#zoom-level").inner_text() != zoom_before
    assert listed_boxes(page) == [{"label": "cat", **CAT.box.to_dict()}], "pinching does not move boxes"

    # The sheet opens to show the labels and boxes.
    expect(page.locator("#box-list")).to_be_hidden()
    page.get_by_role("button", name="Boxes and labels").tap()
    expect(page.get_by_role("button", name="Boxes and labels")).to_have_attribute("aria-expanded", "true")
    expect(page.locator("#box-list")).to_be_visible()
    stage_open = frame(page, "#stage")
    assert stage_open["height"] >= 200, "the image keeps room with the sheet open"
