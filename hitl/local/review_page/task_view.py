"""What the review page shows of a human loop: its row in the task list and the editor's data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hitl.local.review_page.runtime_client import Loop


@dataclass(frozen=True)
class TopLabel:
    """The model's most confident label for the image (a box or an image-level label)."""

    label: str
    score: float


@dataclass(frozen=True)
class TaskRow:
    """One line of the task list."""

    name: str
    title: str
    status: str
    top: TopLabel | None
    age: str
    progress: str


def title(input_content: dict[str, Any]) -> str:
    """The image's file name, which is how a reviewer tells tasks apart."""
    return str(input_content.get("taskObject", "")).rsplit("/", 1)[-1] or "image"


def top_label(input_content: dict[str, Any]) -> TopLabel | None:
    """The highest-scoring of the proposed boxes and image-level labels, if any."""
    boxes = input_content.get("initialValue") or []
    scores = input_content.get("initialScores") or []
    candidates = [
        TopLabel(str(box["label"]), float(score)) for box, score in zip(boxes, scores, strict=False)
    ]
    candidates += [
        TopLabel(str(item["label"]), float(item["score"])) for item in input_content.get("imageLabels") or []
    ]
    return max(candidates, key=lambda top: top.score, default=None)


def age(created: datetime, now: datetime) -> str:
    """How long ago, in the largest whole unit: 'just now', '5 min', '3 h', '2 days'."""
    seconds = max((now - created).total_seconds(), 0)
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h"
    days = int(seconds // 86400)
    return f"{days} day" if days == 1 else f"{days} days"


def progress(loop: Loop) -> str:
    """'1 of 2 answers' when the flow asks several reviewers, else empty."""
    if loop.answers_required <= 1:
        return ""
    return f"{loop.answers_received} of {loop.answers_required} answers"


def task_row(loop: Loop, now: datetime) -> TaskRow:
    content = loop.input_content
    return TaskRow(
        loop.name,
        title(content),
        loop.status,
        top_label(content),
        age(loop.creation_time, now),
        progress(loop),
    )


def queue_place(name: str, pending: list[str]) -> str:
    """Where a task stands among the pending ones: '3 of 12 pending', or just the count."""
    if name in pending:
        return f"{pending.index(name) + 1} of {len(pending)} pending"
    return f"{len(pending)} pending"


def following(name: str, pending: list[str]) -> str | None:
    """The pending task after `name` in queue order, wrapping to the oldest; None when none is left.

    Skipping a task and answering one both move on to this, so a skipped task comes back last.
    """
    at = pending.index(name) if name in pending else -1
    ahead = pending[at + 1 :] + pending[: max(at, 0)]
    return ahead[0] if ahead else None


def editor_data(
    loop: Loop,
    *,
    image_url: str,
    submit_url: str,
    release_url: str | None = None,
    next_image_url: str | None = None,
    submitted_boxes: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """What the editor script starts from (embedded in the page as JSON).

    With `submitted_boxes` the task is shown read-only, holding the answer already given.
    """
    content = loop.input_content
    data = {
        "name": loop.name,
        "labels": list(content.get("labels") or []),
        "initialValue": content.get("initialValue"),
        "initialScores": list(content.get("initialScores") or []),
        "imageSize": content.get("imageSize"),
        "imageUrl": image_url,
        "submitUrl": submit_url,
        "releaseUrl": release_url,
        "nextImageUrl": next_image_url,
        "readOnly": submitted_boxes is not None,
    }
    if submitted_boxes is not None:
        data["shownValue"] = submitted_boxes
    return data
