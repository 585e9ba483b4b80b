import pytest

from hitl_core.detections import Detection, ImageDetections, ImageSize
from hitl_core.gold_tasks import GoldRule, mean_score

CAT = {"label": "cat", "left": 10, "top": 10, "width": 100, "height": 100}
DOG = {"label": "dog", "left": 300, "top": 300, "width": 50, "height": 50}
MODEL_DOG = {"label": "dog", "score": 0.43, "left": 290, "top": 310, "width": 70, "height": 40}
MODEL = {"detector": "sagemaker-endpoint", "endpoint_name": "det", "adapter": "sagemaker-object-detection"}
MODEL_SAW = ImageDetections(ImageSize(640, 480), (Detection.from_dict(MODEL_DOG),))
SOURCE = {"bucket": "in", "key": "gold/dog.jpg", "version": "v1", "uri": "s3://in/gold/dog.jpg"}


def test_the_share_decides_which_task_is_gold_from_counts() -> None:
    rule = GoldRule(share=0.25)
    gold = 0
    pattern = []
    for served in range(8):
        is_gold = rule.serve_gold(served, gold)
        pattern.append(is_gold)
        gold += is_gold
    assert pattern == [False, False, False, True, False, False, False, True]
    assert not any(GoldRule(share=0.0).serve_gold(n, 0) for n in range(100))


def test_a_gold_answer_is_scored_by_matched_boxes() -> None:
    rule = GoldRule()
    assert rule.score([CAT, DOG], [CAT, DOG]) == 1.0
    assert rule.score([CAT, DOG], [CAT]) == round(2 / 3, 4)
    assert rule.score([CAT], [{**CAT, "label": "dog"}]) == 0.0


def test_a_reviewer_is_below_only_with_enough_gold_answers() -> None:
    rule = GoldRule(min_score=0.7, min_tasks=3)
    assert not rule.below([0.0, 0.0])
    assert rule.below([0.5, 0.6, 0.9])
    assert not rule.below([0.7, 0.7, 0.7])
    assert mean_score([]) is None


def test_bad_rules_are_refused() -> None:
    with pytest.raises(ValueError):
        GoldRule(share=1.0)


def test_gold_lines_become_claimed_tasks_that_look_like_any_task() -> None:
    import json
    from datetime import UTC, datetime

    from hitl_core.gold_tasks import MODEL_DETECTIONS, gold_lines, gold_task, with_model_detections
    from hitl_core.human_loop import build_input_content
    from hitl_core.review_priority import PriorityRule
    from hitl_core.review_tasks import ReviewTiming

    line = {
        "source-ref": "s3://in/gold/dog.jpg",
        "bb": {
            "image_size": [{"width": 640, "height": 480, "depth": 3}],
            "annotations": [{"class_id": 1, **{k: DOG[k] for k in ("left", "top", "width", "height")}}],
        },
        "bb-metadata": {
            "objects": [{"confidence": 1}],
            "class-map": {"1": "dog"},
            "type": "groundtruth/object-detection",
            "human-annotated": "yes",
            "creation-date": "2024-01-01T00:00:00.000Z",
            "job-name": "gold",
        },
    }
    with pytest.raises(ValueError, match=r"gold manifest line 1: no model boxes.*hitl review gold predict"):
        gold_lines(json.dumps(line) + "\n")
    offered = ["person", "dog"]
    predicted = with_model_detections(line, MODEL_SAW, MODEL, SOURCE, offered, "2026-12-07T10:00:00.000Z")
    assert line["bb-metadata"] == {k: v for k, v in predicted["bb-metadata"].items() if k != MODEL_DETECTIONS}
    (gold,) = gold_lines(json.dumps(predicted) + "\n")
    assert gold.boxes == [DOG] and gold.input_content["labels"] == offered, "as any task offers them"
    usual = build_input_content(
        task_object="s3://in/gold/dog.jpg", shown=MODEL_SAW, labels=offered, source=SOURCE, model=MODEL
    )
    assert gold.input_content == usual, "the model's boxes, as ingest puts them in a task"
    assert usual["initialValue"] == [{k: v for k, v in MODEL_DOG.items() if k != "score"}]
    now = datetime(2026, 12, 7, tzinfo=UTC)
    timing = ReviewTiming(600, 3600)
    task = gold_task(gold, "ana", 0, now, timing)
    assert task.lease_holder(now) == "ana" and json.loads(task.gold) == [DOG]
    assert (
        task.loop_name.startswith("dog-")
        and task.loop_name == gold_task(gold, "ana", 0, now, timing).loop_name
    )
    assert task.loop_name != gold_task(gold, "ben", 0, now, timing).loop_name
    assert task.priority == 0.0 and gold_task(gold, "ana", 0, now, timing, PriorityRule()).priority == 0.86
    with pytest.raises(ValueError, match="gold manifest line 1"):
        gold_lines(json.dumps({**line, "bb-metadata": {}}) + "\n")
    with pytest.raises(ValueError, match=r"is 320x240 .* but the gold line says 640x480"):
        with_model_detections(line, ImageDetections(ImageSize(320, 240), ()), MODEL, SOURCE, offered, "")


def test_a_low_standing_raises_the_event_and_enough_answers_are_needed() -> None:
    from hitl_core.gold_tasks import gold_answer_adds, gold_standing

    rule = GoldRule(min_score=0.7, min_tasks=2)
    record = {k: 2 * v for k, v in gold_answer_adds(0.5).items()}  # two answers scoring 0.5 each

    assert gold_standing(record) == (2, 1.0) and gold_standing({}) == (0, 0.0)
    assert rule.low_score("ana", (1, 0.0), "2026-12-07T10:00:00.000Z") is None, "one answer is not enough"
    assert rule.low_score("ana", (2, 1.6), "2026-12-07T10:00:00.000Z") is None, "0.8 is not below 0.7"
    low = rule.low_score("ana", gold_standing(record), "2026-12-07T10:00:00.000Z")
    assert low is not None and (low.reviewer, low.gold_score, low.gold_tasks, low.min_score) == (
        "ana",
        0.5,
        2,
        0.7,
    )
