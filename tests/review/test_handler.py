"""The review-complete Lambda end to end on faked AWS: SQS batch in, manifest, records and events out."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from unittest import mock

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from hitl_core import review_tasks
from hitl_core.config import PipelineConfig, Quality
from hitl_review import handler
from hitl_review.handler import lambda_handler
from hitl_review.manifest_store import RollingManifest
from hitl_review.review_records import ReviewRecords

from .builders import (
    FLOW_ARN,
    IMAGE_BUCKET,
    LABELS,
    REGION,
    TRAINING_BUCKET,
    EventTap,
    LambdaContext,
    box,
    human_answer,
    make_config,
    output_json,
    output_uri,
    put_output,
    read_object,
    review_batches,
    review_record,
    sqs_record,
    status_event,
)

MANIFEST_1 = "manifests/00000001.manifest"
Configure = Callable[[PipelineConfig], None]


def invoke(*bodies: dict[str, Any] | str) -> dict[str, Any]:
    event = {"Records": [sqs_record(body, f"msg-{i}") for i, body in enumerate(bodies)]}
    return lambda_handler(event, LambdaContext())


def manifest_lines(key: str = MANIFEST_1) -> list[dict[str, Any]]:
    return [json.loads(raw) for raw in read_object(TRAINING_BUCKET, key).decode().splitlines()]


def only(events: list[dict[str, Any]], detail_type: str) -> list[dict[str, Any]]:
    return [e["detail"] for e in events if e["detail-type"] == detail_type]


@pytest.fixture
def configured(function_env: Configure) -> None:
    function_env(make_config())


def test_a_completed_review_becomes_a_manifest_line_and_an_event(
    configured: None, event_tap: EventTap
) -> None:
    put_output("cat-loop", output_json("cat-loop", "cat.jpg"))
    assert invoke(status_event("cat-loop")) == {"batchItemFailures": []}
    assert manifest_lines() == [
        {
            "source-ref": f"s3://{IMAGE_BUCKET}/incoming/cat.jpg",
            "bounding-box": {
                "image_size": [{"width": 640, "height": 480, "depth": 3}],
                "annotations": [
                    {"class_id": LABELS.index("cat"), "left": 10, "top": 20, "width": 100, "height": 80}
                ],
            },
            "bounding-box-metadata": {
                "objects": [{"confidence": 1}],
                "class-map": {str(LABELS.index("cat")): "cat"},
                "type": "groundtruth/object-detection",
                "human-annotated": "yes",
                "creation-date": "2020-05-01T18:24:53.742Z",
                "job-name": "a2i/cat-loop",
            },
        }
    ]
    [completed] = only(event_tap.drain(), "Review Completed")
    assert completed == {
        "loop_name": "cat-loop",
        "source_ref": f"s3://{IMAGE_BUCKET}/incoming/cat.jpg",
        "output_uri": output_uri("cat-loop"),
        "manifest_action": "added",
        "manifest_uri": f"s3://{TRAINING_BUCKET}/{MANIFEST_1}",
        "image_size": {"width": 640, "height": 480, "depth": 3},
        "boxes": [{"label": "cat", "left": 10, "top": 20, "width": 100, "height": 80}],
        "reviewer_count": 1,
        "initial_value_modified": True,
        "submission_time": "2020-05-01T18:24:53.742Z",
        "comparison": {
            "iou_threshold": 0.5,
            "true_positives": 1,
            "false_positives": 0,
            "false_negatives": 0,
            "image_wrong": False,
            "changed": True,
            "per_class": {"cat": {"true_positives": 1, "false_positives": 0, "false_negatives": 0}},
            "matched_ious": [round(96 * 78 / (100 * 80), 4)],
            "relabels": [],
        },
    }


def test_several_reviewers_are_consolidated(configured: None, event_tap: EventTap) -> None:
    answers = [
        human_answer([box("dog", 100, 100, 200, 100)], "2020-05-01T18:20:00.000Z"),
        human_answer([box("dog", 110, 104, 200, 100), box("car", 0, 0, 50, 50)], "2020-05-01T18:22:00.000Z"),
        human_answer([], "2020-05-01T18:21:00.000Z", modified=False),
    ]
    put_output("dog-loop", output_json("dog-loop", "dog.jpg", answers))
    assert invoke(status_event("dog-loop")) == {"batchItemFailures": []}
    [completed] = only(event_tap.drain(), "Review Completed")
    assert completed["boxes"] == [{"label": "dog", "left": 105, "top": 102, "width": 200, "height": 100}]
    assert completed["reviewer_count"] == 3
    assert completed["submission_time"] == "2020-05-01T18:22:00.000Z", "the last submission"
    assert manifest_lines()[0]["bounding-box"]["annotations"] == [
        {"class_id": LABELS.index("dog"), "left": 105, "top": 102, "width": 200, "height": 100}
    ]


def test_an_answer_without_boxes_is_a_line_without_annotations(configured: None, event_tap: EventTap) -> None:
    answers = [human_answer([], "2020-05-01T18:24:53.742Z", modified=True)]
    put_output("empty-loop", output_json("empty-loop", "empty.jpg", answers))
    assert invoke(status_event("empty-loop")) == {"batchItemFailures": []}
    [line] = manifest_lines()
    assert line["bounding-box"]["annotations"] == []
    assert line["bounding-box-metadata"]["objects"] == []
    [completed] = only(event_tap.drain(), "Review Completed")
    assert completed["boxes"] == []


UNKNOWN_LABEL = output_json(
    "bad-label", "zebra.jpg", [human_answer([box("zebra", 1, 1, 9, 9)], "2020-05-01T18:24:53Z")]
)
NO_ANSWERS = {
    key: value for key, value in output_json("no-answers", "x.jpg").items() if key != "humanAnswers"
}


@pytest.mark.parametrize(
    ("loop", "stored", "code", "reason"),
    [
        ("bad-json", b'{"humanAnswers": [', "malformed-json", "not JSON"),
        ("bad-label", json.dumps(UNKNOWN_LABEL).encode(), "invalid-answer", "zebra"),
        ("no-answers", json.dumps(NO_ANSWERS).encode(), "invalid-answer", "humanAnswers"),
        ("not-object", b"[1, 2, 3]", "malformed-json", "not a JSON object"),
        ("other-loop", json.dumps(output_json("somebody-else", "y.jpg")).encode(), "invalid-answer", "names"),
        ("missing", None, "missing-output", "no object at"),
    ],
)
def test_an_answer_that_cannot_be_converted_is_quarantined_whole(
    configured: None, event_tap: EventTap, loop: str, stored: bytes | None, code: str, reason: str
) -> None:
    if stored is not None:
        put_output(loop, stored)
    assert invoke(status_event(loop)) == {"batchItemFailures": []}, "not retried forever"
    folder = f"quarantine/{loop}/"
    if stored is not None:
        assert read_object(TRAINING_BUCKET, folder + "output.json") == stored
    kept = json.loads(read_object(TRAINING_BUCKET, folder + "reason.json"))
    assert kept["reason_code"] == code and reason in kept["reason"]
    assert kept["output_uri"] == output_uri(loop)
    assert kept["event"]["detail"]["humanLoopName"] == loop
    [quarantined] = only(event_tap.drain(), "Answer Quarantined")
    assert quarantined["reason_code"] == code
    assert quarantined["quarantine_uri"] == f"s3://{TRAINING_BUCKET}/{folder}"
    listed = boto3.client("s3", region_name=REGION).list_objects_v2(
        Bucket=TRAINING_BUCKET, Prefix="manifests/"
    )
    assert "Contents" not in listed, "no manifest change"


def test_the_same_event_twice_adds_one_line(configured: None, event_tap: EventTap) -> None:
    put_output("cat-loop", output_json("cat-loop", "cat.jpg"))
    event = status_event("cat-loop")
    assert invoke(event, event) == {"batchItemFailures": []}
    assert invoke(event) == {"batchItemFailures": []}
    assert len(manifest_lines()) == 1
    actions = [e["manifest_action"] for e in only(event_tap.drain(), "Review Completed")]
    assert actions == ["added", "added", "unchanged"], "each delivery is still announced"


def test_out_of_order_events_leave_the_newer_submission(configured: None, event_tap: EventTap) -> None:
    older = output_json(
        "first-look", "cat.jpg", [human_answer([box("cat", 1, 1, 10, 10)], "2020-05-01T10:00:00Z")]
    )
    newer = output_json(
        "second-look", "cat.jpg", [human_answer([box("dog", 5, 5, 20, 20)], "2020-05-02T10:00:00Z")]
    )
    put_output("first-look", older)
    put_output("second-look", newer)
    assert invoke(status_event("second-look")) == {"batchItemFailures": []}
    assert invoke(status_event("first-look")) == {"batchItemFailures": []}
    [line] = manifest_lines()
    assert line["bounding-box-metadata"]["job-name"] == "a2i/second-look"
    actions = {e["loop_name"]: e["manifest_action"] for e in only(event_tap.drain(), "Review Completed")}
    assert actions == {"second-look": "added", "first-look": "superseded"}


@pytest.mark.parametrize("status", ["Failed", "Stopped"])
def test_a_failed_or_stopped_loop_is_recorded_announced_and_counted(
    configured: None, event_tap: EventTap, capsys: pytest.CaptureFixture[str], status: str
) -> None:
    reason = "worker task timed out" if status == "Failed" else None
    assert invoke(status_event("gone-loop", status, failure_reason=reason)) == {"batchItemFailures": []}
    record = json.loads(read_object(TRAINING_BUCKET, "reviews/gone-loop.json"))
    assert record["status"] == status and record["failure_reason"] == reason
    [failed] = only(event_tap.drain(), "Review Failed")
    assert failed["status"] == status
    assert failed["record_uri"] == f"s3://{TRAINING_BUCKET}/reviews/gone-loop.json"
    emitted = [json.loads(raw) for raw in capsys.readouterr().out.splitlines() if '"_aws"' in raw]
    assert any(m.get("ReviewsFailed") == [1.0] or m.get("ReviewsFailed") == 1.0 for m in emitted)
    listed = boto3.client("s3", region_name=REGION).list_objects_v2(
        Bucket=TRAINING_BUCKET, Prefix="manifests/"
    )
    assert "Contents" not in listed


def test_a_batch_lands_in_one_manifest_and_seals_at_the_bound(
    function_env: Configure, event_tap: EventTap
) -> None:
    function_env(make_config(max_lines=3))
    names = [f"img{i}" for i in range(5)]
    for name in names:
        put_output(name, output_json(name, f"{name}.jpg"))
    assert invoke(*[status_event(name, event_id=name) for name in names]) == {"batchItemFailures": []}
    assert len(manifest_lines(MANIFEST_1)) == 3
    assert len(manifest_lines("manifests/00000002.manifest")) == 2
    events = event_tap.drain()
    [sealed] = only(events, "Manifest Sealed")
    assert sealed["manifest_uri"] == f"s3://{TRAINING_BUCKET}/{MANIFEST_1}" and sealed["line_count"] == 3
    assert len(only(events, "Review Completed")) == 5


def test_a_failed_manifest_write_fails_only_the_answers(configured: None, event_tap: EventTap) -> None:
    boto3.client("s3", region_name=REGION).put_object(
        Bucket=TRAINING_BUCKET, Key=MANIFEST_1, Body=b"not json\n"
    )
    put_output("cat-loop", output_json("cat-loop", "cat.jpg"))
    response = invoke(status_event("cat-loop"), status_event("gone-loop", "Stopped"), "not an event")
    assert sorted(f["itemIdentifier"] for f in response["batchItemFailures"]) == ["msg-0", "msg-2"]
    assert [e["detail-type"] for e in event_tap.drain()] == ["Review Failed"]


def test_events_of_another_flow_definition_are_ignored(configured: None, event_tap: EventTap) -> None:
    foreign = status_event("cat-loop", flow_arn=FLOW_ARN.replace("hitl-review", "someone-else"))
    longer_name = status_event("cat-loop", flow_arn=FLOW_ARN + "-flow-0123456789ab")
    assert invoke(foreign, longer_name) == {"batchItemFailures": []}
    assert event_tap.drain() == []


def test_answers_to_a_replaced_flow_definition_of_this_deployment_still_count(
    configured: None, event_tap: EventTap, monkeypatch: pytest.MonkeyPatch
) -> None:
    handler.completion.cache_clear()
    monkeypatch.setenv("FLOW_DEFINITION_ARN_PREFIX", FLOW_ARN + "-")
    put_output("cat-loop", output_json("cat-loop", "cat.jpg"))
    replaced = status_event("cat-loop", flow_arn=FLOW_ARN + "-0123456789ab")
    assert invoke(replaced) == {"batchItemFailures": []}
    assert [e["detail-type"] for e in event_tap.drain()] == ["Review Completed"]


def test_each_appended_answer_is_logged_with_its_loop_name(
    configured: None, event_tap: EventTap, caplog: pytest.LogCaptureFixture
) -> None:
    for name in ("cat-loop", "dog-loop"):
        put_output(name, output_json(name, f"{name}.jpg"))
    assert invoke(status_event("cat-loop"), status_event("dog-loop", event_id="dog")) == {
        "batchItemFailures": []
    }
    appended = [r for r in caplog.records if r.getMessage() == "answer appended"]
    assert sorted(r.loop_name for r in appended) == ["cat-loop", "dog-loop"]  # type: ignore[attr-defined]
    assert {r.manifest_action for r in appended} == {"added"}  # type: ignore[attr-defined]
    assert {r.manifest_uri for r in appended} == {f"s3://{TRAINING_BUCKET}/{MANIFEST_1}"}  # type: ignore[attr-defined]


def review_service_event(loop: str, service: str = "hitl", status: str = "Completed") -> dict[str, Any]:
    """The built-in review service's status event: A2I's detail under its own source and detail-type."""
    event = status_event(loop, status)
    event.update(
        {"source": "hitl.review-service", "detail-type": "Review Task Status Change", "resources": []}
    )
    event["detail"]["flowDefinitionArn"] = f"hitl-review-service/{service}"
    return event


@pytest.fixture
def builtin_configured(function_env: Configure, monkeypatch: pytest.MonkeyPatch) -> None:
    """review-complete of a deployment moving to the built-in service: both backends' events welcome."""
    monkeypatch.setenv("REVIEW_BACKEND", "builtin")
    monkeypatch.setenv("REVIEW_SERVICE_NAME", "hitl")
    function_env(make_config())


