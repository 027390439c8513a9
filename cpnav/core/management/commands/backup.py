from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from cpnav.core.backup import BackupError, Summary, backup_key, record_backup, write_backup


class Command(BaseCommand):
    help = (
        "Write an encrypted, checksummed archive of the whole database (one consistent "
        "snapshot) and the attachments, sealed with CPNAV_BACKUP_KEY. Restore it with "
        "`cpnav restore FILE` into a new instance. -v 2 lists the tables."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", required=True, help="archive to write (must not exist)")

    def _note(self, message: str) -> None:
        if self.verbosity >= 2:
            self.stdout.write(message)

    def handle(self, *args: Any, **options: Any) -> None:
        self.verbosity = int(options["verbosity"])
        out = Path(options["out"])
        try:
            key = backup_key()
        except BackupError as error:
            raise CommandError(str(error), returncode=2) from None
        if out.exists():
            raise CommandError(f"{out} already exists; choose a new file name", returncode=2)
        partial = out.with_name(f".{out.name}.partial")
        try:
            # Owner-only from creation: the archive is sealed, but its size and name are not.
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as error:
            raise CommandError(f"cannot write {partial}: {error.strerror}", returncode=2) from None
        try:
            with os.fdopen(fd, "wb") as handle:
                summary = write_backup(handle, key, notify=self._note)
                handle.flush()
                os.fsync(handle.fileno())
            # A link, not a rename: it refuses to replace a file that appeared meanwhile.
            os.link(partial, out)
        except (BackupError, OSError, DatabaseError) as error:
            self._failed(error)
            raise CommandError(f"backup failed, nothing was kept: {error}") from None
        finally:
            partial.unlink(missing_ok=True)
        record_backup(summary, ok=True)
        for table in summary.unknown_tables:
            self.stderr.write(f"warning: table {table} belongs to no model and was not copied")
        if summary.missing_files:
            self.stderr.write(
                f"warning: {len(summary.missing_files)} stored files the database names are "
                f"missing from the attachments folder, e.g. {summary.missing_files[0]}"
            )
        self.stdout.write(
            f"backup written to {out}: {summary.rows} rows in {len(summary.tables)} tables, "
            f"{summary.files} files ({summary.file_bytes} bytes); archive {summary.archive_bytes} "
            f"bytes, SHA-256 {summary.archive_sha256}"
        )

    def _failed(self, error: Exception) -> None:
        # Audited when the database still answers; the original error is what matters.
        with contextlib.suppress(DatabaseError):
            record_backup(Summary(), ok=False, error=type(error).__name__)
