import pytest

from hitl_core.gold_tasks import GoldRule, mean_score

CAT = {"label": "cat", "left": 10, "top": 10, "width": 100, "height": 100}
DOG = {"label": "dog", "left": 300, "top": 300, "width": 50, "height": 50}


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
