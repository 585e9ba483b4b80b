"""Detector response adapters: each model's shape to pixel detections, bad shapes refused."""

from __future__ import annotations

import math
from typing import Any, get_args

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hitl_core.adapters import ADAPTERS, AdapterName, DetectorResponseError, parse_detector_response
from hitl_core.detections import Box, Detection, ImageSize

SIZE = ImageSize(640, 480)
CLASSES = ("person", "bicycle")


def test_sagemaker_rows_are_scaled_to_pixels_and_class_ids_mapped(sagemaker_response):
    found = parse_detector_response("sagemaker-object-detection", sagemaker_response, SIZE, CLASSES)
    assert found.image_size == SIZE
    assert found.detections == (
        Detection("bicycle", 0.91, Box(64, 96, 256, 240)),
        Detection("person", 0.42, Box(384, 48, 192, 144)),
    )


def test_gluoncv_pixel_corners_become_boxes(gluoncv_response):
    found = parse_detector_response("gluoncv", gluoncv_response, SIZE, CLASSES)
    assert found.detections == (
        Detection("bicycle", 0.91, Box(64, 96, 256, 240)),
        Detection("person", 0.42, Box(384, 48, 192, 144)),
    )


def test_gluoncv_numeric_ids_go_through_the_class_list(gluoncv_response):
    gluoncv_response[0]["id"] = 0
    found = parse_detector_response("gluoncv", gluoncv_response, SIZE, CLASSES)
    assert found.detections[0].label == "person"


def test_rekognition_confidence_and_ratios_and_image_level_labels(rekognition_response):
    found = parse_detector_response("rekognition-custom-labels", rekognition_response, SIZE, CLASSES)
    assert found.detections == (
        Detection("bicycle", 0.91, Box(64, 96, 256, 240)),
        Detection("person", 0.42, None),
    )


def test_boxes_reaching_past_the_image_are_clipped_and_empty_ones_dropped():
    response = {
        "prediction": [
            [0, 0.8, -0.1, -0.2, 0.5, 1.3],
            [1, 0.7, 0.3, 0.3, 0.3, 0.9],
            [1, 0.6, 1.2, 0.1, 1.5, 0.2],
        ]
    }
    found = parse_detector_response("sagemaker-object-detection", response, SIZE, CLASSES)
    assert found.detections == (Detection("person", 0.8, Box(0, 0, 320, 480)),)


def test_an_empty_response_means_no_detections():
    for name, empty in (
        ("sagemaker-object-detection", {"prediction": []}),
        ("gluoncv", []),
        ("rekognition-custom-labels", {"CustomLabels": []}),
    ):
        assert parse_detector_response(name, empty, SIZE, CLASSES).detections == ()


@given(
    rows=st.lists(
        st.tuples(
            st.integers(0, 1),
            st.floats(0, 1),
            *[st.floats(-0.5, 1.5, allow_nan=False)] * 4,
        ),
        max_size=20,
    ),
    width=st.integers(1, 4000),
    height=st.integers(1, 4000),
)
def test_every_sagemaker_detection_lies_inside_the_image(rows, width, height):
    size = ImageSize(width, height)
    found = parse_detector_response(
        "sagemaker-object-detection", {"prediction": [list(r) for r in rows]}, size, CLASSES
    )
    assert len(found.detections) <= len(rows)
    for det in found.detections:
        assert det.box is not None and det.box.fits(size)
        assert 0.0 <= det.score <= 1.0


@given(
    boxes=st.lists(st.tuples(*[st.floats(-0.5, 1.5, allow_nan=False)] * 4), max_size=10),
    width=st.integers(1, 4000),
    height=st.integers(1, 4000),
)
def test_every_rekognition_box_lies_inside_the_image(boxes, width, height):
    size = ImageSize(width, height)
    response = {
        "CustomLabels": [
            {
                "Name": "person",
                "Confidence": 50,
                "Geometry": {"BoundingBox": {"Left": left, "Top": top, "Width": w, "Height": h}},
            }
            for left, top, w, h in boxes
        ]
    }
    for det in parse_detector_response("rekognition-custom-labels", response, size, CLASSES).detections:
        assert det.box is not None and det.box.fits(size)


