"""The model's boxes against the reviewer's: per-class counts, greedy order, relabels, thresholds."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hitl_core.detections import Box, Detection, ImageDetections, ImageSize
from hitl_core.human_loop import build_input_content, shown_detections
from hitl_core.review_comparison import ClassCounts, ReviewComparison, compare_boxes


def det(label: str, score: float, left: int, top: int, width: int = 10, height: int = 10) -> Detection:
    return Detection(label, score, Box(left, top, width, height))


def truth(label: str, left: int, top: int, width: int = 10, height: int = 10) -> tuple[str, Box]:
    return label, Box(left, top, width, height)


def test_a_model_missing_every_third_box_has_recall_two_thirds() -> None:
    reviewer = [truth("car", 20 * i, 0) for i in range(30)]
    model = [det("car", 0.9, 20 * i, 0) for i in range(30) if i % 3 != 2]

    result = compare_boxes(model, reviewer)

    car = result.per_class["car"]
    assert (car.true_positives, car.false_positives, car.false_negatives) == (20, 0, 10)
    assert car.recall == pytest.approx(2 / 3)
    assert car.precision == 1.0
    assert result.image_wrong and result.changed
    assert result.matched_ious == (1.0,) * 20


def test_the_highest_scoring_model_box_takes_the_reviewer_box_first() -> None:
    # Reviewer boxes A (0..10) and B (4..14). Model box X (2..12) overlaps A and B alike
    # (IoU 8/12); Y (0..10) is A itself and overlaps B 6/14 (< 0.5). Scored first, X takes A
    # (equal IoU: the first box) and leaves Y nothing; scored the other way, both match.
    reviewer = [truth("dog", 0, 0), truth("dog", 4, 0)]
    x_first = compare_boxes([det("dog", 0.9, 2, 0), det("dog", 0.5, 0, 0)], reviewer)
    y_first = compare_boxes([det("dog", 0.5, 2, 0), det("dog", 0.9, 0, 0)], reviewer)

    assert x_first.per_class["dog"] == ClassCounts(true_positives=1, false_positives=1, false_negatives=1)
    assert y_first.per_class["dog"] == ClassCounts(true_positives=2, false_positives=0, false_negatives=0)
    assert y_first.matched_ious == (1.0, round(8 / 12, 4))


def test_equal_scores_keep_the_model_s_order() -> None:
    reviewer = [truth("dog", 0, 0), truth("dog", 4, 0)]
    result = compare_boxes([det("dog", 0.7, 2, 0), det("dog", 0.7, 0, 0)], reviewer)
    assert result.true_positives == 1


def test_a_box_the_reviewer_relabelled_counts_as_a_relabel_and_as_a_miss_and_a_false_box() -> None:
    result = compare_boxes(
        [det("cat", 0.8, 0, 0), det("dog", 0.6, 50, 50)],
        [truth("dog", 1, 0), truth("dog", 50, 50)],
    )

    assert result.relabels == (("cat", "dog"),)
    assert result.per_class["cat"] == ClassCounts(0, 1, 0)
    assert result.per_class["dog"] == ClassCounts(1, 0, 1)


def test_a_relabel_needs_the_overlap_too_and_takes_each_reviewer_box_once() -> None:
    result = compare_boxes(
        [det("cat", 0.8, 0, 0), det("bird", 0.7, 0, 0), det("cow", 0.6, 100, 100)],
        [truth("dog", 0, 0)],
    )
    assert result.relabels == (("cat", "dog"),)


@pytest.mark.parametrize(
    ("threshold", "matched"),
    [(0.5, True), (0.5000001, False), (0.49, True), (1.0, False)],
)
def test_an_iou_exactly_at_the_threshold_matches(threshold: float, matched: bool) -> None:
    # 10x10 against its top half: intersection 50, union 100, IoU exactly 0.5.
    result = compare_boxes([det("car", 0.9, 0, 0)], [truth("car", 0, 0, 10, 5)], iou_threshold=threshold)
    assert result.true_positives == int(matched)
    assert result.relabels == ()


def test_identical_boxes_match_at_threshold_one() -> None:
    result = compare_boxes([det("car", 0.9, 3, 4)], [truth("car", 3, 4)], iou_threshold=1.0)
    assert (result.true_positives, result.changed, result.image_wrong) == (1, False, False)


@pytest.mark.parametrize("threshold", [0.0, -0.1, 1.01, float("nan")])
def test_a_threshold_outside_zero_to_one_is_refused(threshold: float) -> None:
    with pytest.raises(ValueError, match="IoU threshold"):
        compare_boxes([], [], iou_threshold=threshold)


def test_an_empty_model_misses_every_reviewer_box() -> None:
    result = compare_boxes([], [truth("car", 0, 0), truth("dog", 20, 0)])
    assert result.per_class == {"car": ClassCounts(0, 0, 1), "dog": ClassCounts(0, 0, 1)}
    assert result.image_wrong and result.changed
    assert result.per_class["car"].precision is None


def test_an_empty_answer_makes_every_model_box_false() -> None:
    result = compare_boxes([det("car", 0.9, 0, 0)], [])
    assert result.per_class == {"car": ClassCounts(0, 1, 0)}
    assert result.per_class["car"].recall is None
    assert result.image_wrong and result.changed


def test_nothing_on_either_side_is_an_unchanged_right_image() -> None:
    result = compare_boxes([], [])
    assert result.per_class == {}
    assert not result.image_wrong and not result.changed


def test_a_box_moved_within_the_threshold_is_right_but_changed() -> None:
    result = compare_boxes([det("car", 0.9, 0, 0)], [truth("car", 1, 0)])
    assert not result.image_wrong
    assert result.changed


def test_image_level_detections_take_no_part() -> None:
    result = compare_boxes([Detection("indoor", 0.9, None)], [])
    assert result.per_class == {} and not result.changed


def test_reviewer_boxes_may_be_mappings_or_objects() -> None:
    class Labelled:
        label, left, top, width, height = "car", 0, 0, 10, 10

    boundingbox = {"label": "car", "left": 20, "top": 0, "width": 10, "height": 10}
    result = compare_boxes([det("car", 0.9, 0, 0), det("car", 0.8, 20, 0)], [Labelled(), boundingbox])
    assert result.true_positives == 2 and not result.changed


def test_the_dict_form_is_json_and_reads_back_equal() -> None:
    result = compare_boxes(
        [det("cat", 0.8, 0, 0), det("dog", 0.6, 50, 50, 9, 10)],
        [truth("dog", 1, 0), truth("dog", 50, 50)],
        iou_threshold=0.6,
    )
    data = json.loads(json.dumps(result.to_dict()))

    assert ReviewComparison.from_dict(data) == result
    assert data["matched_ious"] == [0.9]
    assert data["relabels"] == [{"from_label": "cat", "to_label": "dog"}]
    assert (data["true_positives"], data["false_positives"], data["false_negatives"]) == (1, 1, 1)
    assert data["image_wrong"] is True


def test_the_model_s_boxes_are_the_ones_the_reviewer_was_shown() -> None:
    size = ImageSize(100, 100)
    shown = ImageDetections(
        size, (det("cat", 0.9, 0, 0), det("boat", 0.8, 20, 20), Detection("indoor", 0.7, None))
    )
    content = build_input_content(
        task_object="s3://b/k.jpg", shown=shown, labels=["cat"], source={}, model={}
    )
    assert shown_detections(json.loads(json.dumps(content))) == (det("cat", 0.9, 0, 0),)


def test_boxes_without_their_scores_are_refused() -> None:
    with pytest.raises(ValueError, match="initialScores"):
        shown_detections({"initialValue": [{"label": "cat", "left": 0, "top": 0, "width": 1, "height": 1}]})


_coords = st.integers(min_value=0, max_value=40)
_sides = st.integers(min_value=1, max_value=30)
_labels = st.sampled_from(["car", "cat", "dog"])
_model_boxes = st.lists(
    st.builds(det, _labels, st.floats(min_value=0, max_value=1), _coords, _coords, _sides, _sides),
    max_size=12,
)
_reviewer_boxes = st.lists(st.builds(truth, _labels, _coords, _coords, _sides, _sides), max_size=12)


@given(_model_boxes, _reviewer_boxes, st.floats(min_value=0.05, max_value=1.0))
def test_every_box_is_counted_once_on_its_side(
    model: list[Detection], reviewer: list[tuple[str, Box]], threshold: float
) -> None:
    result = compare_boxes(model, reviewer, iou_threshold=threshold)

    assert result.true_positives + result.false_negatives == len(reviewer)
    assert result.true_positives + result.false_positives == len(model)
    for label, counts in result.per_class.items():
        assert counts.true_positives + counts.false_negatives == sum(1 for t in reviewer if t[0] == label)
        assert counts.true_positives + counts.false_positives == sum(1 for d in model if d.label == label)
    assert len(result.matched_ious) == result.true_positives
    assert all(threshold <= iou + 1e-4 for iou in result.matched_ious)
    assert len(result.relabels) <= min(result.false_positives, result.false_negatives)
    assert ReviewComparison.from_dict(json.loads(json.dumps(result.to_dict()))) == result


@given(_reviewer_boxes)
def test_a_reviewer_who_keeps_the_model_s_boxes_changes_nothing(reviewer: list[tuple[str, Box]]) -> None:
    model = [Detection(label, 0.5, box) for label, box in reviewer]
    result = compare_boxes(model, reviewer)
    assert not result.changed
    assert result.false_positives == 0
