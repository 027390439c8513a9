from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID

from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError, CommandParser

from cpnav.accounts.models import Agency
from cpnav.niem import services
from cpnav.niem.cli import account, as_request
from cpnav.niem.schema import MAX_BYTES, InvalidDocument


class Command(BaseCommand):
    help = (
        "Import a NIEM 6.0 Continued Presence document as a new case, person and draft "
        "request at one of the user's agencies. The document is validated first; if anything "
        "is wrong nothing is written (exit code 1, with every problem). Prints what was taken, "
        "field by field. Exit code 2 on bad input."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="the XML document")
        parser.add_argument("--user", required=True, help="email of the importing investigator")
        parser.add_argument("--agency", help="id of the agency that will own the case (if several)")

    def handle(self, *args: Any, **options: Any) -> None:
        user = account(options["user"])
        agency = self._agency(options["agency"], services.import_agencies(user))
        path = Path(options["file"])
        try:
            if path.stat().st_size > MAX_BYTES:
                raise CommandError("the document is larger than 1 MB", returncode=1)
            data = path.read_bytes()
        except OSError as error:
            raise CommandError(f"cannot read {path}: {error.strerror}", returncode=2) from None
        http = as_request(user, "cli:import-niem")
        try:
            imported = services.import_document(http, user, data, agency)
        except InvalidDocument as refused:
            for problem in refused.problems:
                self.stderr.write(str(problem))
            raise CommandError(
                "the document was refused; nothing was written", returncode=1
            ) from None
        except PermissionDenied:
            raise CommandError("you may not open cases at that agency", returncode=2) from None
        for line in imported.report:
            mark = "taken" if line.taken else "not taken"
            detail = line.value if line.taken else line.note
            self.stdout.write(f"{mark}\t{line.field}\t{detail}")
        self.stderr.write(f"imported as draft request {imported.request.pk}")

    def _agency(self, given: str | None, mine: list[Agency]) -> Agency:
        listed = "; ".join(f"{a.pk} {a.name}" for a in mine) or "none"
        if not given:
            if len(mine) == 1:
                return mine[0]
            raise CommandError(f"choose the agency with --agency: {listed}", returncode=2)
        try:
            wanted = UUID(given)
        except ValueError:
            wanted = None
        for agency in mine:
            if agency.pk == wanted:
                return agency
        raise CommandError(f"--agency must be one where you investigate: {listed}", returncode=2)
