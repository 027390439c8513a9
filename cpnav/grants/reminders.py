"""Reminders and calendars: deadlines leave the system, so they carry no names.

`send_due(now)` is what `cpnav send-reminders` runs every few minutes. Each
(reminder key, person) is claimed by inserting a ReminderSent row in the same
transaction that sends the message: a run killed before the commit sends it
again next time, a committed one is never sent twice, and two servers running
at once cannot both claim it (the row is unique).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import DatabaseError, IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar, Event

from cpnav.accounts import access
from cpnav.accounts.models import User
from cpnav.cases.models import Notification, Person
from cpnav.core.crypto import secret_digest
from cpnav.grants.deadlines import Deadline, compute, due_reminders, reminder_key
from cpnav.grants.models import CalendarFeed, Grant, ReminderSent
from cpnav.grants.services import INPUT_BATCH, Row, deadlines, grant_inputs, visible_grants

log = logging.getLogger("cpnav.reminders")


@dataclass
class RunReport:
    sent: int = 0
    skipped: int = 0
    failed: int = 0


def _team(grant: Grant) -> list[User]:
    return list(User.objects.filter(team_cases=grant.person.case, is_active=True))


def _days_left(deadline: Deadline, now: datetime) -> int:
    return (deadline.due.date() - now.astimezone(deadline.due.tzinfo).date()).days


def send_due(now: datetime | None = None) -> RunReport:
    moment = now or timezone.now()
    report = RunReport()
    grant_ids = list(Grant.objects.order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(grant_ids), INPUT_BATCH):
        batch = Grant.objects.filter(pk__in=grant_ids[start : start + INPUT_BATCH])
        inputs = dict(grant_inputs(batch))  # a few queries for the whole batch
        for grant in batch.select_related("person", "person__case", "person__case__agency"):
            deadlines = compute(inputs[grant.pk], now=moment)
            due: dict[Deadline, list[int]] = {}
            for deadline, offset in due_reminders(deadlines, settings.REMINDER_OFFSETS, now=moment):
                due.setdefault(deadline, []).append(offset)
            for deadline, offsets in due.items():
                keys = [reminder_key(deadline, offset) for offset in offsets]
                for user in _team(grant):
                    _send_one(grant, deadline, keys, user, moment, report)
    return report


def _send_one(
    grant: Grant, deadline: Deadline, keys: list[str], user: User, now: datetime, report: RunReport
) -> None:
    done = set(ReminderSent.objects.filter(user=user, key__in=keys).values_list("key", flat=True))
    fresh = [key for key in keys if key not in done]
    if not fresh:
        report.skipped += 1
        return
    path = reverse("grants:grant", args=[grant.pk])
    link = f"{settings.BASE_URL}{path}"  # email needs the full address; the app a path
    context = {"deadline": deadline, "link": link, "days_left": _days_left(deadline, now)}
    subject = f"CP Navigator: {deadline.reference} - {deadline.title}"
    try:
        with transaction.atomic():
            ReminderSent.objects.bulk_create(
                ReminderSent(key=key, user=user, grant=grant) for key in fresh
            )
            Notification.objects.create(
                user=user, message=f"{deadline.reference}: {deadline.title}"[:300], link=path
            )
            message = EmailMultiAlternatives(
                subject, render_to_string("grants/email/reminder.txt", context), None, [user.email]
            )
            message.attach_alternative(
                render_to_string("grants/email/reminder.html", context), "text/html"
            )
            message.send()
    except IntegrityError:
        # Another run (another server) claimed it first.
        report.skipped += 1
        return
    except DatabaseError:
        # Rolled back, so unclaimed: the next run sends it. One refused write must not
        # stop everyone else's reminders in this run.
        log.exception("reminder %s to user %s not recorded; it will be retried", fresh[0], user.pk)
        report.failed += 1
        return
    except OSError:
        log.warning("reminder %s to user %s not sent; it will be retried", fresh[0], user.pk)
        report.failed += 1
        return
    report.sent += 1


# --- Calendars -------------------------------------------------------------


def new_feed(user: User) -> str:
    """Make (or replace, revoking the old address) the user's private feed; returns the token."""
    token = secrets.token_urlsafe(32)
    CalendarFeed.objects.update_or_create(user=user, defaults={"token_hash": secret_digest(token)})
    return token


def feed_user(token: str) -> User | None:
    feed = (
        CalendarFeed.objects.select_related("user").filter(token_hash=secret_digest(token)).first()
    )
    if feed is None or not feed.user.is_active:
        return None
    return feed.user


def _uid(deadline: Deadline) -> str:
    base = reminder_key(deadline, 0).rsplit("|", 1)[0]
    return hashlib.sha256(base.encode()).hexdigest()[:32] + "@cpnav"


def _event(row: Row) -> Event:
    deadline = row.deadline
    event = Event()
    event.add("uid", _uid(deadline))
    event.add("summary", f"{deadline.reference}: {deadline.title}")
    event.add("description", f"{deadline.source}\n{settings.BASE_URL}{row.link} (sign-in required)")
    event.add("dtstamp", datetime.now(UTC))
    if deadline.all_day:
        event.add("dtstart", deadline.due.date())
        event.add("dtend", deadline.due.date() + timedelta(days=1))
    else:
        event.add("dtstart", deadline.due)
        event.add("dtend", deadline.due + timedelta(minutes=30))
    return event


def calendar(rows: list[Row], name: str) -> bytes:
    cal = Calendar()
    cal.add("prodid", "-//CP Navigator//Deadlines//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", name)
    for row in rows:
        if row.deadline.status != "done":
            cal.add_component(_event(row))
    return bytes(cal.to_ical())


def user_calendar(user: User, now: datetime | None = None) -> bytes:
    """The deadlines of the user's own case teams: grants, and people not yet granted."""
    grants = visible_grants(user).filter(person__case__members__user=user).distinct()
    people = Person.objects.filter(
        case__in=access.visible_cases(user), case__members__user=user
    ).distinct()
    return calendar(deadlines(grants, people, now=now), "CP Navigator deadlines")
