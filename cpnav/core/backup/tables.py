"""Which tables a backup holds, and their rows as stored, in a form any database takes back.

Rows are read with plain SQL, never through the models: an encrypted field's
``from_db_value`` would decrypt it, and the archive must carry the ciphertext
exactly as stored. Each column gets a *kind* from its model field, and values
are written in one canonical JSON form per kind (UUIDs with hyphens, times in
UTC ISO 8601, JSON columns as their text), which is what lets a SQLite backup
go into PostgreSQL and back.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any
from uuid import UUID

from django.apps import apps
from django.conf import settings
from django.db import models, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations.recorder import MigrationRecorder

from cpnav.core.backup.stream import BackupError

# Derived from the shipped guide content: not archived, rebuilt after a restore.
DERIVED = frozenset({"guide.searchdocument", "guide.searchindexstate"})
# Filled by `migrate` itself (post_migrate signals, the national providers' data
# migration): a fresh target has these rows, and the archive's replace them.
SEEDED = frozenset({"contenttypes.contenttype", "auth.permission", "referrals.provider"})
# Short-lived counters and sessions a new instance may have gained before the
# restore (a visit to the sign-in page); replaced like the seeded ones.
TRANSIENT = frozenset({"core.ratecounter", "sessions.session"})
# Tables no model describes: the migration record (checked, not copied), SQLite's
# own bookkeeping, the guide's FTS5 index (rebuilt). Cache tables are added below.
NON_MODEL = frozenset({MigrationRecorder.Migration._meta.db_table, "sqlite_sequence"})
NON_MODEL_PREFIXES = ("guide_fts",)

_KINDS = {
    "int": ("AutoField", "BigAutoField", "SmallAutoField", "IntegerField", "BigIntegerField",
            "SmallIntegerField", "PositiveIntegerField", "PositiveBigIntegerField",
            "PositiveSmallIntegerField"),
    "bool": ("BooleanField",),
    "str": ("CharField", "TextField", "SlugField", "EmailField", "URLField", "FilePathField",
            "FileField", "ImageField", "GenericIPAddressField", "IPAddressField"),
    "datetime": ("DateTimeField",),
    "date": ("DateField",),
    "time": ("TimeField",),
    "uuid": ("UUIDField",),
    "json": ("JSONField",),
    "bytes": ("BinaryField",),
    "float": ("FloatField",),
}  # fmt: skip
KIND_OF_TYPE = {internal: kind for kind, types in _KINDS.items() for internal in types}
BATCH_ROWS = 2000


@dataclass(frozen=True)
class Table:
    label: str  # app_label.model_name, lower case
    name: str
    columns: tuple[str, ...]
    kinds: tuple[str, ...]
    pk: str
    model: type[models.Model]

    def describe(self) -> dict[str, Any]:
        return {"model": self.label, "columns": list(self.columns), "kinds": list(self.kinds)}


def _kind(model: type[models.Model], field: models.Field[Any, Any]) -> str:
    stored: Any = field
    # A foreign key holds what the field it points at holds.
    while stored.is_relation:
        stored = stored.target_field
    internal = stored.get_internal_type()
    kind = KIND_OF_TYPE.get(internal)
    if kind is None:
        raise BackupError(
            f"{model._meta.label}.{field.name} is a {internal}, which backups do not know how "
            "to copy yet (cpnav/core/backup/tables.py)"
        )
    return kind


def _dependency_order(found: dict[str, Table]) -> list[Table]:
    """Parents before children where the foreign keys allow (cycles are tolerated:
    the constraints are deferred to the end of the restore's transaction anyway)."""
    needs: dict[str, set[str]] = {}
    for label, table in found.items():
        needs[label] = {
            f.related_model._meta.label_lower
            for f in table.model._meta.local_concrete_fields
            if f.is_relation and isinstance(f.related_model, type)
        } & (set(found) - {label})
    order: list[Table] = []
    while needs:
        ready = sorted(label for label, parents in needs.items() if not parents) or [min(needs)]
        for label in ready:
            order.append(found[label])
            del needs[label]
        for parents in needs.values():
            parents.difference_update(ready)
    return order


def archived_tables() -> list[Table]:
    """Every table of an installed model (with many-to-many tables), derived ones excepted."""
    found: dict[str, Table] = {}
    seen_names: set[str] = set()
    for model in apps.get_models(include_auto_created=True):
        meta = model._meta
        if meta.proxy or not meta.managed or meta.label_lower in DERIVED:
            continue
        if meta.db_table in seen_names:
            continue
        seen_names.add(meta.db_table)
        fields = meta.local_concrete_fields
        found[meta.label_lower] = Table(
            label=meta.label_lower,
            name=meta.db_table,
            columns=tuple(f.column for f in fields),
            kinds=tuple(_kind(model, f) for f in fields),
            pk=meta.pk.column,
            model=model,
        )
    return _dependency_order(found)


def cache_tables() -> set[str]:
    return {
        str(cache["LOCATION"])
        for cache in settings.CACHES.values()
        if cache["BACKEND"] == "django.core.cache.backends.db.DatabaseCache"
    }


def unknown_tables(connection: BaseDatabaseWrapper, tables: Sequence[Table]) -> list[str]:
    """Tables in the database that neither a model, the cache nor the guide index explains."""
    derived = {apps.get_model(label)._meta.db_table for label in DERIVED}
    known = {t.name for t in tables} | derived | NON_MODEL | cache_tables()
    return sorted(
        name
        for name in connection.introspection.table_names()
        if name not in known and not name.startswith(NON_MODEL_PREFIXES)
    )


@contextmanager
def snapshot(connection: BaseDatabaseWrapper) -> Iterator[None]:
    """One read transaction: every table is read as of one moment.

    PostgreSQL: REPEATABLE READ, READ ONLY (what pg_dump uses) sees one snapshot
    taken at the first read and never blocks writers. SQLite: a deferred
    transaction started by hand - the configured IMMEDIATE mode would take the
    write lock and stall the application for the whole backup. In WAL mode its
    first read fixes a snapshot and writers carry on; in rollback-journal mode it
    holds a shared lock, so writers wait until the backup is done.
    """
    if connection.in_atomic_block:
        raise BackupError("a backup must run outside any transaction")
    connection.ensure_connection()
    if connection.vendor == "postgresql":
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield
        return
    if connection.vendor != "sqlite":
        raise BackupError(f"backups support SQLite and PostgreSQL, not {connection.vendor}")
    with connection.cursor() as cursor:
        cursor.execute("BEGIN DEFERRED")
        try:
            yield
        finally:
            cursor.execute("ROLLBACK")


def applied_migrations(connection: BaseDatabaseWrapper) -> list[list[str]]:
    table = MigrationRecorder.Migration._meta.db_table
    if table not in connection.introspection.table_names():
        return []
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT app, name FROM {connection.ops.quote_name(table)}")  # noqa: S608 (a fixed table name)
        return sorted([str(app), str(name)] for app, name in cursor.fetchall())


# --- values as read -> canonical JSON -----------------------------------------


def _out_datetime(value: Any) -> str:
    if isinstance(value, str):  # a column SQLite did not declare as datetime
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:  # SQLite keeps UTC without an offset
        value = value.replace(tzinfo=UTC)
    return str(value.astimezone(UTC).isoformat())


def _out_uuid(value: Any) -> str:
    return str(value if isinstance(value, UUID) else UUID(str(value)))


def _out_bytes(value: Any) -> str:
    return base64.b64encode(bytes(value)).decode("ascii")


def _iso(value: Any) -> str:
    return value if isinstance(value, str) else str(value.isoformat())


_OUT: dict[str, Callable[[Any], Any]] = {
    "int": int,
    "bool": bool,
    "str": str,
    "datetime": _out_datetime,
    "date": _iso,
    "time": _iso,
    "uuid": _out_uuid,
    "json": str,
    "bytes": _out_bytes,
    "float": float,
}


def canonical_rows(connection: BaseDatabaseWrapper, table: Table) -> Iterator[list[Any]]:
    """The table's rows in primary-key order, each a list of canonical values.

    Read in pages by primary key (keyset), so memory stays flat on any table
    and no server-side cursor is needed.
    """
    quote = connection.ops.quote_name
    columns = ", ".join(quote(c) for c in table.columns)
    pk_index = table.columns.index(table.pk)
    converters = [_OUT[kind] for kind in table.kinds]
    base = f"SELECT {columns} FROM {quote(table.name)}"  # noqa: S608 (names from the models)
    order = f"ORDER BY {quote(table.pk)} LIMIT {BATCH_ROWS}"
    last: Any = None
    with connection.cursor() as cursor:
        while True:
            if last is None:
                cursor.execute(f"{base} {order}")
            else:
                cursor.execute(f"{base} WHERE {quote(table.pk)} > %s {order}", [last])
            rows = cursor.fetchall()
            for row in rows:
                yield [
                    None if value is None else convert(value)
                    for convert, value in zip(converters, row, strict=True)
                ]
            if len(rows) < BATCH_ROWS:
                return
            last = rows[-1][pk_index]


# --- canonical JSON -> values to insert -------------------------------------------


def _in_datetime(connection: BaseDatabaseWrapper) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        return connection.ops.adapt_datetimefield_value(datetime.fromisoformat(value))

    return convert


def _in_date(connection: BaseDatabaseWrapper) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        return connection.ops.adapt_datefield_value(date.fromisoformat(value))

    return convert


def _in_time(connection: BaseDatabaseWrapper) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        return connection.ops.adapt_timefield_value(time.fromisoformat(value))

    return convert


def _in_uuid(connection: BaseDatabaseWrapper) -> Callable[[Any], Any]:
    native = connection.features.has_native_uuid_field

    def convert(value: Any) -> Any:
        parsed = UUID(value)
        return parsed if native else parsed.hex

    return convert


def _in_json(connection: BaseDatabaseWrapper) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        # The text is checked either way; PostgreSQL's COPY parses it into jsonb.
        json.loads(value)
        return value

    return convert


def _plain(kind_type: type) -> Callable[[BaseDatabaseWrapper], Callable[[Any], Any]]:
    def make(connection: BaseDatabaseWrapper) -> Callable[[Any], Any]:
        def convert(value: Any) -> Any:
            if type(value) is not kind_type and not (kind_type is float and type(value) is int):
                raise ValueError(f"expected {kind_type.__name__}, got {type(value).__name__}")
            return value

        return convert

    return make


def _in_bytes(connection: BaseDatabaseWrapper) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        return base64.b64decode(value, validate=True)

    return convert


_IN: dict[str, Callable[[BaseDatabaseWrapper], Callable[[Any], Any]]] = {
    "int": _plain(int),
    "bool": _plain(bool),
    "str": _plain(str),
    "datetime": _in_datetime,
    "date": _in_date,
    "time": _in_time,
    "uuid": _in_uuid,
    "json": _in_json,
    "bytes": _in_bytes,
    "float": _plain(float),
}


class Inserter:
    """Writes one table's canonical rows: COPY on PostgreSQL, executemany on SQLite."""

    def __init__(self, connection: BaseDatabaseWrapper, table: Table) -> None:
        self.connection = connection
        self.table = table
        self.converters = [_IN[kind](connection) for kind in table.kinds]
        quote = connection.ops.quote_name
        self.columns = ", ".join(quote(c) for c in table.columns)
        self.quoted = quote(table.name)
        self.rows = 0

    def convert(self, row: list[Any]) -> list[Any]:
        if len(row) != len(self.converters):
            raise BackupError(
                f"the archive's {self.table.name} has a row of {len(row)} values; the table "
                f"has {len(self.converters)} columns"
            )
        try:
            return [
                None if value is None else convert(value)
                for convert, value in zip(self.converters, row, strict=True)
            ]
        except (ValueError, TypeError) as error:
            raise BackupError(
                f"the archive's {self.table.name} has a value that does not fit: {error}"
            ) from None

    def write(self, rows: Sequence[list[Any]]) -> None:
        if not rows:
            return
        values = [self.convert(row) for row in rows]
        with self.connection.cursor() as cursor:
            if self.connection.vendor == "postgresql":
                statement = f"COPY {self.quoted} ({self.columns}) FROM STDIN"
                with cursor.cursor.copy(statement) as copy:
                    for row in values:
                        copy.write_row(row)
            else:
                marks = ", ".join(["%s"] * len(self.table.columns))
                cursor.executemany(
                    f"INSERT INTO {self.quoted} ({self.columns}) VALUES ({marks})",  # noqa: S608 (names from the models)
                    values,
                )
        self.rows += len(rows)


def has_rows(connection: BaseDatabaseWrapper, name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT 1 FROM {connection.ops.quote_name(name)} LIMIT 1")  # noqa: S608 (a model's table)
        return cursor.fetchone() is not None


def clear(connection: BaseDatabaseWrapper, name: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {connection.ops.quote_name(name)}")  # noqa: S608 (a model's table)


def _auto_column(table: Table) -> str | None:
    pk = table.model._meta.pk
    return pk.column if isinstance(pk, models.AutoField) and table.pk == pk.column else None


def sequences(connection: BaseDatabaseWrapper, tables: Sequence[Table]) -> dict[str, int]:
    """How far each table's id counter has gone, which can be past the highest id left.

    Carried over so that ids of rows deleted before the backup are not handed out
    again after a restore (an audit event may still name them).
    """
    found: dict[str, int] = {}
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            if "sqlite_sequence" in connection.introspection.table_names():
                cursor.execute("SELECT name, seq FROM sqlite_sequence")
                found = {str(name): int(seq) for name, seq in cursor.fetchall() if seq}
            return {t.name: found[t.name] for t in tables if t.name in found}
        for table in tables:
            column = _auto_column(table)
            if column is None:
                continue
            cursor.execute(
                "SELECT pg_sequence_last_value(pg_get_serial_sequence(%s, %s))",
                [connection.ops.quote_name(table.name), column],
            )
            row = cursor.fetchone()
            if row is not None and row[0]:
                found[table.name] = int(row[0])
    return found


def advance_sequences(
    connection: BaseDatabaseWrapper, tables: Sequence[Table], positions: dict[str, int]
) -> None:
    """Move each id counter to the archive's position, or past the highest id restored."""
    by_name = {t.name: t for t in tables}
    with connection.cursor() as cursor:
        for name, position in sorted(positions.items()):
            table = by_name.get(name)
            column = _auto_column(table) if table is not None else None
            if column is None:
                continue
            quoted = connection.ops.quote_name(name)
            if connection.vendor == "sqlite":
                cursor.execute("UPDATE sqlite_sequence SET seq = MAX(seq, %s) WHERE name = %s",
                               [position, name])  # fmt: skip
                if cursor.rowcount == 0:
                    cursor.execute(
                        "INSERT INTO sqlite_sequence (name, seq) VALUES (%s, %s)", [name, position]
                    )
            else:
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence(%s, %s), GREATEST(%s, "  # noqa: S608 (names from the models)
                    f"(SELECT COALESCE(MAX({connection.ops.quote_name(column)}), 0) FROM {quoted})))",
                    [quoted, column, position],
                )
