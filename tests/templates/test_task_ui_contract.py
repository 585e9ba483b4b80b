"""The task UI template renders on the InputContent the ingest function sends, and nothing more.

A template that names a `task.input` field the content lacks fails in A2I at render time;
here it fails the build instead.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

import pytest
from liquid import Environment, StrictUndefined

from hitl_core.detections import Box, Detection, ImageDetections, ImageSize
from hitl_core.human_loop import build_input_content

TEMPLATE = Path(__file__).resolve().parents[2] / "templates" / "task-ui.liquid.html"
IMAGE_URI = "s3://input-bucket/incoming/street.jpg"
PRESIGNED = "https://input-bucket.example/incoming/street.jpg?X-Amz-Signature=abc"
SIZE = ImageSize(640, 480)


def a2i_environment() -> Environment:
    """A Liquid engine with A2I's two custom filters; any undefined variable is an error."""
    env = Environment(undefined=StrictUndefined)
    env.filters["grant_read_access"] = lambda uri: PRESIGNED if uri == IMAGE_URI else f"unexpected:{uri}"
    env.filters["to_json"] = lambda value: json.dumps(value)
    return env


def input_content(*detections: Detection) -> dict[str, Any]:
    content = build_input_content(
        task_object=IMAGE_URI,
        shown=ImageDetections(SIZE, detections),
        labels=["person", "car"],
        source={"bucket": "input-bucket", "key": "incoming/street.jpg", "version": "v1"},
        model={"endpoint": "hitl-object-detector", "adapter": "sagemaker-object-detection"},
    )
    # A2I receives the content as JSON text: render what survives the round trip.
    return json.loads(json.dumps(content))


BOXED = Detection("car", 0.42, Box(10, 20, 100, 50))
IMAGE_LEVEL = Detection("street", 0.9, None)


def render(content: dict[str, Any]) -> str:
    return a2i_environment().from_string(TEMPLATE.read_text()).render(task={"input": content})


def attribute(page: str, name: str) -> str:
    """An attribute of the page's crowd-bounding-box element, unescaped as a browser would."""
    element = re.search(r"<crowd-bounding-box\b[^>]*>", page)
    assert element, "no crowd-bounding-box element"
    match = re.search(rf'\s{name}="([^"]*)"', element.group(0))
    assert match, f"crowd-bounding-box has no {name} attribute"
    return html.unescape(match.group(1))


@pytest.mark.parametrize(
    "detections",
    [(BOXED, IMAGE_LEVEL), (), (IMAGE_LEVEL,), (BOXED,)],
    ids=["boxes-and-image-labels", "nothing-found", "image-label-only", "boxes-only"],
)
def test_template_renders_on_the_content_the_core_builds(detections: tuple[Detection, ...]) -> None:
    content = input_content(*detections)

    page = render(content)

    assert attribute(page, "src") == PRESIGNED
    assert json.loads(attribute(page, "labels")) == content["labels"]
    assert json.loads(attribute(page, "initial-value")) == content["initialValue"]


def test_reviewers_start_from_the_models_boxes() -> None:
    page = render(input_content(BOXED, IMAGE_LEVEL))

    assert json.loads(attribute(page, "initial-value")) == [
        {"label": "car", "left": 10, "top": 20, "width": 100, "height": 50}
    ]
    assert "car &mdash; 0.42" in page
    assert "street (0.9)" in page
    assert "640 &times; 480" in page


def test_every_task_input_field_the_template_names_is_in_the_content() -> None:
    named = set(re.findall(r"task\.input\.(\w+)", TEMPLATE.read_text()))
    content = input_content(BOXED)

    assert named, "the template reads nothing from task.input"
    assert named <= set(content), f"template names fields the content lacks: {sorted(named - set(content))}"


def test_a_field_the_content_lacks_fails_the_render() -> None:
    content = input_content(BOXED)
    del content["initialValue"]

    with pytest.raises(Exception, match="initialValue"):
        render(content)


def test_template_fits_a2i_limits() -> None:
    text = TEMPLATE.read_text()

    assert len(text) <= 128_000
    assert 'name="annotatedResult"' in text
    assert "<short-instructions>" in text and "<full-instructions" in text
