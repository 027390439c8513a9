"""`cpnav backup` and `cpnav restore`, end to end, in separate processes.

Each instance is its own database and attachments folder: a SQLite file, or a
PostgreSQL database created here when the suite itself runs on PostgreSQL
(DATABASE_URL=postgres://...), in which case SQLite -> PostgreSQL and back are
tested too. Source and restored instance are compared table by table and row
by row with the database drivers themselves, not through the code under test.
"""

from __future__ import annotations

import base64
import io
import json
import os
import secrets
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from django.conf import settings

from cpnav.core.backup.stream import (
    CHUNK_BYTES,
    HEADER_BYTES,
    BackupError,
    DecryptingReader,
    EncryptingWriter,
    key_id,
)

ROOT = Path(__file__).resolve().parents[2]
BACKUP_KEY = base64.b64encode(b"synthetic backup key, 32 bytes!!").decode()
OTHER_KEY = base64.b64encode(b"another synthetic key, 32 bytes!").decode()
FIELD_KEYS = "t1:" + base64.b64encode(b"synthetic field key for tests 32").decode()
INDEX_KEY = base64.b64encode(b"synthetic index key for tests 32").decode()
# Not compared row by row: the migration record (compared as a set), the cache,
# the guide's derived search index (checked rebuilt) and SQLite's own counters.
SKIPPED = ("django_migrations", "cpnav_cache", "sqlite_sequence")
DERIVED_PREFIX = "guide_"

POPULATE = """
import os
import django

django.setup()
from django.contrib.auth.models import Group, Permission
from django.contrib.sessions.backends.db import SessionStore
from django_otp.plugins.otp_totp.models import TOTPDevice

from cpnav.accounts.models import User
from cpnav.cases.attachments import store
from cpnav.cases.models import Attachment, CPRequest
from cpnav.documents.models import GeneratedDocument

users = list(User.objects.order_by("email")[:3])
group = Group.objects.create(name="synthetic reviewers")
group.permissions.set(Permission.objects.order_by("id")[:5])
users[0].groups.add(group)
users[1].user_permissions.add(Permission.objects.order_by("id")[0])
TOTPDevice.objects.create(user=users[0], name="synthetic phone", confirmed=True)
session = SessionStore()
session["note"] = "synthetic"
session.create()
# A deleted row leaves the id counter ahead of the highest id.
Group.objects.create(name="gone").delete()
payloads = [
    b"%PDF-1.7\\n" + os.urandom(3000) + b"\\n%%EOF\\n",
    b"\\x89PNG\\r\\n\\x1a\\n" + os.urandom(70_000),
    b"%PDF-1.4\\n" + os.urandom(2_500_000),
]
requests = list(CPRequest.objects.order_by("id")[:4])
for index, cp in enumerate(requests):
    # The first two requests share one file: stored once, named twice.
    stored = store([payloads[min(index, 1) if index < 2 else index - 1]],
                   name=f"Evidence {index} of José.pdf")
    Attachment.objects.create(
        request=cp, relative_path=stored.relative_path, sha256=stored.sha256,
        size=stored.size, content_type=stored.content_type,
        original_name=stored.original_name, uploaded_by=users[0],
    )
package = store([payloads[0] + b"package"], name="package.pdf")
GeneratedDocument.objects.create(
    request=requests[0], version=1, format="pdf", relative_path=package.relative_path,
    sha256=package.sha256, size=package.size, documents=["i914", "cover"],
    request_status="draft", generated_by=users[0],
)
print(Group.objects.order_by("-id")[0].id + 1)
"""

NEXT_GROUP_ID = """
import django

django.setup()
from django.contrib.auth.models import Group

print(Group.objects.create(name="after restore").id)
"""

READ_PEOPLE = """
import json
import django

django.setup()
from cpnav.cases.models import Person

people = sorted([str(p.pk), p.full_name, p.aliases, p.a_number] for p in Person.objects.all())
print(json.dumps(people))
"""


def _suite_vendor() -> str:
    return "postgresql" if "postgresql" in settings.DATABASES["default"]["ENGINE"] else "sqlite"


def _pg_params() -> dict[str, Any]:
    db = settings.DATABASES["default"]
    return {
        "host": db["HOST"] or "127.0.0.1",
        "port": int(db["PORT"] or 5432),
        "user": db["USER"],
        "password": db["PASSWORD"] or None,
    }


