from __future__ import annotations

import sys
import time
from argparse import ArgumentTypeError
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS

from cpnav.core import crypto
from cpnav.core.jobs import Busy, exclusive, report_busy
from cpnav.core.keys import NOT_A_TOKEN, VARIABLE, RotationError, Tally, rotate, status


def _batch(text: str) -> int:
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        raise ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= value <= 10_000:
        raise ArgumentTypeError("must be between 1 and 10000")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 <= value <= 60:
        raise ArgumentTypeError("must be between 0 and 60")
    return value


class Command(BaseCommand):
    help = (
        "Field-encryption keys: `rotate` re-encrypts every encrypted value under the newest key "
        f"in {VARIABLE} (resumable, audited); `status` counts the values under each key id."
    )
    # `status` must work when the start-up check fails: it shows which keys the data needs.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["rotate", "status"])
        parser.add_argument(
            "--batch", type=_batch, default=500, help="rows per transaction (rotate)"
        )
        parser.add_argument(
            "--pause",
            type=_seconds,
            default=0.0,
            help="seconds to wait between batches, to spare a busy database (rotate)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "status":
            self._status()
        else:
            # The system checks (with the stored-key check) first: a key the data
            # needs but the list lacks is named before anything is written.
            # call_command() skips them unless asked, as for any command.
            if not options.get("skip_checks"):
                self.check(databases=[DEFAULT_DB_ALIAS])
            # One rotation at a time across servers: two would re-encrypt the same
            # rows and each report the other's changes as "changed while rotated".
            try:
                with exclusive("keys-rotate"):
                    self._rotate(options["batch"], options["pause"], options["verbosity"])
            except Busy as busy:
                report_busy(self, busy)

    def _rotate(self, batch: int, pause: float, verbosity: int) -> None:
        configured = crypto.key_ids()
        self.stdout.write(
            f"Re-encrypting under key {configured[0]!r} ({VARIABLE}: {', '.join(configured)}), "
            f"{batch} rows per batch."
        )
        self.stdout.flush()
        last = 0.0

        def progress(tally: Tally) -> None:
            nonlocal last
            now = time.monotonic()
            if verbosity >= 2 or now - last >= 1.0:
                last = now
                self.stdout.write(tally.line())
                self.stdout.flush()

        try:
            tallies = rotate(batch=batch, pause=pause, progress=progress)
        except RotationError as exc:
            raise CommandError(f"rotation stopped: {exc}") from None
        self.stdout.write("Done:")
        for tally in tallies:
            self.stdout.write(f"  {tally.line()}")
        rows = sum(t.reencrypted for t in tallies)
        values = sum(t.values for t in tallies)
        current = sum(t.current for t in tallies)
        changed = sum(t.changed for t in tallies)
        self.stdout.write(
            f"Re-encrypted {values:,} values in {rows:,} rows; {current:,} rows were already "
            f"under {configured[0]!r}. `cpnav keys status` shows what each key still holds."
        )
        if changed:
            self.stderr.write(
                f"{changed:,} rows changed while being rotated and were left as they are: run "
                "`cpnav keys rotate` again."
            )
            sys.exit(1)

    def _status(self) -> None:
        configured = crypto.key_ids()
        self.stdout.write(f"{VARIABLE}, newest first: {', '.join(configured)}")
        fields = status()
        width = max((len(f.context) for f in fields), default=0)
        totals: dict[str, int] = dict.fromkeys(configured, 0)
        for f in fields:
            counts = "  ".join(f"{key} {n:,}" for key, n in sorted(f.counts.items())) or "-"
            self.stdout.write(f"{f.context:<{width}}  {counts}")
            for key, n in f.counts.items():
                totals[key] = totals.get(key, 0) + n
        trouble = False
        for key, n in totals.items():
            if key == NOT_A_TOKEN:
                trouble = True
                self.stdout.write(f"{n:,} values are not encryption tokens: they cannot be read.")
            elif key not in configured:
                trouble = True
                self.stdout.write(
                    f"Key {key!r} is not in {VARIABLE} but holds {n:,} values: add it back."
                )
            elif key == configured[0]:
                self.stdout.write(f"Key {key!r} (newest, encrypts): {n:,} values.")
            elif n:
                self.stdout.write(
                    f"Key {key!r}: {n:,} values still need it; run `cpnav keys rotate` "
                    "before removing it."
                )
            else:
                self.stdout.write(
                    f"Key {key!r}: no values; it can be removed from {VARIABLE} once every "
                    "server runs with the newest key first."
                )
        if trouble:
            sys.exit(1)
