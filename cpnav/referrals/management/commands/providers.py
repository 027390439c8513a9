from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from cpnav.referrals import importer
from cpnav.referrals.services import import_providers

TEMPLATE = Path(__file__).resolve().parents[2] / "providers-template.csv"


class Command(BaseCommand):
    help = (
        "Services directory: `import FILE.csv [--dry-run]` adds or updates local providers "
        "(all rows or none; exit code 2 on bad input); `template` prints the header row."
    )

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.formatter_class = argparse.RawDescriptionHelpFormatter
        parser.epilog = f"{importer.help_text()}\n\nTemplate: {TEMPLATE}\n"
        return parser

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["import", "template"])
        parser.add_argument("file", nargs="?", help="import: the CSV file")
        parser.add_argument(
            "--dry-run", action="store_true", help="check every row and report; write nothing"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "template":
            self.stdout.write(",".join(importer.COLUMNS))
            return
        if not options["file"]:
            self.stderr.write("name the CSV file: cpnav providers import FILE.csv")
            sys.exit(2)
        path = Path(options["file"])
        try:
            data = path.read_bytes()
        except OSError as error:
            self.stderr.write(f"cannot read {path}: {error.strerror}")
            sys.exit(2)
        report = import_providers(
            data,
            source=f"CSV import of {path.name} on {date.today().isoformat()}",
            agency=None,
            dry_run=options["dry_run"],
            actor_label="cpnav providers import",
        )
        if not report.ok:
            for problem in report.problems:
                self.stderr.write(f"{path.name}: {problem}")
            count = len(report.problems)
            self.stderr.write(
                f"{count} problem{'s' if count != 1 else ''}; nothing was imported. "
                "Fix the file and run the import again."
            )
            sys.exit(2)
        if report.dry_run:
            self.stdout.write(
                f"dry run: every row is valid; would add {report.created} and update "
                f"{report.updated} providers. Nothing was written."
            )
        else:
            self.stdout.write(f"imported: {report.created} added, {report.updated} updated")