def test_the_builtin_services_answer_takes_the_same_path(
    builtin_configured: None, event_tap: EventTap
) -> None:
    put_output("cat-loop", output_json("cat-loop", "cat.jpg"))
    assert invoke(review_service_event("cat-loop")) == {"batchItemFailures": []}
    [line] = manifest_lines()
    assert line["source-ref"] == f"s3://{IMAGE_BUCKET}/incoming/cat.jpg"
    assert [e["loop_name"] for e in only(event_tap.drain(), "Review Completed")] == ["cat-loop"]


def test_another_deployments_review_service_is_ignored(builtin_configured: None, event_tap: EventTap) -> None:
    put_output("cat-loop", output_json("cat-loop", "cat.jpg"))
    assert invoke(review_service_event("cat-loop", service="someone-else")) == {"batchItemFailures": []}
    assert event_tap.drain() == []


def test_a2i_loops_still_open_when_moving_to_builtin_are_kept(
    builtin_configured: None, event_tap: EventTap
) -> None:
    put_output("old-loop", output_json("old-loop", "dog.jpg"))
    assert invoke(status_event("old-loop")) == {"batchItemFailures": []}
    assert [line["source-ref"] for line in manifest_lines()] == [f"s3://{IMAGE_BUCKET}/incoming/dog.jpg"]


