from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from cpnav.policy import rule_sets


class Command(BaseCommand):
    help = "List the CP rule sets with their effective dates (--json for everything)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="full rule sets as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        sets = rule_sets()
        if options["json"]:
            self.stdout.write(json.dumps([s.model_dump(mode="json") for s in sets], indent=2))
            return
        for rule_set in sets:
            until = rule_set.effective_to.isoformat() if rule_set.effective_to else "in force"
            self.stdout.write(
                f"{rule_set.id}: {rule_set.effective_from.isoformat()} to {until}; "
                f"term {rule_set.term_years} year(s), extensions up to "
                f"{rule_set.max_extension_years} year(s)"
            )