def _pg_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(dbname="postgres", autocommit=True, **_pg_params()) as conn:
        conn.execute(sql)  # a test's own fixed statement


@dataclass
class Instance:
    """One CP Navigator installation: a database and an attachments folder."""

    vendor: str
    home: Path
    database: str  # SQLite path or PostgreSQL database name
    env: dict[str, str] = field(default_factory=dict)

    @property
    def attachments(self) -> Path:
        return self.home / "attachments"

    def run(
        self, *args: str, ok: bool = True, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "cpnav.cli", *args],
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            check=False,
            cwd=ROOT,
            timeout=900,
        )
        if ok:
            assert done.returncode == 0, done.stderr[-3000:]
        return done

    def python(self, script: str) -> str:
        done = subprocess.run(
            [sys.executable, "-c", script],
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
            cwd=ROOT,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout.strip()

    def tables(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every table's rows, normalised so SQLite and PostgreSQL values compare: each
        row is its (column, value) pairs by column name, since a table's column order
        differs between the two (SQLite rebuilds tables on some migrations)."""
        read = _sqlite_tables if self.vendor == "sqlite" else _pg_tables
        return read(self.database)

    def migrations(self) -> set[tuple[str, str]]:
        if self.vendor == "sqlite":
            with sqlite3.connect(self.database) as conn:
                return set(conn.execute("SELECT app, name FROM django_migrations"))
        import psycopg

        with psycopg.connect(dbname=self.database, **_pg_params()) as conn:
            return {(a, n) for a, n in conn.execute("SELECT app, name FROM django_migrations")}

    def table_names(self) -> list[str]:
        if self.vendor == "sqlite":
            if not Path(self.database).exists():
                return []
            with sqlite3.connect(self.database) as conn:
                query = "SELECT name FROM sqlite_master WHERE type = 'table'"
                return sorted(name for (name,) in conn.execute(query))
        import psycopg

        with psycopg.connect(dbname=self.database, **_pg_params()) as conn:
            query = "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            return sorted(name for (name,) in conn.execute(query))

    def files(self) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        if self.attachments.exists():
            for path in sorted(self.attachments.rglob("*")):
                if path.is_file():
                    found[path.relative_to(self.attachments).as_posix()] = path.read_bytes()
        return found


def _normal(value: Any, json_column: bool) -> Any:
    if value is None:
        return None
    if json_column:  # SQLite keeps JSON as text; PostgreSQL's is read already parsed
        return ("json", json.dumps(json.loads(value), sort_keys=True))
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, UUID):
        return value.hex
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value
    if isinstance(value, date):
        return value
    if isinstance(value, int | str | float | bytes):
        return value
    return str(value)  # inet


def _sqlite_tables(path: str) -> dict[str, list[tuple[Any, ...]]]:
    out: dict[str, list[tuple[Any, ...]]] = {}
    with sqlite3.connect(path) as conn:
        tables = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'").fetchall()
        for name, ddl in tables:
            if name in SKIPPED or name.startswith(DERIVED_PREFIX):
                continue
            info = conn.execute(f'PRAGMA table_info("{name}")').fetchall()
            kinds = []
            for column in info:
                declared = str(column[2]).lower()
                is_json = f'JSON_VALID("{column[1]}")' in (ddl or "")
                kinds.append("json" if is_json else declared)
            rows = []
            for raw in conn.execute(f'SELECT * FROM "{name}"'):  # noqa: S608 (tables of this test's own database)
                row = []
                for column, kind, value in zip(info, kinds, raw, strict=True):
                    if value is not None and kind == "datetime":
                        value = datetime.fromisoformat(value)
                    elif value is not None and kind == "date":
                        value = date.fromisoformat(value)
                    row.append((column[1], _normal(value, kind == "json")))
                rows.append(tuple(sorted(row)))
            out[name] = sorted(rows, key=repr)
    return out


def _pg_tables(database: str) -> dict[str, list[tuple[Any, ...]]]:
    import psycopg

    out: dict[str, list[tuple[Any, ...]]] = {}
    with psycopg.connect(dbname=database, **_pg_params()) as conn:
        names = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        for (name,) in names.fetchall():
            if name in SKIPPED or name.startswith(DERIVED_PREFIX):
                continue
            cursor = conn.execute(f'SELECT * FROM "{name}"')  # noqa: S608 (tables of this test's own database)
            columns = [(col.name, col.type_code == 3802) for col in cursor.description or ()]
            rows = [
                tuple(sorted(
                    (column, ("json", json.dumps(v, sort_keys=True)) if is_json and v is not None
                     else _normal(v, False))
                    for (column, is_json), v in zip(columns, raw, strict=True)
                ))
                for raw in cursor.fetchall()
            ]  # fmt: skip
            out[name] = sorted(rows, key=repr)
    return out


class Instances:
    """Makes instances under one folder; drops their PostgreSQL databases at the end."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.databases: list[str] = []
        skip = ("CPNAV_", "DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(skip)}
        self.env.update(
            CPNAV_VAR_DIR=str(base / "var"),
            CPNAV_FIELD_KEYS=FIELD_KEYS,
            CPNAV_INDEX_KEY=INDEX_KEY,
            CPNAV_BACKUP_KEY=BACKUP_KEY,
            EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
            DJANGO_SETTINGS_MODULE="cpnav.settings",
        )

    def new(self, vendor: str, name: str) -> Instance:
        home = self.base / name
        home.mkdir()
        env = dict(self.env, CPNAV_ATTACHMENTS_DIR=str(home / "attachments"))
        if vendor == "sqlite":
            database = str(home / "db.sqlite3")
            env["DATABASE_URL"] = f"sqlite:///{database}"
        else:
            database = f"cpnav_backup_{secrets.token_hex(4)}_{name}"
            _pg_admin(f'CREATE DATABASE "{database}"')
            self.databases.append(database)
            params = _pg_params()
            auth = params["user"] + (f":{params['password']}" if params["password"] else "")
            env["DATABASE_URL"] = f"postgres://{auth}@{params['host']}:{params['port']}/{database}"
        return Instance(vendor, home, database, env)

    def close(self) -> None:
        for database in self.databases:
            _pg_admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


@dataclass
class Made:
    """A populated source, its rows and files as they were, and its archive."""

    source: Instance
    archive: Path
    rows: dict[str, list[tuple[Any, ...]]]
    files: dict[str, bytes]
    migrations: set[tuple[str, str]]
    next_group_id: int


@pytest.fixture(scope="module")
def instances(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instances]:
    made = Instances(tmp_path_factory.mktemp("backup"))
    yield made
    made.close()


@pytest.fixture(scope="module")
def made(instances: Instances) -> Callable[[str], Made]:
    """The source of each vendor, built once: synthetic data, the demo, attachments."""
    cache: dict[str, Made] = {}
    failed: set[str] = set()

    def make(vendor: str) -> Made:
        if vendor in failed:
            pytest.fail(f"building the {vendor} source failed in an earlier test")
        if vendor not in cache:
            failed.add(vendor)
            source = instances.new(vendor, f"source_{vendor}")
            source.run("migrate", "--no-input", "-v0")
            source.run("synth", "--agencies", "20", "--cases", "500", "--audit-events", "500",
                       "--no-progress")  # fmt: skip
            source.run("demo")
            next_group_id = int(source.python(POPULATE))
            rows, files = source.tables(), source.files()
            archive = source.home / "source.cpnav-backup"
            done = source.run("backup", "--out", str(archive))
            assert "backup written" in done.stdout
            cache[vendor] = Made(source, archive, rows, files, source.migrations(), next_group_id)
            failed.discard(vendor)
        return cache[vendor]

    return make


def _assert_same(made: Made, target: Instance) -> None:
    restored = target.tables()
    source = made.rows
    assert set(restored) == set(source)
    assert len(source) >= 49  # every model's table, many-to-many tables included
    for name, rows in source.items():
        if name in ("audit_auditevent", "audit_chainhead"):
            continue
        assert restored[name] == rows, name
    # The restored chain is the source's plus the restore's own event.
    events = sorted(restored["audit_auditevent"], key=lambda r: dict(r)["seq"])
    assert sorted(source["audit_auditevent"], key=repr) == sorted(events[:-1], key=repr)
    assert len(events) == len(source["audit_auditevent"]) + 1
    assert dict(events[-1])["action"] == "backup.restored"
    assert target.files() == made.files
    assert target.migrations() == made.migrations


def _restored(made: Made, target: Instance) -> None:
    done = target.run("restore", str(made.archive))
    assert "restored" in done.stdout
    _assert_same(made, target)
    verified = target.run("audit", "verify")
    assert "chain intact" in verified.stdout
    # Encrypted fields came over as stored: the same field keys read them.
    people = json.loads(target.python(READ_PEOPLE))
    assert len(people) > 500
    assert people == json.loads(made.source.python(READ_PEOPLE))
    # Ids of rows deleted before the backup are not handed out again.
    assert int(target.python(NEXT_GROUP_ID)) >= made.next_group_id
    assert any(n.startswith("guide_searchdocument") for n in target.table_names())


def _nothing_written(target: Instance) -> None:
    assert [n for n in target.table_names() if n != "sqlite_sequence"] == []
    assert target.files() == {}


def test_round_trip_restores_every_row_and_file(
    made: Callable[[str], Made], instances: Instances
) -> None:
    vendor = _suite_vendor()
    source = made(vendor)
    assert len(source.files) == 4  # three attachments (one shared) and a package
    assert source.rows["accounts_user_groups"]
    assert source.rows["auth_group_permissions"]
    _restored(source, instances.new(vendor, "round_trip"))
    # The backup itself is in the source's audit trail, without personal data.
    created = source.source.python(
        "import django; django.setup()\n"
        "from cpnav.audit.models import AuditEvent\n"
        "e = AuditEvent.objects.get(action='backup.created')\n"
        "import json; print(json.dumps(e.details))"
    )
    details = json.loads(created)
    assert details["rows"] == sum(details["tables"].values()) > 7000
    assert details["files"] == 4
    assert set(details) >= {"archive_sha256", "archive_bytes", "tables"}


def test_restore_into_a_migrated_empty_instance(
    made: Callable[[str], Made], instances: Instances
) -> None:
    """`cpnav migrate` fills content types, permissions and the national providers
    first; the archive's rows replace them."""
    vendor = _suite_vendor()
    target = instances.new(vendor, "migrated_first")
    target.run("migrate", "--no-input", "-v0")
    _restored(made(vendor), target)


@pytest.mark.skipif(_suite_vendor() != "postgresql", reason="needs the suite on PostgreSQL")
@pytest.mark.parametrize(("source", "target"), [("sqlite", "postgresql"), ("postgresql", "sqlite")])
def test_round_trip_across_databases(
    made: Callable[[str], Made], instances: Instances, source: str, target: str
) -> None:
    _restored(made(source), instances.new(target, f"from_{source}"))


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: _flip(d, len(d) // 2), "damaged or altered: chunk"),
        (lambda d: _flip(d, 20), "damaged or altered: chunk 0 failed"),  # the salt
        (lambda d: d[: len(d) // 2], "truncated: it ends inside chunk"),
        (lambda d: d[:HEADER_BYTES], "truncated: it ends right after its header"),
        (lambda d: d[:30], "truncated: it ends inside its header"),
        (lambda d: d + d[HEADER_BYTES:], "appended after its final chunk"),
        (lambda d: b"PK\x03\x04" + d, "not a CP Navigator backup"),
    ],
    ids=["flipped-byte", "flipped-header", "cut-mid-chunk", "cut-at-chunk", "cut-header",
         "appended", "not-a-backup"],
)  # fmt: skip
def test_restore_refuses_a_damaged_archive_and_writes_nothing(
    made: Callable[[str], Made],
    instances: Instances,
    damage: Callable[[bytes], bytes],
    message: str,
    request: pytest.FixtureRequest,
) -> None:
    vendor = _suite_vendor()
    source = made(vendor)
    bad = source.source.home / f"{request.node.callspec.id}.cpnav-backup"
    bad.write_bytes(damage(source.archive.read_bytes()))
    target = instances.new(vendor, f"damaged_{request.node.callspec.id.replace('-', '_')}")
    done = target.run("restore", str(bad), ok=False)
    assert done.returncode == 1
    assert message in done.stderr
    assert "restore refused" in done.stderr
    _nothing_written(target)


def test_restore_refuses_the_wrong_key(made: Callable[[str], Made], instances: Instances) -> None:
    vendor = _suite_vendor()
    target = instances.new(vendor, "wrong_key")
    done = target.run(
        "restore", str(made(vendor).archive), ok=False, env={"CPNAV_BACKUP_KEY": OTHER_KEY}
    )
    assert done.returncode == 1
    assert "encrypted with another backup key" in done.stderr
    _nothing_written(target)


def test_restore_refuses_a_target_that_is_not_empty(
    made: Callable[[str], Made], instances: Instances
) -> None:
    vendor = _suite_vendor()
    source = made(vendor)
    # A migrated instance with one account in it.
    target = instances.new(vendor, "not_empty")
    target.run("migrate", "--no-input", "-v0")
    target.python(
        "import django; django.setup()\n"
        "from cpnav.accounts.models import User\n"
        "User.objects.create_user('someone@agency.example', 'a long synthetic passphrase')"
    )
    before = target.tables()
    done = target.run("restore", str(source.archive), ok=False)
    assert done.returncode == 1
    assert "the target is not empty: accounts_user" in done.stderr
    assert "nothing was changed" in done.stderr
    assert target.tables() == before
    # An empty database beside a folder that already holds files is refused too.
    files_only = instances.new(vendor, "files_only")
    (files_only.attachments / "ab").mkdir(parents=True)
    (files_only.attachments / "ab" / "stray").write_bytes(b"stray")
    done = files_only.run("restore", str(source.archive), ok=False)
    assert "attachments folder" in done.stderr
    assert [n for n in files_only.table_names() if n != "sqlite_sequence"] == []


def test_restore_refuses_another_migration_state(
    made: Callable[[str], Made], instances: Instances
) -> None:
    vendor = _suite_vendor()
    target = instances.new(vendor, "half_migrated")
    target.run("migrate", "contenttypes", "--no-input", "-v0")
    before = target.table_names()
    done = target.run("restore", str(made(vendor).archive), ok=False)
    assert "at another migration state than the archive" in done.stderr
    assert target.table_names() == before


def test_check_verifies_without_writing(made: Callable[[str], Made], instances: Instances) -> None:
    vendor = _suite_vendor()
    target = instances.new(vendor, "check_only")
    done = target.run("restore", "--check", str(made(vendor).archive))
    assert "archive verified" in done.stdout
    assert "nothing was changed" in done.stdout
    _nothing_written(target)


def test_backup_refuses_to_overwrite(made: Callable[[str], Made]) -> None:
    source = made(_suite_vendor())
    before = source.archive.read_bytes()
    done = source.source.run("backup", "--out", str(source.archive), ok=False)
    assert done.returncode == 2
    assert "already exists" in done.stderr
    assert source.archive.read_bytes() == before


# --- the sealed stream alone ----------------------------------------------------------

KEY = b"k" * 32


def _seal(data: bytes, key: bytes = KEY) -> bytes:
    out = io.BytesIO()
    writer = EncryptingWriter(out, key, level=0)
    writer.write(data)
    writer.close()
    return out.getvalue()


def _open(sealed: bytes, key: bytes = KEY) -> bytes:
    return DecryptingReader(io.BytesIO(sealed), {key_id(key): key}).read()


def _chunks(sealed: bytes) -> list[bytes]:
    found, at = [], HEADER_BYTES
    while at < len(sealed):
        length = int.from_bytes(sealed[at : at + 4], "big")
        found.append(sealed[at : at + 4 + length])
        at += 4 + length
    return found


@pytest.mark.parametrize("size", [0, 1, CHUNK_BYTES - 7, CHUNK_BYTES * 2 + 5])
def test_stream_round_trip(size: int) -> None:
    data = os.urandom(size)
    sealed = _seal(data)
    assert _open(sealed) == data
    if size >= 64:
        assert data[:64] not in sealed


def test_stream_detects_reordered_and_dropped_chunks() -> None:
    sealed = _seal(os.urandom(CHUNK_BYTES * 3))
    head, chunks = sealed[:HEADER_BYTES], _chunks(sealed)
    assert len(chunks) >= 4
    swapped = head + chunks[1] + chunks[0] + b"".join(chunks[2:])
    with pytest.raises(BackupError, match="chunk 0 failed authentication"):
        _open(swapped)
    dropped = head + chunks[0] + b"".join(chunks[2:])
    with pytest.raises(BackupError, match="chunk 1 failed authentication"):
        _open(dropped)
    cut = head + b"".join(chunks[:-1])
    with pytest.raises(BackupError, match="truncated"):
        _open(cut)


def test_stream_names_a_wrong_key_and_a_new_salt_per_archive() -> None:
    sealed = _seal(b"synthetic")
    with pytest.raises(BackupError, match="another backup key"):
        _open(sealed, b"o" * 32)
    assert _seal(b"synthetic") != sealed  # a fresh salt, so a fresh chunk key
