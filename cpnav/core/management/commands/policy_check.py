from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cpnav.policy import FactsError, NoRuleSetError, determine, parse_facts


class Command(BaseCommand):
    help = (
        "Print the CP determination for a facts file (JSON; '-' reads standard input). "
        "Run as `cpnav check FILE.json`. Invalid input exits 2, naming every bad field."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="facts as JSON, or - for standard input")

    def handle(self, *args: Any, **options: Any) -> None:
        source = options["file"]
        try:
            text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise CommandError(f"{source}: cannot read: {error}", returncode=2) from error
        try:
            determination = determine(parse_facts(text))
        except FactsError as error:
            lines = [f"{path}: {message}" for path, message in error.errors]
            raise CommandError("invalid facts:\n  " + "\n  ".join(lines), returncode=2) from error
        except NoRuleSetError as error:
            raise CommandError(f"$.as_of: {error}", returncode=2) from error
        self.stdout.write(json.dumps(determination.to_json(), indent=2, ensure_ascii=False))
