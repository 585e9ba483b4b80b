"""Human-loop requests: deterministic, valid loop names and the task's InputContent."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import Stubber
from hypothesis import given
from hypothesis import strategies as st

from hitl_core.detections import Box, Detection, ImageDetections, ImageSize
from hitl_core.human_loop import (
    LOOP_NAME_PATTERN,
    MAX_INPUT_CONTENT_CHARS,
    InputContentTooLarge,
    build_input_content,
    image_identity,
    loop_name,
    serialize_input_content,
    split_by_labels,
)

FLOW = "arn:aws:sagemaker:us-east-1:111122223333:flow-definition/hitl-review"
keys = st.text(min_size=1, max_size=1024)
versions = st.text(alphabet='abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"', max_size=64)


@given(bucket=st.from_regex(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", fullmatch=True), key=keys, version=versions)
def test_loop_names_are_valid_for_a2i_and_stable(bucket, key, version):
    name = loop_name(bucket, key, version)
    assert LOOP_NAME_PATTERN.fullmatch(name)
    assert 1 <= len(name) <= 63
    assert loop_name(bucket, key, version) == name


@given(a=st.tuples(st.just("in"), keys, versions), b=st.tuples(st.just("in"), keys, versions))
def test_different_objects_get_different_loop_names(a, b):
    if a != b:
        assert loop_name(*a) != loop_name(*b)


def test_a_separator_in_the_key_cannot_make_two_objects_collide():
    assert image_identity("b", "a.jpg#x", "y") == image_identity("b", "a.jpg", "x#y")
    assert loop_name("b", "a.jpg#x", "y") != loop_name("b", "a.jpg", "x#y")


def test_loop_names_start_with_a_readable_slug_of_the_file_name():
    name = loop_name("input", "incoming/2024/Holiday Photos/IMG_0042.JPG", "3HL4kqtJlcpXroDTDmJ")
    assert name.startswith("img-0042-")
    assert len(name) == len("img-0042-") + 24
    assert loop_name("input", "incoming/x.jpg", "v2") != loop_name("input", "incoming/x.jpg", "v1")
    assert loop_name("input", "incoming/x.jpg", "v1") != loop_name("other", "incoming/x.jpg", "v1")


def test_a_key_with_nothing_readable_gets_a_generic_slug():
    assert loop_name("in", "incoming/日本.png", "v").startswith("img-")
    long = loop_name("in", "incoming/" + "a" * 300 + ".jpg", "v")
    assert len(long) == 63 and LOOP_NAME_PATTERN.fullmatch(long)


def shown() -> ImageDetections:
    return ImageDetections(
        ImageSize(640, 480),
        (
            Detection("cat", 0.91234, Box(10, 20, 100, 50)),
            Detection("unicorn", 0.4, Box(0, 0, 5, 5)),
            Detection("indoor", 0.8, None),
        ),
    )


def test_input_content_holds_the_image_its_boxes_labels_and_provenance():
    content = build_input_content(
        task_object="s3://in/incoming/cat.jpg",
        shown=shown(),
        labels=["dog", "cat", "dog"],
        source={"bucket": "in", "key": "incoming/cat.jpg", "version": "v1"},
        model={"adapter": "gluoncv", "endpoint": "detector"},
    )
    assert content == {
        "taskObject": "s3://in/incoming/cat.jpg",
        "labels": ["dog", "cat"],
        "initialValue": [{"label": "cat", "left": 10, "top": 20, "width": 100, "height": 50}],
        "initialScores": [0.9123],
        "imageLabels": [{"label": "indoor", "score": 0.8}],
        "imageSize": {"width": 640, "height": 480, "depth": 3},
        "source": {"bucket": "in", "key": "incoming/cat.jpg", "version": "v1"},
        "model": {"adapter": "gluoncv", "endpoint": "detector"},
    }


def test_boxes_of_labels_not_offered_are_split_off_and_image_labels_stay():
    kept, hidden = split_by_labels(["b", "cat"], shown())
    assert [d.label for d in kept.detections] == ["cat", "indoor"]
    assert [d.label for d in hidden] == ["unicorn"]
    assert kept.image_size == shown().image_size


def test_the_task_offers_exactly_the_configured_labels_and_hides_other_boxes():
    content = build_input_content(
        task_object="s3://in/incoming/cat.jpg", shown=shown(), labels=["dog", "cat"], source={}, model={}
    )
    assert content["labels"] == ["dog", "cat"]
    assert [box["label"] for box in content["initialValue"]] == ["cat"]
    assert content["initialScores"] == [0.9123]


def test_a_start_human_loop_request_passes_the_a2i_api_model():
    content = build_input_content(
        task_object="s3://in/incoming/cat.jpg", shown=shown(), labels=["cat"], source={}, model={}
    )
    name = loop_name("in", "incoming/cat.jpg", "v1")
    params = {
        "HumanLoopName": name,
        "FlowDefinitionArn": FLOW,
        "HumanLoopInput": {"InputContent": serialize_input_content(content)},
        "DataAttributes": {"ContentClassifiers": ["FreeOfPersonallyIdentifiableInformation"]},
    }
    client = boto3.client("sagemaker-a2i-runtime", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_response("start_human_loop", {"HumanLoopArn": f"{FLOW}/{name}"}, params)
        client.start_human_loop(**params)
        stub.assert_no_pending_responses()
    assert json.loads(params["HumanLoopInput"]["InputContent"]) == content


def test_serialized_content_is_compact_and_stable():
    content = {"b": [1, 2], "a": "x"}
    assert serialize_input_content(content) == '{"a":"x","b":[1,2]}'


def test_content_at_the_limit_is_accepted_and_one_char_more_refused():
    overhead = len(serialize_input_content({"taskObject": ""}))
    at_limit = {"taskObject": "x" * (MAX_INPUT_CONTENT_CHARS - overhead)}
    assert len(serialize_input_content(at_limit)) == MAX_INPUT_CONTENT_CHARS
    over = {"taskObject": "x" * (MAX_INPUT_CONTENT_CHARS - overhead + 1)}
    with pytest.raises(InputContentTooLarge, match="3,145,729 characters; A2I takes at most 3,145,728"):
        serialize_input_content(over)


def test_too_many_boxes_are_refused_not_truncated():
    many = ImageDetections(
        ImageSize(4000, 4000),
        tuple(Detection("cat", 0.5, Box(i % 3999, i // 3999, 1, 1)) for i in range(60_000)),
    )
    content = build_input_content(
        task_object="s3://in/x.jpg", shown=many, labels=["cat"], source={}, model={}
    )
    with pytest.raises(InputContentTooLarge):
        serialize_input_content(content)
