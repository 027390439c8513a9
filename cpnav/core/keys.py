"""Field-key rotation, a count of stored values per key, and the start-up check
that the stored data can be read with the configured keys.

Every column of a ``crypto.EncryptedField`` is found through the app registry,
so a new encrypted field is rotated and checked without being listed here.

Rotation rewrites each value that is not under the newest key, one batch of
primary keys per transaction. A batch first reads only the first characters of
each value (enough for ``v1:<key id>:``), so rows already done cost a short
read; the rows to rewrite are then read in full and locked (``FOR UPDATE`` on
PostgreSQL; SQLite's IMMEDIATE transactions hold the write lock), and each
UPDATE also requires the old token still to be there, so a save in between is
never overwritten. Killing a run loses at most its open batch; the next run
skips what is done.

Values are rewritten with plain UPDATEs, not ``save()``: ``version`` (ADR 0008)
and ``updated_at`` stay as they are. The plaintext does not change, so a form
opened before the rotation saves as it would have, and nobody is sent to the
merge page for a change no one made.

Blind indexes are HMACs under their own key (``CPNAV_INDEX_KEY``), not the field
keys: rotation leaves them alone and duplicate look-ups keep working.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.apps import AppConfig, apps
from django.conf import settings
from django.core.checks import CheckMessage, Error
from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections, models, router, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from cpnav.audit.models import Outcome
from cpnav.audit.services import record
from cpnav.core import crypto
from cpnav.core.crypto import DecryptionError, EncryptedField

log = logging.getLogger("cpnav.keys")

VARIABLE = "CPNAV_FIELD_KEYS"
ACTOR = "cpnav keys rotate"
# Enough of a token for "v1:<key id>:"; a longer key id just costs a full read.
PREFIX_CHARS = 64
_PREFIX = re.compile(rf"{re.escape(crypto.VERSION)}:([^:]+):")
# Rows read from each end of the primary-key index per table by the start-up check.
SAMPLE_ROWS = 50
# What `keys status` counts values under that are not tokens at all.
NOT_A_TOKEN = "(not a token)"  # noqa: S105  (a label in a report, not a secret)


class RotationError(RuntimeError):
    """A value could not be re-encrypted; the message names field, row and key, never data."""


@dataclass(frozen=True)
class Protected:
    """A model with encrypted columns, and the SQL names to reach them."""

    model: type[models.Model]
    fields: tuple[EncryptedField, ...]

    @property
    def label(self) -> str:
        return self.model._meta.label_lower

    @property
    def table(self) -> str:
        return self.model._meta.db_table

    @property
    def pk_column(self) -> str:
        pk = self.model._meta.pk
        assert pk is not None
        return pk.column


def protected_models(app_configs: Iterable[AppConfig] | None = None) -> list[Protected]:
    """Every model with a table of its own holding encrypted columns."""
    candidates = (
        apps.get_models()
        if app_configs is None
        else [model for config in app_configs for model in config.get_models()]
    )
    found = []
    for model in candidates:
        opts = model._meta
        if opts.proxy or not opts.managed or opts.swapped:
            continue
        fields = tuple(f for f in opts.local_concrete_fields if isinstance(f, EncryptedField))
        if fields:
            found.append(Protected(model, fields))
    return sorted(found, key=lambda p: p.label)


class _Sql:
    """Quoted names for one table and the columns in play. Identifiers come from
    model metadata, never from input; values always go as parameters."""

    def __init__(
        self, p: Protected, connection: BaseDatabaseWrapper, fields: Sequence[EncryptedField]
    ) -> None:
        quote = connection.ops.quote_name
        self.table = quote(p.table)
        self.pk = quote(p.pk_column)
        self.columns = [quote(f.column) for f in fields]
        self.prefixes = ", ".join(f"SUBSTR({c}, 1, {PREFIX_CHARS})" for c in self.columns)


def _prefix_key_id(prefix: str) -> str | None:
    """The key id a value's first characters name, or None when they name none."""
    match = _PREFIX.match(prefix)
    return match.group(1) if match else None


# ---------------------------------------------------------------------------
# Rotation


@dataclass
class Tally:
    """One model's progress: rows by what happened to them, values rewritten."""

    label: str
    total: int = 0
    read: int = 0
    reencrypted: int = 0
    current: int = 0
    values: int = 0
    # Rows a concurrent writer changed between read and write; the next run takes them.
    changed: int = 0

    def line(self) -> str:
        text = (
            f"{self.label}: {self.read:,}/{self.total:,} rows, {self.reencrypted:,} re-encrypted "
            f"({self.values:,} values), {self.current:,} already current"
        )
        return text + (f", {self.changed:,} changed meanwhile" if self.changed else "")

    def as_dict(self) -> dict[str, int]:
        return {
            "rows": self.read,
            "reencrypted": self.reencrypted,
            "values": self.values,
            "current": self.current,
            "changed": self.changed,
        }


