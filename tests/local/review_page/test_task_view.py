"""What the task list and the editor show of a loop."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hitl.local.review_page.runtime_client import Loop
from hitl.local.review_page.task_view import (
    TopLabel,
    age,
    editor_data,
    following,
    progress,
    queue_place,
    task_row,
    title,
    top_label,
)

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
CONTENT = {
    "taskObject": "s3://input/incoming/2026/street.jpg",
    "labels": ["person", "car"],
    "initialValue": [
        {"label": "person", "left": 1, "top": 2, "width": 3, "height": 4},
        {"label": "car", "left": 5, "top": 6, "width": 7, "height": 8},
    ],
    "initialScores": [0.41, 0.66],
    "imageLabels": [{"label": "street", "score": 0.52}],
    "imageSize": {"width": 640, "height": 480, "depth": 3},
}


def loop(**changes: object) -> Loop:
    fields = {"name": "street-abc", "status": "InProgress", "creation_time": NOW, "input_content": CONTENT}
    return Loop(**{**fields, **changes})


def test_top_label_is_the_highest_score_among_boxes_and_image_labels() -> None:
    assert top_label(CONTENT) == TopLabel("car", 0.66)
    image_label_wins = {**CONTENT, "imageLabels": [{"label": "street", "score": 0.9}]}
    assert top_label(image_label_wins) == TopLabel("street", 0.9)


def test_a_task_without_detections_has_no_top_label() -> None:
    assert top_label({"initialValue": [], "initialScores": [], "imageLabels": []}) is None
    assert top_label({}) is None


def test_title_is_the_file_name() -> None:
    assert title(CONTENT) == "street.jpg"
    assert title({}) == "image"


@pytest.mark.parametrize(
    ("elapsed", "shown"),
    [
        (timedelta(seconds=5), "just now"),
        (timedelta(minutes=3, seconds=59), "3 min"),
        (timedelta(hours=2, minutes=59), "2 h"),
        (timedelta(days=1, hours=3), "1 day"),
        (timedelta(days=9), "9 days"),
        (timedelta(seconds=-30), "just now"),
    ],
)
def test_age_is_given_in_the_largest_whole_unit(elapsed: timedelta, shown: str) -> None:
    assert age(NOW - elapsed, NOW) == shown


def test_progress_shows_only_when_several_answers_are_needed() -> None:
    assert progress(loop()) == ""
    assert progress(loop(answers_received=1, answers_required=2)) == "1 of 2 answers"


def test_task_row_gathers_what_the_list_shows() -> None:
    row = task_row(loop(creation_time=NOW - timedelta(minutes=7)), NOW)
    assert (row.name, row.title, row.status, row.top, row.age) == (
        "street-abc",
        "street.jpg",
        "InProgress",
        TopLabel("car", 0.66),
        "7 min",
    )


def test_editor_data_carries_the_proposed_boxes_in_image_pixels() -> None:
    data = editor_data(loop(), image_url="/tasks/street-abc/image", submit_url="/tasks/street-abc/answer")
    assert data == {
        "name": "street-abc",
        "labels": ["person", "car"],
        "initialValue": CONTENT["initialValue"],
        "initialScores": [0.41, 0.66],
        "imageSize": CONTENT["imageSize"],
        "imageUrl": "/tasks/street-abc/image",
        "submitUrl": "/tasks/street-abc/answer",
        "releaseUrl": None,
        "nextImageUrl": None,
        "readOnly": False,
    }


def test_editor_data_of_an_answered_task_is_read_only_and_shows_the_answer() -> None:
    answered = [{"label": "car", "left": 9, "top": 9, "width": 5, "height": 5}]
    data = editor_data(loop(status="Completed"), image_url="i", submit_url="s", submitted_boxes=answered)
    assert data["readOnly"] is True
    assert data["shownValue"] == answered
    assert data["initialValue"] == CONTENT["initialValue"]


def test_editor_data_names_where_to_hand_the_task_back_and_the_next_image() -> None:
    data = editor_data(
        loop(), image_url="i", submit_url="s", release_url="r", next_image_url="/tasks/b/image"
    )
    assert (data["releaseUrl"], data["nextImageUrl"], data["readOnly"]) == ("r", "/tasks/b/image", False)


@pytest.mark.parametrize(
    ("name", "pending", "expected"),
    [
        ("b", ["a", "b", "c"], "2 of 3 pending"),
        ("a", ["a"], "1 of 1 pending"),
        ("gone", ["a", "b"], "2 pending"),
    ],
)
def test_queue_place_says_where_the_task_stands(name: str, pending: list[str], expected: str) -> None:
    assert queue_place(name, pending) == expected


@pytest.mark.parametrize(
    ("name", "pending", "expected"),
    [
        ("a", ["a", "b", "c"], "b"),
        ("c", ["a", "b", "c"], "a"),
        ("gone", ["a", "b"], "a"),
        ("a", ["a"], None),
        ("a", [], None),
    ],
)
def test_following_moves_on_in_queue_order_and_wraps(
    name: str, pending: list[str], expected: str | None
) -> None:
    assert following(name, pending) == expected


def test_editor_data_keeps_a_missing_initial_value_missing() -> None:
    """No initialValue means the answer must not carry initialValueModified (A2I's element omits it)."""
    bare = {key: value for key, value in CONTENT.items() if key != "initialValue"}
    assert editor_data(loop(input_content=bare), image_url="i", submit_url="s")["initialValue"] is None
