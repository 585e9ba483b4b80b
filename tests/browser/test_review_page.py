"""The review page in headless Chromium, against the real local A2I runtime.

Images are shown at about half their pixel size, so a box recorded in screen pixels instead
of the image's own pixels would be off by a factor of two and fail these tests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from editor_driver import drag, image_frame, listed_boxes, near, open_task, to_screen
from playwright.sync_api import Page, expect

from hitl_core.detections import Box, Detection, ImageSize
from hitl_core.manifest import ground_truth_line, validate_line

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "images" / "review-page.png"
COFFEE_SIZE = ImageSize(1800, 1200)
CAT_SIZE = ImageSize(1353, 900)
CUP = Detection("cup", 0.58, Box(420, 100, 720, 855))
SAUCER_AS_BOWL = Detection("bowl", 0.34, Box(225, 240, 1215, 915))
CAT = Detection("cat", 0.64, Box(240, 150, 720, 720))
STROKE_PX = 2.5  # a drawn outline is 2 screen px wide: its bounding box grows by that much


def thumbnails_loaded(page: Page) -> None:
    page.wait_for_function(
        "() => [...document.querySelectorAll('table img')].every(img => img.complete && img.naturalWidth > 0)"
    )


def test_reviewer_fixes_boxes_and_the_manifest_line_holds_them_in_image_pixels(
    review_stack: Any, page: Page, pipeline_config: Any
) -> None:
    coffee = review_stack.start_loop(
        "coffee",
        COFFEE_SIZE,
        [CUP, SAUCER_AS_BOWL],
        labels=[*review_stack.labels[:7], "cup", "bowl", "spoon"],
    )
    cat = review_stack.start_loop("chelsea", CAT_SIZE, [CAT])
    stopped = review_stack.start_loop("astronaut", ImageSize(1024, 1024), [])
    review_stack.a2i.stop_human_loop(HumanLoopName=stopped)

    page.goto(review_stack.url)
    pending = page.get_by_role("table", name="Pending").locator("tbody tr")
    expect(pending).to_have_count(2)
    expect(pending.nth(0)).to_contain_text("coffee.jpg")
    expect(pending.nth(0)).to_contain_text("cup 0.58")
    expect(pending.nth(0)).to_contain_text("just now")
    expect(pending.nth(1)).to_contain_text("cat 0.64")
    expect(page.get_by_role("table", name="Stopped")).to_contain_text("astronaut.jpg")
    thumbnails_loaded(page)

    page.get_by_role("link", name="coffee.jpg").click()
    open_task(page)
    left, top, scale = image_frame(page)
    assert scale < 0.75, "the test needs the image shown smaller than its pixel size"
    for detection in (CUP, SAUCER_AS_BOWL):
        drawn = page.locator(f".box[data-label='{detection.label}'] .box-rect").bounding_box()
        assert drawn is not None
        box = detection.box
        assert drawn["x"] == pytest.approx(left + box.left * scale, abs=STROKE_PX)
        assert drawn["y"] == pytest.approx(top + box.top * scale, abs=STROKE_PX)
        assert drawn["width"] == pytest.approx(box.width * scale, abs=STROKE_PX)
        assert drawn["height"] == pytest.approx(box.height * scale, abs=STROKE_PX)

    # Move the cup box 90 px right and 40 px up (image pixels) onto the cup.
    centre = to_screen(page, CUP.box.left + CUP.box.width / 2, CUP.box.top + CUP.box.height / 2)
    drag(page, centre, (centre[0] + 90 * scale, centre[1] - 40 * scale))
    # Delete the model's wrong "bowl" box.
    page.get_by_role("button", name="Delete box 2").click()
    # Draw the spoon the model missed.
    page.get_by_role("radio", name="spoon").check()
    page.get_by_role("button", name="Draw box").click()
    drag(page, to_screen(page, 960, 195), to_screen(page, 1290, 975))

    shown = listed_boxes(page)
    assert len(shown) == 2
    assert near(shown[0], "cup", 510, 60, 720, 855)
    assert shown[0]["width"] == 720 and shown[0]["height"] == 855
    assert near(shown[1], "spoon", 960, 195, 330, 780)
    expect(page.locator(".box")).to_have_count(2)
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))

    page.get_by_role("button", name="Submit").click()
    page.wait_for_url(f"**/tasks/{cat}")
    open_task(page)

    output = review_stack.output(coffee)
    result = output["humanAnswers"][0]["answerContent"]["annotatedResult"]
    assert result["boundingBoxes"] == shown
    assert result["inputImageProperties"] == {"width": 1800, "height": 1200}
    assert result["initialValueModified"] is True

    attribute = pipeline_config.manifest_attribute
    line = ground_truth_line(output, attribute=attribute, class_list=pipeline_config.labels)
    assert validate_line(line) == attribute
    assert line["source-ref"] == f"s3://{review_stack.input_bucket}/incoming/coffee.jpg"
    assert line[attribute]["image_size"] == [{"width": 1800, "height": 1200, "depth": 3}]
    assert line[attribute]["annotations"] == [
        {
            "class_id": pipeline_config.labels.index(box["label"]),
            **{k: box[k] for k in ("left", "top", "width", "height")},
        }
        for box in shown
    ]

    page.get_by_role("link", name="All tasks").click()
    expect(page.get_by_role("table", name="Completed")).to_contain_text("coffee.jpg")
    expect(page.get_by_role("table", name="Pending").locator("tbody tr")).to_have_count(1)


def test_keys_zoom_resize_relabel_and_undo_then_an_unchanged_answer_is_recorded_as_such(
    review_stack: Any, page: Page
) -> None:
    cat = review_stack.start_loop("chelsea", CAT_SIZE, [CAT])
    original = {"label": "cat", **CAT.box.to_dict()}

    page.goto(f"{review_stack.url}/tasks/{cat}")
    open_task(page)
    page.get_by_role("application", name="Image with boxes").focus()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Box 1 · cat")).to_have_attribute("aria-pressed", "true")
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    page.keyboard.press("Shift+ArrowDown")
    assert listed_boxes(page) == [{**original, "left": original["left"] + 3, "top": original["top"] + 10}]
    page.keyboard.press("Control+z")
    page.keyboard.press("Control+z")
    page.keyboard.press("Control+z")
    page.keyboard.press("Control+z")
    assert listed_boxes(page) == [original]

    # Zoomed in, a new box still lands in image pixels.
    _, _, fitted = image_frame(page)
    page.keyboard.press("Escape")
    page.keyboard.press("+")
    page.keyboard.press("+")
    _, _, zoomed = image_frame(page)
    assert zoomed == pytest.approx(fitted * 1.5625, rel=0.01)
    dog_key = str(review_stack.labels.index("dog") + 1)
    page.keyboard.press(dog_key)
    page.keyboard.press("n")
    drag(page, to_screen(page, 700, 400), to_screen(page, 760, 470))
    assert near(listed_boxes(page)[1], "dog", 700, 400, 60, 70)
    page.keyboard.press("Control+z")
    page.keyboard.press("0")
    expect(page.get_by_role("button", name="Draw box")).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("Escape")

    # Resize by the bottom-right handle, relabel from the box list, then undo both.
    page.get_by_role("button", name="Box 1 · cat").click()
    corner = page.locator(".handle[data-handle='se']").bounding_box()
    assert corner is not None
    _, _, scale = image_frame(page)
    grip = (corner["x"] + corner["width"] / 2, corner["y"] + corner["height"] / 2)
    drag(page, grip, (grip[0] + 50 * scale, grip[1] + 30 * scale))
    assert near(listed_boxes(page)[0], "cat", 240, 150, 770, 750)
    page.get_by_role("combobox", name="Label of box 1").select_option("dog")
    assert listed_boxes(page)[0]["label"] == "dog"
    expect(page.locator(".box[data-label='dog']")).to_have_count(1)
    page.get_by_role("button", name="Undo").click()
    page.get_by_role("button", name="Undo").click()
    assert listed_boxes(page) == [original]

    page.get_by_role("application", name="Image with boxes").focus()
    page.keyboard.press("Tab")
    page.keyboard.press("Delete")
    assert listed_boxes(page) == []
    page.keyboard.press("Control+z")
    assert listed_boxes(page) == [original]

    page.keyboard.press("Control+Enter")
    page.wait_for_url(f"{review_stack.url}/")
    result = review_stack.output(cat)["humanAnswers"][0]["answerContent"]["annotatedResult"]
    assert result == {
        "boundingBoxes": [original],
        "inputImageProperties": {"width": 1353, "height": 900},
        "initialValueModified": False,
    }