def test_without_the_builtin_service_its_events_are_ignored(configured: None, event_tap: EventTap) -> None:
    put_output("cat-loop", output_json("cat-loop", "cat.jpg"))
    assert invoke(review_service_event("cat-loop")) == {"batchItemFailures": []}
    assert event_tap.drain() == []


def test_cold_import_leaves_boto3_to_the_first_message() -> None:
    code = "import sys, hitl_review.handler; print('boto3' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def shown(*boxes: tuple[dict[str, Any], float]) -> dict[str, Any]:
    """The InputContent fields of the model's boxes a reviewer is shown, with their scores."""
    return {"initialValue": [b for b, _ in boxes], "initialScores": [score for _, score in boxes]}


def emitted_metrics(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(raw) for raw in capsys.readouterr().out.splitlines() if '"_aws"' in raw]


def by_label(emitted: list[dict[str, Any]]) -> dict[str, tuple[float, float, float]]:
    """The per-label EMF documents of one answer: label -> (TruePositives, FalsePositives, FalseNegatives)."""
    found = {}
    for doc in emitted:
        if "label" in doc:
            [dimensions] = doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
            assert sorted(dimensions) == ["label", "service"]
            assert doc["label"] not in found, "one document per label and batch"
            found[doc["label"]] = tuple(
                doc[name][0] for name in ("TruePositives", "FalsePositives", "FalseNegatives")
            )
    return found


