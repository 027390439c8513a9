"""CCHT engagement: every change to a meeting request or a session is checked,
written and audited here, for the pages and the API alike.

Rules a caller cannot skip live here, not in forms: a time must exist in its
zone and lie ahead, a session needs at least one place, an email address holds
one place per session, a full session puts newcomers on a waiting list, and a
freed place goes to the first in line. Mail leaves only after the transaction
commits, so a refused or failed change never sends anything.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import smtplib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from email.mime.text import MIMEText
from typing import Any
from uuid import UUID

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import BadHeaderError, EmailMultiAlternatives
from django.core.validators import EmailValidator, URLValidator
from django.db import IntegrityError, transaction
from django.db.models import Count, Max, Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from cpnav.accounts import access
from cpnav.accounts.models import JURISDICTIONS, Agency, Membership, Role, User
from cpnav.audit.services import record
from cpnav.cases.models import Notification
from cpnav.core.crypto import secret_digest
from cpnav.engagement import calendar
from cpnav.engagement.models import (
    COORDINATOR_MOVES,
    REQUESTER_MAY_WITHDRAW,
    Audience,
    MeetingRequest,
    MeetingRequestEvent,
    Registration,
    RegistrationStatus,
    RequestStatus,
    Session,
    SessionStatus,
    Topic,
)
from cpnav.engagement.times import TimeError, local, today_in, zone
from cpnav.guide.content import guide

log = logging.getLogger("cpnav.engagement")

MAX_PREFERRED_DATES = 3
MAX_PROPOSED_TIMES = 5
MAX_AUDIENCE = 5000
MAX_CAPACITY = 3000
PREFERRED_TIMES = ("morning", "afternoon", "any")
TEXT_LIMITS = {
    "contact_name": 200, "contact_phone": 40, "agency_name": 200, "jurisdiction_detail": 200,
    "topics_other": 500, "accessibility_needs": 2000, "language_needs": 200, "note": 2000,
    "reason": 2000, "title": 200, "description": 4000, "presenters": 500, "full_name": 200,
}  # fmt: skip


class EngagementError(ValueError):
    """A refusal to show the user: field name -> message ("" for the whole form)."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


class Stale(Exception):
    """Someone changed the record since the page was loaded."""


def _fail(name: str, message: str) -> EngagementError:
    return EngagementError({name: message})


def _check_text(errors: dict[str, str], values: dict[str, Any], required: Iterable[str]) -> None:
    for name in required:
        if not str(values.get(name) or "").strip():
            errors.setdefault(name, _("This field is required."))
    for name, limit in TEXT_LIMITS.items():
        value = values.get(name)
        if isinstance(value, str) and len(value) > limit:
            errors.setdefault(
                name, _("Use at most %(limit)d characters (it has %(n)d).")
                % {"limit": limit, "n": len(value)},
            )  # fmt: skip


def _check_choices(
    errors: dict[str, str], name: str, values: Sequence[str], allowed: Iterable[str], *,
    required: bool,
) -> None:  # fmt: skip
    allowed = set(allowed)
    unknown = [v for v in values if v not in allowed]
    if unknown:
        errors[name] = _("Unknown choice: %(values)s.") % {"values": ", ".join(unknown)[:200]}
    elif required and not values:
        errors[name] = _("Choose at least one.")
    elif len(set(values)) != len(values):
        errors[name] = _("A choice is listed twice.")


def _email(errors: dict[str, str], name: str, value: str) -> str:
    value = (value or "").strip().lower()
    try:
        EmailValidator()(value)
    except ValidationError:
        errors.setdefault(name, _("Enter an email address such as name@agency.gov."))
    return value


def _zone_ok(errors: dict[str, str], name: str, value: str) -> bool:
    try:
        zone(value)
    except TimeError as error:
        errors[name] = str(error)
        return False
    return True


def _site_link(name: str, *args: object) -> str:
    return f"{settings.BASE_URL}{reverse(name, args=args)}"


# --- Mail ----------------------------------------------------------------------


@dataclass
class Mail:
    to: str
    subject: str
    body: str
    ics: bytes | None = None
    method: str = ""


def _send(mails: list[Mail]) -> None:
    """Send after commit. A failure is logged; the change stands and the page offers the file."""
    for mail in mails:
        subject = " ".join(mail.subject.split())  # a header holds no line breaks
        message = EmailMultiAlternatives(f"CP Navigator: {subject}", mail.body, None, [mail.to])
        if mail.ics is not None:
            part = MIMEText(mail.ics.decode(), "calendar", "utf-8")
            part.set_param("method", mail.method)
            part.add_header("Content-Disposition", "attachment", filename="invite.ics")
            message.attach(part)
        try:
            message.send()
        except (smtplib.SMTPException, OSError, BadHeaderError):
            log.warning("engagement email not sent: %s", subject)


def _after_commit(mails: list[Mail]) -> None:
    if mails:
        transaction.on_commit(lambda: _send(mails))


def when_text(session: Session) -> str:
    """The start as people read it in mail: weekday, date and time in the session's zone."""
    start = local_start(session)
    return f"{start:%A %d %B %Y, %H:%M} ({session.time_zone})"


