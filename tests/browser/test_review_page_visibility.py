"""Boxes that can be seen on any image: every label colour's outline and tag against a dark and a
light photo (WCAG contrast: 3:1 for the outline, 4.5:1 for the tag's text), hiding boxes, and
brightness/contrast that change only the view.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
from editor_driver import listed_boxes, open_task
from PIL import Image
from playwright.sync_api import Page, expect

from hitl_core.detections import Box, Detection, ImageSize

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

SIZE = ImageSize(1200, 900)
LABELS = [f"class{i:02d}" for i in range(12)]  # one label per colour of the editor's palette
GRID = (4, 3)
BAND_PX = 4  # image pixels either side of an outline that it is seen against
PHOTOS = {"dark": "hubble_deep_field", "light": "logo"}


def luminance(rgb: tuple[float, float, float]) -> float:
    channels = [c / 255 for c in rgb]
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: tuple[float, float, float], b: tuple[float, float, float]) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def css_rgb(value: str) -> tuple[float, float, float]:
    """'rgb(1, 2, 3)' (a computed colour) as a tuple."""
    r, g, b = (float(part) for part in value.removeprefix("rgb(").removesuffix(")").split(",")[:3])
    return r, g, b


def grid_boxes() -> list[Detection]:
    columns, rows = GRID
    width, height = SIZE.width // columns, SIZE.height // rows
    return [
        Detection(
            label,
            0.5,
            Box(
                (i % columns) * width + 30,
                (i // columns) * height + 40,
                width - 60,
                height - 70,
            ),
        )
        for i, label in enumerate(LABELS)
    ]


def outline_background(image: np.ndarray, box: dict[str, int]) -> tuple[float, float, float]:
    """The image's median colour along the box's outline, where the outline is seen."""
    left, top, right, bottom = box["left"], box["top"], box["left"] + box["width"], box["top"] + box["height"]
    band = [
        image[top - BAND_PX : top + BAND_PX, left:right],
        image[bottom - BAND_PX : bottom + BAND_PX, left:right],
        image[top:bottom, left - BAND_PX : left + BAND_PX],
        image[top:bottom, right - BAND_PX : right + BAND_PX],
    ]
    pixels = np.concatenate([part.reshape(-1, 3) for part in band])
    r, g, b = np.median(pixels, axis=0)
    return float(r), float(g), float(b)


def drawn_colours(page: Page) -> list[dict[str, Any]]:
    return page.locator(".box").evaluate_all(
        """groups => groups.map(g => ({
            label: g.dataset.label,
            outline: getComputedStyle(g.querySelector('.box-rect')).stroke,
            casing: getComputedStyle(g.querySelector('.box-casing')).stroke,
            halo: getComputedStyle(g.querySelector('.box-halo')).stroke,
            tag: getComputedStyle(g.querySelector('.tag-bg')).fill,
            tagEdge: getComputedStyle(g.querySelector('.tag-bg')).stroke,
            tagHalo: getComputedStyle(g.querySelector('.tag-halo')).stroke,
            text: getComputedStyle(g.querySelector('.tag-text')).fill,
        }))"""
    )


@pytest.mark.parametrize("shade", sorted(PHOTOS))
def test_every_label_colour_stands_out_on_a_dark_and_a_light_photo(
    review_stack: Any, page: Page, shade: str
) -> None:
    name = review_stack.start_loop(shade, SIZE, grid_boxes(), labels=LABELS, picture=PHOTOS[shade])
    stored = review_stack.s3.get_object(Bucket=review_stack.input_bucket, Key=f"incoming/{shade}.jpg")
    image = np.asarray(Image.open(io.BytesIO(stored["Body"].read())).convert("RGB")).astype(float)
    page.goto(f"{review_stack.url}/tasks/{name}")
    open_task(page)

    boxes = {box["label"]: box for box in listed_boxes(page)}
    colours = drawn_colours(page)
    assert sorted(c["label"] for c in colours) == LABELS
    assert len({c["outline"] for c in colours}) == len(LABELS), "each label has its own colour"
    backgrounds = {label: outline_background(image, box) for label, box in boxes.items()}
    overall = float(np.median([luminance(colour) for colour in backgrounds.values()]))
    assert overall < 0.05 if shade == "dark" else overall > 0.5, f"the {shade} photo: luminance {overall:.2f}"
    for drawn in colours:
        background = backgrounds[drawn["label"]]
        outline = max(contrast(css_rgb(drawn[key]), background) for key in ("outline", "casing", "halo"))
        assert outline >= 3, f"{drawn['label']}'s outline is {outline:.2f}:1 on the {shade} photo"
        assert contrast(css_rgb(drawn["outline"]), css_rgb(drawn["casing"])) >= 3, "the casing sets it off"
        assert {drawn["casing"], drawn["halo"]} == {"rgb(0, 0, 0)", "rgb(255, 255, 255)"}
        tag = max(contrast(css_rgb(drawn[key]), background) for key in ("tag", "tagEdge", "tagHalo"))
        assert tag >= 3, f"{drawn['label']}'s tag is {tag:.2f}:1 on the {shade} photo"
        text = contrast(css_rgb(drawn["text"]), css_rgb(drawn["tag"]))
        assert text >= 4.5, f"{drawn['label']}'s tag text is {text:.2f}:1"


def test_boxes_hide_all_or_one_and_brightness_changes_only_the_view(review_stack: Any, page: Page) -> None:
    name = review_stack.start_loop("stars", SIZE, grid_boxes()[:2], labels=LABELS, picture=PHOTOS["dark"])
    page.goto(f"{review_stack.url}/tasks/{name}")
    open_task(page)
    before = listed_boxes(page)
    shown = page.locator(".box:visible")
    expect(shown).to_have_count(2)

    page.get_by_role("application", name="Image with boxes").focus()
    page.keyboard.press("h")
    expect(shown).to_have_count(0)
    expect(page.get_by_role("button", name="Hide boxes")).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("h")
    expect(shown).to_have_count(2)
    page.get_by_role("button", name="Hide box 1").click()
    expect(shown).to_have_count(1)
    expect(page.get_by_role("button", name="Hide box 1")).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("t")
    expect(page.locator(".box-tag:visible")).to_have_count(0)

    page.get_by_role("slider", name="Brightness").fill("200")
    page.get_by_role("slider", name="Contrast").fill("150")
    image_filter = "el => getComputedStyle(el).filter"
    assert page.locator("#photo").evaluate(image_filter) == "brightness(2) contrast(1.5)"
    assert listed_boxes(page) == before
    page.get_by_role("button", name="Reset view").click()
    assert page.locator("#photo").evaluate(image_filter) == "none"
    expect(page.get_by_role("button", name="Undo")).to_be_disabled()