def changed_model(emitted: list[dict[str, Any]]) -> list[float]:
    return [value for doc in emitted for value in doc.get("ReviewChangedModel", [])]


# The model showed a cat it placed well, a dog the reviewer relabelled car, and missed a person.
MODEL_SHOWN = shown((box("cat", 12, 22, 96, 78), 0.41), (box("dog", 300, 200, 100, 100), 0.35))
REVIEWER = [box("cat", 10, 20, 100, 80), box("car", 302, 200, 100, 100), box("person", 500, 50, 60, 120)]
EXPECTED_COUNTS = {
    "car": (0.0, 0.0, 1.0),
    "cat": (1.0, 0.0, 0.0),
    "dog": (0.0, 1.0, 0.0),
    "person": (0.0, 0.0, 1.0),
}


def corrected_output(loop: str) -> dict[str, Any]:
    document = output_json(loop, f"{loop}.jpg", [human_answer(REVIEWER, "2020-05-01T18:24:53.742Z")])
    document["inputContent"].update(MODEL_SHOWN)
    return document


def test_the_answer_is_compared_with_the_model_in_its_record_its_event_and_its_metrics(
    configured: None, event_tap: EventTap, capsys: pytest.CaptureFixture[str]
) -> None:
    put_output("fix-loop", corrected_output("fix-loop"))
    assert invoke(status_event("fix-loop")) == {"batchItemFailures": []}

    [completed] = only(event_tap.drain(), "Review Completed")
    comparison = completed["comparison"]
    assert (comparison["true_positives"], comparison["false_positives"], comparison["false_negatives"]) == (
        1,
        1,
        2,
    )
    assert comparison["relabels"] == [{"from_label": "dog", "to_label": "car"}]
    assert comparison["image_wrong"] and comparison["changed"]
    record = review_record("fix-loop")
    assert record["status"] == "Completed"
    assert record["comparison"] == comparison
    assert record["comparison_error"] is None
    assert record["model_boxes"] == [
        {"label": "cat", "score": 0.41, "left": 12, "top": 22, "width": 96, "height": 78},
        {"label": "dog", "score": 0.35, "left": 300, "top": 200, "width": 100, "height": 100},
    ]
    assert record["reviewer_boxes"] == REVIEWER
    assert record["output_uri"] == output_uri("fix-loop")
    emitted = emitted_metrics(capsys)
    assert by_label(emitted) == EXPECTED_COUNTS
    assert changed_model(emitted) == [1.0]


