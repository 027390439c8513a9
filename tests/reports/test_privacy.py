"""Small-cell and complementary suppression, tried against a reader who back-solves totals."""

from __future__ import annotations

import random

import pytest

from cpnav.cases.models import Person
from cpnav.reports import privacy
from cpnav.reports.privacy import Grid, grid, grid_lines
from tests.reports.attack import exposed

T = 5
H = "<5"
Key = tuple[object, ...]


def true_values(matrix: list[list[int]]) -> dict[Key, int]:
    values: dict[Key, int] = {}
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            values["cell", i, j] = value
        values["row", i] = sum(row)
    for j in range(len(matrix[0])):
        values["column", j] = sum(row[j] for row in matrix)
    values["total",] = sum(map(sum, matrix))
    return values


def shown_values(published: Grid) -> dict[Key, int | str]:
    shown: dict[Key, int | str] = {}
    for i, row in enumerate(published.cells):
        for j, value in enumerate(row):
            shown["cell", i, j] = value
        shown["row", i] = published.row_totals[i]
    for j, value in enumerate(published.column_totals):
        shown["column", j] = value
    shown["total",] = published.total
    return shown


def leaks(matrix: list[list[int]], bound: int | None = None) -> dict[Key, set[int]]:
    """Try to back-solve every small hidden count of the published table."""
    published = grid(matrix, T)
    total = published.total
    limit = bound or (total if isinstance(total, int) else sum(map(sum, matrix)) + 10)
    lines = grid_lines(len(matrix), len(matrix[0]))
    return exposed(true_values(matrix), shown_values(published), lines, T, limit)


def assert_every_line_hides_none_or_two(matrix: list[list[int]]) -> None:
    shown = shown_values(grid(matrix, T))
    for line in grid_lines(len(matrix), len(matrix[0])):
        assert sum(1 for key in line if shown[key] == H) != 1, line


# --- the basics -----------------------------------------------------------------


def test_marker_and_threshold() -> None:
    assert privacy.marker(5) == "<5"
    assert privacy.marker(11) == "<11"
    for bad in (0, -1, True, 2.5, "5"):
        with pytest.raises(ValueError, match="threshold"):
            privacy.marker(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "small"), [(0, False), (1, True), (4, True), (5, False), (60, False)]
)
def test_counts_from_one_to_threshold_minus_one_are_small(value: int, small: bool) -> None:
    assert privacy.is_small(value, T) is small


def test_without_lines_only_small_counts_are_hidden_and_zeros_stay() -> None:
    values = {"a": 0, "b": 1, "c": 4, "d": 5, "e": 9}
    assert privacy.suppress(values, [], T) == {"b", "c"}
    assert privacy.publish(values, {"b", "c"}, T) == {"a": 0, "b": H, "c": H, "d": 5, "e": 9}


def test_nothing_is_hidden_when_every_count_is_large_or_zero() -> None:
    matrix = [[0, 5, 12], [7, 0, 30]]
    assert grid(matrix, T) == Grid(
        cells=((0, 5, 12), (7, 0, 30)), row_totals=(17, 37), column_totals=(7, 5, 42), total=54
    )


def test_a_threshold_of_one_hides_nothing() -> None:
    assert grid([[1, 2], [3, 4]], 1).cells == ((1, 2), (3, 4))


# --- complementary suppression ---------------------------------------------------


def test_a_small_cell_takes_the_next_smallest_of_its_row_and_column_with_it() -> None:
    # 3 is small. Row 0 also hides 10 (its next smallest); column 0 hides 8; 10
    # was alone in column 1, which hides 9; row 1 now hides two. Stable.
    matrix = [[3, 10, 12], [8, 9, 20], [15, 11, 6]]
    assert grid(matrix, T) == Grid(
        cells=((H, H, 12), (H, H, 20), (15, 11, 6)),
        row_totals=(25, 37, 32),
        column_totals=(26, 30, 38),
        total=94,
    )
    assert leaks(matrix) == {}


def test_zeros_are_never_the_complement() -> None:
    matrix = [[0, 3, 7], [0, 8, 9]]
    assert grid(matrix, T) == Grid(
        cells=((0, H, H), (0, H, H)), row_totals=(10, 17), column_totals=(0, 11, 16), total=27
    )
    assert leaks(matrix) == {}


def test_a_small_total_is_hidden_and_protected_like_a_cell() -> None:
    # Row 0 adds up to 3: its total is small too. Columns 0 and 1 then hide
    # row 1's cells, and the row totals hide 30 so 3 cannot be 33 - 30.
    matrix = [[1, 2], [10, 20]]
    published = grid(matrix, T)
    assert published == Grid(
        cells=((H, H), (H, H)), row_totals=(H, H), column_totals=(11, 22), total=33
    )
    assert leaks(matrix) == {}


def test_columns_are_protected_like_rows() -> None:
    matrix = [[2, 40], [9, 41], [12, 44]]
    published = grid(matrix, T)
    assert [row[0] for row in published.cells] == [H, H, 12]
    assert published.column_totals == (23, 125)
    assert_every_line_hides_none_or_two(matrix)
    assert leaks(matrix) == {}


