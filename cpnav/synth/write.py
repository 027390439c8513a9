"""Writing planned synthetic data: bulk inserts in batches, one transaction per batch."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

from django.db import connections, models, router, transaction
from django.db.models.fields import AutoFieldMixin
from tqdm import tqdm

from cpnav.accounts.models import Agency, FederalPartnership, Membership, User
from cpnav.audit.models import AuditEvent, ChainHead
from cpnav.cases.models import Case
from cpnav.referrals.models import Kind, Provider
from cpnav.synth.plan import (
    CASE_TABLES,
    AuditPlanner,
    CasePlanner,
    Directory,
    NationalProvider,
    plan_directory,
)


class ChainMoved(RuntimeError):
    """Someone else appended to the audit chain while synth was writing it."""


@dataclass
class Stats:
    rows: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def add(self, table: str, rows: int, seconds: float) -> None:
        self.rows[table] = self.rows.get(table, 0) + rows
        self.seconds[table] = self.seconds.get(table, 0.0) + seconds

    def lines(self) -> list[str]:
        out = []
        for table, rows in self.rows.items():
            seconds = self.seconds[table]
            rate = rows / seconds if seconds > 0 else float("inf")
            out.append(f"{table:28} {rows:>12,} rows {seconds:>9.2f} s {rate:>12,.0f} rows/s")
        return out


@dataclass(frozen=True)
class Options:
    agencies: int
    cases: int
    audit_events: int
    seed: int
    batch: int
    progress: bool = True


@contextmanager
def explicit_timestamps(tables: Sequence[type[models.Model]]) -> Iterator[None]:
    """Let bulk_create keep the planned timestamps instead of stamping "now".

    auto_now/auto_now_add would make every synthetic row "created" today and
    break created < submitted < decided; the flags are restored afterwards.
    """
    changed: list[tuple[models.DateField[Any, Any], bool, bool]] = []
    for model in tables:
        for f in model._meta.concrete_fields:
            if isinstance(f, models.DateField) and (f.auto_now or f.auto_now_add):
                changed.append((f, f.auto_now, f.auto_now_add))
                f.auto_now = f.auto_now_add = False
    try:
        yield
    finally:
        for f, now, add in changed:
            f.auto_now, f.auto_now_add = now, add


def _label(model: type[models.Model]) -> str:
    return model._meta.db_table


PLAIN_FIELDS: frozenset[type[models.Field[Any, Any]]] = frozenset(
    {models.CharField, models.TextField, models.IntegerField, models.BigIntegerField,
     models.PositiveIntegerField, models.PositiveBigIntegerField, models.PositiveSmallIntegerField,
     models.SmallIntegerField}
)  # fmt: skip


class RawInsert:
    """Inserts planned rows without the ORM's per-row SQL compiler.

    Each value still comes from the model field's own ``pre_save`` and
    ``get_db_prep_save`` - so encryption, JSON and time zone handling are the
    application's - but the rows go in with one ``executemany`` (SQLite) or a
    ``COPY`` (PostgreSQL), several times faster than ``bulk_create``. Rows may
    be model instances or any object with the fields' attribute names. Auto
    primary keys are left to the database.
    """

    def __init__(self, model: type[models.Model]) -> None:
        self.connection = connections[router.db_for_write(model)]
        self.fields = [f for f in model._meta.concrete_fields if not isinstance(f, AutoFieldMixin)]
        quote = self.connection.ops.quote_name
        self.table = quote(model._meta.db_table)
        self.columns = ", ".join(quote(f.column) for f in self.fields)
        # Fields whose preparation leaves a str or int as it is: read directly.
        self.plain = [type(f) in PLAIN_FIELDS for f in self.fields]

    def values(self, row: Any) -> list[Any]:
        connection = self.connection
        out = []
        for f, plain in zip(self.fields, self.plain, strict=True):
            if plain:
                value = getattr(row, f.attname)
                if value is None or type(value) in (str, int):
                    out.append(value)
                    continue
            out.append(f.get_db_prep_save(f.pre_save(row, True), connection))
        return out

    def write(self, rows: Sequence[Any]) -> None:
        if not rows:
            return
        with self.connection.cursor() as cursor:
            if self.connection.vendor == "postgresql":
                with cursor.cursor.copy(f"COPY {self.table} ({self.columns}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(self.values(row))
            else:
                marks = ", ".join(["%s"] * len(self.fields))
                cursor.executemany(
                    f"INSERT INTO {self.table} ({self.columns}) VALUES ({marks})",  # noqa: S608
                    [self.values(row) for row in rows],
                )


_writers: dict[type[models.Model], RawInsert] = {}


def _insert(model: type[models.Model], rows: Sequence[Any], stats: Stats) -> None:
    if not rows:
        return
    began = time.perf_counter()
    writer = _writers.get(model)
    if writer is None or writer.connection is not connections[router.db_for_write(model)]:
        writer = _writers[model] = RawInsert(model)
    writer.write(rows)
    stats.add(_label(model), len(rows), time.perf_counter() - began)


def national_providers() -> list[NationalProvider]:
    return [
        NationalProvider(p.pk, list(p.services))
        for p in Provider.objects.filter(kind=Kind.NATIONAL, active=True).order_by("key", "name")
    ]


def write_directory(
    directory: Directory, batch: int, stats: Stats, bar: tqdm[Any] | None = None
) -> None:
    for model, rows in (
        (Agency, directory.agencies),
        (FederalPartnership, directory.partnerships),
        (User, directory.users),
        (Membership, directory.memberships),
    ):
        for start in range(0, len(rows), batch):
            chunk = rows[start : start + batch]
            with transaction.atomic():
                _insert(model, chunk, stats)
            if bar is not None:
                bar.update(len(chunk))


def write_audit(planner: AuditPlanner, events: int, batch: int, stats: Stats,
                bar: tqdm[Any] | None = None) -> None:  # fmt: skip
    """Append the planned events; the head moves with each batch, so a crash leaves
    a shorter chain that still verifies."""
    expected_seq, expected_hash = planner.seq, planner.hash
    for chunk in planner.batches(events, batch):
        with transaction.atomic():
            head, _ = ChainHead.objects.select_for_update().get_or_create(pk=1)
            if (head.seq, head.hash) != (expected_seq, expected_hash):
                raise ChainMoved(
                    f"the audit chain moved to #{head.seq} while synth expected "
                    f"#{expected_seq}; rerun when nothing else is writing"
                )
            _insert(AuditEvent, chunk, stats)
            head.seq, head.hash = chunk[-1].seq, chunk[-1].hash
            head.save(update_fields=["seq", "hash"])
        expected_seq, expected_hash = head.seq, head.hash
        if bar is not None:
            bar.update(len(chunk))


def run(options: Options, now: datetime, stderr: IO[str] | None = None) -> Stats:
    stats = Stats()
    agency_offset = Agency.objects.count()
    case_offset = Case.objects.count()
    directory = plan_directory(options.seed, options.agencies, now, offset=agency_offset)
    disable = not options.progress

    tables: tuple[type[models.Model], ...] = (
        Agency,
        FederalPartnership,
        User,
        Membership,
        *CASE_TABLES,
    )
    with explicit_timestamps(tables):
        rows = (len(directory.agencies) + len(directory.partnerships) + len(directory.users)
                + len(directory.memberships))  # fmt: skip
        with tqdm(total=rows, desc="agencies+users", unit="row", file=stderr,
                  disable=disable) as bar:  # fmt: skip
            write_directory(directory, options.batch, stats, bar)
        planner = CasePlanner(
            options.seed, directory, now, national_providers(), offset=case_offset
        )
        with tqdm(total=options.cases, desc="cases", unit="case", file=stderr,
                  disable=disable) as bar:  # fmt: skip
            for batch in planner.batches(options.cases, options.batch):
                with transaction.atomic():
                    for model in CASE_TABLES:
                        _insert(model, batch.rows(model), stats)
                bar.update(len(batch.rows(Case)))
    head, _ = ChainHead.objects.get_or_create(pk=1)
    audit = AuditPlanner(options.seed, directory, now, head.seq, head.hash)
    with tqdm(total=options.audit_events, desc="audit events", unit="event", file=stderr,
              disable=disable) as bar:  # fmt: skip
        write_audit(audit, options.audit_events, options.batch, stats, bar)
    return stats
