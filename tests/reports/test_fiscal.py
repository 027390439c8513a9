"""Federal fiscal years and quarters: FY2026 runs from 1 October 2025 to 30 September 2026."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cpnav.reports.fiscal import Period, fiscal_year, quarter, recent_years, start_of_day

EASTERN = ZoneInfo("America/New_York")


@pytest.mark.parametrize(
    ("day", "year", "q"),
    [
        (date(2025, 9, 30), 2025, 4),
        (date(2025, 10, 1), 2026, 1),
        (date(2025, 12, 31), 2026, 1),
        (date(2026, 1, 1), 2026, 2),
        (date(2024, 2, 29), 2024, 2),
        (date(2026, 3, 31), 2026, 2),
        (date(2026, 4, 1), 2026, 3),
        (date(2026, 6, 30), 2026, 3),
        (date(2026, 7, 1), 2026, 4),
        (date(2026, 9, 30), 2026, 4),
    ],
)
def test_fiscal_year_and_quarter_of_a_day(day: date, year: int, q: int) -> None:
    assert fiscal_year(day) == year
    assert quarter(day) == q


def test_a_fiscal_year_runs_from_1_october_to_30_september() -> None:
    fy = Period.year(2026)
    assert (fy.start, fy.end) == (date(2025, 10, 1), date(2026, 9, 30))
    assert fy.days == 365
    assert fy.contains(date(2025, 10, 1))
    assert fy.contains(date(2026, 9, 30))
    assert not fy.contains(date(2025, 9, 30))
    assert not fy.contains(date(2026, 10, 1))
    assert fy.slug == "FY2026"


def test_a_leap_year_has_29_february() -> None:
    fy = Period.year(2024)
    assert fy.days == 366
    assert fy.contains(date(2024, 2, 29))
    q2 = Period.fiscal_quarter(2024, 2)
    assert (q2.start, q2.end) == (date(2024, 1, 1), date(2024, 3, 31))
    assert q2.contains(date(2024, 2, 29))
    assert q2.days == 91
    assert Period.fiscal_quarter(2025, 2).days == 90


def test_quarters_tile_the_year() -> None:
    quarters = [Period.fiscal_quarter(2026, q) for q in (1, 2, 3, 4)]
    assert [(p.start, p.end) for p in quarters] == [
        (date(2025, 10, 1), date(2025, 12, 31)),
        (date(2026, 1, 1), date(2026, 3, 31)),
        (date(2026, 4, 1), date(2026, 6, 30)),
        (date(2026, 7, 1), date(2026, 9, 30)),
    ]
    for before, after in itertools.pairwise(quarters):
        assert after.start == before.end + timedelta(days=1)
    assert sum(p.days for p in quarters) == Period.year(2026).days
    assert quarters[0].slug == "FY2026-Q1"


def test_the_boundary_instant_in_the_reporting_zone() -> None:
    start, end = Period.year(2026).bounds(EASTERN)
    # Midnight on 1 October in Washington is 04:00 UTC (daylight time).
    assert start == datetime(2025, 10, 1, 4, tzinfo=UTC)
    assert end == datetime(2026, 10, 1, 4, tzinfo=UTC)
    last_minute_of_fy2025 = datetime(2025, 10, 1, 3, 59, tzinfo=UTC)  # 30 Sep, 23:59 EDT
    assert last_minute_of_fy2025 < start
    q2_start, _ = Period.fiscal_quarter(2026, 2).bounds(EASTERN)
    assert q2_start == datetime(2026, 1, 1, 5, tzinfo=UTC)  # standard time in winter
    assert Period.year(2026).bounds(ZoneInfo("UTC"))[0] == datetime(2025, 10, 1, tzinfo=UTC)


def test_a_day_that_starts_at_one_oclock() -> None:
    # In Santiago, clocks jump from 00:00 to 01:00 on 7 September 2025.
    assert start_of_day(date(2025, 9, 7), ZoneInfo("America/Santiago")) == datetime(
        2025, 9, 7, 4, tzinfo=UTC
    )


def test_custom_periods() -> None:
    period = Period.custom(date(2026, 2, 1), date(2026, 2, 28))
    assert period.days == 28
    assert period.fiscal_year is None
    assert period.slug == "2026-02-01_2026-02-28"
    assert Period.custom(date(2026, 2, 1), date(2026, 2, 1)).days == 1
    with pytest.raises(ValueError, match="before it starts"):
        Period.custom(date(2026, 2, 2), date(2026, 2, 1))


def test_bad_years_and_quarters_are_refused() -> None:
    with pytest.raises(ValueError, match="quarter"):
        Period.fiscal_quarter(2026, 5)
    with pytest.raises(ValueError, match="fiscal year"):
        Period.year(0)


def test_recent_years_start_with_the_current_one() -> None:
    assert recent_years(date(2025, 10, 1), 3) == [2026, 2025, 2024]
    assert recent_years(date(2025, 9, 30), 2) == [2025, 2024]


@given(st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 12, 31)))
def test_every_day_is_in_its_year_and_its_quarter(day: date) -> None:
    fy, q = fiscal_year(day), quarter(day)
    assert Period.year(fy).contains(day)
    assert Period.fiscal_quarter(fy, q).contains(day)
    assert not Period.year(fy + 1).contains(day)