BAD_RESPONSES: list[tuple[str, Any, str]] = [
    (
        "gluoncv",
        [{"id": "cat", "score": 0.5, "left": 0, "top": 0, "right": 1, "bottom": 1}],
        "'cat' is not in",
    ),
    ("rekognition-custom-labels", {"CustomLabels": [{"Name": "cat", "Confidence": 50}]}, "'cat' is not in"),
    (
        "rekognition-custom-labels",
        {
            "CustomLabels": [
                {
                    "Name": "cat",
                    "Confidence": 50,
                    "Geometry": {"BoundingBox": {"Left": 0, "Top": 0, "Width": 0.5, "Height": 0.5}},
                }
            ]
        },
        "'cat' is not in the configured class list",
    ),
    ("sagemaker-object-detection", [], "'prediction' list"),
    ("sagemaker-object-detection", {"predictions": []}, "'prediction' list"),
    ("sagemaker-object-detection", {"prediction": [[1, 0.5, 0, 0, 1]]}, r"prediction\[0\] must be"),
    ("sagemaker-object-detection", {"prediction": ["row"]}, r"prediction\[0\] must be"),
    ("sagemaker-object-detection", {"prediction": [[2, 0.5, 0, 0, 1, 1]]}, "not a class id of the 2"),
    ("sagemaker-object-detection", {"prediction": [[-1, 0.5, 0, 0, 1, 1]]}, "not a class id"),
    ("sagemaker-object-detection", {"prediction": [[0.5, 0.5, 0, 0, 1, 1]]}, "not a class id"),
    ("sagemaker-object-detection", {"prediction": [[0, 1.5, 0, 0, 1, 1]]}, r"score must lie in 0\.\.1"),
    ("sagemaker-object-detection", {"prediction": [[0, "0.5", 0, 0, 1, 1]]}, "finite number"),
    ("sagemaker-object-detection", {"prediction": [[0, 0.5, 0, 0, math.nan, 1]]}, "finite number"),
    ("sagemaker-object-detection", {"prediction": [[True, 0.5, 0, 0, 1, 1]]}, "finite number"),
    ("gluoncv", {"id": "x"}, "list of detections"),
    ("gluoncv", ["x"], r"\[0\] must be an object"),
    ("gluoncv", [{"id": "x", "score": 0.5, "left": 0, "top": 0}], "lacks right, bottom"),
    ("gluoncv", [{"id": 7, "score": 0.5, "left": 0, "top": 0, "right": 1, "bottom": 1}], "not a class id"),
    ("gluoncv", [{"id": "x", "score": -0.1, "left": 0, "top": 0, "right": 1, "bottom": 1}], "score"),
    ("gluoncv", [{"id": "x", "score": 0.5, "left": None, "top": 0, "right": 1, "bottom": 1}], "left"),
    ("rekognition-custom-labels", {"Labels": []}, "'CustomLabels' list"),
    ("rekognition-custom-labels", {"CustomLabels": [{"Confidence": 50}]}, "must have a Name"),
    ("rekognition-custom-labels", {"CustomLabels": [{"Name": "x"}]}, "Confidence must be a finite"),
    ("rekognition-custom-labels", {"CustomLabels": [{"Name": "x", "Confidence": 101}]}, r"0\.\.100"),
    (
        "rekognition-custom-labels",
        {"CustomLabels": [{"Name": "x", "Confidence": 50, "Geometry": {}}]},
        "BoundingBox",
    ),
    (
        "rekognition-custom-labels",
        {"CustomLabels": [{"Name": "x", "Confidence": 50, "Geometry": {"BoundingBox": {"Left": 0}}}]},
        r"BoundingBox\.Top",
    ),
]


@pytest.mark.parametrize(("adapter", "response", "problem"), BAD_RESPONSES)
def test_malformed_responses_raise_one_error_type_naming_the_problem(adapter, response, problem):
    with pytest.raises(DetectorResponseError, match=problem) as caught:
        parse_detector_response(adapter, response, SIZE, CLASSES)
    assert caught.value.adapter == adapter
    assert str(caught.value).startswith(f"{adapter} response: ")


def test_an_unknown_adapter_is_named():
    with pytest.raises(DetectorResponseError, match="unknown adapter; known: sagemaker-object-detection"):
        parse_detector_response("yolo", {}, SIZE, CLASSES)


def test_the_adapter_names_match_the_configuration_literal():
    assert set(ADAPTERS) == set(get_args(AdapterName))
