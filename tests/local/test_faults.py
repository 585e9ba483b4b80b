"""Fault injection: a seeded, counted fraction of calls throttled."""

from __future__ import annotations

import pytest

from hitl.local.faults import ThrottleFault


def test_the_fraction_of_calls_throttled_is_about_the_one_asked_and_counted() -> None:
    fault = ThrottleFault(0.1, seed=3)

    hits = sum(fault.strikes() for _ in range(5_000))

    assert 400 <= hits <= 600
    assert fault.throttled == hits


def test_no_fault_throttles_nothing_and_a_full_one_everything() -> None:
    assert not any(ThrottleFault(0.0).strikes() for _ in range(100))
    assert all(ThrottleFault(1.0).strikes() for _ in range(100))


def test_the_same_seed_throttles_the_same_calls() -> None:
    first, second = ThrottleFault(0.3, seed=9), ThrottleFault(0.3, seed=9)
    assert [first.strikes() for _ in range(50)] == [second.strikes() for _ in range(50)]


def test_a_fraction_outside_0_to_1_is_refused() -> None:
    with pytest.raises(ValueError, match=r"must lie in 0\.\.1"):
        ThrottleFault(1.5)
