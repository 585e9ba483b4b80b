"""The rolling manifest's pure decisions: which answer wins, where it goes, when a manifest is full."""

from __future__ import annotations

import json

import pytest

from hitl_core.config import Rotation
from hitl_core.manifest import ManifestLineError
from hitl_review.manifest_plan import (
    Answer,
    ManifestLines,
    Outcome,
    judge,
    manifest_key,
    place,
    reduce_batch,
)

ATTR = "bounding-box"


def line(ref: str, date: str, job: str = "a2i/loop", boxes: int = 0) -> dict:
    return {
        "source-ref": f"s3://images/{ref}.jpg",
        ATTR: {
            "image_size": [{"width": 640, "height": 480, "depth": 3}],
            "annotations": [{"class_id": 0, "left": 1, "top": 1, "width": 5, "height": 5}] * boxes,
        },
        f"{ATTR}-metadata": {
            "objects": [{"confidence": 1}] * boxes,
            "class-map": {"0": "person"},
            "type": "groundtruth/object-detection",
            "human-annotated": "yes",
            "creation-date": f"2024-01-01T00:00:{date}.000Z",
            "job-name": job,
        },
    }


def answer(key: str, ref: str, date: str, job: str = "a2i/loop", boxes: int = 0) -> Answer:
    return Answer(key=key, line=line(ref, date, job, boxes), attribute=ATTR)


def manifest(*answers: Answer) -> ManifestLines:
    return ManifestLines.parse("".join(a.text for a in answers), ATTR)


ROOMY = Rotation(max_lines=100, max_bytes=1_000_000)


def test_judge_orders_by_creation_date_then_job_name() -> None:
    assert judge(None, ("2024", "a")) is Outcome.ADDED
    assert judge(("2024-01", "a"), ("2024-02", "a")) is Outcome.REPLACED
    assert judge(("2024-02", "a"), ("2024-01", "z")) is Outcome.SUPERSEDED
    assert judge(("2024-01", "a"), ("2024-01", "a")) is Outcome.UNCHANGED
    assert judge(("2024-01", "a"), ("2024-01", "b")) is Outcome.REPLACED


def test_reduce_batch_keeps_the_latest_answer_per_image_and_remembers_the_others() -> None:
    old, new, twin = answer("m1", "cat", "01"), answer("m2", "cat", "09"), answer("m3", "cat", "09")
    other = answer("m4", "dog", "05")
    plan = reduce_batch([old, new, other, twin])
    assert [a.key for a in plan.candidates] == ["m2", "m4"]
    assert plan.followers == {"m2": ["m3"], "m4": []}
    assert plan.superseded == ["m1"]


def test_new_images_are_appended_and_existing_lines_kept_byte_for_byte() -> None:
    base = manifest(answer("a", "cat", "01"), answer("b", "dog", "02"))
    placement = place(base, [answer("c", "cow", "03")], ROOMY)
    assert placement.changed and not placement.full and not placement.overflow
    assert placement.settled == {"c": Outcome.ADDED}
    assert placement.lines.lines[:2] == base.lines
    assert json.loads(placement.lines.lines[2])["source-ref"] == "s3://images/cow.jpg"


def test_a_newer_answer_replaces_its_line_in_place() -> None:
    base = manifest(answer("a", "cat", "01"), answer("b", "dog", "02"))
    newer = answer("c", "cat", "30", boxes=2)
    placement = place(base, [newer], ROOMY)
    assert placement.settled == {"c": Outcome.REPLACED}
    assert placement.lines.lines == [newer.text, base.lines[1]]


def test_a_redelivered_or_older_answer_changes_nothing() -> None:
    base = manifest(answer("a", "cat", "05"))
    placement = place(base, [answer("b", "cat", "05"), answer("c", "cat", "01", job="a2i/other")], ROOMY)
    assert placement.settled == {"b": Outcome.UNCHANGED, "c": Outcome.SUPERSEDED}
    assert not placement.changed
    assert placement.lines.lines == base.lines


def test_the_manifest_fills_at_max_lines_and_the_rest_overflows() -> None:
    rotation = Rotation(max_lines=3, max_bytes=1_000_000)
    base = manifest(answer("a", "a", "01"))
    incoming = [answer(k, k, "02") for k in ("b", "c", "d", "e")]
    placement = place(base, incoming, rotation)
    assert placement.full
    assert [a.key for a in placement.overflow] == ["d", "e"]
    assert len(placement.lines.lines) == 3


def test_the_manifest_fills_when_it_reaches_max_bytes() -> None:
    one = answer("a", "a", "01")
    size = len(one.text.encode())
    rotation = Rotation(max_lines=100, max_bytes=max(1024, 2 * size + 1))
    lines_needed = -(-rotation.max_bytes // size)
    incoming = [answer(f"k{i}", f"img{i}", "02") for i in range(lines_needed + 2)]
    placement = place(manifest(), incoming, rotation)
    assert placement.full
    assert placement.lines.byte_count >= rotation.max_bytes
    assert placement.lines.byte_count - size < rotation.max_bytes, "only the crossing line goes over"
    assert len(placement.overflow) == len(incoming) - len(placement.lines.lines)


def test_a_full_manifest_is_never_changed() -> None:
    rotation = Rotation(max_lines=2, max_bytes=1_000_000)
    sealed = manifest(answer("a", "cat", "01"), answer("b", "dog", "01"))
    newer, same, fresh = answer("c", "cat", "09"), answer("d", "dog", "01"), answer("e", "cow", "01")
    placement = place(sealed, [newer, same, fresh], rotation)
    assert not placement.changed and placement.full
    assert placement.lines.lines == sealed.lines
    assert placement.settled == {"d": Outcome.UNCHANGED}
    assert [a.key for a in placement.overflow] == ["c", "e"], "a newer answer moves on to the next manifest"


def test_an_empty_manifest_is_not_full() -> None:
    assert not manifest().is_full(Rotation(max_lines=1, max_bytes=1024))


def test_parse_names_a_line_that_is_not_ground_truth() -> None:
    with pytest.raises(ManifestLineError, match="line 2"):
        ManifestLines.parse(answer("a", "a", "01").text + "[1, 2]\n", ATTR)


def test_manifest_names_sort_in_generation_order() -> None:
    names = [manifest_key("manifests/", g) for g in (1, 2, 10, 100, 12345678)]
    assert names == sorted(names)
    assert names[0] == "manifests/00000001.manifest"
