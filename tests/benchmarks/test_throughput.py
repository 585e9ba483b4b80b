"""The throughput benchmark's arithmetic, with known timings."""

from __future__ import annotations

import pytest

from benchmarks.throughput import ratio_by_drop


def test_each_drop_is_set_against_the_mean_detector_rate_around_it() -> None:
    # 10 images: the detector alone runs at 10/s, then 5/s, then 10/s; the drops take 2 s and 4 s.
    ratios = ratio_by_drop(10, pipeline_seconds=[2.0, 4.0], detector_seconds=[1.0, 2.0, 1.0])

    assert ratios == pytest.approx([5 / 7.5, 2.5 / 7.5])


def test_timings_that_do_not_surround_each_drop_are_refused() -> None:
    with pytest.raises(ValueError, match="once before the first drop"):
        ratio_by_drop(10, pipeline_seconds=[2.0, 4.0], detector_seconds=[1.0, 2.0])
