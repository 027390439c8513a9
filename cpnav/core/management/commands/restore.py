from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cpnav.core.backup import BackupError, backup_key, restore_archive, verify_archive


class Command(BaseCommand):
    help = (
        "Verify a `cpnav backup` archive and restore it into this new, empty instance "
        "(an empty or unmigrated database and an empty attachments folder), all or nothing. "
        "With --check, only verify it."
    )
    # The target may be an empty, unmigrated database; the restore migrates it itself.
    requires_migrations_checks = False

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("archive", help="file written by `cpnav backup`")
        parser.add_argument(
            "--check", action="store_true", help="verify the archive only; change nothing"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["archive"])
        if not path.is_file():
            raise CommandError(f"{path}: no such file", returncode=2)
        try:
            key = backup_key()
            if options["check"]:
                contents = verify_archive(path, key)
            else:
                contents = restore_archive(path, key, notify=self.stdout.write)
        except BackupError as error:
            raise CommandError(f"restore refused: {error}") from None
        rows = sum(contents.rows.values())
        made = f"made {contents.header['created_at']} on {contents.header['database']}"
        if options["check"]:
            self.stdout.write(
                f"archive verified ({made}): {rows} rows in {len(contents.rows)} tables, "
                f"{contents.manifest['files']} files; nothing was changed"
            )
            return
        self.stdout.write(
            f"restored {rows} rows in {len(contents.rows)} tables and "
            f"{contents.manifest['files']} files ({made})"
        )
