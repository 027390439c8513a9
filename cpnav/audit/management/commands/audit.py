from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from cpnav.audit.services import purge_expired, verify_chain


class Command(BaseCommand):
    help = "Audit trail tools: `verify` walks the hash chain; `purge` applies retention."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["verify", "purge"])

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "purge":
            removed = purge_expired()
            self.stdout.write(f"removed {removed} events older than the retention period")
            return
        result = verify_chain()
        if result.ok:
            self.stdout.write(result.message)
            return
        self.stderr.write(
            f"AUDIT CHAIN BROKEN: {result.message} ({result.checked} verified before it)"
        )
        sys.exit(1)
