"""Loading a verified archive into a new, empty instance, all or nothing.

The archive is read twice: verify_archive() checks all of it before anything
is touched; the second read loads it in one transaction, every member checked
again against the verified manifest. Files go to the attachments storage of
this instance, whichever backend it uses (cpnav.core.storage):

- a folder: staged under its tmp/ and moved into place only once every row is in;
- a bucket: each file staged locally alone, checked, then uploaded to its final
  name, so local disk holds one file at a time however large the backup. Objects
  appear before the rows commit; nothing reads them meanwhile (the instance is
  new and empty), and a failed restore deletes every object it uploaded.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from django.core.files.storage import Storage
from django.core.management.color import no_style
from django.db import DatabaseError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.recorder import MigrationRecorder

from cpnav.core import storage
from cpnav.core.backup import tables as tbl
from cpnav.core.backup.archive import (
    ARCHIVE_VERSION,
    COPY_BYTES,
    HEADER_MEMBER,
    MANIFEST_MEMBER,
    Contents,
    Notify,
    Walk,
    actor,
    check_member,
    json_member,
    quiet,
    read_all,
    row_lines,
    verify_archive,
)
from cpnav.core.backup.stream import BackupError


def _check_target_schema(contents: Contents, tables: list[tbl.Table]) -> None:
    here = {t.name: t.describe() for t in tables}
    there = contents.header["tables"]
    if set(here) != set(there):
        extra = sorted(set(there) - set(here))[:3]
        lacking = sorted(set(here) - set(there))[:3]
        raise BackupError(
            "the archive's tables differ from this version's models "
            f"(only in the archive: {extra}; only here: {lacking})"
        )
    for name, described in here.items():
        if described != there[name]:
            raise BackupError(f"the archive's {name} has other columns than this version's")


def prepare_target(contents: Contents, notify: Notify = quiet) -> None:
    """Bring an unmigrated target to the archive's migrations; refuse any other state."""
    executor = MigrationExecutor(connection)
    graph = executor.loader.graph
    wanted = contents.migrations
    unknown = sorted(m for m in wanted if m not in graph.nodes)
    if unknown:
        app, name = unknown[0]
        raise BackupError(
            f"the archive was made by a newer CP Navigator: migration {app}.{name} is unknown "
            f"here ({len(unknown)} unknown). Restore with version "
            f"{contents.header.get('cpnav_version', '?')} or later."
        )
    recorder = MigrationRecorder(connection)
    applied = set(recorder.applied_migrations()) if recorder.has_table() else set()
    if not applied:
        other = [n for n in connection.introspection.table_names() if n != "sqlite_sequence"]
        if other:
            raise BackupError(
                f"the target database has tables ({', '.join(sorted(other)[:3])}...) but no "
                "migration record; restore into an empty database"
            )
        # The leaves of what the archive applied, per app: migrating to them applies
        # exactly the archive's set (their dependencies are in it too).
        targets = [
            (app, name)
            for app, name in sorted(wanted)
            if not any(child in wanted for child in graph.node_map[(app, name)].children)
        ]
        notify(f"migrating the empty target to the archive's {len(wanted)} migrations")
        executor.migrate(targets)
        applied = set(MigrationRecorder(connection).applied_migrations())
    if applied != wanted:
        here_only = sorted(applied - wanted)[:3]
        archive_only = sorted(wanted - applied)[:3]
        raise BackupError(
            "the target database is at another migration state than the archive "
            f"(applied here only: {here_only}; in the archive only: {archive_only}). "
            "Restore into a new, empty database: restore migrates it itself."
        )


def _check_no_files(backend: Storage) -> None:
    try:
        empty = storage.is_empty(backend)
    except storage.REMOTE_ERRORS as error:
        raise BackupError(f"reading {storage.describe(backend)} failed: {error}") from None
    if not empty:
        raise BackupError(
            f"the target is not empty: {storage.describe(backend)} already holds files. "
            "Restore only into a new instance; nothing was changed."
        )


def _check_empty(tables: list[tbl.Table]) -> None:
    replaceable = tbl.SEEDED | tbl.TRANSIENT
    full = [
        t.name for t in tables if t.label not in replaceable and tbl.has_rows(connection, t.name)
    ]
    if full:
        raise BackupError(
            f"the target is not empty: {', '.join(full[:5])}{' ...' if len(full) > 5 else ''} "
            "already hold rows. Restore only into a new instance (an empty database and an "
            "empty attachments folder); nothing was changed."
        )


@dataclass
class _Staging:
    """Restored files on their way into the attachments storage (see the module's text)."""

    backend: Storage
    directory: Path
    moved: list[Path] = field(default_factory=list)
    uploaded: list[str] = field(default_factory=list)

    @property
    def root(self) -> Path | None:
        return storage.local_root(self.backend)

    def write(self, relative: str, handle: IO[bytes]) -> str:
        target = self.directory / relative
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        digest = hashlib.sha256()
        with target.open("xb") as out:
            while block := handle.read(COPY_BYTES):
                digest.update(block)
                out.write(block)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(target, 0o600)
        return digest.hexdigest()

    def checked(self, relative: str) -> None:
        """The file just written matched the manifest: a bucket gets it now."""
        if self.root is not None:
            return
        staged = self.directory / relative
        try:
            storage.upload(self.backend, relative, staged)
        except storage.REMOTE_ERRORS as error:
            raise BackupError(
                f"uploading to {storage.describe(self.backend)} failed: {error}"
            ) from None
        self.uploaded.append(relative)
        staged.unlink()

    def move_in(self) -> None:
        if self.root is None:
            return
        for entry in sorted(self.directory.iterdir()):
            final = self.root / entry.name
            os.replace(entry, final)
            self.moved.append(final)

    def undo(self) -> None:
        for final in reversed(self.moved):
            if final.is_dir():
                shutil.rmtree(final, ignore_errors=True)
            else:
                final.unlink(missing_ok=True)
        for name in reversed(self.uploaded):
            # Best effort: the restore's own error is the one to report.
            with contextlib.suppress(*storage.REMOTE_ERRORS):
                storage.remove(self.backend, name)


