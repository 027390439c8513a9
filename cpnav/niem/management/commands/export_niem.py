from __future__ import annotations

import sys
from typing import Any
from uuid import UUID

from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.http import Http404

from cpnav.accounts import access
from cpnav.grants.services import get_grant
from cpnav.niem import services
from cpnav.niem.cli import account, as_request, write_private


class Command(BaseCommand):
    help = (
        "Export one CP request or grant as a NIEM 6.0 document (XML or JSON-LD), audited like "
        "a download from the request page. Only records the user may see; identifying fields "
        "only with --include-identifying, for the case team and the agency's supervisors. "
        "Exit code 2 on bad input, 3 when the record is not the user's to see or export."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("record", choices=["request", "grant"])
        parser.add_argument("id", help="the request's or grant's id (UUID)")
        parser.add_argument("--user", required=True, help="email of the account exporting")
        parser.add_argument("--format", choices=list(services.FORMATS), default="xml")
        parser.add_argument("--out", help="file to write (default: stdout)")
        parser.add_argument("--include-identifying", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        user = account(options["user"])
        try:
            record_id = UUID(options["id"])
        except ValueError:
            raise CommandError(f"not an id: {options['id']!r}", returncode=2) from None
        http = as_request(user, f"cli:export-niem/{options['record']}/{record_id}")
        identifying = options["include_identifying"]
        try:
            if options["record"] == "request":
                cp = access.get_cp_request(http, record_id)
                made = services.export_request(
                    http, user, cp, options["format"], identifying=identifying
                )
            else:
                grant = get_grant(http, record_id)
                made = services.export_grant(
                    http, user, grant, options["format"], identifying=identifying
                )
        except Http404:
            raise CommandError(
                f"no {options['record']} {record_id} that you may see", returncode=3
            ) from None
        except PermissionDenied:
            raise CommandError(
                "only the case team and the agency's supervisors may export identifying fields",
                returncode=3,
            ) from None
        if options["out"]:
            write_private(options["out"], made.content)
        else:
            sys.stdout.buffer.write(made.content)
            sys.stdout.flush()
        self.stderr.write(f"exported {made.filename}")
