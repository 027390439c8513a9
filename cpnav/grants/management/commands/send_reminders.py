from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from cpnav.grants.reminders import send_due


class Command(BaseCommand):
    help = (
        "Send the reminders that are due (email and in-app). Safe to run every few "
        "minutes and on several servers at once: each reminder goes out once."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        report = send_due()
        self.stdout.write(
            f"reminders sent: {report.sent}, already sent: {report.skipped}, "
            f"failed (will retry): {report.failed}"
        )
