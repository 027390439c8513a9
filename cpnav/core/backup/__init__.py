"""Encrypted, checksummed backups of the whole instance, and restores into a new one.

stream.py seals the bytes, tables.py reads and writes rows as stored, archive.py
writes and verifies the archive, restore.py loads it; `cpnav backup` and `cpnav restore` call them.
"""

from cpnav.core.backup.archive import (
    Contents,
    Summary,
    backup_key,
    record_backup,
    verify_archive,
    write_backup,
)
from cpnav.core.backup.restore import restore_archive
from cpnav.core.backup.stream import BackupError

__all__ = [
    "BackupError",
    "Contents",
    "Summary",
    "backup_key",
    "record_backup",
    "restore_archive",
    "verify_archive",
    "write_backup",
]
