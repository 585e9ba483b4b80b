import pytest

from hitl_core.detections import Box
from hitl_core.review_agreement import AgreementRule, agreement, is_complete, pair_agreement

CAT = {"label": "cat", "left": 10, "top": 10, "width": 100, "height": 100}
DOG = {"label": "dog", "left": 300, "top": 300, "width": 50, "height": 50}


def shifted(box: dict, dx: int) -> dict:
    return {**box, "left": box["left"] + dx}


def answer(*boxes: dict) -> list[dict]:
    return list(boxes)


def test_pair_agreement_counts_boxes_matched_by_label_and_iou() -> None:
    assert pair_agreement([CAT, DOG], [shifted(CAT, 5), DOG], 0.5) == 1.0
    assert pair_agreement([CAT, DOG], [CAT], 0.5) == round(2 / 3, 4)
    assert pair_agreement([CAT], [{**CAT, "label": "dog"}], 0.5) == 0.0
    assert pair_agreement([CAT], [shifted(CAT, 80)], 0.5) == 0.0
    assert pair_agreement([], [], 0.5) == 1.0


def test_agreement_is_the_mean_over_pairs() -> None:
    assert agreement([answer(CAT)], 0.5) is None
    assert agreement([answer(CAT), answer(CAT), answer(DOG)], 0.5) == round((1.0 + 0 + 0) / 3, 4)


def test_a_disagreement_asks_one_more_reviewer_up_to_the_maximum() -> None:
    rule = AgreementRule(threshold=0.8, max_reviewers=3)
    assert not is_complete([answer(CAT)], 2, rule)
    assert is_complete([answer(CAT), answer(shifted(CAT, 3))], 2, rule)
    assert not is_complete([answer(CAT), answer(DOG)], 2, rule)
    assert is_complete([answer(CAT), answer(DOG), answer(CAT)], 2, rule)
    assert is_complete([answer(CAT), answer(DOG)], 2, None)
    assert is_complete([answer(CAT)], 1, rule)


def test_boxes_as_the_manifest_reads_them_count_alike() -> None:
    as_tuples = [("cat", Box(10, 10, 100, 100))]
    assert pair_agreement(as_tuples, [shifted(CAT, 5)], 0.5) == 1.0
    assert pair_agreement(as_tuples, [DOG], 0.5) == 0.0


def test_bad_rules_are_refused() -> None:
    with pytest.raises(ValueError):
        AgreementRule(threshold=0.0)
