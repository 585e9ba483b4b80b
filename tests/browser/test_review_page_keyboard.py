"""The review page driven the way a reviewer who does hundreds of images a day drives it: by keyboard,
with Enter never submitting, empty answers confirmed, skips, redo, and no lost work.
"""

from __future__ import annotations

from typing import Any

import pytest
from editor_driver import focused, listed_boxes, open_task, record_answers, tab_to
from playwright.sync_api import Page, expect

from hitl_core.detections import Box, Detection, ImageSize

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

CAT_SIZE = ImageSize(1353, 900)
COFFEE_SIZE = ImageSize(1800, 1200)
CAT = Detection("cat", 0.64, Box(240, 150, 720, 720))
EXTRA_LABELS = ["spoon", "saucer", "teapot"]


def result_of(stack: Any, name: str) -> dict[str, Any]:
    return stack.output(name)["humanAnswers"][0]["answerContent"]["annotatedResult"]


def status_of(stack: Any, name: str) -> str:
    return stack.a2i.describe_human_loop(HumanLoopName=name)["HumanLoopStatus"]


def test_a_task_is_reviewed_end_to_end_with_the_keyboard_only(review_stack: Any, page: Page) -> None:
    labels = [*review_stack.labels, *EXTRA_LABELS]
    assert len(labels) > 9, "the label picker is what reaches labels past the ninth"
    cat = review_stack.start_loop("chelsea", CAT_SIZE, [CAT], labels=labels)
    coffee = review_stack.start_loop("coffee", COFFEE_SIZE, [])

    page.goto(review_stack.url)
    tab_to(page, "a:chelsea.jpg")
    page.keyboard.press("Enter")
    open_task(page)
    expect(page.locator("#queue-place")).to_have_text("1 of 2 pending")
    tab_to(page, "svg#canvas")

    # Select the model's cat box, move it 3 px right, grow it 10 px wider, relabel it "dog" (Shift+digit).
    page.keyboard.press("Tab")
    expect(page.locator("#status")).to_contain_text("Box 1 of 1 selected: cat")
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    page.keyboard.press("Control+Shift+ArrowRight")
    page.keyboard.press(f"Shift+Digit{labels.index('dog') + 1}")
    assert listed_boxes(page) == [{"label": "dog", "left": 243, "top": 150, "width": 730, "height": 720}]

    # A box of a label past the ninth: picked by typing, added in the middle of the view, then moved.
    page.keyboard.press("Escape")
    page.keyboard.press("l")
    expect(page.get_by_role("dialog", name="Label for new boxes")).to_be_visible()
    options = page.get_by_role("listbox", name="Labels").get_by_role("option")
    page.keyboard.type("spo")
    expect(options).to_have_text(["sports ball", "spoon"])
    page.keyboard.type("o")
    expect(options).to_have_text(["spoon"])
    page.keyboard.press("Enter")
    expect(page.get_by_role("dialog")).to_be_hidden()
    assert focused(page) == "svg#canvas", "closing the picker gives focus back to the image"
    page.keyboard.press("a")
    added = listed_boxes(page)[1]
    assert added["label"] == "spoon"
    page.keyboard.press("Shift+ArrowDown")
    page.keyboard.press("Control+ArrowUp")
    assert listed_boxes(page)[1] == {**added, "top": added["top"] + 10, "height": added["height"] - 1}
    expect(page.locator("#status")).to_contain_text("Box 2")

    # Duplicate, delete the copy, undo the delete, redo it twice over (both redo keys).
    page.keyboard.press("d")
    assert len(listed_boxes(page)) == 3
    page.keyboard.press("Delete")
    page.keyboard.press("Control+z")
    assert len(listed_boxes(page)) == 3
    page.keyboard.press("Control+Shift+Z")
    assert len(listed_boxes(page)) == 2
    page.keyboard.press("Control+z")
    page.keyboard.press("Control+y")
    boxes = listed_boxes(page)
    assert len(boxes) == 2

    page.keyboard.press("Enter")
    assert status_of(review_stack, cat) == "InProgress", "Enter on the image never submits"
    page.keyboard.press("Control+Enter")
    page.wait_for_url(f"**/tasks/{coffee}")
    assert result_of(review_stack, cat)["boundingBoxes"] == boxes


def test_enter_never_submits_and_list_actions_keep_the_focus(review_stack: Any, page: Page) -> None:
    cat = review_stack.start_loop("chelsea", CAT_SIZE, [CAT, Detection("dog", 0.4, Box(10, 10, 100, 100))])
    sent = record_answers(page)
    page.goto(f"{review_stack.url}/tasks/{cat}")
    open_task(page)

    pick = page.get_by_role("button", name="Box 1 · cat")
    pick.focus()
    for _ in range(3):
        page.keyboard.press("Enter")
    expect(pick).to_be_focused()
    expect(pick).to_have_attribute("aria-pressed", "true")

    page.get_by_role("button", name="Delete box 1").focus()
    page.keyboard.press("Enter")
    assert [box["label"] for box in listed_boxes(page)] == ["dog"]
    expect(page.get_by_role("button", name="Delete box 1")).to_be_focused()
    page.get_by_role("combobox", name="Label of box 1").focus()
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    page.get_by_role("button", name="Undo").focus()
    page.keyboard.press("Enter")
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Undo")).to_be_disabled()
    assert len(listed_boxes(page)) == 2

    page.get_by_role("application", name="Image with boxes").focus()
    page.keyboard.press("n")
    page.keyboard.press("Enter")
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Draw box")).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")

    page.wait_for_timeout(300)
    assert sent == [], "no answer went out"
    assert status_of(review_stack, cat) == "InProgress"
    assert page.url.endswith(f"/tasks/{cat}")


