"""The inner archive: writing it from a database snapshot, and verifying it.

Inside the sealed stream (stream.py) is a POSIX tar:

    backup.json             format, when, which version, the migrations applied,
                            every table's columns and value kinds
    db/<table>/<n>.jsonl    the rows, one JSON array per line, in parts of a few MB
    files/<path>            every stored file, from the attachments folder (tmp/
                            excepted) or bucket (cpnav.core.storage), by its name there
    manifest.json           row counts per table, and the SHA-256 and size of every
                            member before it

A restore reads the whole archive twice: first to verify it (authentication,
format, checksums, counts) before anything is touched, then to load it, in one
transaction, with the files staged locally and moved into place (or uploaded
to the bucket) as described in restore.py. An archive does not record which
backend it came from: a folder's backup restores into a bucket and back.
"""

from __future__ import annotations

import getpass
import hashlib
import io
import json
import os
import tarfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import IO, Any, BinaryIO

from django.conf import settings
from django.db import connection
from django.utils import timezone

from cpnav.core import storage
from cpnav.core.backup import tables as tbl
from cpnav.core.backup.stream import BackupError, DecryptingReader, EncryptingWriter, key_id
from cpnav.envconf import local_secret, parse_field_keys

FORMAT = "cpnav-backup"
ARCHIVE_VERSION = 1
HEADER_MEMBER = "backup.json"
MANIFEST_MEMBER = "manifest.json"
PART_BYTES = 4 * 1024 * 1024
COPY_BYTES = 1024 * 1024
# A bucket that stops answering, or an object listed a moment ago that is gone.
_READ_ERRORS: tuple[type[Exception], ...] = (*storage.REMOTE_ERRORS, FileNotFoundError)

Notify = Callable[[str], None]


def quiet(message: str) -> None:
    return None


def backup_key() -> bytes:
    """CPNAV_BACKUP_KEY; locally, a key generated into var/ like the field keys."""
    key: bytes | None = getattr(settings, "BACKUP_KEY", None)
    if key is not None:
        return key
    if settings.PRODUCTION:
        raise BackupError(
            "CPNAV_BACKUP_KEY is not set: production backups need their own key "
            "(base64 of 32 random bytes), kept apart from the field keys"
        )
    encoded = local_secret(Path(settings.VAR_DIR) / "backup_key", make="field_key")
    return parse_field_keys("CPNAV_BACKUP_KEY", "backup:" + encoded.split(":", 1)[1])[0].key


def actor(command: str) -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry for this uid (containers)
        user = f"uid {os.getuid()}"
    return f"cpnav {command} (system user {user})"[:254]


def _version() -> str:
    try:
        return metadata.version("cpnav")
    except metadata.PackageNotFoundError:
        return "unknown"


def _member_name_ok(name: str) -> bool:
    path = PurePosixPath(name)
    return not path.is_absolute() and ".." not in path.parts and "" not in path.parts


# --- writing ----------------------------------------------------------------------


class _Hashing:
    """A readable wrapper that hashes what passes through (tarfile reads the source)."""

    def __init__(self, source: IO[bytes]) -> None:
        self.source = source
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.source.read(size)
        self.digest.update(data)
        return data


@dataclass
class Summary:
    tables: dict[str, int] = field(default_factory=dict)
    files: int = 0
    file_bytes: int = 0
    missing_files: list[str] = field(default_factory=list)
    unknown_tables: list[str] = field(default_factory=list)
    archive_bytes: int = 0
    archive_sha256: str = ""
    created_at: str = ""

    @property
    def rows(self) -> int:
        return sum(self.tables.values())


class _TarOut:
    def __init__(self, writer: EncryptingWriter) -> None:
        self.tar = tarfile.open(fileobj=writer, mode="w|", format=tarfile.PAX_FORMAT)  # type: ignore[call-overload]  # noqa: SIM115 (closed in close())
        self.members: dict[str, dict[str, Any]] = {}
        self.now = int(time.time())

    def _info(self, name: str, size: int) -> tarfile.TarInfo:
        info = tarfile.TarInfo(name)
        info.size = size
        info.mtime = self.now
        info.mode = 0o600
        return info

    def add_bytes(self, name: str, data: bytes) -> None:
        self.tar.addfile(self._info(name, len(data)), io.BytesIO(data))
        self.members[name] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}

    def add_file(self, name: str, path: Path) -> int:
        with path.open("rb") as handle:
            return self.add_stream(name, handle, os.fstat(handle.fileno()).st_size)

    def add_stream(self, name: str, handle: IO[bytes], size: int) -> int:
        # tarfile copies exactly `size` bytes and fails on a shorter stream.
        hashing = _Hashing(handle)
        self.tar.addfile(self._info(name, size), hashing)
        self.members[name] = {"sha256": hashing.digest.hexdigest(), "size": size}
        return size

    def close(self) -> None:
        self.tar.close()


def _referenced_files(table: tbl.Table) -> int | None:
    """Index of the column naming a stored file, for models that keep one (by hash)."""
    if "relative_path" in table.columns and "sha256" in table.columns:
        return table.columns.index("relative_path")
    return None


