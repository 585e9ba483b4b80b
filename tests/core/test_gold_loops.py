import pytest

from hitl_core.gold_loops import (
    LoopCount,
    after_image_loop,
    check_gold_images,
    gold_image_folder,
    gold_line_for,
    gold_loop_name,
    worker_scores,
)
from hitl_core.gold_tasks import GoldLine, GoldRule

CAT = {"label": "cat", "left": 10, "top": 10, "width": 100, "height": 100}
DOG = {"label": "dog", "left": 300, "top": 300, "width": 50, "height": 50}
LINES = [
    GoldLine("a", {"taskObject": "s3://team-gold/gold/cat.jpg"}, [CAT]),
    GoldLine("b", {"taskObject": "s3://team-gold/gold/dog.jpg"}, [DOG]),
]


def _answer(worker: str, boxes: list[dict]) -> dict:
    return {"workerId": worker, "answerContent": {"annotatedResult": {"boundingBoxes": boxes}}}


def test_a_gold_loop_follows_the_image_loop_that_brings_gold_to_its_share_of_loops_started() -> None:
    rule = GoldRule(share=0.25)
    count, gold_after = LoopCount(), []
    for image in range(1, 9):
        count, number = after_image_loop(rule, count)
        if number is not None:
            gold_after.append((image, number))
    # One loop in four is gold (as with a reviewer's tasks): after the 3rd and 6th image loops.
    assert gold_after == [(3, 0), (6, 1)]
    assert count == LoopCount(started=10, gold=2)
    assert after_image_loop(GoldRule(share=0.0), LoopCount(99, 0)) == (LoopCount(100, 0), None)


def test_gold_loops_take_the_lines_in_turn_under_names_made_as_an_images() -> None:
    assert [gold_line_for(LINES, n).gold_id for n in range(3)] == ["a", "b", "a"]
    first, again = gold_loop_name(LINES[0], 0), gold_loop_name(LINES[0], 2)
    assert first.startswith("cat-") and first != again
    assert gold_loop_name(LINES[0], 0) == first
    assert "gold" not in first.removeprefix("cat-")


def test_gold_images_must_lie_under_the_manifests_folder() -> None:
    assert gold_image_folder("s3://team-gold/gold/lines.jsonl") == "s3://team-gold/gold/"
    for bad in ("s3://team-gold/lines.jsonl", "gold/lines.jsonl", "s3://team-gold/gold/"):
        with pytest.raises(ValueError, match="gold manifest"):
            gold_image_folder(bad)
    check_gold_images(LINES, "s3://team-gold/gold/")
    with pytest.raises(
        ValueError, match=r"line 2: s3://team-gold/gold/dog.jpg is not under s3://team-gold/cats/"
    ):
        check_gold_images(
            [GoldLine("c", {"taskObject": "s3://team-gold/cats/c.jpg"}, []), LINES[1]], "s3://team-gold/cats/"
        )


def test_each_workers_answer_is_scored_against_the_known_boxes() -> None:
    output = {"humanAnswers": [_answer("w-right", [CAT, DOG]), _answer("w-half", [CAT])]}
    scores = worker_scores(GoldRule(), [CAT, DOG], output)
    assert scores == {"w-right": 1.0, "w-half": round(2 / 3, 4)}
    with pytest.raises(ValueError, match="no 'workerId'"):
        worker_scores(GoldRule(), [CAT], {"humanAnswers": [{"answerContent": {}}]})
    with pytest.raises(ValueError, match="no humanAnswers"):
        worker_scores(GoldRule(), [CAT], {"humanAnswers": []})
