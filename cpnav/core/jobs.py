"""One run at a time of a scheduled command, across every app server.

Each server's scheduler may start `cpnav send-reminders` (or `keys rotate`,
`reports refresh`) at the same minute. ``exclusive(name)`` lets the first run go
on and tells the others, at once, that one is in progress:

* PostgreSQL: a session-level ``pg_try_advisory_lock`` on a connection of its own,
  held for the whole run. The run's own connection may be closed and reopened
  (connection age, errors) without dropping the lock, and a killed process loses
  its connection - and so the lock - at once: nothing to clean up, no stale row.
* SQLite (one machine): ``flock`` on a file under ``CPNAV_VAR_DIR/locks``. The
  kernel drops it when the process ends, however it ends. A lock row in a table
  would need a timeout to recover from a killed run, and a timeout guesses.

The lock is an extra guard, not the guarantee: each job still claims its own
items (ADR 11: a reminder's row is written in the transaction that sends it), so
a run that slipped past a lock could still not send anything twice.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import DEFAULT_DB_ALIAS, connections

from cpnav.audit.models import Outcome
from cpnav.audit.services import record

log = logging.getLogger("cpnav.jobs")


class Busy(Exception):
    """Another run of this job holds its lock."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def lock_key(name: str) -> int:
    """A stable signed 64-bit number for the name (advisory locks are numbered)."""
    digest = hashlib.blake2b(f"cpnav:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@contextmanager
def exclusive(name: str) -> Iterator[None]:
    """Hold the job's lock for the block; raise ``Busy`` at once if another run has it."""
    if connections[DEFAULT_DB_ALIAS].vendor == "postgresql":
        with _advisory(name):
            yield
    else:
        with _flock(name):
            yield


@contextmanager
def _advisory(name: str) -> Iterator[None]:
    own = connections[DEFAULT_DB_ALIAS].copy()  # a session of its own, never pooled
    try:
        with own.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [lock_key(name)])
            row = cursor.fetchone()
        if not (row and row[0]):
            raise Busy(name)
        try:
            yield
        finally:
            with own.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [lock_key(name)])
    finally:
        own.close()  # closing alone would release it too


def lock_path(name: str) -> Path:
    database = str(settings.DATABASES[DEFAULT_DB_ALIAS]["NAME"])
    if "memory" in database:
        database += f"#{os.getpid()}"  # an in-memory database lives in one process only
    tag = hashlib.sha256(database.encode()).hexdigest()[:12]
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)
    return Path(settings.VAR_DIR) / "locks" / f"{safe}-{tag}.lock"


@contextmanager
def _flock(name: str) -> Iterator[None]:
    path = lock_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Busy(name) from None
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def report_busy(command: BaseCommand, busy: Busy) -> None:
    """Say so, log it and audit it: a skipped run is normal on several servers (exit 0)."""
    message = f"cpnav {busy.name}: another run is in progress; this one did nothing."
    command.stdout.write(message)
    log.info("%s", message)
    record(
        "job.skipped",
        actor_label=f"cpnav {busy.name}",
        object_type="job",
        object_id=busy.name,
        outcome=Outcome.FAILURE,
        details={"reason": "another run is in progress"},
    )