def _invite(registration: Registration, method: str, subject: str, lead: str) -> Mail:
    """A calendar message for one registrant, with the next SEQUENCE (saved by the caller)."""
    session = registration.session
    registration.sequence += 1
    ics = calendar.invitation(session, registration, method, registration.sequence)  # type: ignore[arg-type]
    lines = [lead, "", session.title, when_text(session)]
    if method == "REQUEST":
        lines += ["", _("Join: %(link)s") % {"link": session.meeting_link}]
    return Mail(registration.email, subject, "\n".join(lines) + "\n", ics, method)


def _manage_line(token: str) -> str:
    return _("See or cancel your place: %(link)s") % {
        "link": _site_link("engagement:registration", token)
    }


# --- Meeting requests ------------------------------------------------------------


def coordinators() -> QuerySet[User]:
    return User.objects.filter(
        is_active=True,
        memberships__role=Role.ENGAGEMENT_COORDINATOR,
        memberships__agency__is_ccht=True,
    ).distinct()


def requester_agencies(user: User) -> QuerySet[Agency]:
    return access.user_agencies(user)


@dataclass
class MeetingInput:
    contact_name: str
    contact_email: str
    agency_name: str
    jurisdiction: str
    jurisdiction_detail: str
    audience: list[str]
    audience_size: int
    topics: list[str]
    preferred_dates: list[date]
    preferred_time: str
    time_zone: str
    contact_phone: str = ""
    agency: Agency | None = None
    topics_other: str = ""
    accessibility_needs: str = ""
    language_needs: str = ""


def _validate_meeting(data: MeetingInput, now: datetime) -> dict[str, str]:
    errors: dict[str, str] = {}
    values = vars(data)
    _check_text(
        errors, values, ("contact_name", "agency_name", "jurisdiction", "jurisdiction_detail")
    )
    data.contact_email = _email(errors, "contact_email", data.contact_email)
    if data.jurisdiction and data.jurisdiction not in dict(JURISDICTIONS):
        errors["jurisdiction"] = _("Choose a state or territory.")
    _check_choices(errors, "audience", data.audience, Audience.values, required=True)
    _check_choices(errors, "topics", data.topics, Topic.values, required=not data.topics_other)
    if not 1 <= data.audience_size <= MAX_AUDIENCE:
        errors["audience_size"] = _("Give a number from 1 to %(max)d.") % {"max": MAX_AUDIENCE}
    if data.preferred_time not in PREFERRED_TIMES:
        errors["preferred_time"] = _("Choose morning, afternoon or any time.")
    if _zone_ok(errors, "time_zone", data.time_zone):
        today = today_in(data.time_zone, now)
        dates = data.preferred_dates
        if not dates:
            errors["preferred_dates"] = _("Give at least one date that would suit you.")
        elif len(dates) > MAX_PREFERRED_DATES:
            errors["preferred_dates"] = _("Give at most %(n)d dates.") % {"n": MAX_PREFERRED_DATES}
        elif any(d <= today for d in dates):
            errors["preferred_dates"] = _(
                "Each date must be after today (%(today)s in %(zone)s)."
            ) % {"today": today.isoformat(), "zone": data.time_zone}
        elif len(set(dates)) != len(dates):
            errors["preferred_dates"] = _("A date is listed twice.")
        elif max(dates) > today + timedelta(days=366):
            errors["preferred_dates"] = _("Choose dates within the next year.")
    return errors


def submit_request(
    http: HttpRequest | None, requester: User | None, data: MeetingInput
) -> tuple[MeetingRequest, str]:
    """Record a meeting request; returns it and the secret status link's token."""
    errors = _validate_meeting(data, timezone.now())
    if (
        requester is not None
        and data.agency is not None
        and not requester_agencies(requester).filter(pk=data.agency.pk).exists()
    ):
        errors["agency"] = _("Choose one of your own agencies.")
    if errors:
        raise EngagementError(errors)
    token = secrets.token_urlsafe(24)
    fields = vars(data).copy()
    fields["preferred_dates"] = sorted(d.isoformat() for d in data.preferred_dates)
    if data.agency is not None:
        fields["agency_name"] = data.agency.name
    with transaction.atomic():
        meeting = MeetingRequest.objects.create(
            requester=requester, status_token_hash=secret_digest(token), **fields
        )
        _event(meeting, RequestStatus.SUBMITTED, requester, "")
        record(
            "engagement.request_submitted", request=http, actor=requester,
            actor_label="public form", agency_id=data.agency.pk if data.agency else None,
            object_type="meeting_request", object_id=meeting.pk,
        )  # fmt: skip
        link = reverse("engagement:request", args=[meeting.pk])
        message = _("New meeting request %(ref)s from %(agency)s") % {
            "ref": meeting.reference, "agency": meeting.agency_name[:120]
        }  # fmt: skip
        Notification.objects.bulk_create(
            Notification(user=u, message=message[:300], link=link) for u in coordinators()
        )
        _after_commit([_request_receipt(meeting, token)])
    return meeting, token


def _request_receipt(meeting: MeetingRequest, token: str) -> Mail:
    body = "\n".join(
        [
            _("CCHT received your request for an informational meeting (%(ref)s).")
            % {"ref": meeting.reference},
            _("An engagement coordinator will reply; you can follow the request here:"),
            _site_link("engagement:request_status", token),
        ]
    )
    return Mail(meeting.contact_email, _("meeting request %(ref)s received") % {
        "ref": meeting.reference
    }, body + "\n")  # fmt: skip