def test_an_empty_answer_is_confirmed_and_nothing_to_label_asks_only_to_remove_edited_boxes(
    review_stack: Any, page: Page
) -> None:
    empty = review_stack.start_loop("coffee", COFFEE_SIZE, [])
    cat = review_stack.start_loop("chelsea", CAT_SIZE, [CAT])
    page.goto(f"{review_stack.url}/tasks/{empty}")
    open_task(page)

    page.get_by_role("button", name="Submit", exact=True).click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Submit this image with no boxes?")
    expect(page.get_by_role("button", name="Keep editing")).to_be_focused()
    page.keyboard.press("Enter")
    expect(dialog).to_be_hidden()
    assert status_of(review_stack, empty) == "InProgress", "Enter in the question keeps editing"

    page.get_by_role("button", name="Submit", exact=True).click()
    page.get_by_role("button", name="Submit with no boxes").click()
    page.wait_for_url(f"**/tasks/{cat}")
    assert result_of(review_stack, empty)["boundingBoxes"] == []
    open_task(page)

    # "Nothing to label here" on a task whose boxes the reviewer changed: asks once, then submits
    # no boxes. With only the model's boxes, untouched, it is one key (E), no question.
    page.get_by_role("button", name="Box 1 · cat").click()
    page.get_by_role("application", name="Image with boxes").focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("e")
    expect(page.get_by_role("dialog")).to_contain_text("Remove the 1 box and submit")
    page.get_by_role("button", name="Keep editing").click()
    page.keyboard.press("Control+z")
    page.get_by_role("application", name="Image with boxes").focus()
    page.keyboard.press("e")
    page.wait_for_url(f"{review_stack.url}/")
    assert result_of(review_stack, cat) == {
        "boundingBoxes": [],
        "inputImageProperties": {"width": CAT_SIZE.width, "height": CAT_SIZE.height},
        "initialValueModified": True,
    }


def test_skip_hands_the_task_back_and_the_next_image_is_fetched_ahead(review_stack: Any, page: Page) -> None:
    first = review_stack.start_loop("chelsea", CAT_SIZE, [CAT])
    second = review_stack.start_loop("coffee", COFFEE_SIZE, [])
    images: list[str] = []
    page.on("request", lambda request: images.append(request.url) if request.url.endswith("/image") else None)
    page.goto(f"{review_stack.url}/tasks/{first}")
    open_task(page)
    next_image = f"{review_stack.url}/tasks/{second}/image"
    page.wait_for_function(f"() => performance.getEntriesByName('{next_image}').length")
    assert next_image in images, "the next task's image is prefetched"

    page.get_by_role("button", name="Skip for now").click()
    page.wait_for_url(f"**/tasks/{second}")
    open_task(page)
    expect(page.locator("#queue-place")).to_have_text("2 of 2 pending")
    assert status_of(review_stack, first) == "InProgress"


def test_unsaved_edits_warn_on_leaving_and_an_answered_task_comes_back_read_only(
    review_stack: Any, page: Page
) -> None:
    cat = review_stack.start_loop("chelsea", CAT_SIZE, [CAT])
    page.goto(f"{review_stack.url}/tasks/{cat}")
    open_task(page)
    page.get_by_role("application", name="Image with boxes").focus()
    page.keyboard.press("Tab")
    page.keyboard.press("ArrowLeft")

    warned: list[str] = []

    def on_dialog(dialog: Any) -> None:
        warned.append(dialog.type)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.get_by_role("link", name="All tasks").click()
    page.wait_for_timeout(300)
    assert warned == ["beforeunload"]
    assert page.url.endswith(f"/tasks/{cat}"), "dismissing the warning keeps the reviewer on the task"

    page.keyboard.press("Control+Enter")
    page.wait_for_url(f"{review_stack.url}/")
    page.go_back()
    open_task(page)
    expect(page.get_by_role("note")).to_contain_text("can no longer be changed")
    assert listed_boxes(page) == [{"label": "cat", **CAT.box.to_dict(), "left": CAT.box.left - 1}]
    expect(page.get_by_role("button", name="Submit", exact=True)).to_be_hidden()
    page.get_by_role("application", name="Image with boxes").focus()
    page.keyboard.press("Tab")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Delete")
    assert len(listed_boxes(page)) == 1, "a submitted task cannot be changed"
