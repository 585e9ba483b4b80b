"""Detections: integer pixel boxes clipped to their image, empty boxes dropped."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hitl_core.detections import Box, Detection, ImageDetections, ImageSize

sizes = st.builds(ImageSize, st.integers(1, 5000), st.integers(1, 5000))
coordinates = st.floats(-10_000, 10_000, allow_nan=False)


def inside(box: Box, size: ImageSize) -> bool:
    return (
        box.left >= 0
        and box.top >= 0
        and box.width > 0
        and box.height > 0
        and box.right <= size.width
        and box.bottom <= size.height
    )


@given(size=sizes, x1=coordinates, y1=coordinates, x2=coordinates, y2=coordinates)
def test_corners_become_an_integer_box_inside_the_image_or_nothing(size, x1, y1, x2, y2):
    box = Box.from_corners(x1, y1, x2, y2, size)
    if box is None:
        return
    assert all(isinstance(v, int) for v in box.to_dict().values())
    assert inside(box, size)
    # Clipping never moves an edge by more than half a pixel beyond where the clipped corner lay.
    assert abs(box.left - min(max(min(x1, x2), 0), size.width)) <= 0.5
    assert abs(box.bottom - min(max(max(y1, y2), 0), size.height)) <= 0.5


@given(size=sizes, x1=coordinates, y1=coordinates, x2=coordinates, y2=coordinates)
def test_corner_order_does_not_matter(size, x1, y1, x2, y2):
    assert Box.from_corners(x1, y1, x2, y2, size) == Box.from_corners(x2, y2, x1, y1, size)


@given(size=sizes, data=st.data())
def test_a_box_inside_the_image_survives_unchanged(size, data):
    left = data.draw(st.integers(0, size.width - 1))
    top = data.draw(st.integers(0, size.height - 1))
    width = data.draw(st.integers(1, size.width - left))
    height = data.draw(st.integers(1, size.height - top))
    assert Box.from_ltwh(left, top, width, height, size) == Box(left, top, width, height)


@given(size=sizes, left=coordinates, top=coordinates)
def test_zero_area_boxes_are_dropped(size, left, top):
    assert Box.from_ltwh(left, top, 0, 25, size) is None
    assert Box.from_ltwh(left, top, 25, 0, size) is None


@given(size=sizes)
def test_a_box_wholly_outside_the_image_is_dropped(size):
    assert Box.from_corners(size.width + 1, 0, size.width + 50, 10, size) is None
    assert Box.from_corners(-50, -50, -1, -1, size) is None


def test_a_box_straddling_the_edge_is_clipped():
    size = ImageSize(100, 80)
    assert Box.from_ltwh(-10.4, 70.2, 50, 30, size) == Box(0, 70, 40, 10)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_coordinates_are_refused(bad):
    with pytest.raises(ValueError, match="finite"):
        Box.from_corners(0, 0, bad, 10, ImageSize(10, 10))


@pytest.mark.parametrize(
    ("left", "top", "width", "height"), [(-1, 0, 5, 5), (0, -1, 5, 5), (0, 0, 0, 5), (0, 0, 5, 0)]
)
def test_a_box_cannot_be_built_empty_or_negative(left, top, width, height):
    with pytest.raises(ValueError, match="box needs"):
        Box(left, top, width, height)


@given(size=sizes, factor=st.floats(0.01, 10), data=st.data())
def test_scaling_back_keeps_boxes_inside_the_original(size, factor, data):
    small = ImageSize(max(1, round(size.width / factor)), max(1, round(size.height / factor)))
    left = data.draw(st.integers(0, small.width - 1))
    top = data.draw(st.integers(0, small.height - 1))
    box = Box(
        left,
        top,
        data.draw(st.integers(1, small.width - left)),
        data.draw(st.integers(1, small.height - top)),
    )
    scaled = box.scaled(factor, size)
    if scaled is not None:
        assert inside(scaled, size)
        assert abs(scaled.left - min(box.left * factor, size.width)) <= 0.5 + 1e-9


def test_rescaled_maps_downscaled_detections_to_original_pixels():
    small = ImageDetections(
        ImageSize(500, 250),
        (Detection("cat", 0.9, Box(10, 20, 100, 50)), Detection("scene", 0.7, None)),
    )
    original = ImageSize(1000, 500)
    big = small.rescaled(2.0, original)
    assert big.image_size == original
    assert big.detections == (Detection("cat", 0.9, Box(20, 40, 200, 100)), Detection("scene", 0.7, None))


def test_iou():
    a = Box(0, 0, 10, 10)
    assert a.iou(a) == 1.0
    assert a.iou(Box(5, 0, 10, 10)) == pytest.approx(50 / 150)
    assert a.iou(Box(10, 0, 10, 10)) == 0.0


@given(
    a=st.tuples(st.integers(0, 50), st.integers(0, 50), st.integers(1, 50), st.integers(1, 50)),
    b=st.tuples(st.integers(0, 50), st.integers(0, 50), st.integers(1, 50), st.integers(1, 50)),
)
def test_iou_is_symmetric_and_between_zero_and_one(a, b):
    box_a, box_b = Box(*a), Box(*b)
    assert box_a.iou(box_b) == box_b.iou(box_a)
    assert 0.0 <= box_a.iou(box_b) <= 1.0


@pytest.mark.parametrize("score", [-0.01, 1.01, math.nan])
def test_scores_outside_zero_to_one_are_refused(score):
    with pytest.raises(ValueError, match=r"in 0\.\.1"):
        Detection("cat", score, None)


def test_an_empty_label_is_refused():
    with pytest.raises(ValueError, match="label"):
        Detection("", 0.5, None)


@pytest.mark.parametrize(("width", "height", "depth"), [(0, 10, 3), (10, -1, 3), (10, 10, 0)])
def test_image_sizes_must_be_positive(width, height, depth):
    with pytest.raises(ValueError, match="positive"):
        ImageSize(width, height, depth)


def test_image_size_travels_with_the_detections_through_json():
    found = ImageDetections(
        ImageSize(640, 480, 1),
        (Detection("cat", 0.25, Box(1, 2, 3, 4)), Detection("indoor", 0.5, None)),
    )
    data = found.to_dict()
    assert data == {
        "image_size": {"width": 640, "height": 480, "depth": 1},
        "detections": [
            {"label": "cat", "score": 0.25, "left": 1, "top": 2, "width": 3, "height": 4},
            {"label": "indoor", "score": 0.5},
        ],
    }
    assert ImageDetections.from_dict(data) == found


def test_a_detection_outside_its_image_is_refused():
    with pytest.raises(ValueError, match="outside the 10x10 image"):
        ImageDetections(ImageSize(10, 10), (Detection("cat", 0.5, Box(5, 5, 6, 1)),))


def test_a_partial_box_is_refused():
    with pytest.raises(ValueError, match="partial box, lacking width, height"):
        Detection.from_dict({"label": "cat", "score": 0.5, "left": 1, "top": 2})


def test_top_score_and_threshold():
    found = ImageDetections(
        ImageSize(10, 10), [Detection("a", 0.3, None), Detection("b", 0.8, Box(0, 0, 2, 2))]
    )
    assert isinstance(found.detections, tuple)
    assert found.top_score == 0.8
    assert [d.label for d in found.at_least(0.5).detections] == ["b"]
    assert ImageDetections(ImageSize(10, 10), ()).top_score == 0.0
