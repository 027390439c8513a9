"""Fill a database with synthetic, reproducible data for benchmarks.

Every name is invented (cpnav.synth.plan); identifying fields are encrypted
and indexed by the model's own code paths, and the audit events continue the
hash chain so ``cpnav audit verify`` still passes. Never in production.
"""

from __future__ import annotations

import sys
import time
from argparse import ArgumentParser, ArgumentTypeError
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from cpnav.cases.models import Case
from cpnav.synth.write import ChainMoved, Options, run


def _count(minimum: int) -> Any:
    def parse(text: str) -> int:
        try:
            value = int(text.replace("_", ""))
        except ValueError:
            raise ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise ArgumentTypeError(f"must be at least {minimum}")
        return value

    return parse


class Command(BaseCommand):
    help = "Fill the database with synthetic benchmark data (agencies, cases, audit events)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--agencies", type=_count(2), default=18_000)
        parser.add_argument("--cases", type=_count(0), default=1_000_000)
        parser.add_argument("--audit-events", type=_count(0), default=10_000_000)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--batch", type=_count(1), default=5000, help="rows per transaction")
        parser.add_argument(
            "--force", action="store_true", help="add to a database that already has cases"
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bars")

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION:
            self.stderr.write("refused: synthetic data is never loaded in production")
            sys.exit(2)
        if Case.objects.exists() and not options["force"]:
            raise CommandError(
                "refused: the database already has cases; use --force to add synthetic data",
                returncode=2,
            )
        opts = Options(
            agencies=options["agencies"], cases=options["cases"],
            audit_events=options["audit_events"], seed=options["seed"], batch=options["batch"],
            progress=not options["no_progress"],
        )  # fmt: skip
        began = time.perf_counter()
        now = timezone.now().replace(microsecond=0)
        try:
            stats = run(opts, now, stderr=sys.stderr)
        except ChainMoved as error:
            raise CommandError(str(error)) from error
        elapsed = time.perf_counter() - began
        self.stdout.write(f"synthetic data written in {elapsed:.1f} s (seed {opts.seed}):")
        for line in stats.lines():
            self.stdout.write(f"  {line}")