Progress = Callable[[Tally], None]


def rotate(
    *, batch: int = 500, pause: float = 0.0, progress: Progress | None = None
) -> list[Tally]:
    """Re-encrypt every encrypted value not under the newest key; audited start and end.

    Idempotent: a second run finds every row current. ``pause`` seconds between
    batches leave room for the application's own writes on a busy database.
    """
    if batch < 1:
        raise ValueError("batch must be at least 1")
    configured = crypto.key_ids()
    newest = configured[0]
    targets = protected_models()
    record(
        "keys.rotation_started",
        actor_label=ACTOR,
        details={
            "to_key": newest,
            "configured_keys": list(configured),
            "models": [p.label for p in targets],
            "batch": batch,
        },
    )
    tallies: list[Tally] = []
    try:
        for p in targets:
            tally = Tally(p.label)
            tallies.append(tally)
            _rotate_model(p, newest, tally, batch=batch, pause=pause, progress=progress)
    except BaseException as exc:
        _record_end(newest, tallies, failure=_reason(exc))
        raise
    _record_end(newest, tallies)
    return tallies


def _reason(exc: BaseException) -> str:
    # Our own messages name fields, rows and key ids only; anything else could
    # quote data (a driver error echoing a value), so only its type is kept.
    if isinstance(exc, RotationError):
        return str(exc)
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    return type(exc).__name__


def _record_end(newest: str, tallies: list[Tally], failure: str | None = None) -> None:
    details: dict[str, Any] = {
        "to_key": newest,
        "models": {t.label: t.as_dict() for t in tallies},
    }
    if failure is not None:
        details["error"] = failure
    try:
        record(
            "keys.rotation_finished" if failure is None else "keys.rotation_failed",
            actor_label=ACTOR,
            outcome=Outcome.SUCCESS if failure is None else Outcome.FAILURE,
            details=details,
        )
    except DatabaseError:
        if failure is None:
            raise
        # The database that failed the rotation may refuse the event too; the
        # rotation's own error is the one to show.
        log.exception("could not record the failed key rotation")


def _rotate_model(
    p: Protected, newest: str, tally: Tally, *, batch: int, pause: float, progress: Progress | None
) -> None:
    alias = router.db_for_write(p.model)
    connection = connections[alias]
    sql = _Sql(p, connection, p.fields)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {sql.table}")  # noqa: S608  (quoted identifiers)
        tally.total = cursor.fetchone()[0]
        after: Any = None
        while True:
            where, params = ("", []) if after is None else (f" WHERE {sql.pk} > %s", [after])
            cursor.execute(
                f"SELECT {sql.pk}, {sql.prefixes} FROM {sql.table}{where} "  # noqa: S608
                f"ORDER BY {sql.pk} LIMIT %s",
                [*params, batch],
            )
            rows = cursor.fetchall()
            if not rows:
                break
            after = rows[-1][0]
            stale = [
                row[0]
                for row in rows
                if any(x is not None and _prefix_key_id(x) != newest for x in row[1:])
            ]
            tally.read += len(rows)
            tally.current += len(rows) - len(stale)
            if stale:
                with transaction.atomic(using=alias):
                    _rewrite(p, connection, sql, stale, newest, tally)
            if progress is not None:
                progress(tally)
            if pause:
                time.sleep(pause)


def _rewrite(
    p: Protected,
    connection: BaseDatabaseWrapper,
    sql: _Sql,
    pks: list[Any],
    newest: str,
    tally: Tally,
) -> None:
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    marks = ", ".join(["%s"] * len(pks))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {sql.pk}, {', '.join(sql.columns)} FROM {sql.table} "  # noqa: S608
            f"WHERE {sql.pk} IN ({marks}){lock}",
            pks,
        )
        rows = cursor.fetchall()
        pk_field = p.model._meta.pk
        assert pk_field is not None
        for pk, *tokens in rows:
            changes: list[tuple[str, str, str]] = []  # (column, old token, new token)
            for f, column, token in zip(p.fields, sql.columns, tokens, strict=True):
                if token is not None:
                    # The row as the application names it (a UUID, not SQLite's hex).
                    fresh = _reencrypted(f, pk_field.to_python(pk), token, newest)
                    if fresh is not None:
                        changes.append((column, token, fresh))
            if not changes:
                tally.current += 1  # rewritten by a save since the short read
                continue
            sets = ", ".join(f"{column} = %s" for column, _, _ in changes)
            still = " AND ".join(f"{column} = %s" for column, _, _ in changes)
            cursor.execute(
                f"UPDATE {sql.table} SET {sets} WHERE {sql.pk} = %s AND {still}",  # noqa: S608
                [*(new for _, _, new in changes), pk, *(old for _, old, _ in changes)],
            )
            if cursor.rowcount == 1:
                tally.reencrypted += 1
                tally.values += len(changes)
            else:
                tally.changed += 1