def _event(meeting: MeetingRequest, status: str, actor: User | None, note: str) -> None:
    MeetingRequestEvent.objects.create(
        meeting_request=meeting, status=status, note=note, actor=actor,
        actor_label=actor.email if actor else "requester (status link)",
    )  # fmt: skip


def visible_requests(user: User) -> QuerySet[MeetingRequest]:
    if access.is_engagement_coordinator(user):
        return MeetingRequest.objects.all()
    return MeetingRequest.objects.filter(requester=user)


def get_request(http: HttpRequest, request_id: UUID) -> MeetingRequest:
    user = access.signed_in(http.user)
    found = (
        visible_requests(user).select_related("agency", "session").filter(pk=request_id).first()
        if user is not None
        else None
    )
    if found is None:
        raise access.not_found(http, "meeting_request", request_id)
    return found


def request_by_token(token: str) -> MeetingRequest | None:
    return (
        MeetingRequest.objects.select_related("session")
        .filter(status_token_hash=secret_digest(token))
        .first()
    )


def _locked_request(meeting: MeetingRequest, version: int) -> MeetingRequest:
    fresh = MeetingRequest.objects.select_for_update().get(pk=meeting.pk)
    if fresh.version != version:
        raise Stale()
    return fresh


def _move(
    http: HttpRequest | None,
    actor: User | None,
    meeting: MeetingRequest,
    version: int,
    to: str,
    note: str,
    changes: dict[str, Any],
    notice: str,
) -> MeetingRequest:
    """Check the move, save it with its history and audit event, and tell the other side."""
    if len(note) > TEXT_LIMITS["note"]:
        raise _fail("note", _("Use at most 2000 characters."))
    with transaction.atomic():
        fresh = _locked_request(meeting, version)
        if actor is not None and access.is_engagement_coordinator(actor):
            allowed = to in COORDINATOR_MOVES[fresh.status]
        else:
            allowed = (
                to == RequestStatus.WITHDRAWN and fresh.status in REQUESTER_MAY_WITHDRAW
            ) or (to == RequestStatus.ACCEPTED and fresh.status == RequestStatus.DATES_PROPOSED)
        if not allowed:
            raise _fail(
                "",
                _("A request that is %(status)s cannot be moved to %(to)s.")
                % {"status": fresh.get_status_display().lower(),
                   "to": str(RequestStatus(to).label).lower()},
            )  # fmt: skip
        before = fresh.status
        for name, value in changes.items():
            setattr(fresh, name, value)
        fresh.status = to
        fresh.version += 1
        fresh.save()
        _event(fresh, to, actor, note)
        record(
            f"engagement.request_{to}", request=http, actor=actor,
            actor_label="requester (status link)", agency_id=fresh.agency_id,
            object_type="meeting_request", object_id=fresh.pk,
            details={"from": before, "to": to},
        )  # fmt: skip
        _tell(fresh, actor, notice, note)
    return fresh


def _tell(meeting: MeetingRequest, actor: User | None, notice: str, note: str) -> None:
    """Coordinators' moves go to the requester; the requester's go to the coordinators."""
    link = reverse("engagement:request", args=[meeting.pk])
    if actor is not None and access.is_engagement_coordinator(actor):
        body = notice + (f"\n\n{note}" if note else "")
        if meeting.requester is not None:
            body += "\n\n" + _("Follow the request (sign-in required):")
            body += f"\n{_site_link('engagement:request', meeting.pk)}\n"
        else:
            body += "\n\n" + _("Follow the request with the link in our first email.") + "\n"
        if meeting.requester is not None and meeting.requester.is_active:
            Notification.objects.create(user=meeting.requester, message=notice[:300], link=link)
        _after_commit([Mail(meeting.contact_email, notice.splitlines()[0][:150], body)])
        return
    Notification.objects.bulk_create(
        Notification(user=u, message=notice[:300], link=link) for u in coordinators()
    )


def accept(
    http: HttpRequest | None, actor: User, meeting: MeetingRequest, *, version: int,
    note: str = "",
) -> MeetingRequest:  # fmt: skip
    _require_coordinator(http, actor)
    notice = _("CCHT accepted meeting request %(ref)s. A coordinator will send the details.")
    return _move(http, actor, meeting, version, RequestStatus.ACCEPTED, note, {},
                 notice % {"ref": meeting.reference})  # fmt: skip


def decline(
    http: HttpRequest | None, actor: User, meeting: MeetingRequest, *, version: int, reason: str
) -> MeetingRequest:
    _require_coordinator(http, actor)
    if not reason.strip():
        raise _fail("reason", _("Say why, so the agency knows what to do next."))
    if len(reason) > TEXT_LIMITS["reason"]:
        raise _fail("reason", _("Use at most 2000 characters."))
    notice = _("CCHT cannot hold meeting %(ref)s: %(reason)s") % {
        "ref": meeting.reference, "reason": reason.strip()[:200]
    }  # fmt: skip
    return _move(http, actor, meeting, version, RequestStatus.DECLINED, "",
                 {"decline_reason": reason.strip()}, notice)  # fmt: skip


@dataclass(frozen=True)
class LocalTime:
    day: date
    at: time


