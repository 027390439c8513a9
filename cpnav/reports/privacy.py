"""De-identifying published counts: small-cell and complementary suppression.

A count from 1 to ``threshold - 1`` could point at a person, so it is never
published ("primary" suppression). Hiding it alone is not enough when a total
is shown: a row total minus the visible cells gives it back. So the counts of a
report are described as *lines* - groups of numbers where one is the sum of the
others (a table row with its total, a column with its total, the agencies of
one level with the level's count) - and every line must hide either none of its
numbers or at least two. When a line hides exactly one, the next smallest
visible non-zero number in it is hidden too ("complementary" suppression), and
the lines are checked again until nothing changes. Zeros are not sensitive:
they are always shown and never chosen as the complement.

That rule alone can still be beaten by reading several lines together (two
hidden 1s under a shown total of 2; a row total that must be at least 2 because
it holds two hidden numbers). So the result is then audited as a reader would
attack it - bounds on every hidden number, tightened line by line - and a small
number the audit can pin down gets one more companion hidden, until none can.

Every hidden number is published as the same marker (``<5`` for the default
threshold of 5), primary or complementary: two different markers would tell a
reader which hidden number is the small one and let the totals give it back.
The page legend says that a hidden number may be a larger one hidden to protect
a small one.

Statistics (shares, medians) follow the same rule: none is published from fewer
than ``threshold`` cases, and a share is hidden when its numerator or the rest
of its denominator is a small count, since share and denominator give both back.

Only coarse, non-identifying dimensions may label an aggregate; the allow-list
below is checked when a report is built.

No Django here: the threshold is passed in (setting REPORT_SUPPRESS_BELOW).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Collection, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, TypeVar

K = TypeVar("K", bound=Hashable)

DEFAULT_THRESHOLD: Final = 5
Published = int | str

# What a count may be broken down by. Anything about a person (name, birth date,
# A-number, contact, case number, free text) is not here and never will be.
ALLOWED_DIMENSIONS: Final = frozenset(
    {
        "agency",
        "agency_level",
        "state",
        "trafficking_form",
        "age_group",
        "request_kind",
        "outcome",
        "timing",
        "renewal",
        "hhs_notice",
        "engagement",
    }
)


class SuppressionError(ValueError):
    """The counts given cannot be protected as described (a line that does not add up)."""


def check_threshold(threshold: int) -> int:
    if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 1:
        raise ValueError(
            f"the suppression threshold must be a whole number 1 or more, got {threshold!r}"
        )
    return threshold


def marker(threshold: int) -> str:
    """How a hidden count is shown: ``<5`` for the default threshold."""
    return f"<{check_threshold(threshold)}"


def is_small(value: int, threshold: int) -> bool:
    """A count that must not be published: from 1 to threshold - 1 (0 is not sensitive)."""
    return 0 < value < threshold


def check_dimensions(names: Iterable[str]) -> None:
    """Refuse to build an aggregate labelled by anything but the allowed dimensions."""
    refused = sorted(set(names) - ALLOWED_DIMENSIONS)
    if refused:
        raise ValueError(f"not a reportable dimension: {', '.join(refused)}")


def suppress(
    values: Mapping[K, int],
    lines: Iterable[Sequence[K]],
    threshold: int,
    *,
    forced: Collection[K] = (),
) -> frozenset[K]:
    """The keys of ``values`` that must be hidden.

    ``lines`` are groups of keys whose last value is the sum of the others.
    ``forced`` are keys hidden anyway, e.g. because the same number is hidden
    elsewhere; a forced zero stays shown. Ties for the next smallest are broken
    by position in the line, so the answer is the same every time.

    Two passes, repeated until neither hides anything more:

    1. the rule of the lines: a line hiding exactly one number hides the next
       smallest visible non-zero number in it too;
    2. an audit that reads the published lines together, as a reader would
       (``_pinned``): a small number that several lines still pin to one value
       gets the next smallest visible number of its shortest line hidden too.
    """
    check_threshold(threshold)
    for key, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"a count must be a whole number 0 or more, got {value!r} for {key!r}")
    groups = [tuple(dict.fromkeys(line)) for line in lines]
    for line in groups:
        for key in line:
            if key not in values:
                raise KeyError(f"line refers to {key!r}, which has no value")
    for key in forced:
        if key not in values:
            raise KeyError(f"forced key {key!r} has no value")
    sensitive = {key for key, value in values.items() if is_small(value, threshold)}
    sensitive |= {key for key in forced if values[key] > 0}
    hidden = set(sensitive)
    lines_of: dict[K, list[Sequence[K]]] = {}
    for line in groups:
        for key in line:
            lines_of.setdefault(key, []).append(line)
    while True:
        changed = True
        while changed:
            changed = False
            for line in groups:
                if sum(1 for key in line if key in hidden) == 1:
                    hidden.add(_next_smallest([line], hidden, values))
                    changed = True
        pinned = [key for key in _pinned(groups, hidden, values) if key in sensitive]
        if not pinned:
            return frozenset(hidden)
        # Several pinned numbers per audit (an audit is the costly part), but one
        # companion per line a round: a companion may already protect the next one.
        touched: set[int] = set()
        added = False
        for key in pinned:
            if any(id(line) in touched for line in lines_of.get(key, ())):
                continue
            companion = _nearest_visible(key, lines_of, hidden, values)
            if companion is None:
                continue
            hidden.add(companion)
            shared = {id(line) for line in lines_of[key]} & {
                id(line) for line in lines_of[companion]
            }
            touched |= shared or {id(line) for line in lines_of[companion]}
            added = True
        if not added:
            raise SuppressionError(f"nothing left to hide that would protect {pinned[0]!r}")


def _next_smallest(lines: Sequence[Sequence[K]], hidden: set[K], values: Mapping[K, int]) -> K:
    candidates = _candidates(lines, hidden, values)
    if not candidates:
        raise SuppressionError(
            f"{lines!r} expose a hidden number and show only zeros besides: "
            "their numbers do not add up"
        )
    return min(candidates, key=lambda key: values[key])


def _candidates(lines: Sequence[Sequence[K]], hidden: set[K], values: Mapping[K, int]) -> list[K]:
    return [key for line in lines for key in line if key not in hidden and values[key] > 0]


def _nearest_visible(
    key: K, lines_of: Mapping[K, Sequence[Sequence[K]]], hidden: set[K], values: Mapping[K, int]
) -> K | None:
    """The next smallest visible number in the shortest line of ``key`` that shows one
    (a short line keeps the protection local); when its lines show only zeros, in the
    lines that meet them through hidden numbers, and so on outwards. None when
    nothing is left to hide."""
    reached = {key}
    while True:
        near = list({id(line): line for k in reached for line in lines_of.get(k, ())}.values())
        for line in sorted(near, key=len):
            candidates = _candidates([line], hidden, values)
            if candidates:
                return min(candidates, key=lambda k: values[k])
        wider = {k for line in near for k in line if k in hidden} | reached
        if wider == reached:
            return None
        reached = wider


def _pinned(
    lines: Sequence[Sequence[K]], hidden: set[K], values: Mapping[K, int], passes: int = 200
) -> list[K]:
    """The hidden keys whose value a reader can work out from what is shown.

    The reader's view: a shown number is known; a hidden one is at least 1
    (zeros are always shown) with no upper limit; in every line the last number
    is the sum of the others. Bounds are tightened line by line until they stop
    moving (bounds propagation); a hidden number whose lowest and highest
    possible values meet is pinned. The bounds only ever contain the true value,
    so what is found pinned truly is.

    Only lines holding a hidden number are read, and a line is read again only
    when a bound in it moved (a work list), so a national table of thousands of
    agencies with a few hidden numbers costs little more than a small one. A
    shown number's bounds never move, so a line's shown parts enter as one sum.
    ``passes`` caps the work on huge tables: at most that many readings per line
    on average.
    """
    low: dict[K, float] = {}
    high: dict[K, float] = {}
    for key in hidden:
        low[key], high[key] = 1, math.inf
    relevant = [line for line in lines if any(key in hidden for key in line)]
    shown_sum: list[int] = []
    hidden_parts: list[list[K]] = []
    lines_of: dict[K, list[int]] = {}
    for index, line in enumerate(relevant):
        *parts, total = line
        shown_sum.append(sum(values[key] for key in parts if key not in hidden))
        hidden_parts.append([key for key in parts if key in hidden])
        for key in line:
            if key in hidden:
                lines_of.setdefault(key, []).append(index)
    queue = deque(range(len(relevant)))
    queued = set(queue)
    budget = passes * len(relevant)
    while queue and budget:
        budget -= 1
        index = queue.popleft()
        queued.discard(index)
        total = relevant[index][-1]
        parts = hidden_parts[index]
        parts_low = shown_sum[index] + sum(low[key] for key in parts)
        finite = [high[key] for key in parts if high[key] != math.inf]
        finite_high = shown_sum[index] + sum(finite)
        unbounded = len(parts) - len(finite)
        total_low, total_high = (
            (low[total], high[total]) if total in hidden else (values[total], values[total])
        )
        moved: list[K] = []
        if total in hidden:
            if parts_low > total_low:
                low[total] = total_low = parts_low
                moved.append(total)
            parts_high = math.inf if unbounded else finite_high
            if parts_high < total_high:
                high[total] = total_high = parts_high
                moved.append(total)
        for key in parts:
            own = high[key] == math.inf
            others_high = math.inf if unbounded - own else finite_high - (0 if own else high[key])
            floor = total_low - others_high
            ceiling = total_high - (parts_low - low[key])
            if floor > low[key]:
                low[key] = floor
                moved.append(key)
            if ceiling < high[key]:
                high[key] = ceiling
                moved.append(key)
            # The sums above are stale once a bound moved; the line is read again.
        for key in moved:
            for other in lines_of[key]:
                if other not in queued:
                    queue.append(other)
                    queued.add(other)
    return [key for key in values if key in hidden and low[key] == high[key]]


def publish(values: Mapping[K, int], hidden: Collection[K], threshold: int) -> dict[K, Published]:
    """Each value as it may be shown: the number, or the marker when hidden."""
    shown = marker(threshold)
    return {key: shown if key in hidden else value for key, value in values.items()}


@dataclass(frozen=True)
class Grid:
    """A published two-way table with its row totals, column totals and grand total."""

    cells: tuple[tuple[Published, ...], ...]
    row_totals: tuple[Published, ...]
    column_totals: tuple[Published, ...]
    total: Published


def grid_lines(rows: int, columns: int) -> list[tuple[tuple[object, ...], ...]]:
    """The lines of a rows x columns table with both margins and a grand total.

    Keys: ("cell", i, j), ("row", i), ("column", j) and ("total",).
    """
    lines: list[tuple[tuple[object, ...], ...]] = []
    for i in range(rows):
        lines.append((*(("cell", i, j) for j in range(columns)), ("row", i)))
    for j in range(columns):
        lines.append((*(("cell", i, j) for i in range(rows)), ("column", j)))
    lines.append((*(("row", i) for i in range(rows)), ("total",)))
    lines.append((*(("column", j) for j in range(columns)), ("total",)))
    return lines


def grid(matrix: Sequence[Sequence[int]], threshold: int) -> Grid:
    """Protect a two-way table of counts whose row and column totals are shown too."""
    rows = len(matrix)
    columns = len(matrix[0]) if rows else 0
    if any(len(row) != columns for row in matrix):
        raise ValueError("every row of the table needs the same number of cells")
    values: dict[tuple[object, ...], int] = {}
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            values["cell", i, j] = value
        values["row", i] = sum(row)
    for j in range(columns):
        values["column", j] = sum(row[j] for row in matrix)
    values["total",] = sum(sum(row) for row in matrix)
    shown = publish(values, suppress(values, grid_lines(rows, columns), threshold), threshold)
    return Grid(
        cells=tuple(tuple(shown["cell", i, j] for j in range(columns)) for i in range(rows)),
        row_totals=tuple(shown["row", i] for i in range(rows)),
        column_totals=tuple(shown["column", j] for j in range(columns)),
        total=shown["total",],
    )


def statistic_hidden(cases: int, threshold: int) -> bool:
    """A median, percentile or share from fewer than ``threshold`` cases is not published."""
    return cases < check_threshold(threshold)


def share_hidden(numerator: int, denominator: int, threshold: int) -> bool:
    """Whether numerator/denominator would reveal a small count (or rest on too few cases).

    The share and the denominator together give back both the numerator and the
    rest (denominator - numerator), so either being small hides the share.
    """
    if not 0 <= numerator <= denominator:
        raise ValueError(f"not a share: {numerator} of {denominator}")
    return (
        statistic_hidden(denominator, threshold)
        or is_small(numerator, threshold)
        or is_small(denominator - numerator, threshold)
    )