def test_hidden_ones_under_a_shown_total_get_a_larger_companion() -> None:
    # 1 + 1 under a shown 12 - 10 = 2 could only be 1 and 1: the audit hides 10 too.
    matrix = [[1, 1, 10]]
    published = grid(matrix, T)
    assert published.cells == ((H, H, H),)
    assert published.row_totals == (12,)
    assert leaks(matrix, bound=10) == {}


def test_several_lines_read_together_cannot_pin_a_small_count() -> None:
    # Found by trying random tables: with only the pairwise rule, the row totals
    # (x + (y + z) = 10 - 7, each at least 1) gave back x = y = z = 1.
    matrix = [[0, 0], [0, 1], [1, 1], [6, 1]]
    assert_every_line_hides_none_or_two(matrix)
    assert leaks(matrix, bound=10) == {}


def test_a_table_of_small_counts_shows_only_its_zeros_and_a_large_total() -> None:
    published = grid([[1, 0], [2, 3]], T)
    assert published == Grid(
        cells=((H, 0), (H, H)), row_totals=(H, H), column_totals=(H, H), total=6
    )
    assert leaks([[1, 0], [2, 3]]) == {}


def test_the_answer_is_the_same_every_time_ties_go_to_the_first() -> None:
    matrix = [[2, 9, 9, 9], [6, 6, 30, 30]]
    first = grid(matrix, T)
    assert all(grid(matrix, T) == first for _ in range(5))
    assert first.cells[0] == (H, H, 9, 9)


def test_random_tables_cannot_be_back_solved() -> None:
    rng = random.Random(20260930)
    tried = 0
    while tried < 60:
        rows, columns = rng.randint(1, 3), rng.randint(1, 4)
        matrix = [
            [rng.choice([0, 0, 1, 2, 3, 4, 5, 6, 9]) for _ in range(columns)] for _ in range(rows)
        ]
        published = grid(matrix, T)
        hidden_cells = sum(1 for row in published.cells for value in row if value == H)
        if not 0 < hidden_cells <= 5 or sum(map(sum, matrix)) > 30:
            continue
        tried += 1
        assert_every_line_hides_none_or_two(matrix)
        assert leaks(matrix, bound=30) == {}, matrix


# --- the general form, forced keys and bad input ------------------------------------


def test_forced_keys_are_hidden_but_a_forced_zero_is_shown() -> None:
    values = {"a": 8, "b": 9, "c": 0, "sum": 17}
    hidden = privacy.suppress(values, [("a", "b", "c", "sum")], T, forced={"a", "c"})
    assert hidden == {"a", "b"}


def test_nested_lines_protect_across_levels() -> None:
    # Two agencies of one level: hiding agency x (3) must not leave level - y = x.
    values = {"x": 3, "y": 20, "level": 23, "other": 40, "total": 63}
    lines = [("x", "y", "level"), ("level", "other", "total")]
    hidden = privacy.suppress(values, lines, T)
    assert {"x", "y"} <= hidden
    shown = privacy.publish(values, hidden, T)
    assert exposed(values, shown, lines, T, bound=63) == {}


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="whole number"):
        privacy.suppress({"a": -1}, [], T)
    with pytest.raises(ValueError, match="whole number"):
        privacy.suppress({"a": True}, [], T)
    with pytest.raises(KeyError):
        privacy.suppress({"a": 1}, [("a", "b")], T)
    with pytest.raises(KeyError):
        privacy.suppress({"a": 1}, [], T, forced={"b"})
    with pytest.raises(privacy.SuppressionError):
        privacy.suppress({"a": 2, "b": 0, "sum": 0}, [("a", "b", "sum")], T)
    with pytest.raises(ValueError, match="same number"):
        grid([[1, 2], [3]], T)


# --- statistics and dimensions ------------------------------------------------------


@pytest.mark.parametrize(
    ("numerator", "denominator", "hidden"),
    [
        (10, 20, False),
        (20, 20, False),
        (0, 20, False),
        (3, 20, True),  # the numerator is small
        (18, 20, True),  # the rest (2) is small
        (0, 4, True),  # too few cases
        (4, 4, True),
        (5, 5, False),
    ],
)
def test_a_share_is_hidden_when_it_would_give_back_a_small_count(
    numerator: int, denominator: int, hidden: bool
) -> None:
    assert privacy.share_hidden(numerator, denominator, T) is hidden


def test_a_share_must_be_a_share() -> None:
    with pytest.raises(ValueError, match="not a share"):
        privacy.share_hidden(6, 5, T)


def test_statistics_need_threshold_cases() -> None:
    assert privacy.statistic_hidden(4, T)
    assert not privacy.statistic_hidden(5, T)


def test_only_coarse_dimensions_may_label_an_aggregate() -> None:
    privacy.check_dimensions(["agency_level", "state", "outcome"])
    for name in (*Person.IDENTIFYING, "case_number", "narrative", "email"):
        assert name not in privacy.ALLOWED_DIMENSIONS
        with pytest.raises(ValueError, match="not a reportable dimension"):
            privacy.check_dimensions(["state", name])
