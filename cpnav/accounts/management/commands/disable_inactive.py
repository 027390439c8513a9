from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from cpnav.accounts.services import disable_inactive


class Command(BaseCommand):
    help = "Disable accounts unused for CPNAV_INACTIVE_DAYS (default 90). Run it daily."

    def handle(self, *args: Any, **options: Any) -> None:
        disabled = disable_inactive()
        self.stdout.write(
            f"disabled {len(disabled)} account(s) unused for {settings.INACTIVE_ACCOUNT_DAYS} days"
        )
