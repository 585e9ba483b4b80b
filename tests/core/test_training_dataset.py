"""The training dataset: fold order, the hash split's properties, stats, changes and the gate."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hitl_core.manifest import dump_line
from hitl_core.training_dataset import (
    DatasetError,
    SourceManifest,
    build_dataset,
    changes_since,
    in_validation,
    manifest_text,
    training_blocker,
)

ATTR = "bounding-box"
LABELS = ["person", "bicycle", "car"]


def line(
    ref: str, date: str = "2026-01-01T00:00:00.000Z", class_ids: tuple[int, ...] = (0,)
) -> dict[str, Any]:
    annotations = [{"class_id": c, "left": 1, "top": 2, "width": 10, "height": 10} for c in class_ids]
    return {
        "source-ref": f"s3://images/{ref}.jpg",
        ATTR: {"image_size": [{"width": 64, "height": 48, "depth": 3}], "annotations": annotations},
        f"{ATTR}-metadata": {
            "objects": [{"confidence": 1} for _ in annotations],
            "class-map": {str(c): LABELS[c] if c < len(LABELS) else "x" for c in class_ids},
            "type": "groundtruth/object-detection",
            "human-annotated": "yes",
            "creation-date": date,
            "job-name": f"a2i/{ref}",
        },
    }


def manifest(uri: str, *lines: dict[str, Any]) -> SourceManifest:
    return SourceManifest(uri, manifest_text(lines))


def build(base=None, sealed=(), fraction=0.5, previous=None):
    return build_dataset(
        base=base,
        sealed=list(sealed),
        attribute=ATTR,
        validation_fraction=fraction,
        num_classes=len(LABELS),
        previous=previous,
    )


refs = st.lists(st.text(alphabet="abcdefghij0123456789/-", min_size=1, max_size=12), unique=True, max_size=40)


# Each example builds whole datasets: on a shared, loaded machine one can take longer than 200 ms.
@settings(deadline=None)
@given(refs, st.floats(min_value=0.01, max_value=0.5))
def test_the_split_is_deterministic_and_disjoint_and_covers_every_image(names, fraction):
    lines = [line(name) for name in names]
    first = build(sealed=[manifest("s3://t/1", *lines)], fraction=fraction)
    second = build(sealed=[manifest("s3://t/1", *lines)], fraction=fraction)
    train = {item["source-ref"] for item in first.train}
    validation = {item["source-ref"] for item in first.validation}
    assert (first.train, first.validation) == (second.train, second.validation)
    assert not train & validation
    assert train | validation == {item["source-ref"] for item in lines}


@settings(deadline=None)
@given(refs, refs, st.floats(min_value=0.01, max_value=0.5))
def test_adding_lines_never_moves_an_image_between_train_and_validation(names, more, fraction):
    before = build(sealed=[manifest("s3://t/1", *[line(n) for n in names])], fraction=fraction)
    after = build(
        sealed=[
            manifest("s3://t/1", *[line(n) for n in names]),
            manifest("s3://t/2", *[line(n) for n in more]),
        ],
        fraction=fraction,
    )
    after_validation = {item["source-ref"] for item in after.validation}
    after_train = {item["source-ref"] for item in after.train}
    assert {item["source-ref"] for item in before.validation} <= after_validation
    assert {item["source-ref"] for item in before.train} <= after_train


def test_the_split_is_close_to_the_fraction_on_many_images():
    share = sum(in_validation(f"s3://images/{i}.jpg", 0.1) for i in range(20_000)) / 20_000
    assert 0.09 < share < 0.11


@settings(max_examples=50, deadline=None)
@given(st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=12), st.data())
def test_the_newest_answer_wins_whatever_manifest_it_is_in(order, data):
    """Each generation holds answers with a date; the fold keeps, per image, the latest date."""
    days = data.draw(st.lists(st.integers(1, 28), min_size=len(order), max_size=len(order)))
    sealed = [
        manifest(f"s3://t/{i}", line(ref, f"2026-01-{day:02d}T00:00:00.000Z"))
        for i, (ref, day) in enumerate(zip(order, days, strict=True))
    ]
    dataset = build(sealed=sealed)
    folded = {item["source-ref"]: item[f"{ATTR}-metadata"]["creation-date"] for item in dataset.lines}
    for ref in set(order):
        latest = max(day for r, day in zip(order, days, strict=True) if r == ref)
        assert folded[f"s3://images/{ref}.jpg"] == f"2026-01-{latest:02d}T00:00:00.000Z"


def test_sealed_manifests_replace_base_lines_in_place_and_a_later_manifest_beats_an_earlier_one():
    base = manifest("s3://t/base", line("a"), line("b"), line("c"))
    first = manifest("s3://t/1", line("b", "2026-02-01T00:00:00.000Z", (1,)))
    second = manifest(
        "s3://t/2", line("b", "2026-03-01T00:00:00.000Z", (2,)), line("d", "2026-03-01T00:00:00.000Z")
    )
    dataset = build(base=base, sealed=[first, second])
    assert [item["source-ref"].split("/")[-1] for item in dataset.lines] == [
        "a.jpg",
        "b.jpg",
        "c.jpg",
        "d.jpg",
    ]
    assert dataset.lines[1][ATTR]["annotations"][0]["class_id"] == 2


def test_an_older_answer_in_a_later_manifest_does_not_replace_a_newer_one():
    newer = manifest("s3://t/1", line("a", "2026-05-01T00:00:00.000Z", (1,)))
    older = manifest("s3://t/2", line("a", "2026-04-01T00:00:00.000Z", (2,)))
    assert build(sealed=[newer, older]).lines[0][ATTR]["annotations"][0]["class_id"] == 1


def test_nothing_here_lines_stay_in_the_fold_but_not_in_the_training_files():
    dataset = build(sealed=[manifest("s3://t/1", line("a"), line("empty", class_ids=()))])
    assert len(dataset.lines) == 2
    assert dataset.empty == 1
    assert all(item[ATTR]["annotations"] for item in dataset.train + dataset.validation)
    assert len(dataset.train) + len(dataset.validation) == 1


def test_a_bad_base_line_is_left_out_and_reported_with_its_line_number():
    base = SourceManifest("s3://t/base", dump_line(line("a")) + '{"source-ref": "nope"}\n' + "not json\n")
    dataset = build(base=base)
    assert [item.line for item in dataset.invalid] == [2, 3]
    assert "s3://" in dataset.invalid[0].reason
    assert "not JSON" in dataset.invalid[1].reason
    assert len(dataset.lines) == 1


def test_a_bad_sealed_line_is_an_error_naming_the_manifest_and_line():
    broken = SourceManifest("s3://t/1", dump_line(line("a")) + '{"source-ref": "s3://x/y.jpg"}\n')
    with pytest.raises(DatasetError, match=r"s3://t/1 line 2: "):
        build(sealed=[broken])


def test_a_class_id_outside_the_labels_is_left_out_and_reported():
    dataset = build(sealed=[manifest("s3://t/1", line("a"), line("z", class_ids=(7,)))])
    assert [item.uri for item in dataset.invalid] == ["s3://images/z.jpg"]
    assert "outside 0..2" in dataset.invalid[0].reason


def test_stats_count_images_boxes_and_boxes_per_class():
    dataset = build(
        sealed=[
            manifest(
                "s3://t/1", *[line(f"i{n}", class_ids=(0, 1, 1)) for n in range(6)], line("e", class_ids=())
            )
        ]
    )
    stats = dataset.stats(LABELS)
    assert stats["images"] == 7
    assert stats["empty_images"] == 1
    total = stats["train"]["images"] + stats["validation"]["images"]
    assert total == 6
    assert stats["train"]["boxes_per_class"] == (
        {"bicycle": 2 * stats["train"]["images"], "person": stats["train"]["images"]}
        if stats["train"]["images"]
        else {}
    )
    assert stats["train"]["boxes"] + stats["validation"]["boxes"] == 18
    json.dumps(stats)


def test_changes_count_added_updated_and_removed_images_against_the_previous_fold():
    previous = [line("a"), line("b"), line("gone")]
    current = [line("a"), line("b", "2026-02-01T00:00:00.000Z"), line("c")]
    changes = changes_since(previous, current)
    assert (changes.added, changes.updated, changes.removed, changes.new_answers) == (1, 1, 1, 2)
    assert changes_since(None, current).new_answers == 3


def test_no_run_starts_with_too_few_new_answers_or_an_empty_split():
    lines = [line(f"i{n}") for n in range(40)]
    dataset = build(sealed=[manifest("s3://t/1", *lines)], fraction=0.2)
    assert training_blocker(dataset, 40) is None
    assert "fewer than training.min_new_answers (41)" in str(training_blocker(dataset, 41))
    again = build(sealed=[manifest("s3://t/1", *lines)], fraction=0.2, previous=dataset.lines)
    assert "0 new answer(s)" in str(training_blocker(again, 1))
    single = build(sealed=[manifest("s3://t/1", line("only"))])
    assert "both need images with boxes" in str(training_blocker(single, 1))