def test_a_reviewer_who_keeps_the_model_s_boxes_counts_as_unchanged(
    configured: None, event_tap: EventTap, capsys: pytest.CaptureFixture[str]
) -> None:
    kept = output_json(
        "kept-loop", "kept.jpg", [human_answer([box("cat", 12, 22, 96, 78)], "2020-05-01T18:24:53Z")]
    )
    put_output("kept-loop", kept)
    assert invoke(status_event("kept-loop")) == {"batchItemFailures": []}
    [completed] = only(event_tap.drain(), "Review Completed")
    assert completed["comparison"]["changed"] is False
    assert completed["comparison"]["image_wrong"] is False
    assert changed_model(emitted_metrics(capsys)) == [0.0]


def test_a_redelivered_answer_is_compared_alike_but_counted_once(
    configured: None, event_tap: EventTap, capsys: pytest.CaptureFixture[str]
) -> None:
    put_output("fix-loop", corrected_output("fix-loop"))
    event = status_event("fix-loop")
    assert invoke(event) == {"batchItemFailures": []}
    first = review_batches()
    assert invoke(event, event) == {"batchItemFailures": []}

    assert review_batches() == first, "the same loops name the same batch object, written once"
    [[record]] = first.values()
    assert record["loop_name"] == "fix-loop"
    comparisons = [e["comparison"] for e in only(event_tap.drain(), "Review Completed")]
    assert len(comparisons) == 3 and comparisons[0] == comparisons[1] == comparisons[2]
    emitted = emitted_metrics(capsys)
    assert by_label(emitted) == EXPECTED_COUNTS, "the metrics of the first delivery only"
    assert changed_model(emitted) == [1.0]