def propose(
    http: HttpRequest | None,
    actor: User,
    meeting: MeetingRequest,
    *,
    version: int,
    times: list[LocalTime],
    time_zone: str,
    note: str = "",
) -> MeetingRequest:
    """Offer other times, in a zone of the coordinator's choosing (the request's by default)."""
    _require_coordinator(http, actor)
    errors: dict[str, str] = {}
    moments: list[datetime] = []
    if _zone_ok(errors, "time_zone", time_zone):
        if not times:
            errors["times"] = _("Offer at least one date and time.")
        elif len(times) > MAX_PROPOSED_TIMES:
            errors["times"] = _("Offer at most %(n)d times.") % {"n": MAX_PROPOSED_TIMES}
        for item in times[:MAX_PROPOSED_TIMES]:
            try:
                moment = local(item.day, item.at, time_zone)
            except TimeError as error:
                errors["times"] = str(error)
                break
            if moment <= timezone.now():
                errors["times"] = _("%(when)s has already passed.") % {
                    "when": f"{item.day.isoformat()} {item.at:%H:%M}"
                }
                break
            moments.append(moment)
        if not errors and len(set(moments)) != len(moments):
            errors["times"] = _("A time is listed twice.")
    if errors:
        raise EngagementError(errors)
    moments.sort()
    offered = [m.isoformat() for m in moments]
    shown = "\n".join(f"- {m:%A %d %B %Y, %H:%M} ({time_zone})" for m in moments)
    notice = _("CCHT proposed other times for meeting %(ref)s:") % {"ref": meeting.reference}
    return _move(http, actor, meeting, version, RequestStatus.DATES_PROPOSED, note,
                 {"proposed_times": offered, "agreed_start": None},
                 f"{notice}\n{shown}")  # fmt: skip


def proposed(meeting: MeetingRequest) -> list[datetime]:
    return [datetime.fromisoformat(value) for value in meeting.proposed_times]


def choose_time(
    http: HttpRequest | None, actor: User | None, meeting: MeetingRequest, *, version: int,
    index: int,
) -> MeetingRequest:  # fmt: skip
    """The requester takes one of the offered times; the request becomes accepted."""
    offered = proposed(meeting)
    if not 0 <= index < len(offered):
        raise _fail("choice", _("Choose one of the times offered."))
    chosen = offered[index]
    if chosen <= timezone.now():
        raise _fail("choice", _("That time has passed. Ask the coordinator for another."))
    notice = _("The requester chose %(when)s for meeting %(ref)s.") % {
        "when": chosen.isoformat(), "ref": meeting.reference
    }  # fmt: skip
    return _move(http, actor, meeting, version, RequestStatus.ACCEPTED, "",
                 {"agreed_start": chosen}, notice)  # fmt: skip


def withdraw(
    http: HttpRequest | None, actor: User | None, meeting: MeetingRequest, *, version: int,
    note: str = "",
) -> MeetingRequest:  # fmt: skip
    notice = _("Meeting request %(ref)s was withdrawn by the requester.") % {
        "ref": meeting.reference
    }
    return _move(http, actor, meeting, version, RequestStatus.WITHDRAWN, note, {}, notice)


def link_session(
    http: HttpRequest | None, actor: User, meeting: MeetingRequest, session: Session, *,
    version: int,
) -> MeetingRequest:  # fmt: skip
    _require_coordinator(http, actor)
    if session.is_cancelled or session.starts_at <= timezone.now():
        raise _fail("session", _("Choose a session that is still to come."))
    notice = "\n".join([
        _("Meeting request %(ref)s is scheduled: %(title)s, %(when)s.")
        % {"ref": meeting.reference, "title": session.title, "when": when_text(session)},
        _("Each participant registers here to get the calendar invitation and the link:"),
        _site_link("engagement:session", session.pk),
    ])  # fmt: skip
    return _move(http, actor, meeting, version, RequestStatus.SCHEDULED, "",
                 {"session": session}, notice)  # fmt: skip


# --- Sessions ----------------------------------------------------------------------


@dataclass
class SessionInput:
    title: str
    day: date
    at: time
    time_zone: str
    duration_minutes: int
    capacity: int
    meeting_link: str
    topics: list[str] = field(default_factory=list)
    description: str = ""
    materials: list[str] = field(default_factory=list)
    presenters: str = ""
    is_public: bool = True


def material_choices() -> list[tuple[str, str]]:
    return [(page.slug, page.title) for page in guide().pages.get("en", ())]


def _validate_session(data: SessionInput, now: datetime) -> tuple[dict[str, str], datetime | None]:
    errors: dict[str, str] = {}
    _check_text(errors, vars(data), ("title", "meeting_link"))
    _check_choices(errors, "topics", data.topics, Topic.values, required=True)
    _check_choices(errors, "materials", data.materials, dict(material_choices()), required=False)
    if not 1 <= data.capacity <= MAX_CAPACITY:
        errors["capacity"] = _("A session needs from 1 to %(max)d places.") % {"max": MAX_CAPACITY}
    if not 15 <= data.duration_minutes <= 480:
        errors["duration_minutes"] = _("A session lasts from 15 to 480 minutes.")
    if "meeting_link" not in errors:
        try:
            URLValidator(schemes=["https"])(data.meeting_link)
        except ValidationError:
            errors["meeting_link"] = _("Give the meeting's https:// address.")
    starts: datetime | None = None
    if _zone_ok(errors, "time_zone", data.time_zone):
        try:
            starts = local(data.day, data.at, data.time_zone)
        except TimeError as error:
            errors["at"] = str(error)
        else:
            if starts <= now:
                errors["day"] = _("The start (%(when)s in %(zone)s) has already passed.") % {
                    "when": f"{data.day.isoformat()} {data.at:%H:%M}", "zone": data.time_zone
                }  # fmt: skip
    return errors, starts


