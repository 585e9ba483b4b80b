from datetime import UTC, datetime, timedelta

import pytest

from hitl_core.review_priority import PriorityRule, content_scores

T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def test_threshold_distance_puts_the_score_at_the_threshold_first() -> None:
    rule = PriorityRule(threshold=0.5)
    assert rule.base_priority([0.5, 0.1]) == 1.0
    assert rule.base_priority([0.25]) == 0.5
    assert rule.base_priority([]) == 0.0
    assert rule.base_priority([0.75]) == 0.5
    assert rule.base_priority([1.0]) == 0.0


def test_lowest_score_puts_the_least_sure_image_first() -> None:
    rule = PriorityRule(basis="lowest-score")
    assert rule.base_priority([0.9, 0.2]) == 0.8
    assert rule.base_priority([]) == 1.0


def test_rank_orders_as_effective_priority_at_any_time() -> None:
    rule = PriorityRule(aging_seconds=3600)
    tasks = [
        (T0, 0.2),
        (T0 + timedelta(minutes=30), 0.9),
        (T0 + timedelta(minutes=50), 0.6),
        (T0 - timedelta(hours=2), 0.0),
    ]
    by_rank = sorted(tasks, key=lambda t: rule.queue_rank(*t))
    for now in (T0 + timedelta(hours=1), T0 + timedelta(days=3)):
        by_effective = sorted(tasks, key=lambda t: -rule.effective_priority(t[0], t[1], now))
        assert by_rank == by_effective
    assert by_rank[0] == (T0 - timedelta(hours=2), 0.0)


def test_an_old_low_task_outranks_a_new_high_one_after_one_aging_period() -> None:
    rule = PriorityRule(aging_seconds=600)
    old_low = rule.queue_rank(T0, 0.0)
    new_high = rule.queue_rank(T0 + timedelta(seconds=601), 1.0)
    assert old_low < new_high
    assert rule.queue_rank(T0 + timedelta(seconds=599), 1.0) < old_low


def test_ranks_stay_positive_and_integral() -> None:
    rank = PriorityRule(aging_seconds=10**6).queue_rank(datetime(1970, 1, 1, tzinfo=UTC), 1.0)
    assert isinstance(rank, int) and rank > 0


def test_bad_rules_are_refused() -> None:
    with pytest.raises(ValueError):
        PriorityRule(aging_seconds=0)
    with pytest.raises(ValueError):
        PriorityRule(threshold=1.0)


def test_content_scores_read_initial_scores() -> None:
    assert content_scores({"initialScores": [0.4, 1]}) == [0.4, 1.0]
    assert content_scores({}) == []
