"""Grant deadlines: which appear, their dates and time zones, statuses, sources, reminders."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from cpnav.grants.deadlines import (
    DEFAULT_REMINDER_DAYS,
    KINDS,
    Deadline,
    DeadlineInputs,
    InformationRequest,
    Kind,
    Referral,
    Status,
    compute,
    due_reminders,
    reminder_key,
    reminder_offsets,
)
from cpnav.policy import term_for

REF = "CP-1A2B3C4D"
CHICAGO = ZoneInfo("America/Chicago")
NEW_YORK = ZoneInfo("America/New_York")
NOW = datetime(2026, 1, 5, 9, 0, tzinfo=CHICAGO)


def make(**overrides: Any) -> DeadlineInputs:
    fields: dict[str, Any] = {"reference": REF, "agency_time_zone": "America/Chicago"}
    fields.update(overrides)
    return DeadlineInputs(**fields)


def only(deadlines: list[Deadline], kind: Kind) -> Deadline:
    matching = [d for d in deadlines if d.kind == kind]
    assert len(matching) == 1, matching
    return matching[0]


def at(
    zone: ZoneInfo,
    year: int,
    month: int,
    day: int,
    hour: int = 0,
    minute: int = 0,
    second: int = 0,
    *,
    fold: int = 0,
) -> datetime:
    """A wall-clock time in ``zone``; ``fold=1`` picks the second pass of a repeated hour."""
    return datetime(year, month, day, hour, minute, second, tzinfo=zone, fold=fold)


# --- which deadlines appear ---------------------------------------------------------

IDENTIFIED = at(CHICAGO, 2026, 1, 4, 18, 0)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        pytest.param({}, {}, id="nothing-known"),
        pytest.param(
            {"term_end": date(2026, 7, 29)},
            {"term_end": 1, "extension_window_opens": 1},
            id="term-end-recorded",
        ),
        pytest.param(
            {"term_start": date(2024, 7, 30)},
            {"term_end": 1, "extension_window_opens": 1},
            id="term-start-only-uses-policy",
        ),
        pytest.param(
            {"work_permit_expires": date(2026, 7, 29)}, {"work_permit_expiry": 1}, id="work-permit"
        ),
        pytest.param(
            {"minor_identified_at": IDENTIFIED}, {"hhs_notification": 1}, id="possible-minor"
        ),
        pytest.param({"hhs_notified_at": IDENTIFIED}, {}, id="hhs-notified-without-identification"),
        pytest.param(
            {"information_requests": ((date(2026, 2, 1), False),)},
            {"information_request_due": 1},
            id="information-request-open",
        ),
        pytest.param(
            {"information_requests": ((date(2026, 2, 1), True),)}, {}, id="information-answered"
        ),
        pytest.param(
            {
                "information_requests": (
                    InformationRequest(date(2026, 2, 1), answered=False),
                    InformationRequest(date(2026, 2, 9), answered=True),
                    InformationRequest(date(2026, 3, 1), answered=False),
                )
            },
            {"information_request_due": 2},
            id="information-one-per-open-request",
        ),
        pytest.param(
            {"referrals": ((date(2026, 2, 1), "open"),)},
            {"referral_follow_up": 1},
            id="referral-open",
        ),
        pytest.param({"referrals": ((None, "open"),)}, {}, id="referral-without-follow-up-date"),
        pytest.param({"referrals": ((date(2026, 2, 1), "closed"),)}, {}, id="referral-closed"),
        pytest.param(
            {"referrals": (Referral(date(2026, 2, 1), " Completed "),)},
            {},
            id="referral-completed-any-case",
        ),
        pytest.param(
            {"referrals": ((date(2026, 2, 1), "awaiting callback"),)},
            {"referral_follow_up": 1},
            id="referral-unknown-status-counts-as-open",
        ),
        pytest.param(
            {"case_or_civil_action_ended_on": date(2026, 1, 2)},
            {"t_visa_referral": 1},
            id="case-ended-referral-unknown",
        ),
        pytest.param(
            {"case_or_civil_action_ended_on": date(2026, 1, 2), "t_visa_referred": False},
            {"t_visa_referral": 1},
            id="case-ended-not-referred",
        ),
        pytest.param({"t_visa_referred": False}, {}, id="case-still-open"),
    ],
)
def test_each_kind_appears_with_its_inputs(
    overrides: dict[str, Any], expected: dict[str, int]
) -> None:
    deadlines = compute(make(**overrides), now=NOW)
    assert Counter(d.kind for d in deadlines) == Counter(expected)
    assert all(d.reference == REF for d in deadlines)


@pytest.mark.parametrize(
    ("overrides", "kind", "status"),
    [
        pytest.param(
            {"term_end": date(2026, 1, 20), "extension_requested_on": date(2025, 11, 1)},
            "extension_window_opens",
            "done",
            id="extension-requested",
        ),
        pytest.param(
            {"term_end": date(2026, 1, 20)},
            "extension_window_opens",
            "overdue",
            id="extension-window-passed-not-requested",
        ),
        pytest.param(
            {"minor_identified_at": IDENTIFIED, "hhs_notified_at": IDENTIFIED},
            "hhs_notification",
            "done",
            id="hhs-notified",
        ),
        pytest.param(
            {"minor_identified_at": at(CHICAGO, 2026, 1, 3, 18, 0)},
            "hhs_notification",
            "overdue",
            id="hhs-not-notified-after-24h",
        ),
        pytest.param(
            {"case_or_civil_action_ended_on": date(2026, 1, 2), "t_visa_referred": True},
            "t_visa_referral",
            "done",
            id="t-visa-referred",
        ),
        pytest.param(
            {"case_or_civil_action_ended_on": date(2026, 1, 5)},
            "t_visa_referral",
            "due_soon",
            id="t-visa-due-the-day-the-case-ends",
        ),
        pytest.param(
            {"term_end": date(2026, 12, 31)}, "term_end", "upcoming", id="term-end-far-away"
        ),
    ],
)
def test_done_and_open_statuses(overrides: dict[str, Any], kind: Kind, status: Status) -> None:
    assert only(compute(make(**overrides), now=NOW), kind).status == status


# --- statuses at the boundaries -------------------------------------------------------

HHS_DUE = at(CHICAGO, 2026, 5, 2, 10, 0)
SECOND = timedelta(seconds=1)


@pytest.mark.parametrize(
    ("now", "soon_days", "status"),
    [
        pytest.param(HHS_DUE - timedelta(days=14) - SECOND, 14, "upcoming", id="before-soon"),
        pytest.param(HHS_DUE - timedelta(days=14), 14, "due_soon", id="soon-starts"),
        pytest.param(HHS_DUE - SECOND, 14, "due_soon", id="second-before"),
        pytest.param(HHS_DUE, 14, "due_soon", id="exactly-at-due-is-on-time"),
        pytest.param(HHS_DUE + SECOND, 14, "overdue", id="second-after"),
        pytest.param(HHS_DUE.astimezone(UTC), 14, "due_soon", id="at-due-now-in-utc"),
        pytest.param(HHS_DUE.astimezone(UTC) + SECOND, 14, "overdue", id="after-now-in-utc"),
        pytest.param(HHS_DUE - SECOND, 0, "upcoming", id="soon-0-second-before"),
        pytest.param(HHS_DUE, 0, "due_soon", id="soon-0-at-due"),
        pytest.param(HHS_DUE - timedelta(hours=23), 1, "due_soon", id="soon-1-within-a-day"),
    ],
)
def test_timed_status_boundaries(now: datetime, soon_days: int, status: Status) -> None:
    inputs = make(minor_identified_at=at(CHICAGO, 2026, 5, 1, 10, 0))
    deadline = only(compute(inputs, now=now, soon_days=soon_days), "hhs_notification")
    assert deadline.due == HHS_DUE
    assert deadline.status == status


PERMIT_DUE = at(CHICAGO, 2026, 6, 15, 0, 0)
NEXT_DAY = at(CHICAGO, 2026, 6, 16, 0, 0)


@pytest.mark.parametrize(
    ("now", "soon_days", "status"),
    [
        pytest.param(at(CHICAGO, 2026, 5, 31, 23, 59, 59), 14, "upcoming", id="before-soon"),
        pytest.param(at(CHICAGO, 2026, 6, 1, 0, 0), 14, "due_soon", id="soon-starts-local-day"),
        pytest.param(PERMIT_DUE - SECOND, 14, "due_soon", id="second-before-the-day"),
        pytest.param(PERMIT_DUE, 14, "due_soon", id="exactly-at-due"),
        pytest.param(PERMIT_DUE + SECOND, 14, "due_soon", id="second-into-the-day"),
        pytest.param(NEXT_DAY - SECOND, 14, "due_soon", id="last-second-of-the-day"),
        pytest.param(NEXT_DAY, 14, "overdue", id="next-local-day"),
        pytest.param(NEXT_DAY.astimezone(UTC) - SECOND, 14, "due_soon", id="utc-now-last-second"),
        pytest.param(PERMIT_DUE - SECOND, 0, "upcoming", id="soon-0-second-before"),
        pytest.param(PERMIT_DUE, 0, "due_soon", id="soon-0-at-due"),
    ],
)
def test_all_day_status_boundaries(now: datetime, soon_days: int, status: Status) -> None:
    inputs = make(work_permit_expires=date(2026, 6, 15))
    deadline = only(compute(inputs, now=now, soon_days=soon_days), "work_permit_expiry")
    assert (deadline.due, deadline.all_day, deadline.on_time_until) == (PERMIT_DUE, True, NEXT_DAY)
    assert deadline.status == status


# --- the 24 hours for HHS, in absolute time ------------------------------------------


@pytest.mark.parametrize(
    ("zone", "identified", "local_due", "utc_offset_hours"),
    [
        pytest.param(
            "America/New_York",
            at(NEW_YORK, 2026, 3, 7, 22, 30),
            datetime(2026, 3, 8, 23, 30),
            -4,
            id="spring-forward-new-york",
        ),
        pytest.param(
            "America/New_York",
            at(NEW_YORK, 2026, 10, 31, 22, 30),
            datetime(2026, 11, 1, 21, 30),
            -5,
            id="fall-back-new-york",
        ),
        pytest.param(
            "America/New_York",
            at(NEW_YORK, 2026, 11, 1, 1, 30, fold=0),
            datetime(2026, 11, 2, 0, 30),
            -5,
            id="repeated-hour-first-pass-edt",
        ),
        pytest.param(
            "America/New_York",
            at(NEW_YORK, 2026, 11, 1, 1, 30, fold=1),
            datetime(2026, 11, 2, 1, 30),
            -5,
            id="repeated-hour-second-pass-est",
        ),
        pytest.param(
            "America/Phoenix",
            at(ZoneInfo("America/Phoenix"), 2026, 3, 7, 22, 30),
            datetime(2026, 3, 8, 22, 30),
            -7,
            id="phoenix-no-dst",
        ),
        pytest.param(
            "Pacific/Saipan",
            at(ZoneInfo("Pacific/Saipan"), 2026, 3, 7, 22, 30),
            datetime(2026, 3, 8, 22, 30),
            10,
            id="saipan-no-dst",
        ),
        pytest.param(
            "America/Chicago",
            datetime(2026, 3, 8, 4, 0, tzinfo=UTC),
            datetime(2026, 3, 8, 23, 0),
            -5,
            id="recorded-in-utc-shown-in-chicago",
        ),
        pytest.param(
            "America/New_York",
            at(ZoneInfo("America/Phoenix"), 2026, 3, 7, 21, 0),
            datetime(2026, 3, 9, 0, 0),
            -4,
            id="recorded-in-phoenix-shown-in-new-york",
        ),
    ],
)
def test_hhs_notice_is_24_real_hours(
    zone: str, identified: datetime, local_due: datetime, utc_offset_hours: int
) -> None:
    deadline = only(
        compute(make(agency_time_zone=zone, minor_identified_at=identified), now=NOW),
        "hhs_notification",
    )
    assert deadline.all_day is False
    assert deadline.due.astimezone(UTC) - identified.astimezone(UTC) == timedelta(hours=24)
    assert deadline.due.tzinfo == ZoneInfo(zone)
    assert deadline.due.replace(tzinfo=None) == local_due
    assert deadline.due.utcoffset() == timedelta(hours=utc_offset_hours)


@pytest.mark.parametrize(
    ("now", "status"),
    [
        # Due 01:30 EST (the second 01:30). Python compares datetimes sharing a tzinfo
        # by wall clock, so 01:45 EDT would wrongly look later than 01:30 EST.
        pytest.param(at(NEW_YORK, 2026, 11, 1, 1, 45, fold=0), "due_soon", id="0145-edt-before"),
        pytest.param(at(NEW_YORK, 2026, 11, 1, 1, 30, fold=1), "due_soon", id="0130-est-at-due"),
        pytest.param(at(NEW_YORK, 2026, 11, 1, 1, 31, fold=1), "overdue", id="0131-est-after"),
    ],
)
def test_status_in_the_repeated_hour_uses_real_time(now: datetime, status: Status) -> None:
    inputs = make(
        agency_time_zone="America/New_York", minor_identified_at=at(NEW_YORK, 2026, 10, 31, 2, 30)
    )
    deadline = only(compute(inputs, now=now), "hhs_notification")
    assert deadline.due.astimezone(UTC) == datetime(2026, 11, 1, 6, 30, tzinfo=UTC)
    assert deadline.status == status


# --- all-day deadlines keep their local calendar date -----------------------------------


@pytest.mark.parametrize(
    ("zone", "day", "local_start", "utc_offset_hours"),
    [
        pytest.param("America/New_York", date(2026, 3, 8), (0, 0), -5, id="ny-spring-forward-day"),
        pytest.param("America/New_York", date(2026, 11, 1), (0, 0), -4, id="ny-fall-back-day"),
        pytest.param("America/Chicago", date(2026, 7, 4), (0, 0), -5, id="chicago-summer"),
        pytest.param("America/Phoenix", date(2026, 3, 8), (0, 0), -7, id="phoenix"),
        pytest.param("Pacific/Saipan", date(2026, 3, 8), (0, 0), 10, id="saipan-ahead-of-utc"),
        pytest.param("Pacific/Honolulu", date(2026, 12, 31), (0, 0), -10, id="honolulu"),
        pytest.param(
            "America/Santiago", date(2026, 9, 6), (1, 0), -3, id="santiago-day-starts-at-0100"
        ),
    ],
)
def test_all_day_deadlines_fall_on_the_local_date(
    zone: str, day: date, local_start: tuple[int, int], utc_offset_hours: int
) -> None:
    inputs = make(
        agency_time_zone=zone,
        work_permit_expires=day,
        information_requests=((day, False),),
        referrals=((day, "open"),),
        case_or_civil_action_ended_on=day,
        term_end=day,
        lead_days=0,
    )
    deadlines = compute(inputs, now=NOW)
    assert len(deadlines) == 6
    for deadline in deadlines:
        assert deadline.all_day is True
        assert deadline.due.date() == day
        assert (deadline.due.hour, deadline.due.minute) == local_start
        assert deadline.due.utcoffset() == timedelta(hours=utc_offset_hours)
        assert deadline.due.tzinfo == ZoneInfo(zone)


@pytest.mark.parametrize(
    ("now", "status"),
    [
        pytest.param(at(NEW_YORK, 2026, 3, 8, 23, 59, 59), "due_soon", id="end-of-23-hour-day"),
        pytest.param(at(NEW_YORK, 2026, 3, 9, 0, 0), "overdue", id="next-day-after-short-day"),
    ],
)
def test_short_dst_day_is_a_whole_local_day(now: datetime, status: Status) -> None:
    inputs = make(agency_time_zone="America/New_York", work_permit_expires=date(2026, 3, 8))
    deadline = only(compute(inputs, now=now), "work_permit_expiry")
    # Subtract in UTC: with a shared tzinfo, Python subtracts wall clocks (24 hours).
    assert deadline.on_time_until.astimezone(UTC) - deadline.due.astimezone(UTC) == timedelta(
        hours=23
    )
    assert deadline.status == status


# --- terms: 29 February, lead times --------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "window", "rules_version"),
    [
        pytest.param(
            date(2024, 2, 29), date(2026, 2, 27), date(2025, 11, 29), "cp-2021-07-30-2y", id="2y"
        ),
        pytest.param(
            date(2020, 2, 29), date(2021, 2, 27), date(2020, 11, 29), "cp-2001-08-23-1y", id="1y"
        ),
    ],
)
def test_29_february_start_uses_the_policy_engine(
    start: date, end: date, window: date, rules_version: str
) -> None:
    deadlines = compute(make(term_start=start, lead_days=90), now=NOW)
    term_end = only(deadlines, "term_end")
    assert term_end.due.date() == end == term_for(start).end
    assert rules_version in term_end.source
    assert only(deadlines, "extension_window_opens").due.date() == window


@pytest.mark.parametrize(
    ("end", "lead_days", "window"),
    [
        pytest.param(date(2024, 3, 1), 1, date(2024, 2, 29), id="leap-1-day"),
        pytest.param(date(2025, 3, 1), 1, date(2025, 2, 28), id="common-1-day"),
        pytest.param(date(2024, 3, 1), 30, date(2024, 1, 31), id="leap-30-days"),
        pytest.param(date(2025, 3, 1), 30, date(2025, 1, 30), id="common-30-days"),
        pytest.param(date(2024, 3, 1), 90, date(2023, 12, 2), id="leap-90-days"),
        pytest.param(date(2025, 3, 1), 90, date(2024, 12, 1), id="common-90-days"),
        pytest.param(date(2100, 3, 1), 1, date(2100, 2, 28), id="2100-is-common"),
    ],
)
def test_lead_time_from_1_march_crosses_february(end: date, lead_days: int, window: date) -> None:
    deadlines = compute(make(term_end=end, lead_days=lead_days), now=NOW)
    assert only(deadlines, "extension_window_opens").due.date() == window


@pytest.mark.parametrize(
    ("overrides", "window", "clamped"),
    [
        pytest.param(
            {"term_end": date(2026, 7, 29), "lead_days": 0}, date(2026, 7, 29), False, id="lead-0"
        ),
        pytest.param(
            {"term_start": date(2024, 7, 30), "term_end": date(2026, 7, 29), "lead_days": 1000},
            date(2024, 7, 30),
            True,
            id="lead-longer-than-term-opens-at-start",
        ),
        pytest.param(
            {"term_start": date(2024, 7, 30), "lead_days": 729},
            date(2024, 7, 30),
            False,
            id="lead-opens-on-the-first-day",
        ),
        pytest.param(
            {"term_start": date(2024, 7, 30), "lead_days": 730},
            date(2024, 7, 30),
            True,
            id="lead-equal-to-term-length",
        ),
        pytest.param(
            {"term_end": date(2026, 7, 29), "lead_days": 1000},
            date(2023, 11, 2),
            False,
            id="lead-long-start-unknown",
        ),
    ],
)
def test_lead_time_edges(overrides: dict[str, Any], window: date, clamped: bool) -> None:
    deadline = only(compute(make(**overrides), now=NOW), "extension_window_opens")
    assert deadline.due.date() == window
    assert ("window opens when the term starts" in deadline.source) is clamped


def test_lead_0_sorts_the_window_before_the_term_end() -> None:
    deadlines = compute(make(term_end=date(2026, 7, 29), lead_days=0), now=NOW)
    assert [d.kind for d in deadlines] == ["extension_window_opens", "term_end"]


def test_everything_sorted_by_due_time() -> None:
    inputs = make(
        term_start=date(2024, 7, 30),
        work_permit_expires=date(2026, 6, 1),
        minor_identified_at=IDENTIFIED,
        information_requests=((date(2026, 2, 1), False), (date(2026, 1, 20), False)),
        referrals=((date(2026, 3, 1), "open"),),
        case_or_civil_action_ended_on=date(2026, 1, 2),
    )
    deadlines = compute(inputs, now=NOW)
    assert [d.kind for d in deadlines] == [
        "t_visa_referral",
        "hhs_notification",
        "information_request_due",
        "information_request_due",
        "referral_follow_up",
        "extension_window_opens",
        "work_permit_expiry",
        "term_end",
    ]
    dues = [d.due.astimezone(UTC) for d in deadlines]
    assert dues == sorted(dues)
    assert [d.status for d in deadlines][:3] == ["overdue", "due_soon", "upcoming"]


# --- sources ------------------------------------------------------------------------

FULL = make(
    term_start=date(2024, 7, 30),
    work_permit_expires=date(2026, 6, 1),
    minor_identified_at=IDENTIFIED,
    information_requests=((date(2026, 2, 1), False),),
    referrals=((date(2026, 3, 1), "open"),),
    case_or_civil_action_ended_on=date(2026, 1, 2),
)

SOURCES: dict[Kind, tuple[str, ...]] = {
    "extension_window_opens": (
        "Agency practice",
        "setting CPNAV_EXTENSION_LEAD_DAYS",
        "90 days",
        "confirm with CCHT",
    ),
    "term_end": ("22 U.S.C. 7105(c)(3)", "policy rule set cp-2021-07-30-2y", "2-year term"),
    "work_permit_expiry": ("work permit (EAD)", "as recorded"),
    "hhs_notification": ("22 U.S.C. 7105(b)(1)(G)", "notify HHS within 24 hours"),
    "information_request_due": ("set by CCHT", "as recorded"),
    "referral_follow_up": ("agency set when it made the referral", "as recorded"),
    "t_visa_referral": ("22 U.S.C. 7105(c)(3)", "8 U.S.C. 1101(a)(15)(T)"),
}


def test_the_source_table_covers_every_kind() -> None:
    assert set(SOURCES) == set(KINDS)


@pytest.mark.parametrize("kind", KINDS)
def test_source_names_the_rule_or_setting(kind: Kind) -> None:
    deadline = only(compute(FULL, now=NOW), kind)
    for needle in SOURCES[kind]:
        assert needle in deadline.source
    assert REF not in deadline.title


def test_recorded_term_end_says_so() -> None:
    deadline = only(compute(make(term_end=date(2026, 7, 29)), now=NOW), "term_end")
    assert deadline.source.startswith("22 U.S.C. 7105(c)(3)")
    assert "as recorded on the grant" in deadline.source


def test_lead_days_setting_value_appears_in_the_source() -> None:
    deadline = only(
        compute(make(term_end=date(2026, 7, 29), lead_days=1), now=NOW), "extension_window_opens"
    )
    assert "extension 1 day before the term ends" in deadline.source


# --- bad input --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "zone",
    [
        pytest.param("America/Chicgo", id="typo"),
        pytest.param("america/chicago", id="wrong-case"),
        pytest.param("CST", id="abbreviation"),
        pytest.param("", id="empty"),
        pytest.param("../etc/passwd", id="path-traversal"),
        pytest.param("/etc/localtime", id="absolute-path"),
    ],
)
def test_bad_time_zone_is_refused_by_name(zone: str) -> None:
    with pytest.raises(ValueError, match=re.escape(f"agency_time_zone '{zone}'")):
        make(agency_time_zone=zone)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        pytest.param({"reference": "Maria Lopez"}, "never a name", id="name-as-reference"),
        pytest.param({"reference": "cp-1a2b3c4d"}, "CP-1A2B3C4D", id="lowercase-reference"),
        pytest.param({"lead_days": -1}, "lead_days", id="negative-lead"),
        pytest.param(
            {"term_start": date(2026, 1, 2), "term_end": date(2026, 1, 1)},
            "before term_start",
            id="end-before-start",
        ),
        pytest.param(
            {"minor_identified_at": datetime(2026, 1, 1, 12, 0)},
            "minor_identified_at must be a time-zone-aware",
            id="naive-identified",
        ),
        pytest.param(
            {"hhs_notified_at": datetime(2026, 1, 1, 12, 0)},
            "hhs_notified_at must be a time-zone-aware",
            id="naive-notified",
        ),
        pytest.param({"referrals": ((None, " "),)}, "status", id="blank-referral-status"),
    ],
)
def test_bad_inputs_are_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make(**overrides)


@pytest.mark.parametrize(
    ("now", "soon_days", "message"),
    [
        pytest.param(datetime(2026, 1, 1), 14, "now must be", id="naive-now"),
        pytest.param(NOW, -1, "soon_days", id="negative-soon-days"),
    ],
)
def test_bad_compute_arguments(now: datetime, soon_days: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        compute(make(), now=now, soon_days=soon_days)


# --- reminder offsets -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        pytest.param(DEFAULT_REMINDER_DAYS, (120, 90, 60, 30, 14, 7), id="default"),
        pytest.param("7, 14 ,30", (30, 14, 7), id="unsorted-with-spaces"),
        pytest.param("7,7,14", (14, 7), id="duplicates-collapse"),
        pytest.param("0", (0,), id="zero-is-the-day-itself"),
        pytest.param("730", (730,), id="maximum"),
        pytest.param("007", (7,), id="leading-zeros"),
    ],
)
def test_reminder_offsets(setting: str, expected: tuple[int, ...]) -> None:
    assert reminder_offsets(setting) == expected


@pytest.mark.parametrize(
    "setting",
    [
        pytest.param("", id="empty"),
        pytest.param("  ", id="blank"),
        pytest.param("7,,14", id="empty-item"),
        pytest.param("7,", id="trailing-comma"),
        pytest.param("-1", id="negative"),
        pytest.param("+7", id="plus-sign"),
        pytest.param("731", id="too-large"),
        pytest.param("1.5", id="fraction"),
        pytest.param("seven", id="word"),
        pytest.param("7;14", id="wrong-separator"),
        pytest.param("\u0661\u0664", id="non-ascii-digits"),
    ],
)
def test_bad_reminder_offsets_name_the_setting(setting: str) -> None:
    with pytest.raises(ValueError, match=r"^CPNAV_REMINDER_DAYS: "):
        reminder_offsets(setting)
    with pytest.raises(ValueError, match=r"^AGENCY_REMINDERS: "):
        reminder_offsets(setting, name="AGENCY_REMINDERS")


# --- reminders over time ----------------------------------------------------------------


def test_reminder_key_format() -> None:
    inputs = make(term_end=date(2026, 7, 29), minor_identified_at=IDENTIFIED)
    deadlines = compute(inputs, now=NOW)
    assert reminder_key(only(deadlines, "term_end"), 30) == f"{REF}|term_end|2026-07-29|30"
    # 2026-01-05 18:00 CST = 2026-01-06 00:00 UTC: a timed key holds the UTC instant.
    assert reminder_key(only(deadlines, "hhs_notification"), 0) == (
        f"{REF}|hhs_notification|2026-01-06T00:00Z|0"
    )


def test_done_deadlines_get_no_reminders() -> None:
    inputs = make(
        term_end=date(2026, 1, 10),
        extension_requested_on=date(2025, 10, 1),
        minor_identified_at=IDENTIFIED,
        hhs_notified_at=IDENTIFIED,
    )
    deadlines = compute(inputs, now=NOW)
    reminders = due_reminders(deadlines, (30, 7, 0), now=NOW)
    assert {(d.kind, offset) for d, offset in reminders} == {("term_end", 30), ("term_end", 7)}


def test_reminders_need_an_aware_now() -> None:
    with pytest.raises(ValueError, match="now must be"):
        due_reminders([], (7,), now=datetime(2026, 1, 1))


SIM_INPUTS = make(
    agency_time_zone="America/New_York",
    term_start=date(2025, 4, 1),  # ends 2027-03-31; window 2027-01-01 (lead 89)
    lead_days=89,
    work_permit_expires=date(2026, 11, 2),  # the day after DST ends
    minor_identified_at=at(NEW_YORK, 2026, 3, 7, 22, 30),  # due across spring-forward
    information_requests=((date(2026, 3, 9), False),),
    referrals=((date(2026, 8, 1), "open"),),
    case_or_civil_action_ended_on=date(2026, 12, 15),
)


@pytest.mark.parametrize(
    ("first", "step"),
    [
        pytest.param(at(NEW_YORK, 2025, 12, 1, 9, 0), "local-day", id="daily-0900-local"),
        pytest.param(datetime(2025, 12, 1, 0, 0, tzinfo=UTC), timedelta(hours=7), id="every-7h"),
    ],
)
def test_reminder_runs_send_each_key_once_and_every_offset_eventually(
    first: datetime, step: timedelta | str
) -> None:
    offsets = reminder_offsets(DEFAULT_REMINDER_DAYS + ",0")
    sent: dict[str, tuple[datetime, Kind, datetime]] = {}  # key -> when sent, what for
    previous: set[str] = set()
    now = first
    end = datetime(2027, 4, 2, tzinfo=UTC)
    while now < end:
        deadlines = compute(SIM_INPUTS, now=now)
        keys = [reminder_key(d, offset) for d, offset in due_reminders(deadlines, offsets, now=now)]
        assert len(keys) == len(set(keys)), "one run never lists a key twice"
        assert previous <= set(keys), "a reminder once due stays due: senders dedupe by key"
        previous = set(keys)
        for deadline, offset in due_reminders(deadlines, offsets, now=now):
            key = reminder_key(deadline, offset)
            if key in sent:
                assert sent[key][1:] == (deadline.kind, deadline.due), "a key means one thing"
            else:
                sent[key] = (now, deadline.kind, deadline.due)
        if isinstance(step, timedelta):
            now = (now.astimezone(UTC) + step).astimezone(now.tzinfo)
        else:  # the next calendar day, same local wall time, across DST
            now = (now.replace(tzinfo=None) + timedelta(days=1)).replace(tzinfo=now.tzinfo)

    final = compute(SIM_INPUTS, now=end)
    assert len(final) == 7
    expected = {reminder_key(d, offset) for d in final for offset in offsets}
    assert set(sent) == expected, "every offset of every deadline is sent, nothing else"

    # Each reminder went out in the first run at or after its moment.
    interval = timedelta(hours=25) if isinstance(step, str) else step
    for deadline in final:
        for offset in offsets:
            sent_at = sent[reminder_key(deadline, offset)][0].astimezone(UTC)
            if deadline.all_day:
                moment = datetime.combine(
                    deadline.due.date() - timedelta(days=offset),
                    datetime.min.time(),
                    tzinfo=deadline.due.tzinfo,
                )
            else:
                moment = deadline.due.astimezone(UTC) - timedelta(days=offset)
            if moment.astimezone(UTC) <= first.astimezone(UTC):
                assert sent_at == first.astimezone(UTC)
            else:
                assert moment <= sent_at < moment + interval


def test_importing_deadlines_does_not_load_django() -> None:
    code = (
        "import sys, cpnav.grants.deadlines; "
        "sys.exit(any(m == 'django' or m.startswith('django.') for m in sys.modules))"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
