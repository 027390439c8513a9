"""Session reminders, 1 day and 1 hour before, sent by `cpnav send-reminders`.

Each (registration, reminder, start time) is claimed by inserting a SessionReminder row in
the transaction that sends it: a rerun skips what was sent, a run killed before
its commit sends it again, and two servers cannot both claim it.
"""

from __future__ import annotations

import logging
import smtplib
from datetime import datetime, timedelta
from typing import Final

from django.core.mail import send_mail
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cpnav.engagement.models import Registration, RegistrationStatus, SessionReminder, SessionStatus
from cpnav.engagement.services import when_text
from cpnav.grants.reminders import RunReport

log = logging.getLogger("cpnav.reminders")

# Key, how long before the start it goes out. The nearer one wins when both are due.
OFFSETS: Final = (("1h", timedelta(hours=1)), ("1d", timedelta(days=1)))


def send_due(now: datetime | None = None) -> RunReport:
    moment = now or timezone.now()
    report = RunReport()
    longest = max(offset for _key, offset in OFFSETS)
    due = Registration.objects.filter(
        status=RegistrationStatus.REGISTERED,
        session__status=SessionStatus.SCHEDULED,
        session__starts_at__gt=moment,
        session__starts_at__lte=moment + longest,
    ).select_related("session")
    for registration in due:
        starts = registration.session.starts_at
        left = starts - moment
        # The start is part of the key: a session moved later gets its reminders again.
        keys = [f"{key}|{starts:%Y%m%dT%H%MZ}" for key, offset in OFFSETS if left <= offset]
        done = set(registration.reminders.values_list("key", flat=True))
        if keys[0] in done:
            report.skipped += 1
            continue
        _send_one(registration, [k for k in keys if k not in done], report)
    return report


def _send_one(registration: Registration, keys: list[str], report: RunReport) -> None:
    session = registration.session
    soon = keys[0].startswith("1h|")
    subject = (
        _("starts within the hour: %(title)s") if soon else _("starts within a day: %(title)s")
    ) % {"title": session.title}
    body = "\n".join(
        [
            _("A reminder: you are registered for this session."),
            "",
            session.title,
            when_text(session),
            "",
            _("Join: %(link)s") % {"link": session.meeting_link},
        ]
    )
    try:
        with transaction.atomic():
            SessionReminder.objects.bulk_create(
                SessionReminder(registration=registration, key=key) for key in keys
            )
            send_mail(f"CP Navigator: {subject}", body + "\n", None, [registration.email])
    except IntegrityError:
        report.skipped += 1  # another run claimed it first
        return
    except DatabaseError:
        # Rolled back, so unclaimed: the next run sends it; the others in this run go on.
        log.exception("session reminder %s for registration %s not recorded; will retry",
                      keys[0], registration.pk)  # fmt: skip
        report.failed += 1
        return
    except (smtplib.SMTPException, OSError):
        log.warning("session reminder %s for registration %s not sent; will retry", keys[0],
                    registration.pk)  # fmt: skip
        report.failed += 1
        return
    report.sent += 1
