"""Calendar invitations for sessions (RFC 5545 with iTIP methods, RFC 5546).

Every message about a session carries the session's UID, so a calendar program
updates or removes the one event instead of adding another. Each registrant
has a SEQUENCE counter that rises with every message they are sent: the
invitation, each change, a cancellation and a renewed registration.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

from django.conf import settings
from django.urls import reverse
from icalendar import Calendar, Event, vCalAddress, vText

from cpnav.engagement.models import Registration, RegistrationStatus, Session
from cpnav.engagement.times import zone
from cpnav.guide.content import guide

Method = Literal["REQUEST", "CANCEL", "PUBLISH"]


def material_links(session: Session, lang: str = "en") -> list[tuple[str, str]]:
    """(title, address) of each guide page the session lists, skipping any since removed."""
    pages = []
    for slug in session.materials:
        page = guide().page(lang, slug) or guide().page("en", slug)
        if page is not None:
            path = reverse("guide:page", args=[page.lang, slug])
            pages.append((page.title, f"{settings.BASE_URL}{path}"))
    return pages


def _description(session: Session, show_link: bool) -> str:
    lines = [session.description.strip()] if session.description.strip() else []
    if session.presenters:
        lines.append(f"Presenters: {session.presenters}")
    if show_link:
        lines.append(f"Join: {session.meeting_link}")
    materials = material_links(session)
    if materials:
        lines.append("Materials:")
        lines += [f"- {title}: {url}" for title, url in materials]
    path = reverse("engagement:session", args=[session.pk])
    lines.append(f"Session page: {settings.BASE_URL}{path}")
    return "\n".join(lines)


def invitation(
    session: Session, registration: Registration | None, method: Method, sequence: int
) -> bytes:
    """One VCALENDAR with one VEVENT, in the session's own time zone (VTIMEZONE included)."""
    cancelled = method == "CANCEL" or session.is_cancelled
    active = registration is not None and registration.status == RegistrationStatus.REGISTERED
    cal = Calendar()
    cal.add("prodid", "-//CP Navigator//Engagement//EN")
    cal.add("version", "2.0")
    cal.add("method", method)
    event = Event()
    event.add("uid", session.uid)
    event.add("sequence", sequence)
    event.add("dtstamp", datetime.now(UTC))
    event.add("dtstart", session.starts_at.astimezone(zone(session.time_zone)))
    # A DURATION, not a local DTEND: an end in the repeated hour of a fall-back night would
    # be read as the first of the two, an hour early (RFC 5545 3.3.5).
    event.add("duration", timedelta(minutes=session.duration_minutes))
    event.add("summary", session.title)
    event.add("description", _description(session, show_link=active and not cancelled))
    if active and not cancelled:
        event.add("location", session.meeting_link)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    organizer = vCalAddress(f"mailto:{settings.ENGAGEMENT_ORGANIZER_EMAIL}")
    organizer.params["cn"] = vText("CCHT engagement (CP Navigator)")
    event.add("organizer", organizer)
    if registration is not None:
        attendee = vCalAddress(f"mailto:{registration.email}")
        attendee.params["cn"] = vText(registration.full_name)
        attendee.params["role"] = vText("REQ-PARTICIPANT")
        attendee.params["partstat"] = vText("DECLINED" if cancelled else "ACCEPTED")
        event.add("attendee", attendee, encode=False)
    cal.add_component(event)
    cal.add_missing_timezones()
    return bytes(cal.to_ical())
