"""Federal fiscal years, their quarters and custom periods, as inclusive date ranges.

FY2026 runs from 1 October 2025 to 30 September 2026; its first quarter is
October to December 2025. A period is a calendar range in the reporting time
zone; ``bounds`` turns it into the half-open UTC instants the database filters
on (``>= start`` and ``< end``), so the last day counts whole and an instant
at 00:00 on 1 October falls in the new year.

No Django here: the dashboard, the downloads and any command line call the same
functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

FIRST_MONTH: Final = 10  # a fiscal year starts on 1 October of the previous calendar year
QUARTERS: Final = (1, 2, 3, 4)
# Where CCHT works (Washington, DC); the dates of a fiscal year are read on its clock.
DEFAULT_ZONE: Final = "America/New_York"


def fiscal_year(day: date) -> int:
    """The fiscal year a day falls in: 30 Sep 2025 is FY2025, 1 Oct 2025 is FY2026."""
    return day.year + 1 if day.month >= FIRST_MONTH else day.year


def quarter(day: date) -> int:
    """The fiscal quarter (1-4) a day falls in: October-December is the first."""
    return (day.month - FIRST_MONTH) % 12 // 3 + 1


def _month_start(fy: int, q: int) -> date:
    months_in = (q - 1) * 3
    month = (FIRST_MONTH - 1 + months_in) % 12 + 1
    year = fy - 1 if month >= FIRST_MONTH else fy
    return date(year, month, 1)


@dataclass(frozen=True)
class Period:
    """An inclusive range of calendar days, with how to name it."""

    start: date
    end: date
    fiscal_year: int | None = None
    quarter: int | None = None

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"the period ends ({self.end}) before it starts ({self.start})")

    @classmethod
    def year(cls, fy: int) -> Period:
        if not 1 <= fy <= 9999:
            raise ValueError(f"no fiscal year {fy}")
        return cls(date(fy - 1, FIRST_MONTH, 1), date(fy, 9, 30), fiscal_year=fy)

    @classmethod
    def fiscal_quarter(cls, fy: int, q: int) -> Period:
        if q not in QUARTERS:
            raise ValueError(f"a fiscal quarter is 1 to 4, got {q}")
        start = _month_start(fy, q)
        following = _month_start(fy + 1, 1) if q == 4 else _month_start(fy, q + 1)
        return cls(start, following - timedelta(days=1), fiscal_year=fy, quarter=q)

    @classmethod
    def custom(cls, start: date, end: date) -> Period:
        return cls(start, end)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def slug(self) -> str:
        """For file names: FY2026, FY2026-Q1 or 2025-10-01_2025-12-31."""
        if self.fiscal_year is not None and self.quarter is not None:
            return f"FY{self.fiscal_year}-Q{self.quarter}"
        if self.fiscal_year is not None:
            return f"FY{self.fiscal_year}"
        return f"{self.start.isoformat()}_{self.end.isoformat()}"

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end

    def bounds(self, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """The half-open UTC range [first moment of start, first moment after end)."""
        return start_of_day(self.start, zone), start_of_day(self.end + timedelta(days=1), zone)


def start_of_day(day: date, zone: ZoneInfo) -> datetime:
    """The first real moment of ``day`` in ``zone``, in UTC.

    The round trip through UTC moves a midnight that does not exist (DST starting
    at 00:00) to the moment the day actually begins.
    """
    return datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC)


def recent_years(today: date, count: int = 10) -> list[int]:
    """The current fiscal year and the ones before it, newest first."""
    current = fiscal_year(today)
    return list(range(current, current - count, -1))