def _require_coordinator(http: HttpRequest | None, actor: User) -> None:
    if not access.is_engagement_coordinator(actor):
        if http is not None:
            raise access.forbidden(http, "engagement coordination")
        raise _fail("", _("Only CCHT engagement coordinators can do this."))


def create_session(
    http: HttpRequest | None, actor: User, data: SessionInput,
    meeting: MeetingRequest | None = None, meeting_version: int = 0,
) -> Session:  # fmt: skip
    """A new session; with a meeting request, it is linked to it in the same transaction."""
    _require_coordinator(http, actor)
    errors, starts = _validate_session(data, timezone.now())
    if errors:
        raise EngagementError(errors)
    assert starts is not None
    with transaction.atomic():
        session = Session.objects.create(
            created_by=actor, starts_at=starts.astimezone(UTC), **_session_fields(data)
        )
        record(
            "engagement.session_created", request=http, actor=actor, object_type="session",
            object_id=session.pk, details={"starts_at": session.starts_at.isoformat()},
        )  # fmt: skip
        if meeting is not None:
            link_session(http, actor, meeting, session, version=meeting_version)
    return session


def _session_fields(data: SessionInput) -> dict[str, Any]:
    fields = vars(data).copy()
    for name in ("day", "at"):
        fields.pop(name)
    fields["title"] = fields["title"].strip()
    return fields


def local_start(session: Session) -> datetime:
    return session.starts_at.astimezone(zone(session.time_zone))


def session_input(session: Session) -> SessionInput:
    start = local_start(session)
    return SessionInput(
        title=session.title, day=start.date(), at=start.time().replace(tzinfo=None),
        time_zone=session.time_zone, duration_minutes=session.duration_minutes,
        capacity=session.capacity, meeting_link=session.meeting_link, topics=list(session.topics),
        description=session.description, materials=list(session.materials),
        presenters=session.presenters, is_public=session.is_public,
    )  # fmt: skip


def _locked_session(session: Session, version: int | None = None) -> Session:
    fresh = Session.objects.select_for_update().get(pk=session.pk)
    if version is not None and fresh.version != version:
        raise Stale()
    return fresh


def _registered(session: Session) -> QuerySet[Registration]:
    return session.registrations.filter(status=RegistrationStatus.REGISTERED)


def update_session(
    http: HttpRequest | None, actor: User, session: Session, data: SessionInput, *, version: int
) -> Session:
    """Save changes; everyone registered gets an updated invitation (same UID, next SEQUENCE)."""
    _require_coordinator(http, actor)
    errors, starts = _validate_session(data, timezone.now())
    if errors:
        raise EngagementError(errors)
    assert starts is not None
    with transaction.atomic():
        fresh = _locked_session(session, version)
        if fresh.is_cancelled:
            raise _fail("", _("This session was cancelled; it cannot be changed."))
        if fresh.starts_at <= timezone.now():
            raise _fail("", _("This session has started; it cannot be changed."))
        taken = _registered(fresh).count()
        if data.capacity < taken:
            raise _fail(
                "capacity",
                _("%(n)d people are registered; the capacity cannot be lower than that.")
                % {"n": taken},
            )
        before = {name: getattr(fresh, name) for name in ("starts_at", "meeting_link", "title")}
        for name, value in _session_fields(data).items():
            setattr(fresh, name, value)
        fresh.starts_at = starts.astimezone(UTC)
        fresh.version += 1
        fresh.save()
        changed = [name for name, old in before.items() if getattr(fresh, name) != old]
        record(
            "engagement.session_updated", request=http, actor=actor, object_type="session",
            object_id=fresh.pk, details={"changed": changed},
        )  # fmt: skip
        mails = []
        lead = _("The session you registered for has changed. Your calendar will update.")
        for registration in _registered(fresh).select_related("session"):
            registration.session = fresh
            mails.append(_invite(registration, "REQUEST", _("updated: %(title)s") % {
                "title": fresh.title}, lead))  # fmt: skip
            registration.save(update_fields=["sequence"])
        mails += _promote(fresh)
        _after_commit(mails)
    return fresh


def cancel_session(
    http: HttpRequest | None, actor: User, session: Session, *, version: int, reason: str
) -> Session:
    _require_coordinator(http, actor)
    if not reason.strip():
        raise _fail("reason", _("Say why, for the people registered."))
    if len(reason) > TEXT_LIMITS["reason"]:
        raise _fail("reason", _("Use at most 2000 characters."))
    with transaction.atomic():
        fresh = _locked_session(session, version)
        if fresh.is_cancelled:
            raise _fail("", _("This session is already cancelled."))
        if fresh.starts_at <= timezone.now():
            raise _fail("", _("This session has started; it cannot be cancelled."))
        fresh.status = SessionStatus.CANCELLED
        fresh.cancel_reason = reason.strip()
        fresh.version += 1
        fresh.save()
        record(
            "engagement.session_cancelled", request=http, actor=actor, object_type="session",
            object_id=fresh.pk,
        )  # fmt: skip
        mails = []
        lead = _("This session is cancelled: %(reason)s") % {"reason": fresh.cancel_reason}
        subject = _("cancelled: %(title)s") % {"title": fresh.title}
        for registration in fresh.registrations.exclude(status=RegistrationStatus.CANCELLED):
            registration.session = fresh
            if registration.status == RegistrationStatus.REGISTERED:
                mails.append(_invite(registration, "CANCEL", subject, lead))
                registration.save(update_fields=["sequence"])
            else:
                mails.append(Mail(registration.email, subject, f"{lead}\n\n{fresh.title}\n"))
        _after_commit(mails)
    return fresh


