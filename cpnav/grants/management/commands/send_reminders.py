from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from cpnav.core.jobs import Busy, exclusive, report_busy
from cpnav.engagement import reminders as session_reminders
from cpnav.grants.reminders import send_due


class Command(BaseCommand):
    help = (
        "Send the reminders that are due (email and in-app): grant deadlines, and engagement "
        "sessions 1 day and 1 hour before they start. Safe to run every few minutes and on "
        "several servers at once: one run goes on, the others stop at once, and each "
        "reminder goes out once."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            with exclusive("send-reminders"):
                self._send()
        except Busy as busy:
            report_busy(self, busy)

    def _send(self) -> None:
        report = send_due()
        self.stdout.write(
            f"reminders sent: {report.sent}, already sent: {report.skipped}, "
            f"failed (will retry): {report.failed}"
        )
        sessions = session_reminders.send_due()
        self.stdout.write(
            f"session reminders sent: {sessions.sent}, already sent: {sessions.skipped}, "
            f"failed (will retry): {sessions.failed}"
        )