def _add_stored_files(tar: _TarOut, summary: Summary) -> set[str]:
    """Every stored file into the archive, from the folder or the bucket; their names."""
    backend = storage.attachment_storage()
    root = storage.local_root(backend)
    stored: set[str] = set()
    if root is not None:
        for relative, path in storage.local_files(root):
            summary.file_bytes += tar.add_file(f"files/{relative}", path)
            stored.add(relative)
    else:
        try:
            for relative, size in storage.listing(backend):
                with storage.open_stream(backend, relative) as handle:
                    summary.file_bytes += tar.add_stream(f"files/{relative}", handle, size)
                stored.add(relative)
        except _READ_ERRORS as error:
            raise BackupError(f"reading {storage.describe(backend)} failed: {error}") from None
    summary.files = len(stored)
    return stored


def write_backup(out: BinaryIO, key: bytes, *, notify: Notify = quiet) -> Summary:
    """Write the whole database and the attachments to ``out``, sealed with ``key``."""
    tables = tbl.archived_tables()
    summary = Summary(created_at=timezone.now().isoformat())
    writer = EncryptingWriter(out, key)
    tar = _TarOut(writer)
    referenced: set[str] = set()
    with tbl.snapshot(connection):
        # The first read fixes the snapshot; the migration record is part of it.
        migrations = tbl.applied_migrations(connection)
        summary.unknown_tables = tbl.unknown_tables(connection, tables)
        header = {
            "format": FORMAT,
            "version": ARCHIVE_VERSION,
            "created_at": summary.created_at,
            "cpnav_version": _version(),
            "database": connection.vendor,
            "migrations": migrations,
            "tables": {t.name: t.describe() for t in tables},
            "order": [t.name for t in tables],
            "sequences": tbl.sequences(connection, tables),
        }
        tar.add_bytes(HEADER_MEMBER, json.dumps(header, indent=1).encode())
        for table in tables:
            file_column = _referenced_files(table)
            count, part, buffer = 0, 0, io.BytesIO()
            for row in tbl.canonical_rows(connection, table):
                buffer.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")).encode())
                buffer.write(b"\n")
                count += 1
                if file_column is not None and row[file_column]:
                    referenced.add(row[file_column])
                if buffer.tell() >= PART_BYTES:
                    tar.add_bytes(f"db/{table.name}/{part:06d}.jsonl", buffer.getvalue())
                    part, buffer = part + 1, io.BytesIO()
            if buffer.tell() or part == 0:
                tar.add_bytes(f"db/{table.name}/{part:06d}.jsonl", buffer.getvalue())
            summary.tables[table.name] = count
            notify(f"{table.name}: {count} rows")
    # Stored files never change (their name is their hash) and nothing removes them,
    # so reading them after the snapshot ends cannot miss one the snapshot names;
    # missing_files reports any that did go (a folder restored from elsewhere).
    stored = _add_stored_files(tar, summary)
    summary.missing_files = sorted(referenced - stored)
    notify(f"attachments: {summary.files} files, {summary.file_bytes} bytes")
    manifest = {
        "format": FORMAT,
        "version": ARCHIVE_VERSION,
        "rows": summary.tables,
        "files": summary.files,
        "members": tar.members,
    }
    tar.add_bytes(MANIFEST_MEMBER, json.dumps(manifest, indent=1).encode())
    tar.close()
    writer.close()
    summary.archive_bytes = writer.size
    summary.archive_sha256 = writer.sha256
    return summary


def record_backup(summary: Summary, *, ok: bool, error: str = "") -> None:
    from cpnav.audit.models import Outcome
    from cpnav.audit.services import record

    details: dict[str, Any] = {"format": ARCHIVE_VERSION}
    if ok:
        details.update(
            rows=summary.rows,
            tables=summary.tables,
            files=summary.files,
            file_bytes=summary.file_bytes,
            archive_bytes=summary.archive_bytes,
            archive_sha256=summary.archive_sha256,
            missing_files=len(summary.missing_files),
        )
    else:
        details["error"] = error
    record(
        "backup.created" if ok else "backup.failed",
        actor_label=actor("backup"),
        object_type="backup",
        outcome=Outcome.SUCCESS if ok else Outcome.FAILURE,
        details=details,
    )


# --- reading ----------------------------------------------------------------------


@dataclass
class Contents:
    """What a verified archive holds, from its header and manifest."""

    header: dict[str, Any]
    manifest: dict[str, Any]
    chunks: int = 0

    @property
    def rows(self) -> dict[str, int]:
        return dict(self.manifest["rows"])

    @property
    def migrations(self) -> set[tuple[str, str]]:
        return {(app, name) for app, name in self.header["migrations"]}


def _keys(key: bytes) -> dict[bytes, bytes]:
    return {key_id(key): key}


def json_member(name: str, data: bytes) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise BackupError(f"the archive's {name} is not valid JSON") from None
    if not isinstance(value, dict):
        raise BackupError(f"the archive's {name} is not a JSON object")
    return value