def _reencrypted(f: EncryptedField, pk: Any, token: str, newest: str) -> str | None:
    """The token under the newest key, or None when it already is."""
    where = f"{f.context} (row {pk})"
    try:
        key_id = crypto.key_id_of(token)
    except DecryptionError:
        # Not the DecryptionError's text: for a value that is not a token it
        # quotes the value's first characters.
        raise RotationError(f"{where}: the stored value is not an encryption token") from None
    if key_id == newest:
        return None
    if key_id not in crypto.key_ids():
        raise RotationError(
            f"{where}: encrypted with key {key_id!r}, which is not in {VARIABLE}; "
            "add it back after the newest key and run again"
        )
    try:
        return crypto.reencrypt(token, context=f.context)
    except DecryptionError:
        raise RotationError(
            f"{where}: key {key_id!r} in {VARIABLE} does not decrypt it (other key material "
            "under that id, or the value was altered)"
        ) from None


# ---------------------------------------------------------------------------
# Status


@dataclass(frozen=True)
class FieldStatus:
    context: str  # "<app_label>.<model>.<field>"
    counts: dict[str, int]  # key id (or NOT_A_TOKEN) -> values; NULLs are not counted


def status() -> list[FieldStatus]:
    """How many values each key id holds, per encrypted field. One scan per table:
    seconds on the national data set, so for operators, not for start-up."""
    out: list[FieldStatus] = []
    for p in protected_models():
        connection = connections[router.db_for_read(p.model)]
        sql = _Sql(p, connection, p.fields)
        skip = len(crypto.VERSION) + 2  # past "v1:"
        expressions, params = [], []
        for column in sql.columns:
            if connection.vendor == "postgresql":
                key_id = f"split_part({column}, ':', 2)"
            else:
                key_id = f"SUBSTR({column}, {skip}, INSTR(SUBSTR({column}, {skip}), ':') - 1)"
            expressions.append(
                f"CASE WHEN {column} IS NULL THEN NULL WHEN {column} LIKE %s THEN {key_id} "
                "ELSE %s END"
            )
            params += [f"{crypto.VERSION}:%:%", NOT_A_TOKEN]
        positions = ", ".join(str(i + 1) for i in range(len(expressions)))
        counts: list[dict[str, int]] = [{} for _ in p.fields]
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {', '.join(expressions)}, COUNT(*) FROM {sql.table} "  # noqa: S608
                f"GROUP BY {positions}",
                params,
            )
            for *key_ids, n in cursor.fetchall():
                for index, key_id in enumerate(key_ids):
                    if key_id is not None:
                        label = key_id if key_id else NOT_A_TOKEN
                        counts[index][label] = counts[index].get(label, 0) + n
        out += [FieldStatus(f.context, c) for f, c in zip(p.fields, counts, strict=True)]
    return out


# ---------------------------------------------------------------------------
# Start-up check


@dataclass
class _Findings:
    missing: dict[str, list[str]] = field(default_factory=dict)
    undecryptable: dict[str, list[str]] = field(default_factory=dict)
    not_tokens: list[str] = field(default_factory=list)

    def errors(self) -> list[CheckMessage]:
        errors: list[CheckMessage] = []
        for key_id, contexts in sorted(self.missing.items()):
            errors.append(
                Error(
                    f"Stored values are encrypted with field key {key_id!r}, which is not in "
                    f"{VARIABLE} ({', '.join(contexts)}); they cannot be read.",
                    hint=f"Add key {key_id!r} back to {VARIABLE} (after the newest key) and keep "
                    "it until `cpnav keys rotate` has run and `cpnav keys status` shows no "
                    "values under it.",
                    id="cpnav.E002",
                )
            )
        for key_id, contexts in sorted(self.undecryptable.items()):
            errors.append(
                Error(
                    f"Field key {key_id!r} in {VARIABLE} does not decrypt the values stored "
                    f"under {key_id!r} ({', '.join(contexts)}): its key material is not the "
                    "key that encrypted them (or the values were altered).",
                    hint=f"Restore the original key for {key_id!r} in {VARIABLE}. A new key "
                    "needs a new id: list it first and run `cpnav keys rotate`.",
                    id="cpnav.E003",
                )
            )
        for context in self.not_tokens:
            errors.append(
                Error(
                    f"{context} holds values that are not encryption tokens (plaintext or "
                    "damaged data in an encrypted column).",
                    hint="Encrypted columns are written only through their model field; "
                    "restore the column from a backup.",
                    id="cpnav.E004",
                )
            )
        return errors