def upcoming_public(now: datetime | None = None) -> QuerySet[Session]:
    return Session.objects.filter(
        is_public=True, status=SessionStatus.SCHEDULED, starts_at__gt=now or timezone.now()
    ).annotate(taken=Count("registrations", filter=Q(registrations__status="registered")))


def coordinator_sessions() -> QuerySet[Session]:
    return Session.objects.annotate(
        taken=Count("registrations", filter=Q(registrations__status="registered")),
        waiting=Count("registrations", filter=Q(registrations__status="waitlisted")),
    ).order_by("-starts_at")


def get_session(http: HttpRequest, session_id: UUID) -> Session:
    """Any session by its address: private ones are shared by link, and hold no victim data."""
    found = Session.objects.filter(pk=session_id).first()
    if found is None:
        raise access.not_found(http, "session", session_id)
    return found


def get_managed_session(http: HttpRequest, session_id: UUID) -> Session:
    user = access.signed_in(http.user)
    if user is None or not access.is_engagement_coordinator(user):
        raise access.forbidden(http, "engagement coordination")
    return get_session(http, session_id)


def places_left(session: Session) -> int:
    return max(0, session.capacity - _registered(session).count())


# --- Registrations ---------------------------------------------------------------------


@dataclass
class Registrant:
    full_name: str
    email: str
    agency_name: str
    agency: Agency | None = None


def register(
    http: HttpRequest | None, session: Session, who: Registrant, user: User | None = None
) -> tuple[Registration, str]:
    """A place, or a place in line when full. Returns the registration and its manage token."""
    errors: dict[str, str] = {}
    _check_text(errors, vars(who), ("full_name", "agency_name"))
    email = _email(errors, "email", who.email)
    if errors:
        raise EngagementError(errors)
    token = secrets.token_urlsafe(24)
    now = timezone.now()
    with transaction.atomic():
        fresh = _locked_session(session)
        if fresh.is_cancelled:
            raise _fail("", _("This session was cancelled; registration is closed."))
        if fresh.starts_at <= now:
            raise _fail("", _("This session has started; registration is closed."))
        existing = fresh.registrations.select_for_update().filter(email=email).first()
        if existing is not None and existing.status != RegistrationStatus.CANCELLED:
            raise _fail(
                "email",
                _("%(email)s already has a place (or a place in line) at this session. Use the "
                  "link in its confirmation email to see or cancel it.") % {"email": email},
            )  # fmt: skip
        full = _registered(fresh).count() >= fresh.capacity
        status = RegistrationStatus.WAITLISTED if full else RegistrationStatus.REGISTERED
        registration = existing or Registration(session=fresh, email=email)
        registration.session = fresh
        registration.user = user
        registration.full_name = who.full_name.strip()
        registration.agency = who.agency
        registration.agency_name = (who.agency.name if who.agency else who.agency_name).strip()
        registration.status = status
        registration.queued_at = now
        registration.cancelled_at = None
        registration.manage_token_hash = secret_digest(token)
        mail = _confirmation(registration, token)
        try:
            with transaction.atomic():
                registration.save()
        except IntegrityError as error:  # the same email, registered a moment ago elsewhere
            raise _fail("email", _("%(email)s already has a place at this session.") % {
                "email": email}) from error  # fmt: skip
        record(
            f"engagement.{status}", request=http, actor=user, actor_label="public form",
            object_type="registration", object_id=registration.pk,
            details={"session": str(fresh.pk), "again": existing is not None},
        )  # fmt: skip
        _after_commit([mail])
    return registration, token


def _confirmation(registration: Registration, token: str) -> Mail:
    session = registration.session
    if registration.status == RegistrationStatus.REGISTERED:
        lead = _("You are registered. The invitation is attached; open it to add it to your "
                 "calendar.")  # fmt: skip
        mail = _invite(registration, "REQUEST", _("registered: %(title)s") % {
            "title": session.title}, lead)  # fmt: skip
    else:
        lead = _("The session is full, so you are on the waiting list. If a place opens, "
                 "we will send the invitation.")  # fmt: skip
        mail = Mail(registration.email, _("waiting list: %(title)s") % {"title": session.title},
                    "\n".join([lead, "", session.title, when_text(session)]) + "\n")  # fmt: skip
    mail.body += "\n" + _manage_line(token) + "\n"
    return mail


def _promote(session: Session) -> list[Mail]:
    """Give freed places to the first in line; call inside the session lock."""
    free = session.capacity - _registered(session).count()
    if free <= 0:
        return []
    mails = []
    waiting = session.registrations.filter(status=RegistrationStatus.WAITLISTED).order_by(
        "queued_at", "pk"
    )
    lead = _("A place opened up and it is yours. The invitation is attached.")
    for registration in waiting[:free]:
        registration.session = session
        registration.status = RegistrationStatus.REGISTERED
        mails.append(_invite(registration, "REQUEST", _("you have a place: %(title)s") % {
            "title": session.title}, lead))  # fmt: skip
        registration.save(update_fields=["status", "sequence"])
        record(
            "engagement.promoted", actor_label="waiting list", object_type="registration",
            object_id=registration.pk, details={"session": str(session.pk)},
        )  # fmt: skip
    return mails


