from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import IO, Any
from uuid import UUID

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import translation

from cpnav.accounts import access
from cpnav.accounts.models import Agency, User
from cpnav.core.tabular import csv_lines, xlsx_file
from cpnav.exports import services


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"not a date (YYYY-MM-DD): {text!r}", returncode=2) from None


@contextmanager
def _private(path: str, mode: str) -> Iterator[IO[Any]]:
    """Open for writing, readable by the owner only when created: the file may hold victim data."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError as error:
        raise CommandError(f"cannot write {path}: {error.strerror}", returncode=2) from None
    if "b" in mode:
        handle: IO[Any] = os.fdopen(fd, mode)
    else:
        handle = os.fdopen(fd, mode, encoding="utf-8", newline="")
    with handle:
        yield handle


class Command(BaseCommand):
    help = (
        "Export a dataset the user may see as CSV or XLSX, streamed to a file or stdout, "
        "audited like an export from the web pages. Datasets: "
        + ", ".join(services.DATASETS)
        + ". Identifying fields only with --include-identifying, for case team members and "
        "supervisors, and only in rows of their cases. Exit code 2 on bad input."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("dataset", choices=list(services.DATASETS))
        parser.add_argument("--user", required=True, help="email of the account exporting")
        parser.add_argument("--format", choices=services.FORMATS, default="csv")
        parser.add_argument("--out", help="file to write (default: stdout)")
        parser.add_argument("--agency", help="id of one of the user's agencies")
        parser.add_argument("--status", default="", help="status code to keep")
        parser.add_argument(
            "--dates", choices=["created", "updated", "due"], default="",
            help="which date --from/--to apply to (default: the dataset's first)",
        )  # fmt: skip
        parser.add_argument("--from", dest="date_from", help="YYYY-MM-DD, inclusive")
        parser.add_argument("--to", dest="date_to", help="YYYY-MM-DD, inclusive")
        parser.add_argument("--include-identifying", action="store_true")
        parser.add_argument(
            "--language", choices=[code for code, _name in settings.LANGUAGES],
            default=settings.LANGUAGE_CODE, help="language of the headers and labels",
        )  # fmt: skip

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(email__iexact=options["user"], is_active=True).first()
        if user is None:
            raise CommandError(f"no active account with email {options['user']!r}", returncode=2)
        filters = services.Filters(
            agency=self._agency(user, options["agency"]),
            date_field=options["dates"],
            date_from=_day(options["date_from"]) if options["date_from"] else None,
            date_to=_day(options["date_to"]) if options["date_to"] else None,
            status=options["status"],
        )
        binary = (
            self._binary_stdout() if options["format"] == "xlsx" and not options["out"] else None
        )
        with translation.override(options["language"]):
            try:
                job = services.start(
                    user, options["dataset"], options["format"], filters,
                    identifying=options["include_identifying"],
                )  # fmt: skip
            except services.ExportError as error:
                raise CommandError(str(error), returncode=2) from None
            if job.fmt == "xlsx":
                self._xlsx(job, options["out"], binary)
            else:
                self._csv(job, options["out"])
        self.stderr.write(f"exported {job.count} rows ({job.dataset.name}, {job.fmt})")

    def _agency(self, user: User, given: str | None) -> Agency | None:
        if not given:
            return None
        mine = access.user_agencies(user).order_by("name")
        try:
            found = mine.filter(pk=UUID(given)).first()
        except ValueError:
            found = None
        if found is None:
            listed = "; ".join(f"{a.pk} {a.name}" for a in mine) or "none"
            raise CommandError(
                f"--agency must be one of the user's agencies: {listed}", returncode=2
            )
        return found

    def _csv(self, job: services.Export, out: str | None) -> None:
        lines = csv_lines(job.header(), job.rows())
        if out is None:
            for line in lines:
                self.stdout.write(line, ending="")
            self.stdout.flush()
            return
        with _private(out, "w") as handle:
            for line in lines:
                handle.write(line)

    def _binary_stdout(self) -> IO[bytes]:
        stream: Any = getattr(self.stdout, "_out", None)
        target: IO[bytes] | None = getattr(stream, "buffer", None)
        if target is None or stream.isatty():
            raise CommandError("XLSX is binary: name a file with --out", returncode=2)
        return target

    def _xlsx(self, job: services.Export, out: str | None, target: IO[bytes] | None) -> None:
        with xlsx_file(job.header(), job.rows(), job.filename) as workbook:
            if target is not None:
                shutil.copyfileobj(workbook, target)
                target.flush()
                return
            assert out is not None
            with _private(out, "wb") as handle:
                shutil.copyfileobj(workbook, handle)
