"""Percentiles of a list of numbers (the day counts the metrics fetch)."""

from __future__ import annotations

import math
from collections.abc import Iterable


def percentile(values: Iterable[float], q: float) -> float | None:
    """The ``q`` quantile (0 to 1) by linear interpolation between the closest ranks.

    The same definition as PostgreSQL's ``percentile_cont`` and numpy's default,
    so a figure can be checked in either. ``None`` for no values.
    """
    if not 0 <= q <= 1:
        raise ValueError(f"q must be from 0 to 1, got {q}")
    ordered = sorted(values)
    if not ordered:
        return None
    position = q * (len(ordered) - 1)
    below = math.floor(position)
    above = math.ceil(position)
    if below == above:
        return float(ordered[below])
    weight = position - below
    return float(ordered[below] * (1 - weight) + ordered[above] * weight)
