from __future__ import annotations

import json
from datetime import date
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from cpnav.policy import NoRuleSetError, extension_term, term_for


def _date(option: str, value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(
            f"{option}: expected a date as YYYY-MM-DD, got {value!r}", returncode=2
        ) from None


class Command(BaseCommand):
    help = "Print a CP term as JSON: `cpnav term --granted YYYY-MM-DD` (or --extend-from END)."

    def add_arguments(self, parser: CommandParser) -> None:
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--granted", help="start date of the grant (YYYY-MM-DD)")
        group.add_argument("--extend-from", help="end date of the current term (YYYY-MM-DD)")
        parser.add_argument(
            "--lead-days",
            type=int,
            default=settings.EXTENSION_LEAD_DAYS,
            help="days before the end to request an extension (agency practice)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["lead_days"] < 0:
            raise CommandError("--lead-days: must be 0 or more", returncode=2)
        try:
            if options["granted"]:
                term = term_for(
                    _date("--granted", options["granted"]), lead_days=options["lead_days"]
                )
            else:
                previous = _date("--extend-from", options["extend_from"])
                term = extension_term(previous, lead_days=options["lead_days"])
        except NoRuleSetError as error:
            raise CommandError(str(error), returncode=2) from error
        self.stdout.write(json.dumps(term.to_json(), indent=2))
