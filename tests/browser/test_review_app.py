"""The review page's HTTP side against the real local A2I runtime (no browser needed)."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
import requests
from PIL import Image

from hitl.local.review_page.images import THUMBNAIL_SIZE
from hitl_core.detections import Box, Detection, ImageSize

SIZE = ImageSize(1353, 900)
CAT = Detection("cat", 0.64, Box(240, 150, 720, 720))
PROJECT_ROOT = Path(__file__).resolve().parents[2]
SERVED = (PROJECT_ROOT / "hitl" / "local" / "review_page" / "templates", PROJECT_ROOT / "review_app")


def answer(boxes: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "answerContent": {
            "annotatedResult": {
                "boundingBoxes": boxes,
                "inputImageProperties": {"width": SIZE.width, "height": SIZE.height},
                "initialValueModified": True,
            }
        }
    }


def loop_status(stack: Any, name: str) -> str:
    return stack.a2i.describe_human_loop(HumanLoopName=name)["HumanLoopStatus"]


def test_the_task_image_is_served_as_stored_and_the_thumbnail_small(review_stack: Any) -> None:
    name = review_stack.start_loop("chelsea", SIZE, [CAT])
    stored = review_stack.s3.get_object(Bucket=review_stack.input_bucket, Key="incoming/chelsea.jpg")
    image = requests.get(f"{review_stack.url}/tasks/{name}/image", timeout=10)
    assert image.status_code == 200
    assert image.headers["Content-Type"] == "image/jpeg"
    assert image.content == stored["Body"].read()

    thumb = requests.get(f"{review_stack.url}/tasks/{name}/thumbnail", timeout=10)
    assert thumb.headers["Content-Type"] == "image/jpeg"
    with Image.open(io.BytesIO(thumb.content)) as small:
        assert small.size == (192, 128)
        assert small.width <= THUMBNAIL_SIZE[0] and small.height <= THUMBNAIL_SIZE[1]


def test_unknown_tasks_and_their_images_are_not_found(review_stack: Any) -> None:
    for path in ("/tasks/no-such-loop", "/tasks/no-such-loop/image", "/tasks/Not_A_Loop/thumbnail"):
        assert requests.get(review_stack.url + path, timeout=10).status_code == 404, path


def test_a_finished_task_page_says_so(review_stack: Any) -> None:
    name = review_stack.start_loop("chelsea", SIZE, [CAT])
    review_stack.a2i.stop_human_loop(HumanLoopName=name)
    page = requests.get(f"{review_stack.url}/tasks/{name}", timeout=10)
    assert page.status_code == 409
    assert "This task is Stopped" in page.text


def test_an_answer_the_runtime_refuses_comes_back_with_its_reason(review_stack: Any) -> None:
    name = review_stack.start_loop("chelsea", SIZE, [CAT])
    outside = {"label": "cat", "left": 1300, "top": 10, "width": 100, "height": 100}
    reply = requests.post(f"{review_stack.url}/tasks/{name}/answer", json=answer([outside]), timeout=10)
    assert reply.status_code == 400
    assert "outside" in reply.json()["error"]
    assert loop_status(review_stack, name) == "InProgress"


def test_an_accepted_answer_names_the_next_pending_task(review_stack: Any) -> None:
    first = review_stack.start_loop("chelsea", SIZE, [CAT])
    second = review_stack.start_loop("coffee", ImageSize(600, 400), [])
    box = {"label": "cat", **CAT.box.to_dict()}
    reply = requests.post(f"{review_stack.url}/tasks/{first}/answer", json=answer([box]), timeout=10)
    assert reply.status_code == 200
    assert reply.json() == {"next": f"/tasks/{second}", "nextTask": second}
    assert loop_status(review_stack, first) == "Completed"
    stored = review_stack.output(first)["humanAnswers"][0]
    assert stored["workerId"] == "local-reviewer"

    again = requests.post(f"{review_stack.url}/tasks/{first}/answer", json=answer([box]), timeout=10)
    assert again.status_code == 409


def task_data(html: str) -> dict[str, Any]:
    found = re.search(r'<script type="application/json" id="task-data">(.*?)</script>', html, re.S)
    assert found is not None
    return json.loads(found.group(1))


def test_a_task_page_says_its_place_in_the_queue_and_names_the_next_image(review_stack: Any) -> None:
    first = review_stack.start_loop("chelsea", SIZE, [CAT])
    second = review_stack.start_loop("coffee", ImageSize(600, 400), [])
    page = requests.get(f"{review_stack.url}/tasks/{second}", timeout=10)
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    assert "2 of 2 pending" in page.text
    data = task_data(page.text)
    assert data["nextImageUrl"] == f"/tasks/{first}/image"
    assert data["releaseUrl"] == f"/tasks/{second}/release"
    assert data["readOnly"] is False


def test_skipping_leaves_the_task_pending_and_names_the_following_one(review_stack: Any) -> None:
    first = review_stack.start_loop("chelsea", SIZE, [CAT])
    second = review_stack.start_loop("coffee", ImageSize(600, 400), [])
    reply = requests.post(f"{review_stack.url}/tasks/{first}/release", timeout=10)
    assert reply.json() == {"next": f"/tasks/{second}", "nextTask": second}
    assert loop_status(review_stack, first) == "InProgress"
    last = requests.post(f"{review_stack.url}/tasks/{second}/release", timeout=10)
    assert last.json() == {"next": f"/tasks/{first}", "nextTask": first}
    elsewhere = requests.post(
        f"{review_stack.url}/tasks/{first}/release", headers={"Origin": "http://elsewhere.test"}, timeout=10
    )
    assert elsewhere.status_code == 403


def test_an_answered_task_opens_read_only_with_the_recorded_answer(review_stack: Any) -> None:
    name = review_stack.start_loop("chelsea", SIZE, [CAT])
    box = {"label": "cat", "left": 250, "top": 160, "width": 700, "height": 700}
    requests.post(
        f"{review_stack.url}/tasks/{name}/answer", json=answer([box]), timeout=10
    ).raise_for_status()
    page = requests.get(f"{review_stack.url}/tasks/{name}", timeout=10)
    assert page.status_code == 200
    data = task_data(page.text)
    assert data["readOnly"] is True
    assert data["shownValue"] == [box]
    assert data["releaseUrl"] is None
    assert "can no longer be changed" in page.text


@pytest.mark.parametrize(
    ("headers", "body", "expected"),
    [
        ({"Content-Type": "application/x-www-form-urlencoded"}, "answerContent=x", 415),
        ({"Content-Type": "application/json", "Origin": "http://elsewhere.test"}, "{}", 403),
    ],
)
def test_answers_come_only_as_json_from_the_page_itself(
    review_stack: Any, headers: dict[str, str], body: str, expected: int
) -> None:
    name = review_stack.start_loop("chelsea", SIZE, [CAT])
    reply = requests.post(f"{review_stack.url}/tasks/{name}/answer", data=body, headers=headers, timeout=10)
    assert reply.status_code == expected
    assert loop_status(review_stack, name) == "InProgress"


def test_pages_allow_only_files_from_the_review_page_itself(review_stack: Any) -> None:
    reply = requests.get(review_stack.url, timeout=10)
    policy = reply.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy
    served = [p.read_text() for d in SERVED for p in d.rglob("*") if p.suffix in {".html", ".css", ".js"}]
    assert len(served) >= 6
    for text in served:
        assert not re.search(r"(src|href|url)\s*[=(]\s*[\"']?(https?:)?//", text)