def _check_header(header: dict[str, Any]) -> None:
    if header.get("format") != FORMAT:
        raise BackupError("the archive's backup.json does not describe a CP Navigator backup")
    if header.get("version") != ARCHIVE_VERSION:
        raise BackupError(
            f"the archive's contents use version {header.get('version')!r}; this CP Navigator "
            f"reads version {ARCHIVE_VERSION}"
        )
    for key in ("migrations", "tables", "order", "created_at", "database"):
        if key not in header:
            raise BackupError(f"the archive's backup.json lacks {key!r}")


class Walk:
    """One pass over an archive's members, checking each against the manifest's order."""

    def __init__(self, src: BinaryIO, key: bytes) -> None:
        self.reader = DecryptingReader(src, _keys(key))
        self.buffered = io.BufferedReader(self.reader, COPY_BYTES)
        try:
            self.tar = tarfile.open(fileobj=self.buffered, mode="r|")  # noqa: SIM115 (closed by the caller)
        except tarfile.TarError:
            raise BackupError("the archive's contents are not a tar stream") from None

    def members(self) -> Iterator[tuple[tarfile.TarInfo, IO[bytes]]]:
        try:
            for member in self.tar:
                if not member.isreg() or not _member_name_ok(member.name):
                    raise BackupError(f"the archive holds an unexpected entry {member.name!r}")
                handle = self.tar.extractfile(member)
                assert handle is not None
                yield member, handle
        except tarfile.TarError as error:
            raise BackupError(f"the archive's contents are damaged: {error}") from None
        self.reader.drain()


def read_all(handle: IO[bytes]) -> tuple[bytes, str]:
    data = handle.read()
    return data, hashlib.sha256(data).hexdigest()


def row_lines(handle: IO[bytes], digest: Any) -> Iterator[list[Any]]:
    for raw in handle:
        digest.update(raw)
        try:
            row = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise BackupError("the archive holds a row that is not valid JSON") from None
        if not isinstance(row, list):
            raise BackupError("the archive holds a row that is not a JSON array")
        yield row


def check_member(contents_members: dict[str, Any], name: str, sha: str, size: int) -> None:
    expected = contents_members.get(name)
    if expected is None:
        raise BackupError(f"the archive's manifest does not list {name}")
    if expected["sha256"] != sha or expected["size"] != size:
        raise BackupError(f"the checksum of {name} does not match the archive's manifest")


def verify_archive(path: Path, key: bytes) -> Contents:
    """Read the whole archive and check it; nothing is written anywhere."""
    with path.open("rb") as src:
        walk = Walk(src, key)
        header: dict[str, Any] | None = None
        manifest: dict[str, Any] | None = None
        seen: dict[str, tuple[str, int]] = {}
        rows: dict[str, int] = {}
        for member, handle in walk.members():
            if manifest is not None:
                raise BackupError("the archive has members after its manifest")
            if header is None and member.name != HEADER_MEMBER:
                raise BackupError("the archive does not start with backup.json")
            if member.name == MANIFEST_MEMBER:
                manifest = json_member(member.name, handle.read())
                continue
            if member.name in seen:
                raise BackupError(f"the archive holds {member.name} twice")
            if member.name == HEADER_MEMBER:
                data, sha = read_all(handle)
                header = json_member(member.name, data)
                _check_header(header)
            elif member.name.startswith("db/"):
                table = member.name.split("/")[1]
                digest = hashlib.sha256()
                width = len(header["tables"].get(table, {}).get("columns", ())) if header else 0
                if not width:
                    raise BackupError(f"the archive holds rows of an undescribed table {table}")
                for row in row_lines(handle, digest):
                    if len(row) != width:
                        raise BackupError(f"the archive holds a row of {table} of the wrong width")
                    rows[table] = rows.get(table, 0) + 1
                sha = digest.hexdigest()
            else:
                if not member.name.startswith("files/"):
                    raise BackupError(f"the archive holds an unexpected entry {member.name!r}")
                digest = hashlib.sha256()
                while block := handle.read(COPY_BYTES):
                    digest.update(block)
                sha = digest.hexdigest()
            seen[member.name] = (sha, member.size)
        walk.tar.close()
        if header is None:
            raise BackupError("the archive is empty")
        if manifest is None:
            raise BackupError("the archive has no manifest (it was not finished)")
        listed = manifest.get("members", {})
        for name, (sha, size) in seen.items():
            check_member(listed, name, sha, size)
        if set(listed) != set(seen):
            missing = sorted(set(listed) - set(seen))[:3]
            raise BackupError(f"the archive lacks members its manifest lists: {missing}")
        expected_rows = {name: n for name, n in manifest.get("rows", {}).items() if n}
        if {name: n for name, n in rows.items() if n} != expected_rows:
            raise BackupError("the archive's row counts do not match its manifest")
        if set(manifest.get("rows", {})) != set(header["order"]):
            raise BackupError("the archive's manifest and header name different tables")
        return Contents(header=header, manifest=manifest, chunks=walk.reader.chunks)
