from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cpnav.audit.services import chain_head, check_heads, purge_expired, verify_chain


class Command(BaseCommand):
    help = (
        "Audit trail tools: `verify` walks the hash chain (and, with --heads FILE, checks "
        "heads exported earlier); `head` prints the chain's head as one JSON line to keep "
        "on another system; `purge` applies retention."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["verify", "head", "purge"])
        parser.add_argument(
            "--heads",
            type=Path,
            help="verify: a file of lines written by `cpnav audit head`; each must still match",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "purge":
            removed = purge_expired()
            self.stdout.write(f"removed {removed} events older than the retention period")
            return
        if options["action"] == "head":
            self.stdout.write(json.dumps(chain_head()))
            return
        heads: list[str] = []
        if options["heads"] is not None:
            try:
                heads = options["heads"].read_text(encoding="utf-8").splitlines()
            except (OSError, UnicodeDecodeError) as error:
                raise CommandError(
                    f"--heads {options['heads']}: cannot be read ({error})"
                ) from None
        result = verify_chain()
        problems = check_heads(heads) if result.ok else []
        if result.ok and not problems:
            kept = f"; {len([h for h in heads if h.strip()])} exported heads match" if heads else ""
            self.stdout.write(result.message + kept)
            return
        if not result.ok:
            self.stderr.write(
                f"AUDIT CHAIN BROKEN: {result.message} ({result.checked} verified before it)"
            )
        for problem in problems:
            self.stderr.write(f"AUDIT CHAIN REWRITTEN: --heads {problem}")
        sys.exit(1)
