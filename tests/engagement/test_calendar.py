"""Calendar invitations parsed back: one UID per session, the SEQUENCE given, the right zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar, Event

from cpnav.engagement import calendar
from cpnav.engagement.calendar import Method
from cpnav.engagement.models import Registration, RegistrationStatus, Session, SessionStatus

LINK = "https://meet.example.gov/j/8675309"


NEW_YORK_JANUARY = datetime(2030, 1, 15, 14, 0, tzinfo=ZoneInfo("America/New_York"))


def session(start: datetime = NEW_YORK_JANUARY, **overrides: Any) -> Session:
    """An unsaved session: invitations need no database."""
    fields: dict[str, Any] = {
        "title": "Continued Presence basics",
        "description": "What CP is and how to ask for it.",
        "starts_at": start.astimezone(UTC),
        "duration_minutes": 90,
        "time_zone": str(start.tzinfo),
        "capacity": 20,
        "meeting_link": LINK,
        "materials": ["what-is-continued-presence", "a-page-since-removed", "who-qualifies"],
        "presenters": "R. Alvarez, CCHT",
    }
    fields.update(overrides)
    return Session(**fields)


def registration(of: Session, status: str = RegistrationStatus.REGISTERED) -> Registration:
    return Registration(
        session=of, email="pat.lee@agency.example", full_name="Pat Lee", status=status
    )


def parse(ics: bytes) -> tuple[Calendar, Event]:
    cal = Calendar.from_ical(ics)
    (event,) = cal.events
    return cal, event


def invite(
    s: Session, r: Registration | None = None, method: Method = "REQUEST", sequence: int = 1
) -> tuple[Calendar, Event]:
    return parse(calendar.invitation(s, r, method, sequence))


@pytest.mark.parametrize("method", ["REQUEST", "CANCEL", "PUBLISH"])
@pytest.mark.parametrize("sequence", [0, 1, 7, 250])
def test_method_uid_and_sequence(method: Method, sequence: int) -> None:
    s = session()
    cal, event = invite(s, registration(s), method, sequence)
    assert str(cal["METHOD"]) == method
    assert str(event["UID"]) == s.uid == f"session-{s.pk}@cpnav"
    assert event.decoded("SEQUENCE") == sequence
    assert str(cal["VERSION"]) == "2.0"
    assert "CP Navigator" in str(cal["PRODID"])


def test_the_uid_is_the_same_in_the_invitation_the_update_and_the_cancellation() -> None:
    s = session()
    r = registration(s)
    _, first = invite(s, r, "REQUEST", 1)
    s.starts_at += timedelta(days=1)
    s.title = "Continued Presence basics (new day)"
    _, update = invite(s, r, "REQUEST", 2)
    _, cancel = invite(s, r, "CANCEL", 3)
    assert str(first["UID"]) == str(update["UID"]) == str(cancel["UID"]) == s.uid
    assert [e.decoded("SEQUENCE") for e in (first, update, cancel)] == [1, 2, 3]
    assert update.decoded("DTSTART") == first.decoded("DTSTART") + timedelta(days=1)
    # Another session never shares it.
    assert str(invite(session(), r)[1]["UID"]) != s.uid


@pytest.mark.parametrize(
    ("month", "utc_hour", "offset"),
    [
        pytest.param(1, 19, timedelta(hours=-5), id="january-est"),
        pytest.param(7, 18, timedelta(hours=-4), id="july-edt"),
    ],
)
def test_new_york_afternoon_in_winter_and_summer(
    month: int, utc_hour: int, offset: timedelta
) -> None:
    new_york = ZoneInfo("America/New_York")
    s = session(datetime(2030, month, 15, 14, 0, tzinfo=new_york))
    ics = calendar.invitation(s, registration(s), "REQUEST", 1)
    cal, event = parse(ics)
    assert event["DTSTART"].params["TZID"] == "America/New_York"
    start = event.decoded("DTSTART")
    assert (start.hour, start.minute) == (14, 0)
    assert start.astimezone(UTC) == datetime(2030, month, 15, utc_hour, 0, tzinfo=UTC)
    assert real_end(event).astimezone(UTC) - start.astimezone(UTC) == timedelta(minutes=90)
    assert f"DTSTART;TZID=America/New_York:2030{month:02d}15T140000".encode() in ics
    # The VTIMEZONE lets any calendar program place it, whatever its own rules database.
    (vtimezone,) = cal.timezones
    assert str(vtimezone["TZID"]) == "America/New_York"
    offsets = {sub.decoded("TZOFFSETTO") for sub in vtimezone.subcomponents}
    assert offset in offsets


@pytest.mark.parametrize(
    "zone_name",
    ["America/Chicago", "America/Phoenix", "Pacific/Honolulu", "Pacific/Guam", "America/Adak"],
)
def test_dtstart_carries_the_session_zone(zone_name: str) -> None:
    s = session(datetime(2030, 7, 15, 9, 30, tzinfo=ZoneInfo(zone_name)))
    cal, event = invite(s, registration(s))
    assert event["DTSTART"].params["TZID"] == zone_name
    assert "DTEND" not in event  # a DURATION instead (see real_end)
    assert [str(tz["TZID"]) for tz in cal.timezones] == [zone_name]
    start = event.decoded("DTSTART")
    assert (start.hour, start.minute) == (9, 30)
    assert start == s.starts_at


def real_end(event: Event) -> datetime:
    """The end as a calendar program computes it: DTEND, or DTSTART plus DURATION."""
    if "DURATION" in event:
        # RFC 5545 3.3.6: hours and minutes are an exact duration, so add them in UTC
        # (Python adds to an aware local time by the wall clock).
        end: datetime = event.decoded("DTSTART").astimezone(UTC) + event.decoded("DURATION")
        return end
    end = event.decoded("DTEND")
    return end


@pytest.mark.parametrize(
    "local_start",
    [
        pytest.param(datetime(2030, 3, 10, 1, 0), id="across-spring-forward"),
        pytest.param(datetime(2030, 11, 3, 0, 30), id="ending-in-the-repeated-hour"),
    ],
)
def test_the_event_lasts_its_real_duration_across_a_clock_change(local_start: datetime) -> None:
    s = session(local_start.replace(tzinfo=ZoneInfo("America/New_York")), duration_minutes=120)
    _, event = invite(s, registration(s))
    start = event.decoded("DTSTART")
    assert start.astimezone(UTC) == s.starts_at
    assert real_end(event).astimezone(UTC) - start.astimezone(UTC) == timedelta(minutes=120)


def test_a_registered_person_gets_the_link() -> None:
    s = session()
    _, event = invite(s, registration(s), "REQUEST")
    assert str(event["LOCATION"]) == LINK
    assert f"Join: {LINK}" in str(event["DESCRIPTION"])
    assert str(event["STATUS"]) == "CONFIRMED"
    attendee = event["ATTENDEE"]
    assert str(attendee) == "mailto:pat.lee@agency.example"
    assert attendee.params["CN"] == "Pat Lee"
    assert attendee.params["PARTSTAT"] == "ACCEPTED"
    assert str(event["ORGANIZER"]).startswith("mailto:")


@pytest.mark.parametrize(
    ("status", "method", "session_status"),
    [
        pytest.param(
            RegistrationStatus.WAITLISTED, "REQUEST", SessionStatus.SCHEDULED, id="waitlisted"
        ),
        pytest.param(
            RegistrationStatus.CANCELLED,
            "CANCEL",
            SessionStatus.SCHEDULED,
            id="registration-cancelled",
        ),
        pytest.param(
            RegistrationStatus.REGISTERED, "CANCEL", SessionStatus.SCHEDULED, id="cancel-message"
        ),
        pytest.param(
            RegistrationStatus.REGISTERED,
            "REQUEST",
            SessionStatus.CANCELLED,
            id="session-cancelled",
        ),
        pytest.param(None, "PUBLISH", SessionStatus.SCHEDULED, id="no-registrant"),
    ],
)
def test_nobody_else_gets_the_link(status: str | None, method: Method, session_status: str) -> None:
    s = session(status=session_status)
    r = registration(s, status) if status is not None else None
    ics = calendar.invitation(s, r, method, 2)
    _, event = parse(ics)
    assert "LOCATION" not in event
    assert LINK not in str(event["DESCRIPTION"])
    assert b"8675309" not in ics.replace(b"\r\n ", b"")  # not even folded across lines
    # The session page is there instead, for everyone.
    assert f"/engagement/sessions/{s.pk}/" in str(event["DESCRIPTION"])


def test_cancel_says_cancelled() -> None:
    s = session()
    r = registration(s, RegistrationStatus.CANCELLED)
    cal, event = invite(s, r, "CANCEL", 4)
    assert str(cal["METHOD"]) == "CANCEL"
    assert str(event["STATUS"]) == "CANCELLED"
    assert event["ATTENDEE"].params["PARTSTAT"] == "DECLINED"
    assert event.decoded("SEQUENCE") == 4


def test_a_cancelled_session_is_cancelled_whatever_the_method() -> None:
    s = session(status=SessionStatus.CANCELLED)
    _, event = invite(s, registration(s), "REQUEST")
    assert str(event["STATUS"]) == "CANCELLED"


def test_description_lists_presenters_and_materials_that_still_exist() -> None:
    s = session()
    _, event = invite(s, None, "PUBLISH")
    description = str(event["DESCRIPTION"])
    assert "What CP is and how to ask for it." in description
    assert "Presenters: R. Alvarez, CCHT" in description
    assert "/guide/en/what-is-continued-presence/" in description
    assert "/guide/en/who-qualifies/" in description
    assert "a-page-since-removed" not in description
    assert "ATTENDEE" not in event
    assert [title for title, _ in calendar.material_links(s)] == [
        line.split(": http")[0].removeprefix("- ")
        for line in description.splitlines()
        if line.startswith("- ")
    ]
