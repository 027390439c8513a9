"""Building engagement inputs relative to the real clock, and reading the mail they cause."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.core import mail
from django.core.mail import EmailMessage
from django.utils import timezone
from icalendar import Calendar, Event

from cpnav.accounts.models import User
from cpnav.audit.models import AuditEvent
from cpnav.cases.models import Notification
from cpnav.engagement import services
from cpnav.engagement.models import (
    Audience,
    MeetingRequest,
    MeetingRequestEvent,
    Registration,
    Session,
    SessionReminder,
    Topic,
)

TZ = "America/New_York"
MATERIALS = ["what-is-continued-presence", "who-qualifies"]


def future_day(days: int, zone_name: str = TZ) -> date:
    """Today in the zone plus `days`: services compare with the real clock."""
    return timezone.now().astimezone(ZoneInfo(zone_name)).date() + timedelta(days=days)


def next_sunday(month: int, nth: int) -> date:
    """The nth Sunday of `month` in the first year where it is still ahead."""
    year = timezone.now().year
    while True:
        first = date(year, month, 1)
        found = first + timedelta(days=(6 - first.weekday()) % 7 + 7 * (nth - 1))
        if found > future_day(1):
            return found
        year += 1


def spring_forward() -> date:
    """The next second Sunday of March (U.S. clocks go forward at 2:00)."""
    return next_sunday(3, 2)


def fall_back() -> date:
    """The next first Sunday of November (U.S. clocks go back at 2:00)."""
    return next_sunday(11, 1)


def session_data(**overrides: Any) -> services.SessionInput:
    fields: dict[str, Any] = {
        "title": "Continued Presence basics",
        "day": future_day(10),
        "at": time(14, 0),
        "time_zone": TZ,
        "duration_minutes": 60,
        "capacity": 2,
        "meeting_link": "https://meet.example.gov/cp-basics",
        "topics": [Topic.CP_BASICS],
        "description": "What Continued Presence is and how to ask for it.",
        "materials": list(MATERIALS),
        "presenters": "CCHT staff",
    }
    fields.update(overrides)
    return services.SessionInput(**fields)


def meeting_data(**overrides: Any) -> services.MeetingInput:
    fields: dict[str, Any] = {
        "contact_name": "Sam Rivera",
        "contact_email": "Sam.Rivera@Springfield-PD.example",
        "agency_name": "Springfield Police Department",
        "jurisdiction": "OH",
        "jurisdiction_detail": "Springfield, Clark County",
        "audience": [Audience.PATROL, Audience.INVESTIGATORS],
        "audience_size": 40,
        "topics": [Topic.CP_BASICS],
        "preferred_dates": [future_day(30), future_day(20)],
        "preferred_time": "morning",
        "time_zone": TZ,
    }
    fields.update(overrides)
    return services.MeetingInput(**fields)


def person(name: str, **overrides: Any) -> services.Registrant:
    fields: dict[str, Any] = {
        "full_name": name.title(),
        "email": f"{name}@agency.example",
        "agency_name": "Springfield Police Department",
    }
    fields.update(overrides)
    return services.Registrant(**fields)


def make_session(coordinator: User, **overrides: Any) -> Session:
    return services.create_session(None, coordinator, session_data(**overrides))


def move_start(session: Session, starts_at: datetime) -> Session:
    """Put a session's start anywhere, past included (services refuse that; tests need it)."""
    Session.objects.filter(pk=session.pk).update(starts_at=starts_at)
    session.refresh_from_db()
    return session


def into_the_past(session: Session) -> Session:
    return move_start(session, timezone.now() - timedelta(hours=2))


@dataclass(frozen=True)
class Counts:
    requests: int
    request_events: int
    sessions: int
    registrations: int
    reminders: int
    audit: int
    notifications: int
    mails: int


def counts() -> Counts:
    """Everything a refused change must leave as it was."""
    return Counts(
        requests=MeetingRequest.objects.count(),
        request_events=MeetingRequestEvent.objects.count(),
        sessions=Session.objects.count(),
        registrations=Registration.objects.count(),
        reminders=SessionReminder.objects.count(),
        audit=AuditEvent.objects.count(),
        notifications=Notification.objects.count(),
        mails=len(mail.outbox),
    )


def calendar_parts(message: EmailMessage) -> list[tuple[str, Calendar]]:
    """Each text/calendar part of a sent message: (its method parameter, the parsed calendar)."""
    found = []
    for part in message.message().walk():
        if part.get_content_type() == "text/calendar":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            found.append((str(part.get_param("method")), Calendar.from_ical(payload)))
    return found


def the_event(message: EmailMessage) -> tuple[Calendar, Event]:
    """The one calendar attached to a message, and its one event."""
    parts = calendar_parts(message)
    assert len(parts) == 1, [m.subject for m in mail.outbox]
    method, cal = parts[0]
    assert method == str(cal["METHOD"])
    (event,) = cal.events
    return cal, event


def mails_to(email: str) -> list[EmailMessage]:
    return [m for m in mail.outbox if m.to == [email]]