def test_a_batch_s_answers_share_one_record_object_dated_by_their_latest_answer(
    configured: None, event_tap: EventTap, capsys: pytest.CaptureFixture[str]
) -> None:
    put_output("fix-loop", corrected_output("fix-loop"))
    put_output("kept-loop", output_json("kept-loop", "kept.jpg"))
    later = output_json(
        "late-loop", "late.jpg", [human_answer([box("cat", 1, 1, 9, 9)], "2020-05-02T00:00:01Z")]
    )
    put_output("late-loop", later)
    assert invoke(status_event("kept-loop"), status_event("late-loop"), status_event("fix-loop")) == {
        "batchItemFailures": []
    }

    [(key, records)] = review_batches().items()
    assert key.startswith("reviews/batches/date=2020-05-02/") and key.endswith(".jsonl")
    assert [r["loop_name"] for r in records] == ["fix-loop", "kept-loop", "late-loop"]
    head = boto3.client("s3", region_name=REGION).head_object(Bucket=TRAINING_BUCKET, Key=key)
    assert head["ContentType"] == "application/x-ndjson"
    emitted = emitted_metrics(capsys)
    [cat] = [doc for doc in emitted if doc.get("label") == "cat"]
    assert cat["TruePositives"] == [1.0, 0.0, 1.0], "one document per label, a value per answer in order"
    assert len(changed_model(emitted)) == 3


