"""A reader trying to get hidden counts back from what a report publishes.

The reader knows every shown number, which numbers are hidden, that a hidden
number is a whole number of at least 1 (zeros are always shown), and every
"line" (the last number of a line is the sum of the others). They try every
assignment of the hidden numbers up to ``bound`` and keep those that add up.
A small count is protected when it can take at least two values.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import TypeVar

K = TypeVar("K", bound=Hashable)


def solutions(
    shown: Mapping[K, int | str],
    lines: Sequence[Sequence[K]],
    bound: int,
    limit: int = 200_000,
) -> list[dict[K, int]]:
    """Every assignment of the hidden keys (1..bound) that satisfies every line."""
    hidden = [key for key, value in shown.items() if isinstance(value, str)]
    known: dict[K, int] = {k: v for k, v in shown.items() if isinstance(v, int)}
    # Assign keys line by line, so lines complete (and prune) early.
    order: list[K] = []
    for line in sorted(lines, key=lambda ln: sum(1 for k in ln if k in hidden)):
        order += [k for k in line if k in hidden and k not in order]
    order += [k for k in hidden if k not in order]
    lines_of = {key: [line for line in lines if key in line] for key in hidden}
    found: list[dict[K, int]] = []
    values: dict[K, int] = dict(known)

    def consistent(key: K) -> bool:
        for line in lines_of[key]:
            *parts, total = line
            if all(k in values for k in line):
                if sum(values[k] for k in parts) != values[total]:
                    return False
            elif total in values and sum(values[k] for k in parts if k in values) > values[total]:
                return False
        return True

    def search(index: int) -> None:
        if len(found) >= limit:
            raise AssertionError("too many solutions to enumerate: lower the bound")
        if index == len(order):
            found.append({k: values[k] for k in hidden})
            return
        key = order[index]
        for value in range(1, bound + 1):
            values[key] = value
            if consistent(key):
                search(index + 1)
            del values[key]

    search(0)
    return found


def exposed(
    true: Mapping[K, int],
    shown: Mapping[K, int | str],
    lines: Sequence[Sequence[K]],
    threshold: int,
    bound: int,
) -> dict[K, set[int]]:
    """The small hidden counts that every consistent assignment gives one value."""
    found = solutions(shown, lines, bound)
    assert any(all(s[k] == true[k] for k in s) for s in found), (
        "the true values are not among the solutions: the lines do not describe the table"
    )
    leaks: dict[K, set[int]] = {}
    for key, value in true.items():
        if isinstance(shown[key], str) and 0 < value < threshold:
            seen = {s[key] for s in found}
            if len(seen) < 2:
                leaks[key] = seen
    return leaks
