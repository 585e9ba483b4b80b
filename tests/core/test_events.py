"""Event models: one per detail-type, strict, with JSON Schemas consumers can rely on."""

from __future__ import annotations

import json
import re

import boto3
import pytest
from botocore.stub import Stubber
from jsonschema import Draft202012Validator
from pydantic import ValidationError

from hitl_core.detections import Box, Detection, ImageSize
from hitl_core.events import (
    EVENT_SOURCE,
    EVENT_TYPES,
    DetectionOut,
    EventDetail,
    ImageRef,
    InputRejected,
    LabeledBox,
    ReviewComparisonOut,
    Size,
    event_schema,
    put_events_entry,
)
from hitl_core.review_comparison import compare_boxes

IMAGE = ImageRef(bucket="in", key="incoming/cat.jpg", version="v1", uri="s3://in/incoming/cat.jpg")


def rejected() -> InputRejected:
    return InputRejected(
        image=IMAGE, record_uri="s3://train/rejected/cat.json", reason_code="corrupt", reason="truncated JPEG"
    )


def test_detail_types_and_schema_names_are_unique_and_well_formed():
    assert len({t.detail_type for t in EVENT_TYPES}) == len(EVENT_TYPES)
    assert len({t.schema_name for t in EVENT_TYPES}) == len(EVENT_TYPES)
    for event_type in EVENT_TYPES:
        assert issubclass(event_type, EventDetail)
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*", event_type.schema_name)
        assert re.fullmatch(r"[A-Z][a-z0-9]*( [A-Z0-9][a-z0-9]*)*", event_type.detail_type)


@pytest.mark.parametrize("event_type", EVENT_TYPES, ids=lambda t: t.schema_name)
def test_every_schema_is_valid_draft_2020_12_and_closed(event_type):
    schema = event_schema(event_type)
    Draft202012Validator.check_schema(schema)
    assert schema["$id"] == f"{EVENT_SOURCE}/{event_type.schema_name}"
    assert schema["title"] == event_type.detail_type
    assert schema["x-event-source"] == EVENT_SOURCE
    assert schema["additionalProperties"] is False
    assert "detail_type" not in schema["properties"] and "schema_name" not in schema["properties"]


def test_an_event_validates_against_its_schema_and_the_schema_refuses_what_the_model_refuses():
    validator = Draft202012Validator(event_schema(InputRejected))
    detail = json.loads(rejected().model_dump_json())
    assert list(validator.iter_errors(detail)) == []
    assert list(validator.iter_errors(detail | {"reason_code": "bored"}))
    assert list(validator.iter_errors(detail | {"surprise": 1}))
    with pytest.raises(ValidationError):
        InputRejected.model_validate(detail | {"reason_code": "bored"})
    with pytest.raises(ValidationError, match="surprise"):
        InputRejected.model_validate(detail | {"surprise": 1})


def test_core_objects_fit_the_event_parts():
    assert Size.model_validate(ImageSize(640, 480, 1).to_dict()).depth == 1
    boxed = DetectionOut.model_validate(Detection("cat", 0.5, Box(1, 2, 3, 4)).to_dict())
    assert (boxed.left, boxed.top, boxed.width, boxed.height) == (1, 2, 3, 4)
    image_level = DetectionOut.model_validate(Detection("indoor", 0.5, None).to_dict())
    assert image_level.left is None
    assert LabeledBox(label="cat", **Box(0, 0, 1, 1).to_dict()).width == 1
    comparison = compare_boxes([Detection("cat", 0.5, Box(0, 0, 10, 10))], [("dog", Box(1, 0, 10, 10))])
    out = ReviewComparisonOut.model_validate(comparison.to_dict())
    assert out.model_dump() == comparison.to_dict()
    assert [(r.from_label, r.to_label) for r in out.relabels] == [("cat", "dog")]


@pytest.mark.parametrize(
    ("model", "data"),
    [
        (Size, {"width": 0, "height": 1}),
        (DetectionOut, {"label": "cat", "score": 1.5}),
        (LabeledBox, {"label": "cat", "left": -1, "top": 0, "width": 1, "height": 1}),
        (LabeledBox, {"label": "cat", "left": 0, "top": 0, "width": 0, "height": 1}),
        (ImageRef, {"bucket": "in", "key": "k"}),
        (ReviewComparisonOut, {**compare_boxes([], []).to_dict(), "iou_threshold": 0}),
        (ReviewComparisonOut, {**compare_boxes([], []).to_dict(), "matched_ious": [1.5]}),
    ],
)
def test_event_parts_refuse_bad_values(model, data):
    with pytest.raises(ValidationError):
        model.model_validate(data)


def test_put_events_entry_passes_the_eventbridge_api_model():
    entry = put_events_entry(rejected(), "hitl-bus")
    assert entry["Source"] == EVENT_SOURCE
    assert entry["DetailType"] == "Input Rejected"
    assert entry["EventBusName"] == "hitl-bus"
    assert InputRejected.model_validate_json(entry["Detail"]) == rejected()
    client = boto3.client("events", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_response(
            "put_events", {"FailedEntryCount": 0, "Entries": [{"EventId": "1"}]}, {"Entries": [entry]}
        )
        client.put_events(Entries=[entry])
        stub.assert_no_pending_responses()
