"""Ground Truth manifest lines from A2I answers: conversion, consolidation, checks and merging."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hitl_core.detections import Box, ImageSize
from hitl_core.manifest import (
    AnswerError,
    ManifestLineError,
    consolidate,
    creation_date,
    dump_line,
    ground_truth_line,
    merge_lines,
    parse_lines,
    validate_line,
)

from .conftest import REFERENCE_ATTRIBUTE, REFERENCE_CLASSES


def convert(
    output: dict[str, Any], classes=REFERENCE_CLASSES, attribute=REFERENCE_ATTRIBUTE
) -> dict[str, Any]:
    return ground_truth_line(output, attribute=attribute, class_list=classes)


def answer(boxes: list[dict[str, Any]], submitted: str = "2020-05-01T18:24:53.742Z", size=(3911, 2608)):
    return {
        "answerContent": {
            "annotatedResult": {
                "boundingBoxes": boxes,
                "inputImageProperties": {"width": size[0], "height": size[1]},
            }
        },
        "submissionTime": submitted,
        "workerId": "w",
    }


def labeled(label: str, left: int, top: int, width: int, height: int) -> dict[str, Any]:
    return {"label": label, "left": left, "top": top, "width": width, "height": height}


# --- conversion -----------------------------------------------------------------------------


def test_the_reference_answer_becomes_the_reference_line(a2i_output, reference_manifest_line):
    line = convert(a2i_output)
    assert line == reference_manifest_line
    assert list(line) == ["source-ref", "ATTR", "ATTR-metadata"]
    assert validate_line(line) == "ATTR"


def test_attribute_and_class_ids_come_from_the_configuration(a2i_output, pipeline_config):
    line = convert(a2i_output, pipeline_config.labels, pipeline_config.manifest_attribute)
    attribute = pipeline_config.manifest_attribute
    assert line[attribute]["annotations"][0]["class_id"] == pipeline_config.labels.index("bicycle")
    assert line[f"{attribute}-metadata"]["class-map"] == {"1": "bicycle"}


def test_one_object_entry_per_annotation_and_a_class_map_of_the_labels_used(a2i_output):
    a2i_output["humanAnswers"][0]["answerContent"]["annotatedResult"]["boundingBoxes"] = [
        labeled("bicycle", 0, 0, 10, 10),
        labeled("person", 20, 20, 10, 10),
        labeled("bicycle", 40, 40, 10, 10),
    ]
    line = convert(a2i_output)
    assert [a["class_id"] for a in line["ATTR"]["annotations"]] == [1, 0, 1]
    assert line["ATTR-metadata"]["objects"] == [{"confidence": 1}] * 3
    assert line["ATTR-metadata"]["class-map"] == {"1": "bicycle", "0": "person"}


def test_the_depth_comes_from_the_input_content_when_it_was_sent(a2i_output):
    a2i_output["inputContent"]["imageSize"] = {"width": 3911, "height": 2608, "depth": 1}
    assert convert(a2i_output)["ATTR"]["image_size"] == [{"width": 3911, "height": 2608, "depth": 1}]


def test_no_boxes_is_a_valid_nothing_here_line(a2i_output):
    a2i_output["humanAnswers"][0]["answerContent"]["annotatedResult"]["boundingBoxes"] = []
    line = convert(a2i_output)
    assert line["ATTR"]["annotations"] == []
    assert line["ATTR-metadata"]["objects"] == []
    assert line["ATTR-metadata"]["class-map"] == {}
    assert validate_line(line) == "ATTR"


def test_reviewer_boxes_are_rounded_and_clipped_to_the_image(a2i_output):
    a2i_output["humanAnswers"][0]["answerContent"]["annotatedResult"]["boundingBoxes"] = [
        {"label": "bicycle", "left": -5.4, "top": 2600.2, "width": 100.6, "height": 50},
        labeled("person", 3950, 0, 10, 10),
    ]
    line = convert(a2i_output)
    assert line["ATTR"]["annotations"] == [{"class_id": 1, "left": 0, "top": 2600, "width": 95, "height": 8}]


@pytest.mark.parametrize(
    ("submitted", "expected"),
    [
        ("2020-05-01T18:24:53.742Z", "2020-05-01T18:24:53.742Z"),
        ("2020-05-01T20:24:53.742+02:00", "2020-05-01T18:24:53.742Z"),
        ("2020-05-01T18:24:53", "2020-05-01T18:24:53.000Z"),
        ("2020-05-01T18:24:53.742999Z", "2020-05-01T18:24:53.742Z"),
    ],
)
def test_creation_date_is_the_submission_time_in_utc(a2i_output, submitted, expected):
    a2i_output["humanAnswers"][0]["submissionTime"] = submitted
    assert convert(a2i_output)["ATTR-metadata"]["creation-date"] == expected


def test_with_several_reviewers_the_last_submission_dates_the_line(a2i_output):
    first = a2i_output["humanAnswers"][0]
    second = copy.deepcopy(first)
    second["submissionTime"] = "2020-05-02T08:00:00.000Z"
    a2i_output["humanAnswers"] = [second, first]
    assert convert(a2i_output)["ATTR-metadata"]["creation-date"] == "2020-05-02T08:00:00.000Z"


def test_a_label_outside_the_class_list_is_an_error(a2i_output):
    a2i_output["humanAnswers"][0]["answerContent"]["annotatedResult"]["boundingBoxes"].append(
        labeled("unicorn", 0, 0, 5, 5)
    )
    with pytest.raises(AnswerError, match="label 'unicorn' is not in the configured class list"):
        convert(a2i_output)


def set_path(document: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for part in parents:
        document = document[int(part)] if isinstance(document, list) else document[part]
    if value is KeyError:
        del document[last]
    elif isinstance(document, list):
        document[int(last)] = value
    else:
        document[last] = value


ANSWERS = "humanAnswers.0"
RESULT = f"{ANSWERS}.answerContent.annotatedResult"
BAD_OUTPUTS: list[tuple[str, Any, str]] = [
    ("humanLoopName", KeyError, "output.json lacks 'humanLoopName'"),
    ("inputContent", KeyError, "output.json lacks 'inputContent'"),
    ("inputContent", "s3://b/k.jpg", "inputContent lacks 'taskObject'"),
    ("inputContent.taskObject", "https://example.com/k.jpg", "taskObject must be an s3:// URI"),
    ("humanAnswers", [], "no humanAnswers"),
    ("humanAnswers", {"a": 1}, "no humanAnswers"),
    (f"{ANSWERS}.answerContent", KeyError, r"humanAnswers\[0\] lacks 'answerContent'"),
    (f"{ANSWERS}.answerContent.annotatedResult", KeyError, "lacks 'annotatedResult'"),
    (f"{RESULT}.inputImageProperties", KeyError, "lacks 'inputImageProperties'"),
    (f"{RESULT}.inputImageProperties", {"width": 0, "height": 5}, "positive whole width"),
    (f"{RESULT}.inputImageProperties", {"width": 10.5, "height": 5}, "positive whole width"),
    (f"{RESULT}.inputImageProperties", {"width": "10", "height": 5}, "positive whole width"),
    (f"{RESULT}.boundingBoxes", KeyError, "lacks 'boundingBoxes'"),
    (f"{RESULT}.boundingBoxes", "none", "boundingBoxes is not a list"),
    (f"{RESULT}.boundingBoxes.0", {"label": "bicycle", "left": 1}, r"boundingBoxes\[0\] needs label"),
    (f"{RESULT}.boundingBoxes.0", "bicycle", r"boundingBoxes\[0\] needs label"),
    (f"{RESULT}.boundingBoxes.0.left", "NaN", "finite numbers"),
    (f"{RESULT}.boundingBoxes.0.width", float("inf"), "finite numbers"),
    (f"{RESULT}.boundingBoxes.0.label", 1, "label must be a non-empty string"),
    (f"{RESULT}.boundingBoxes.0.label", "", "label must be a non-empty string"),
    (f"{ANSWERS}.submissionTime", KeyError, "lacks 'submissionTime'"),
    (f"{ANSWERS}.submissionTime", "yesterday", "submissionTime is not a timestamp: 'yesterday'"),
]


@pytest.mark.parametrize(("path", "value", "problem"), BAD_OUTPUTS)
def test_bad_answers_are_refused_naming_what_is_wrong(a2i_output, path, value, problem):
    set_path(a2i_output, path, value)
    with pytest.raises(AnswerError, match=problem):
        convert(a2i_output)


def test_an_output_that_is_not_an_object_is_refused():
    with pytest.raises(AnswerError, match=r"output\.json lacks 'humanLoopName'"):
        convert(["not", "an", "object"])  # type: ignore[arg-type]


# --- consolidation --------------------------------------------------------------------------


def test_one_reviewer_is_taken_as_drawn():
    boxes = [("cat", Box(0, 0, 10, 10)), ("cat", Box(1, 1, 10, 10))]
    assert consolidate([boxes]) == boxes
    assert consolidate([]) == []


def test_three_reviewers_two_agreeing_give_the_mean_box():
    merged = consolidate(
        [
            [("cat", Box(10, 10, 100, 100)), ("dog", Box(300, 300, 50, 50))],
            [("cat", Box(14, 12, 100, 104))],
            [("cat", Box(600, 600, 10, 10))],
        ]
    )
    assert merged == [("cat", Box(12, 11, 100, 102))]


def test_two_reviewers_must_both_agree():
    one = [("cat", Box(0, 0, 100, 100))]
    assert consolidate([one, [("cat", Box(5, 5, 100, 100))]]) == [("cat", Box(3, 3, 100, 100))]
    assert consolidate([one, []]) == []


def test_boxes_with_different_labels_or_little_overlap_are_not_merged():
    assert consolidate([[("cat", Box(0, 0, 100, 100))], [("dog", Box(0, 0, 100, 100))]]) == []
    # IoU of these two is 50/150 < 0.5
    assert consolidate([[("cat", Box(0, 0, 10, 10))], [("cat", Box(5, 0, 10, 10))]]) == []


def test_a_reviewer_gives_a_group_at_most_one_box():
    twice = [("cat", Box(0, 0, 100, 100)), ("cat", Box(2, 2, 100, 100))]
    merged = consolidate([twice, [("cat", Box(1, 1, 100, 100))], []])
    assert merged == [("cat", Box(1, 1, 100, 100))]


def test_the_mean_box_never_reaches_past_the_image():
    # Mean left 1.5 and mean width 7.5 rounded apart would end at 10 in a 9-pixel-wide image.
    merged = consolidate([[("cat", Box(1, 0, 8, 5))], [("cat", Box(2, 0, 7, 5))]])
    assert merged == [("cat", Box(2, 0, 7, 5))]
    assert merged[0][1].fits(ImageSize(9, 5))


box_in_100 = st.builds(
    lambda left, top, w, h: Box(left, top, min(w, 100 - left), min(h, 100 - top)),
    st.integers(0, 99),
    st.integers(0, 99),
    st.integers(1, 100),
    st.integers(1, 100),
)


@given(
    answers=st.lists(
        st.lists(st.tuples(st.sampled_from(["cat", "dog"]), box_in_100), max_size=4), min_size=2, max_size=3
    )
)
def test_consolidated_boxes_stay_inside_the_image_and_need_a_majority(answers):
    merged = consolidate(answers)
    for label, box in merged:
        assert box.fits(ImageSize(100, 100))
        assert label in {lbl for boxes in answers for lbl, _ in boxes}
    majority = len(answers) // 2 + 1
    assert len(merged) * majority <= sum(len(boxes) for boxes in answers), "each kept box had a majority"


def test_several_reviewers_in_an_output_json_are_consolidated(a2i_output):
    a2i_output["humanAnswers"] = [
        answer([labeled("bicycle", 100, 100, 200, 200)]),
        answer([labeled("bicycle", 104, 100, 200, 196)]),
        answer([labeled("person", 100, 100, 200, 200)]),
    ]
    line = convert(a2i_output)
    assert line["ATTR"]["annotations"] == [
        {"class_id": 1, "left": 102, "top": 100, "width": 200, "height": 198}
    ]
    # pairs: bicycle/bicycle 1.0, bicycle/person 0, bicycle/person 0
    assert line["ATTR-metadata"]["agreement"] == round(1 / 3, 4)
    assert validate_line(line) == "ATTR"


def test_one_reviewer_line_has_no_agreement(a2i_output):
    assert "agreement" not in convert(a2i_output)["ATTR-metadata"]


# --- validation -----------------------------------------------------------------------------


def mutate(line: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(line)
    set_path(changed, path, value)
    return changed


BAD_LINES: list[tuple[str, Any, str]] = [
    ("source-ref", KeyError, "'source-ref' must be an s3:// URI"),
    ("source-ref", "/tmp/key.jpg", "'source-ref' must be an s3:// URI"),
    ("ATTR-metadata", KeyError, "missing 'ATTR' or 'ATTR-metadata'"),
    ("other", {}, r"expected one label attribute, found \['ATTR', 'other'\]"),
    ("ATTR.image_size", [], "image_size must be a list of one"),
    ("ATTR.image_size.0.depth", KeyError, "depth must be positive integers"),
    ("ATTR.image_size.0.width", 3911.0, "must be positive integers"),
    ("ATTR.annotations", {}, "annotations must be a list"),
    ("ATTR.annotations.0.left", 10.5, "needs integer class_id"),
    ("ATTR.annotations.0.class_id", True, "needs integer class_id"),
    ("ATTR.annotations.0.class_id", 7, "class_id 7 is not in the class-map"),
    ("ATTR.annotations.0.width", 2870, "outside the 3911x2608 image"),
    ("ATTR.annotations.0.top", -1, "outside the 3911x2608 image"),
    ("ATTR.annotations.0.height", 0, "outside the 3911x2608 image"),
    ("ATTR-metadata.class-map", KeyError, "lacks a class-map"),
    ("ATTR-metadata.objects", [], "one entry per annotation"),
    ("ATTR-metadata.type", "groundtruth/image-classification", "type must be"),
    ("ATTR-metadata.job-name", KeyError, "lacks 'job-name'"),
    ("ATTR-metadata.creation-date", "soon", "creation-date is not a timestamp"),
]


@pytest.mark.parametrize(("path", "value", "problem"), BAD_LINES)
def test_bad_manifest_lines_are_refused(reference_manifest_line, path, value, problem):
    with pytest.raises(ManifestLineError, match=problem):
        validate_line(mutate(reference_manifest_line, path, value))


def test_a_line_must_be_an_object_and_carry_the_named_attribute(reference_manifest_line):
    with pytest.raises(ManifestLineError, match="JSON object"):
        validate_line(["source-ref"])
    with pytest.raises(ManifestLineError, match="missing 'bounding-box'"):
        validate_line(reference_manifest_line, "bounding-box")
    assert validate_line(reference_manifest_line, "ATTR") == "ATTR"


@given(
    boxes=st.lists(
        st.fixed_dictionaries(
            {
                "label": st.sampled_from(REFERENCE_CLASSES),
                "left": st.floats(-100, 800, allow_nan=False),
                "top": st.floats(-100, 600, allow_nan=False),
                "width": st.floats(0, 900, allow_nan=False),
                "height": st.floats(0, 700, allow_nan=False),
            }
        ),
        max_size=8,
    ),
    reviewers=st.integers(1, 3),
)
def test_every_converted_answer_is_a_valid_line(boxes, reviewers):
    output = {
        "humanLoopName": "loop",
        "inputContent": {"taskObject": "s3://b/k.jpg"},
        "humanAnswers": [answer(boxes, size=(640, 480)) for _ in range(reviewers)],
    }
    line = convert(output)
    assert validate_line(line, REFERENCE_ATTRIBUTE) == REFERENCE_ATTRIBUTE
    assert json.loads(dump_line(line)) == line


# --- text form and merging ------------------------------------------------------------------


def test_dump_and_parse_lines(reference_manifest_line):
    text = dump_line(reference_manifest_line)
    assert text.endswith("\n") and text.count("\n") == 1
    assert parse_lines(text + "\n  \n" + text) == [reference_manifest_line] * 2
    with pytest.raises(ManifestLineError, match="line 2: not JSON"):
        parse_lines(text + "{oops\n")


def dated(ref: str, date: str, class_id: int = 1) -> dict[str, Any]:
    return {
        "source-ref": ref,
        "ATTR": {"image_size": [{"width": 10, "height": 10, "depth": 3}], "annotations": []},
        "ATTR-metadata": {
            "objects": [],
            "class-map": {},
            "type": "groundtruth/object-detection",
            "human-annotated": "yes",
            "creation-date": date,
            "job-name": f"a2i/loop-{class_id}",
        },
    }


def merged(base, new) -> tuple[list[str], int, int]:
    result = merge_lines(base, new, "ATTR")
    return result.lines, result.replaced, result.added


def test_a_newer_line_replaces_the_old_one_in_place_and_others_stay_byte_identical():
    hand_written = (
        '{"source-ref": "s3://b/a.jpg",  "ATTR": {}, '
        '"ATTR-metadata": {"creation-date": "2020-01-01T00:00:00.000Z"}}\n'
    )
    base = [hand_written, dump_line(dated("s3://b/b.jpg", "2020-01-01T00:00:00.000Z")), "  \n"]
    newer = dated("s3://b/b.jpg", "2020-02-01T00:00:00.000Z", 2)
    lines, replaced, added = merged(base, [newer, dated("s3://b/c.jpg", "2020-03-01T00:00:00.000Z")])
    assert (replaced, added) == (1, 1)
    assert lines == [
        hand_written,
        dump_line(newer),
        "  \n",
        dump_line(dated("s3://b/c.jpg", "2020-03-01T00:00:00.000Z")),
    ]


def test_an_older_answer_leaves_the_manifest_as_it_was_and_is_counted():
    current = (
        '{"source-ref":"s3://b/a.jpg", "ATTR-metadata":'
        '{"creation-date":"2020-05-01T18:24:53.742Z","job-name":"a2i/loop-1"}}\n'
    )
    for date in ("2020-05-01T18:24:53.000Z", "2020-05-01T20:24:53.742+03:00", "2020-04-01T00:00:00.000Z"):
        result = merge_lines([current], [dated("s3://b/a.jpg", date)], "ATTR")
        assert (result.lines, result.replaced, result.added, result.kept_newer) == ([current], 0, 0, 1)


def test_the_same_answer_again_leaves_the_line_byte_for_byte():
    answer = dated("s3://b/a.jpg", "2020-05-01T18:24:53.742Z")
    spaced = json.dumps(answer, indent=None) + "\n"
    result = merge_lines([spaced], [answer], "ATTR")
    assert (result.lines, result.replaced, result.added, result.kept_newer) == ([spaced], 0, 0, 0)


def test_on_equal_dates_the_later_file_wins_whatever_the_job_names():
    date = "2020-05-01T18:24:53.742Z"
    first, second = dated("s3://b/a.jpg", date, 2), dated("s3://b/a.jpg", date, 1)
    assert merged([dump_line(first)], [second]) == ([dump_line(second)], 1, 0)
    assert merged([dump_line(second)], [first]) == ([dump_line(first)], 1, 0)
    assert merged([], [first, second]) == ([dump_line(second)], 0, 1)


def test_dates_compare_as_moments_not_strings():
    base = [dump_line(dated("s3://b/a.jpg", "2020-05-01T20:00:00+02:00"))]
    newer = dated("s3://b/a.jpg", "2020-05-01T18:30:00.000Z")
    assert merged(base, [newer]) == ([dump_line(newer)], 1, 0)


def test_among_new_lines_for_one_image_the_latest_wins():
    early, late = (
        dated("s3://b/a.jpg", "2020-01-02T00:00:00.000Z", 1),
        dated("s3://b/a.jpg", "2020-01-03T00:00:00.000Z", 2),
    )
    assert merged([], [late, early]) == ([dump_line(late)], 0, 1)
    assert merged([], [early, late]) == ([dump_line(late)], 0, 1)


def test_replacing_removes_older_duplicates_of_the_same_image():
    old_a = dump_line(dated("s3://b/a.jpg", "2020-01-01T00:00:00.000Z"))
    other = dump_line(dated("s3://b/x.jpg", "2020-01-01T00:00:00.000Z"))
    older_a = dump_line(dated("s3://b/a.jpg", "2019-01-01T00:00:00.000Z"))
    newer = dated("s3://b/a.jpg", "2021-01-01T00:00:00.000Z")
    assert merged([old_a, other, older_a], [newer]) == ([dump_line(newer), other], 1, 0)


def test_a_base_line_without_a_readable_date_counts_as_oldest():
    undated = '{"source-ref":"s3://b/a.jpg"}'
    newer = dated("s3://b/a.jpg", "2020-01-01T00:00:00.000Z")
    assert merged([undated], [newer]) == ([dump_line(newer)], 1, 0)


def test_a_missing_final_newline_is_added_to_kept_lines():
    kept = '{"source-ref":"s3://b/x.jpg"}'
    lines, _, _ = merged([kept], [dated("s3://b/a.jpg", "2020-01-01T00:00:00.000Z")])
    assert lines[0] == kept + "\n"
    assert "".join(lines).count("\n") == 2


@pytest.mark.parametrize(
    ("raw", "problem"), [("{bad\n", "line 2: not JSON"), ("[1]\n", "line 2: a line must be")]
)
def test_a_bad_base_line_is_named(raw, problem):
    with pytest.raises(ManifestLineError, match=problem):
        merge_lines(['{"source-ref":"s3://b/x.jpg"}\n', raw], [], "ATTR")


def test_creation_date_reads_the_metadata(reference_manifest_line):
    assert creation_date(reference_manifest_line, "ATTR") == "2020-05-01T18:24:53.742Z"
    assert creation_date({"source-ref": "s3://b/k"}, "ATTR") == ""