def _load(contents: Contents, walk: Walk, tables: list[tbl.Table], staging: _Staging) -> None:
    by_name = {t.name: t for t in tables}
    listed = contents.manifest["members"]
    inserters: dict[str, tbl.Inserter] = {}
    for member, handle in walk.members():
        if member.name == MANIFEST_MEMBER:
            if json_member(member.name, handle.read()) != contents.manifest:
                raise BackupError("the archive changed since it was verified")
            continue
        if member.name == HEADER_MEMBER:
            sha = read_all(handle)[1]
        elif member.name.startswith("db/"):
            table = by_name.get(member.name.split("/")[1])
            if table is None:
                raise BackupError("the archive changed since it was verified")
            inserter = inserters.setdefault(table.name, tbl.Inserter(connection, table))
            digest = hashlib.sha256()
            batch: list[list[Any]] = []
            for row in row_lines(handle, digest):
                batch.append(row)
                if len(batch) >= tbl.BATCH_ROWS:
                    inserter.write(batch)
                    batch = []
            inserter.write(batch)
            sha = digest.hexdigest()
        elif member.name.startswith("files/"):
            sha = staging.write(member.name.removeprefix("files/"), handle)
        else:
            raise BackupError("the archive changed since it was verified")
        # Read a second time, the archive must still be the one that was verified.
        check_member(listed, member.name, sha, member.size)
        if member.name.startswith("files/"):
            staging.checked(member.name.removeprefix("files/"))
    walk.tar.close()
    for name, expected in contents.rows.items():
        got = inserters[name].rows if name in inserters else 0
        if got != expected:
            raise BackupError(f"{name}: restored {got} rows, the manifest says {expected}")


def _after_rows(contents: Contents, tables: list[tbl.Table]) -> None:
    """Sequences, constraints and the derived guide index, inside the transaction."""
    from cpnav.guide.content import guide
    from cpnav.guide.search import rebuild

    with connection.cursor() as cursor:
        for statement in connection.ops.sequence_reset_sql(no_style(), [t.model for t in tables]):
            cursor.execute(statement)
        for cache_table in tbl.cache_tables():
            if cache_table in connection.introspection.table_names():
                cursor.execute(f"DELETE FROM {connection.ops.quote_name(cache_table)}")  # noqa: S608 (the configured cache table)
    tbl.advance_sequences(connection, tables, dict(contents.header.get("sequences", {})))
    try:
        connection.check_constraints()
    except DatabaseError as error:
        raise BackupError(f"the restored rows break a constraint: {error}") from None
    rebuild(guide())


def restore_archive(path: Path, key: bytes, *, notify: Notify = quiet) -> Contents:
    """Verify ``path``, then load it into this empty instance, all or nothing."""
    from cpnav.audit.services import record

    if connection.in_atomic_block:
        raise BackupError("a restore must run outside any transaction")
    notify("verifying the archive")
    contents = verify_archive(path, key)
    notify(
        f"archive verified: {sum(contents.rows.values())} rows in {len(contents.rows)} tables, "
        f"{contents.manifest['files']} files, made {contents.header['created_at']}"
    )
    tables = tbl.archived_tables()
    _check_target_schema(contents, tables)
    backend = storage.attachment_storage()
    _check_no_files(backend)
    prepare_target(contents, notify)
    _check_empty(tables)
    tmp_dir = storage.staging_dir(backend)
    tmp_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    staging = _Staging(backend, Path(tempfile.mkdtemp(prefix="restore-", dir=tmp_dir)))
    replaceable = [t for t in tables if t.label in tbl.SEEDED | tbl.TRANSIENT]
    try:
        with path.open("rb") as src, transaction.atomic():
            for table in reversed(replaceable):
                tbl.clear(connection, table.name)
            notify("loading rows and files")
            _load(contents, Walk(src, key), tables, staging)
            _after_rows(contents, tables)
            record(
                "backup.restored",
                actor_label=actor("restore"),
                object_type="backup",
                details={
                    "format": ARCHIVE_VERSION,
                    "archive_created_at": contents.header["created_at"],
                    "archive_database": contents.header["database"],
                    "archive_cpnav_version": contents.header.get("cpnav_version", ""),
                    "rows": sum(contents.rows.values()),
                    "tables": contents.rows,
                    "files": contents.manifest["files"],
                },
            )
            staging.move_in()
    except BaseException:
        staging.undo()
        raise
    finally:
        shutil.rmtree(staging.directory, ignore_errors=True)
    return contents