def registration_by_token(token: str) -> Registration | None:
    return (
        Registration.objects.select_related("session")
        .filter(manage_token_hash=secret_digest(token))
        .first()
    )


def own_registrations(user: User) -> QuerySet[Registration]:
    return (
        Registration.objects.filter(user=user)
        .select_related("session")
        .order_by("-session__starts_at")
    )


def cancel_registration(
    http: HttpRequest | None, registration: Registration, actor: User | None = None
) -> Registration:
    """The attendee gives up the place (or place in line); the next in line gets it."""
    with transaction.atomic():
        session = _locked_session(registration.session)
        fresh = Registration.objects.select_for_update().get(pk=registration.pk)
        if fresh.status == RegistrationStatus.CANCELLED:
            raise _fail("", _("This registration is already cancelled."))
        if session.starts_at <= timezone.now():
            raise _fail("", _("The session has started; there is nothing to cancel."))
        held = fresh.status == RegistrationStatus.REGISTERED
        fresh.session = session
        fresh.status = RegistrationStatus.CANCELLED
        fresh.cancelled_at = timezone.now()
        mails = []
        if held:
            mails.append(_invite(fresh, "CANCEL", _("cancelled: %(title)s") % {
                "title": session.title}, _("Your registration is cancelled.")))  # fmt: skip
        fresh.save(update_fields=["status", "cancelled_at", "sequence"])
        record(
            "engagement.registration_cancelled", request=http, actor=actor,
            actor_label="attendee (manage link)", object_type="registration",
            object_id=fresh.pk, details={"session": str(session.pk)},
        )  # fmt: skip
        if held and not session.is_cancelled:
            mails += _promote(session)
        _after_commit(mails)
    return fresh


def attendee_calendar(registration: Registration) -> bytes:
    """The registrant's invitation as it stands now (without raising the SEQUENCE)."""
    session = registration.session
    if registration.status == RegistrationStatus.CANCELLED or session.is_cancelled:
        return calendar.invitation(session, registration, "CANCEL", registration.sequence)
    return calendar.invitation(session, registration, "REQUEST", registration.sequence)


def waiting_position(registration: Registration) -> int | None:
    if registration.status != RegistrationStatus.WAITLISTED:
        return None
    ahead = registration.session.registrations.filter(status=RegistrationStatus.WAITLISTED).filter(
        Q(queued_at__lt=registration.queued_at)
        | Q(queued_at=registration.queued_at, pk__lt=registration.pk)
    )
    return ahead.count() + 1


# --- Attendance and follow-up --------------------------------------------------------------


def _require_started(session: Session) -> None:
    if session.is_cancelled:
        raise _fail("", _("This session was cancelled."))
    if session.starts_at > timezone.now():
        raise _fail("", _("Attendance can be recorded once the session has started."))


def record_attendance(
    http: HttpRequest | None, actor: User, session: Session, marks: dict[UUID, bool | None]
) -> int:
    """Set attended yes/no (None: not known) for registrations of this session; all or none."""
    _require_coordinator(http, actor)
    _require_started(session)
    with transaction.atomic():
        known = {r.pk: r for r in _registered(session).select_for_update()}
        unknown = [str(pk) for pk in marks if pk not in known]
        if unknown:
            raise _fail("", _("Not registered for this session: %(ids)s") % {
                "ids": ", ".join(unknown[:5])})  # fmt: skip
        now = timezone.now()
        changed = 0
        for pk, attended in marks.items():
            registration = known[pk]
            if registration.attended != attended:
                registration.attended = attended
                registration.attendance_recorded_at = now if attended is not None else None
                registration.save(update_fields=["attended", "attendance_recorded_at"])
                changed += 1
        record(
            "engagement.attendance_recorded", request=http, actor=actor, object_type="session",
            object_id=session.pk, details={"changed": changed},
        )  # fmt: skip
    return changed


def attendance_emails(session: Session) -> frozenset[str]:
    """Who can be marked: the people holding a place (the waiting list had no link)."""
    return frozenset(_registered(session).values_list("email", flat=True))


def attendance_marks(session: Session, rows: Iterable[tuple[str, bool]]) -> dict[UUID, bool | None]:
    by_email = dict(_registered(session).values_list("email", "pk"))
    return {by_email[email]: attended for email, attended in rows}


