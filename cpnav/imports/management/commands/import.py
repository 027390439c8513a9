"""`cpnav import FILE --agency ID_OR_ORI --user EMAIL`: cases, people and grants from CSV or XLSX.

Every row is checked first; any problem prints the row-by-row report, writes
nothing and exits with code 2. Progress bars go to stderr.
"""

from __future__ import annotations

import argparse
import sys
import uuid
from pathlib import Path
from typing import Any, TextIO

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from cpnav.accounts.models import Agency, User
from cpnav.core.jobs import Busy, exclusive, report_busy
from cpnav.imports import checks, jobs, services
from cpnav.imports import fields as F

EXIT_BAD_INPUT = 2


class Command(BaseCommand):
    help = (
        "Import cases, people and grants from a CSV or XLSX file: every row is checked, then "
        "all rows are written in one transaction, or none (exit code 2 and a row-by-row report). "
        "`--template` prints a template file."
    )

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.formatter_class = argparse.RawDescriptionHelpFormatter
        parser.epilog = (
            f"{F.help_text()}\n\nExamples:\n"
            "  cpnav import --template > cases-template.csv\n"
            "  cpnav import cases.xlsx --agency OH0000000 --user det@example.gov --dry-run\n"
            '  cpnav import cases.csv --agency OH0000000 --user det@example.gov --map "full_name=Victim"\n'
        )
        return parser

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", nargs="?", help="the CSV or XLSX file")
        parser.add_argument("--agency", help="the agency's id or ORI; cases are created there")
        parser.add_argument(
            "--user", help="email of an investigator at the agency: the lead of every new case"
        )
        parser.add_argument(
            "--map",
            action="append",
            default=[],
            metavar="FIELD=COLUMN",
            help="which column holds a field (repeatable); FIELD= leaves it out. Other fields "
            "are matched by the column names.",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="check every row and report; write nothing"
        )
        parser.add_argument(
            "--template", action="store_true", help="print the template CSV file and stop"
        )
        parser.add_argument(
            "--purge-expired",
            action="store_true",
            help="delete files uploaded on the import page that are past their expiry, and stop",
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bars")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["template"]:
            self.stdout.write(F.template_csv(), ending="")
            return
        if options["purge_expired"]:
            try:  # scheduled on every app server: one purge at a time
                with exclusive("import-purge"):
                    self.stdout.write(f"removed {jobs.purge_expired()} expired uploaded files")
            except Busy as busy:
                report_busy(self, busy)
            return
        if not options["file"] or not options["agency"] or not options["user"]:
            raise CommandError(
                "usage: cpnav import FILE --agency ID_OR_ORI --user EMAIL "
                "(or --template); see --help",
                returncode=EXIT_BAD_INPUT,
            )
        path = Path(options["file"])
        agency = _agency(options["agency"])
        user = User.objects.filter(email__iexact=options["user"], is_active=True).first()
        if user is None:
            raise CommandError(f"no active user {options['user']!r}", returncode=EXIT_BAD_INPUT)
        if not services.may_import(user, agency):
            raise CommandError(
                f"{user.email} may not create cases at {agency.name}: only the agency's "
                "investigators may import",
                returncode=EXIT_BAD_INPUT,
            )
        mapping = _mapping(options["map"])
        try:
            data = path.read_bytes()
        except OSError as error:
            raise CommandError(
                f"cannot read {path}: {error.strerror}", returncode=EXIT_BAD_INPUT
            ) from None
        bars = _Bars(getattr(self.stderr, "_out", sys.stderr), disabled=options["no_progress"])
        try:
            result, counts = services.import_file(
                data, agency, user, mapping, dry_run=options["dry_run"],
                checking=bars.update, writing=bars.update, started=bars.start,
            )  # fmt: skip
        except services.ImportRefused as refused:
            bars.close()
            for problem in refused.problems:
                self.stderr.write(f"{path.name}: {problem}")
            lines = len({p.line for p in refused.problems})
            self.stderr.write(checks.summary(len(refused.problems), lines))
            self.stderr.write("Fix the file (or --map the columns) and run the import again.")
            sys.exit(EXIT_BAD_INPUT)
        bars.close()
        if counts is None:
            self.stdout.write(
                f"dry run: all {result.row_count} rows are valid; the import would create "
                f"{result.case_count} cases, {len(result.rows)} people and "
                f"{result.grant_count} grants. Nothing was written."
            )
        else:
            self.stdout.write(
                f"imported {counts.rows} rows: {counts.cases} cases, {counts.people} people, "
                f"{counts.grants} grants"
            )


def _agency(value: str) -> Agency:
    try:
        found = Agency.objects.filter(pk=uuid.UUID(value)).first()
    except ValueError:
        found = Agency.objects.filter(ori__iexact=value.strip()).first()
    if found is None:
        raise CommandError(f"no agency with id or ORI {value!r}", returncode=EXIT_BAD_INPUT)
    return found


def _mapping(items: list[str]) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for item in items:
        name, sep, column = item.partition("=")
        name = name.strip()
        if not sep or name not in F.BY_NAME:
            raise CommandError(
                f"--map {item!r}: write FIELD=COLUMN with FIELD one of {', '.join(F.NAMES)}",
                returncode=EXIT_BAD_INPUT,
            )
        mapping[name] = column.strip()
    return mapping


class _Bars:
    """One tqdm bar per phase, on stderr."""

    def __init__(self, stream: TextIO, *, disabled: bool) -> None:
        self.stream = stream
        self.disabled = disabled
        self.bar: tqdm[Any] | None = None
        self.done = 0

    def start(self, phase: str, total: int) -> None:
        self.close()
        self.done = 0
        self.bar = tqdm(
            total=total or None, desc=phase, unit="row", file=self.stream,
            disable=self.disabled, mininterval=0.5, dynamic_ncols=True,
        )  # fmt: skip

    def update(self, processed: int) -> None:
        if self.bar is not None:
            self.bar.update(processed - self.done)
            self.done = processed

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