def test_in_a_partly_failed_batch_only_the_answers_that_went_on_are_recorded(
    configured: None, event_tap: EventTap, capsys: pytest.CaptureFixture[str]
) -> None:
    for loop in ("fix-loop", "kept-loop", "slow-loop"):
        put_output(loop, output_json(loop, f"{loop}.jpg"))
    read = ReviewRecords.read_output

    def unreachable_once(self: ReviewRecords, uri: str) -> bytes | None:
        if "slow-loop" in uri:
            raise RuntimeError("S3 timed out")
        return read(self, uri)

    batch = (status_event("fix-loop"), status_event("slow-loop"), status_event("kept-loop"))
    with mock.patch.object(ReviewRecords, "read_output", unreachable_once):
        assert invoke(*batch) == {"batchItemFailures": [{"itemIdentifier": "msg-1"}]}
    [records] = review_batches().values()
    assert [r["loop_name"] for r in records] == ["fix-loop", "kept-loop"]

    assert invoke(status_event("slow-loop")) == {"batchItemFailures": []}, "SQS retries it alone"
    loops = sorted(r["loop_name"] for records in review_batches().values() for r in records)
    assert loops == ["fix-loop", "kept-loop", "slow-loop"]
    assert len(changed_model(emitted_metrics(capsys))) == 3


def test_an_answer_retried_in_another_batch_is_recorded_again_but_counted_once(
    configured: None, event_tap: EventTap, capsys: pytest.CaptureFixture[str]
) -> None:
    put_output("fix-loop", corrected_output("fix-loop"))
    put_output("kept-loop", output_json("kept-loop", "kept.jpg"))
    put_output("cat-loop", output_json("cat-loop", "cat.jpg"))
    with (
        mock.patch.object(RollingManifest, "append", side_effect=RuntimeError("S3 is unreachable")),
        pytest.raises(BatchProcessingError, match="All records failed"),
    ):
        invoke(status_event("fix-loop"), status_event("kept-loop"))
    assert changed_model(emitted_metrics(capsys)) == [], "nothing placed, nothing counted"
    [first] = review_batches().values()
    assert [r["loop_name"] for r in first] == ["fix-loop", "kept-loop"], "written beside the manifest"

    # SQS redelivers both, each beside another answer this time.
    assert invoke(status_event("fix-loop"), status_event("cat-loop")) == {"batchItemFailures": []}
    assert invoke(status_event("kept-loop")) == {"batchItemFailures": []}

    batches = review_batches()
    assert len(batches) == 3
    fixes = [r for records in batches.values() for r in records if r["loop_name"] == "fix-loop"]
    assert len(fixes) == 2 and fixes[0] == fixes[1], "the same record twice: readers keep one"
    emitted = emitted_metrics(capsys)
    assert changed_model(emitted) == [1.0, 1.0, 1.0], "each of the three answers once"


def test_with_several_reviewers_the_consolidated_answer_is_compared(
    configured: None, event_tap: EventTap
) -> None:
    # Two of three reviewers drew the dog (kept, averaged); one drew a car no one else did (dropped).
    answers = [
        human_answer([box("dog", 100, 100, 200, 100)], "2020-05-01T18:20:00.000Z"),
        human_answer([box("dog", 110, 104, 200, 100), box("car", 0, 0, 50, 50)], "2020-05-01T18:22:00.000Z"),
        human_answer([], "2020-05-01T18:21:00.000Z", modified=False),
    ]
    document = output_json("dog-loop", "dog.jpg", answers)
    document["inputContent"].update(shown((box("dog", 105, 102, 200, 100), 0.4)))
    put_output("dog-loop", document)
    assert invoke(status_event("dog-loop")) == {"batchItemFailures": []}
    [completed] = only(event_tap.drain(), "Review Completed")
    assert completed["comparison"]["per_class"] == {
        "dog": {"true_positives": 1, "false_positives": 0, "false_negatives": 0}
    }
    assert completed["comparison"]["changed"] is False


def test_an_unreadable_initial_value_keeps_the_answer_without_a_comparison(
    configured: None, event_tap: EventTap, capsys: pytest.CaptureFixture[str]
) -> None:
    document = output_json("odd-loop", "odd.jpg")
    document["inputContent"]["initialScores"] = []
    put_output("odd-loop", document)
    assert invoke(status_event("odd-loop")) == {"batchItemFailures": []}
    assert len(manifest_lines()) == 1
    [completed] = only(event_tap.drain(), "Review Completed")
    assert completed["comparison"] is None
    record = review_record("odd-loop")
    assert record["comparison"] is None and "initialScores" in record["comparison_error"]
    assert by_label(emitted_metrics(capsys)) == {}


