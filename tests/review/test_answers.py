"""output.json to a manifest-ready answer, or a reason code for quarantine."""

from __future__ import annotations

import json

import pytest

from hitl_review.answers import Unconvertible, convert_output

from .builders import LABELS, box, human_answer, output_json, output_uri


def convert(document: object, loop: str = "loop-1") -> object:
    raw = document if isinstance(document, bytes) else json.dumps(document).encode()
    return convert_output(
        raw, loop_name=loop, output_uri=output_uri(loop), attribute="bounding-box", labels=LABELS
    )


def test_a_converted_answer_reports_reviewers_and_whether_boxes_were_changed() -> None:
    answers = [
        human_answer([box("cat", 10, 20, 100, 80)], "2020-05-01T18:00:00Z", modified=False),
        human_answer([box("cat", 12, 20, 100, 80)], "2020-05-01T18:05:00Z", modified=True),
    ]
    converted = convert(output_json("loop-1", "cat.jpg", answers))
    assert converted.reviewer_count == 2
    assert converted.initial_value_modified is True
    assert converted.line["source-ref"].endswith("/incoming/cat.jpg")
    event = converted.completed_event("bounding-box", "added", "s3://b/m.manifest")
    assert event.boxes[0].label == "cat" and event.boxes[0].left == 11


def test_without_an_initial_value_the_modified_flag_is_unknown() -> None:
    answer = human_answer([], "2020-05-01T18:00:00Z")
    del answer["answerContent"]["annotatedResult"]["initialValueModified"]
    assert convert(output_json("loop-1", "x.jpg", [answer])).initial_value_modified is None


@pytest.mark.parametrize(
    ("document", "code", "words"),
    [
        (b"\xff\xfe not text", "malformed-json", "not JSON"),
        (b'{"humanLoopName": ', "malformed-json", "not JSON"),
        ("just a string", "malformed-json", "not a JSON object"),
        (output_json("loop-2", "x.jpg"), "invalid-answer", "'loop-2'"),
        (output_json("loop-1", "x.jpg", []), "invalid-answer", "no humanAnswers"),
        (
            output_json(
                "loop-1", "x.jpg", [human_answer([box("unicorn", 1, 1, 5, 5)], "2020-05-01T18:00:00Z")]
            ),
            "invalid-answer",
            "unicorn",
        ),
        (
            output_json(
                "loop-1", "x.jpg", [human_answer([{"label": "cat", "left": 1}], "2020-05-01T18:00:00Z")]
            ),
            "invalid-answer",
            "boundingBoxes[0]",
        ),
    ],
)
def test_an_unusable_answer_says_why(document: object, code: str, words: str) -> None:
    with pytest.raises(Unconvertible) as caught:
        convert(document)
    assert caught.value.code == code
    assert words in caught.value.reason


def test_the_answer_is_compared_with_the_boxes_the_reviewer_was_shown() -> None:
    document = output_json(
        "loop-1", "cat.jpg", [human_answer([box("dog", 12, 22, 96, 78)], "2020-05-01T18:00Z")]
    )
    converted = convert(document)

    assert [(d.label, d.score) for d in converted.shown] == [("cat", 0.41)]
    assert converted.comparison is not None and converted.comparison_error is None
    assert converted.comparison.relabels == (("cat", "dog"),)
    event = converted.completed_event("bounding-box", "added", "s3://b/m.manifest")
    assert event.comparison is not None
    assert event.comparison.model_dump() == converted.comparison.to_dict()


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ({"initialScores": [0.4, 0.5]}, "initialScores 2"),
        ({"initialValue": [{"label": "cat", "left": 1}]}, "partial box"),
        ({"initialValue": [{"left": 1, "top": 1, "width": 1, "height": 1}]}, "label"),
    ],
)
def test_an_unreadable_initial_value_leaves_the_answer_without_a_comparison(
    content: dict[str, object], words: str
) -> None:
    document = output_json("loop-1", "cat.jpg")
    document["inputContent"].update(content)
    converted = convert(document)

    assert converted.comparison is None and converted.shown == ()
    assert converted.comparison_error is not None and words in converted.comparison_error
    assert converted.line["source-ref"].endswith("/incoming/cat.jpg"), "the answer itself still converts"
    assert converted.completed_event("bounding-box", "added", None).comparison is None


def test_the_comparison_matches_at_the_iou_threshold_given() -> None:
    raw = json.dumps(output_json("loop-1", "cat.jpg")).encode()  # the answer's box overlaps at IoU 0.936
    strict = convert_output(
        raw, loop_name="loop-1", output_uri=output_uri("loop-1"), attribute="bounding-box", labels=LABELS,
        iou_threshold=0.95,
    )  # fmt: skip
    assert convert(output_json("loop-1", "cat.jpg")).comparison.true_positives == 1
    assert strict.comparison is not None and strict.comparison.iou_threshold == 0.95
    assert (strict.comparison.false_positives, strict.comparison.false_negatives) == (1, 1)