def check_stored_keys(
    *,
    app_configs: Sequence[AppConfig] | None = None,
    databases: Sequence[str] | None = None,
    **kwargs: Any,
) -> list[CheckMessage]:
    """Refuse to start when stored values need a key that is missing or different.

    Samples each table from both ends of its primary-key index (random rows for
    UUID keys, oldest and newest for serial ones) instead of scanning it, then
    decrypts one value per field and key id. Some dozens of indexed queries,
    milliseconds whatever the table size; a key id held only by a handful of
    rows can escape the sample (``cpnav keys status`` counts everything), and
    such a row then fails to decrypt when read rather than show anything wrong.

    Django's commands pass no ``databases`` (its convention: no database
    checks); we check the default database anyway, so that `cpnav serve` and
    `cpnav check` refuse too. A database that is absent, unreachable or not yet
    migrated is skipped: there is nothing to read, or `migrate` is about to run.
    """
    findings = _Findings()
    configured = {key.key_id for key in settings.FIELD_ENCRYPTION_KEYS}
    targets = protected_models(app_configs)
    for alias in [DEFAULT_DB_ALIAS] if databases is None else databases:
        connection = connections[alias]
        mine = [p for p in targets if router.allow_migrate_model(alias, p.model)]
        if not mine or not _has_database(connection):
            continue
        opened = connection.connection is None
        try:
            _sample(connection, mine, configured, findings)
        except DatabaseError as exc:
            log.warning("stored field keys not checked on database %r: %s", alias, exc)
        finally:
            if opened and not connection.in_atomic_block:
                connection.close()
    return findings.errors()


def require_readable_data() -> None:
    """The start-up check for a process that runs no system checks (a WSGI server
    started directly, not through `cpnav serve`): raises ImproperlyConfigured."""
    errors = check_stored_keys()
    if errors:
        raise ImproperlyConfigured(
            "\n".join(f"{e.id}: {e.msg}" + (f" HINT: {e.hint}" if e.hint else "") for e in errors)
        )


def _has_database(connection: BaseDatabaseWrapper) -> bool:
    """False for an SQLite file that does not exist (connecting would create it)."""
    if connection.vendor != "sqlite":
        return True
    name = str(connection.settings_dict["NAME"])
    return name == ":memory:" or name.startswith("file:") or Path(name).exists()


def _sample(
    connection: BaseDatabaseWrapper,
    targets: list[Protected],
    configured: set[str],
    findings: _Findings,
) -> None:
    with connection.cursor() as cursor:
        tables = set(connection.introspection.table_names(cursor))
        for p in targets:
            if p.table not in tables:
                continue
            columns = {
                c.name for c in connection.introspection.get_table_description(cursor, p.table)
            }
            fields = [f for f in p.fields if f.column in columns]
            if not fields:
                continue
            sql = _Sql(p, connection, fields)
            # (field index, key id named by the prefix) -> a row holding such a value
            seen: dict[tuple[int, str | None], Any] = {}
            for order in ("ASC", "DESC"):
                cursor.execute(
                    f"SELECT {sql.pk}, {sql.prefixes} FROM {sql.table} "  # noqa: S608
                    f"ORDER BY {sql.pk} {order} LIMIT %s",
                    [SAMPLE_ROWS],
                )
                for pk, *prefixes in cursor.fetchall():
                    for index, prefix in enumerate(prefixes):
                        if prefix is not None:
                            seen.setdefault((index, _prefix_key_id(prefix)), pk)
            for (index, _), pk in sorted(seen.items(), key=lambda item: str(item[0])):
                f, column = fields[index], sql.columns[index]
                cursor.execute(
                    f"SELECT {column} FROM {sql.table} WHERE {sql.pk} = %s",  # noqa: S608
                    [pk],
                )
                row = cursor.fetchone()
                if row is None or row[0] is None:
                    continue  # changed since the sample
                _verify(f, row[0], configured, findings)


def _verify(f: EncryptedField, token: str, configured: set[str], findings: _Findings) -> None:
    try:
        key_id = crypto.key_id_of(token)
    except DecryptionError:
        if f.context not in findings.not_tokens:
            findings.not_tokens.append(f.context)
        return
    if key_id not in configured:
        findings.missing.setdefault(key_id, []).append(f.context)
        return
    try:
        crypto.decrypt(token, context=f.context)
    except DecryptionError:
        findings.undecryptable.setdefault(key_id, []).append(f.context)