def builtin_output(loop: str) -> dict[str, Any]:
    """The built-in service's output.json, made by its own code from a task answered on its page."""
    content = corrected_output(loop)["inputContent"]
    body = {
        "answerContent": {
            "annotatedResult": {
                "boundingBoxes": REVIEWER,
                "inputImageProperties": {"width": 640, "height": 480},
            }
        }
    }
    submitted = datetime(2020, 5, 1, 18, 24, 53, tzinfo=UTC)
    entry = review_tasks.build_human_answer(
        review_tasks.parse_submission(body, review_tasks.AnswerSubmission),
        content,
        review_tasks.WorkerIdentity("reviewer-1", "https://issuer.example"),
        submitted,
    )
    task = review_tasks.new_task(loop, json.dumps(content), submitted)
    done = dataclasses.replace(task, status=review_tasks.TaskStatus.COMPLETED, answers=(entry,))
    return review_tasks.task_output(done, "hitl")


def test_the_builtin_services_answer_is_compared_alike(
    builtin_configured: None, event_tap: EventTap, capsys: pytest.CaptureFixture[str]
) -> None:
    put_output("fix-loop", builtin_output("fix-loop"))
    assert invoke(review_service_event("fix-loop")) == {"batchItemFailures": []}
    [completed] = only(event_tap.drain(), "Review Completed")
    assert completed["comparison"]["relabels"] == [{"from_label": "dog", "to_label": "car"}]
    record = review_record("fix-loop")
    assert record["comparison"] == completed["comparison"]
    assert by_label(emitted_metrics(capsys)) == EXPECTED_COUNTS


def test_a_failed_record_write_retries_the_batch_and_still_counts_each_answer_once(
    configured: None, event_tap: EventTap, capsys: pytest.CaptureFixture[str]
) -> None:
    put_output("fix-loop", corrected_output("fix-loop"))
    put_output("kept-loop", output_json("kept-loop", "kept.jpg"))
    batch = (status_event("kept-loop", event_id="b"), status_event("fix-loop", event_id="a"))

    with (
        mock.patch.object(ReviewRecords, "record_completed", side_effect=RuntimeError("S3 is unreachable")),
        pytest.raises(BatchProcessingError, match="All records failed"),
    ):
        invoke(*batch)
    assert review_batches() == {}
    assert only(event_tap.drain(), "Review Completed") == [], "announced only once recorded"
    assert changed_model(emitted_metrics(capsys)) == [1.0, 1.0], "counted when placed"

    assert invoke(*batch) == {"batchItemFailures": []}
    assert changed_model(emitted_metrics(capsys)) == [], "the retry finds both in the manifest"
    assert review_record("kept-loop")["comparison"]["per_class"] == {
        "cat": {"true_positives": 1, "false_positives": 0, "false_negatives": 0}
    }
    assert review_record("fix-loop")["comparison"]["relabels"] == [{"from_label": "dog", "to_label": "car"}]


def test_the_comparison_uses_the_configured_iou_threshold(
    function_env: Configure, event_tap: EventTap
) -> None:
    function_env(make_config().model_copy(update={"quality": Quality(iou_threshold=0.95)}))
    put_output("strict-loop", corrected_output("strict-loop"))
    assert invoke(status_event("strict-loop")) == {"batchItemFailures": []}

    record = review_record("strict-loop")
    assert record["comparison"]["iou_threshold"] == 0.95
    # The cat the model placed at IoU 0.936 no longer matches: a false box and a missed one.
    assert record["comparison"]["per_class"]["cat"] == {
        "true_positives": 0,
        "false_positives": 1,
        "false_negatives": 1,
    }
