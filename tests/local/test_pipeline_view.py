"""The downstream-consumer view: pipeline events folded into per-image and per-loop reports."""

from __future__ import annotations

from typing import Any

from hitl.local.pipeline_view import PipelineView, describe_condition, explain_decision
from hitl_core.detections import ImageDetections
from hitl_core.review_tasks import review_service_id
from hitl_core.routing import decide, preset_policy

KEY = "incoming/run/cat.jpg"


def _event(kind: str, detail: dict[str, Any], event_id: str) -> dict[str, Any]:
    return {"id": event_id, "source": "hitl.pipeline", "detail-type": kind, "detail": detail}


def _decision(score: float) -> dict[str, Any]:
    detections = ImageDetections.from_dict(
        {
            "image_size": {"width": 100, "height": 100},
            "detections": [{"label": "cat", "score": score, "left": 1, "top": 1, "width": 10, "height": 10}],
        }
    )
    return decide(preset_policy("top-score-below"), detections, "id").condition_results


A2I_FLOW = "arn:aws:sagemaker:us-east-1:123456789012:flow-definition/hitl-review"


def _review_started(loop: str = "cat-1", event_id: str = "e1", reviewed_by: str = A2I_FLOW) -> dict[str, Any]:
    return _event(
        "Human Review Started",
        {
            "image": {"key": KEY},
            "loop_name": loop,
            "flow_definition_arn": reviewed_by,
            "detections": [{"label": "cat", "score": 0.3}],
            "condition_results": _decision(0.3),
        },
        event_id,
    )


def test_conditions_read_as_words() -> None:
    (condition,) = _decision(0.3)["Conditions"]
    assert describe_condition(condition) == "top score of any label < 0.5"
    nested = {
        "And": [
            condition,
            {"ConditionType": "Sampling", "ConditionParameters": {"RandomSamplingPercentage": 5}},
        ]
    }
    assert describe_condition(nested) == "(top score of any label < 0.5 and picked by the 5% audit sample)"


def test_the_decision_says_which_condition_held() -> None:
    assert explain_decision("review", _decision(0.3)) == "review, because top score of any label < 0.5"
    accepted = explain_decision("accept", _decision(0.9))
    assert accepted == "accepted, because no review condition holds: top score of any label < 0.5 is false"


def test_a_review_names_what_the_backend_started() -> None:
    builtin = _review_started(reviewed_by=review_service_id("hitl-review"))

    assert (PipelineView([KEY]).record(builtin) or "").endswith("-> review task cat-1")
    assert (PipelineView([KEY]).record(_review_started()) or "").endswith("-> human loop cat-1")


def test_a_review_is_finished_only_when_its_loop_is() -> None:
    view = PipelineView([KEY])
    assert "human loop cat-1" in (view.record(_review_started()) or "")
    assert not view.finished
    image = view.images[KEY]
    assert image.why == "review, because top score of any label < 0.5 (top score 0.30)"

    completed = {
        "loop_name": "cat-1",
        "boxes": [{"label": "cat", "left": 1, "top": 1, "width": 10, "height": 10}],
        "reviewer_count": 1,
        "manifest_uri": "s3://training/manifests/00000001.manifest",
    }
    view.record(_event("Review Completed", completed, "e2"))

    assert view.finished
    assert view.manifest_uri == "s3://training/manifests/00000001.manifest"
    assert view.loops["cat-1"].boxes == 1


def test_events_delivered_twice_count_once_and_others_are_ignored() -> None:
    view = PipelineView([KEY])
    assert view.record(_review_started()) is not None
    assert view.record(_review_started()) is None
    stranger = _event("Prediction Accepted", {"image": {"key": "incoming/other.jpg"}}, "e9")
    assert view.record(stranger) is None
    assert len(view.events) == 1


def test_a_rejected_image_is_decided_with_its_reason() -> None:
    view = PipelineView([KEY])
    rejected = {"image": {"key": KEY}, "reason_code": "corrupt", "reason": "cannot decode"}
    view.record(_event("Input Rejected", rejected, "e1"))
    assert view.finished
    assert view.images[KEY].why == "rejected: corrupt (cannot decode)"


def test_dead_lettered_messages_end_the_wait() -> None:
    view = PipelineView([KEY, "incoming/run/dog.jpg"])
    view.record(_review_started())
    assert view.dead_lettered({"detail": {"object": {"key": "incoming/run/dog.jpg"}}})
    assert view.dead_lettered({"detail": {"humanLoopName": "cat-1"}})
    assert view.dead_lettered({"detail": {"humanLoopName": "cat-1"}}) is None
    assert view.finished
    assert view.loops["cat-1"].state == "DeadLettered"
