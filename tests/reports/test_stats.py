"""Percentiles by linear interpolation (PostgreSQL's percentile_cont)."""

from __future__ import annotations

import pytest

from cpnav.reports.stats import percentile


def test_median_and_90th_percentile() -> None:
    days = [30, 1, 20, 2, 10, 4, 8, 6, 5, 1]
    assert percentile(days, 0.5) == 5.5  # between the 5th and 6th of ten
    assert percentile(days, 0.9) == pytest.approx(21.0)  # 20 + 0.1 x (30 - 20)
    assert percentile([7], 0.9) == 7.0
    assert percentile([1, 3], 0.5) == 2.0
    assert percentile([1, 2, 3], 0) == 1.0
    assert percentile([1, 2, 3], 1) == 3.0


def test_no_values_and_bad_quantiles() -> None:
    assert percentile([], 0.5) is None
    with pytest.raises(ValueError, match="from 0 to 1"):
        percentile([1.0], 1.5)