def send_follow_up(
    http: HttpRequest | None, actor: User, session: Session, *, include_absent: bool, note: str
) -> int:
    """Thank attendees with the materials; each person gets it once. Returns how many were sent."""
    _require_coordinator(http, actor)
    _require_started(session)
    if len(note) > TEXT_LIMITS["note"]:
        raise _fail("note", _("Use at most 2000 characters."))
    people = session.registrations.filter(
        status=RegistrationStatus.REGISTERED, follow_up_sent_at__isnull=True
    )
    if not include_absent:
        people = people.filter(attended=True)
    materials = calendar.material_links(session)
    mails = []
    now = timezone.now()
    with transaction.atomic():
        for registration in people.select_for_update():
            lines = [
                _("Thank you for joining %(title)s.") % {"title": session.title}
                if registration.attended
                else _("We missed you at %(title)s; here is what was covered.")
                % {"title": session.title}
            ]
            if note.strip():
                lines += ["", note.strip()]
            if materials:
                lines += ["", _("Materials from the CP Navigator resource guide:")]
                lines += [f"- {title}: {url}" for title, url in materials]
            lines += ["", _("Questions about Continued Presence: reply to this email.")]
            mails.append(Mail(registration.email, _("follow-up: %(title)s") % {
                "title": session.title}, "\n".join(lines) + "\n"))  # fmt: skip
            registration.follow_up_sent_at = now
            registration.save(update_fields=["follow_up_sent_at"])
        if not mails:
            raise _fail("", _("Everyone chosen has already had the follow-up, or attendance is "
                              "not recorded yet."))  # fmt: skip
        Session.objects.filter(pk=session.pk).update(follow_up_sent_at=now)
        record(
            "engagement.follow_up_sent", request=http, actor=actor, object_type="session",
            object_id=session.pk, details={"sent": len(mails)},
        )  # fmt: skip
        _after_commit(mails)
    return len(mails)


# --- Engagement history by agency ---------------------------------------------------------


@dataclass(frozen=True)
class AgencyEngagement:
    key: str  # the agency's id, or a key made from the name typed by people without an account
    name: str
    agency: Agency | None
    meeting_requests: int
    registrations: int
    attended: int
    last: datetime | None


NAME_KEY = "n-"


def _name_key(name: str) -> str:
    """A URL-safe key for an agency known only by the name people typed (spacing and case
    ignored)."""
    normalized = " ".join(name.split()).casefold()
    return NAME_KEY + hashlib.sha256(normalized.encode()).hexdigest()[:20]


def engagement_by_agency() -> list[AgencyEngagement]:
    """One row per agency, from grouped queries (no loop over registrations)."""
    rows: dict[str, dict[str, Any]] = {}

    def row(agency_id: UUID | None, name: str) -> dict[str, Any]:
        key = str(agency_id) if agency_id else _name_key(name)
        return rows.setdefault(key, {"name": name, "agency_id": agency_id, "meeting_requests": 0,
                                     "registrations": 0, "attended": 0, "last": None})  # fmt: skip

    for item in MeetingRequest.objects.values("agency_id", "agency_name").annotate(
        n=Count("pk"), last=Max("created_at")
    ):
        entry = row(item["agency_id"], item["agency_name"])
        entry["meeting_requests"] += item["n"]
        entry["last"] = max(filter(None, [entry["last"], item["last"]]), default=None)
    for item in (
        Registration.objects.exclude(status=RegistrationStatus.CANCELLED)
        .values("agency_id", "agency_name")
        .annotate(
            n=Count("pk"),
            came=Count("pk", filter=Q(attended=True)),
            last=Max("session__starts_at"),
        )
    ):
        entry = row(item["agency_id"], item["agency_name"])
        entry["registrations"] += item["n"]
        entry["attended"] += item["came"]
        entry["last"] = max(filter(None, [entry["last"], item["last"]]), default=None)
    agencies = Agency.objects.in_bulk([r["agency_id"] for r in rows.values() if r["agency_id"]])
    result = [
        AgencyEngagement(
            key=key,
            name=agencies[r["agency_id"]].name if r["agency_id"] else r["name"],
            agency=agencies.get(r["agency_id"]) if r["agency_id"] else None,
            meeting_requests=r["meeting_requests"],
            registrations=r["registrations"],
            attended=r["attended"],
            last=r["last"],
        )
        for key, r in rows.items()
    ]
    return sorted(result, key=lambda r: (r.name.casefold(), r.key))


def agency_history(key: str) -> tuple[str, QuerySet[MeetingRequest], QuerySet[Registration]]:
    """The name, meeting requests and registrations behind one row of engagement_by_agency."""
    if key.startswith(NAME_KEY):
        # People without an account: grouped by the agency name they typed.
        requests = MeetingRequest.objects.filter(
            pk__in=[m.pk for m in MeetingRequest.objects.filter(agency__isnull=True).only(
                "pk", "agency_name") if _name_key(m.agency_name) == key]
        )  # fmt: skip
        registrations = Registration.objects.filter(
            pk__in=[r.pk for r in Registration.objects.filter(agency__isnull=True).only(
                "pk", "agency_name") if _name_key(r.agency_name) == key]
        )  # fmt: skip
        first = requests.first() or registrations.first()
        name = first.agency_name if first is not None else ""
    else:
        try:
            agency = Agency.objects.get(pk=UUID(key))
        except (ValueError, Agency.DoesNotExist):
            return "", MeetingRequest.objects.none(), Registration.objects.none()
        name = agency.name
        requests = MeetingRequest.objects.filter(agency=agency)
        registrations = Registration.objects.filter(agency=agency)
    return (
        name,
        requests.select_related("session"),
        registrations.exclude(status=RegistrationStatus.CANCELLED)
        .select_related("session")
        .order_by("-session__starts_at"),
    )


def member_agency(user: User, agency_id: UUID | None) -> Agency | None:
    """One of the user's agencies, by id; None when not given or not theirs."""
    if agency_id is None:
        return None
    return Agency.objects.filter(
        pk__in=Membership.objects.filter(user=user).values("agency"), pk=agency_id
    ).first()
