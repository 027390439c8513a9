"""Running a check or an import in the background, with progress the page can show.

Why a thread started by the request: a 100,000-row workbook takes longer to
read than a request may last, the project runs no task queue (one machine
with SQLite must work), and the work must stay in one transaction. The
request that starts the job records the status change first (a conditional
UPDATE, so a double click starts one run), starts a daemon thread and waits
up to ``WAIT_SECONDS`` for it: a small file is finished before the page
answers, a large one shows the progress page.

The thread uses its own database connection (Django gives each thread one)
and closes it at the end. Progress is saved in the job row every
``checks.PROGRESS_EVERY`` rows:

* while rows are checked no transaction is open, so each save is committed
  and any app server answering the status request sees it;
* while rows are written the import's transaction is open and its rows are
  invisible to others until the commit. Saves then go through a second,
  private connection in autocommit mode - except on SQLite, which allows one
  writer at a time: there the bar shows that writing has started and jumps
  to the end at the commit.

The same single writer is the one cost of all-or-nothing on SQLite: while an
import writes (about a millisecond per row, so a minute or two for 100,000
rows) other users' writes wait for it, up to SQLite's 20-second busy timeout.
Large imports belong to quiet hours there; PostgreSQL locks only the rows.

If the process dies mid-way (a restart), the transaction was never committed,
so nothing was written; the job stops moving and is reported as failed after
``STALE_AFTER``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any, Final, Literal
from uuid import UUID

from django.db import DatabaseError, connection, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from cpnav.audit.services import record
from cpnav.core.csvtext import Problem
from cpnav.imports import services
from cpnav.imports.models import CLOSED, RUNNING, ImportFile, ImportJob, JobStatus, Phase

log = logging.getLogger("cpnav.imports")

Kind = Literal["check", "import"]
WAIT_SECONDS: Final = 3.0
STALE_AFTER: Final = timedelta(minutes=30)
# The page lists this many problems and offers them all as a download; a file
# with more has a systematic fault (a wrong column or date format) that the
# per-column counts show.
MAX_STORED_PROBLEMS: Final = 5_000

_SOURCES: Final[dict[Kind, frozenset[str]]] = {
    "check": frozenset(
        {JobStatus.UPLOADED, JobStatus.REJECTED, JobStatus.CHECKED, JobStatus.FAILED}
    ),
    "import": frozenset({JobStatus.CHECKED}),
}
_TARGET: Final[dict[Kind, str]] = {"check": JobStatus.CHECKING, "import": JobStatus.IMPORTING}


class JobConflict(Exception):
    """The job is not in a state where this run can start (say, already running)."""


def start(job: ImportJob, kind: Kind, *, wait: float = WAIT_SECONDS) -> bool:
    """Move the job to its running state and run it in a thread; True if it finished in ``wait``."""
    now = timezone.now()
    moved = ImportJob.objects.filter(pk=job.pk, status__in=_SOURCES[kind]).update(
        status=_TARGET[kind], phase=Phase.CHECKING, processed=0, error="", updated_at=now
    )
    if not moved:
        raise JobConflict(job.pk)
    worker = threading.Thread(target=run, args=(job.pk, kind), name=f"import-{job.pk}", daemon=True)
    worker.start()
    worker.join(wait)
    return not worker.is_alive()


def run(job_id: UUID, kind: Kind) -> None:
    """The thread's whole life: never raises, always closes its connections."""
    try:
        job = ImportJob.objects.select_related("agency", "created_by").get(pk=job_id)
        with translation.override(job.language):
            _run(job, kind)
    except Exception:
        # Anything unexpected would otherwise vanish with the thread and leave the
        # job "running"; the transaction was rolled back, so say nothing was written.
        log.exception("import job %s (%s) failed", job_id, kind)
        _finish(job_id, JobStatus.FAILED, error=_("an unexpected error stopped it"))
    finally:
        connections.close_all()


def _run(job: ImportJob, kind: Kind) -> None:
    user, agency = job.created_by, job.agency
    if not services.may_import(user, agency):
        _finish(job.pk, JobStatus.FAILED, error=_("you may no longer create cases at this agency"))
        return
    try:
        table = services.load_table(job)
    except services.ImportRefused as refused:
        _reject(job, refused.problems, row_count=0)
        return
    ImportJob.objects.filter(pk=job.pk).update(total=table.row_estimate or 0)
    checking = _saver(job.pk, Phase.CHECKING)
    result = services.check_table(table, job.mapping, agency, user, progress=checking)
    if not result.ok:
        _reject(job, result.problems, row_count=result.row_count)
        return
    counts = services.Counts(
        rows=result.row_count,
        cases=result.case_count,
        people=len(result.rows),
        grants=result.grant_count,
    )
    if kind == "check":
        _finish(job.pk, JobStatus.CHECKED, total=result.row_count, processed=result.row_count,
                summary=_summary(job, counts.as_dict()))  # fmt: skip
        return
    ImportJob.objects.filter(pk=job.pk).update(
        phase=Phase.WRITING, total=len(result.rows), processed=0, updated_at=timezone.now()
    )
    with _PrivateSaver(job.pk) as writing:
        try:
            counts = services.write(
                agency, user, result.rows, job.mapping, progress=writing, job=job
            )
        except services.ImportRefused as refused:
            _reject(job, refused.problems, row_count=result.row_count)
            return
        except DatabaseError as error:
            log.warning("import job %s: the database refused the write: %s", job.pk, error)
            _finish(
                job.pk,
                JobStatus.FAILED,
                error=_("the database refused the records (%(error)s)")
                % {"error": str(error)[:200]},
            )
            return
    remove_file(job)
    _finish(job.pk, JobStatus.DONE, total=counts.rows, processed=counts.rows,
            summary=_summary(job, counts.as_dict()))  # fmt: skip


def _summary(job: ImportJob, counts: dict[str, Any]) -> dict[str, Any]:
    return {**counts, "unmapped": [c for c in job.columns if c not in job.mapping.values()]}


def _reject(job: ImportJob, problems: list[Problem], *, row_count: int) -> None:
    by_column: dict[str, int] = {}
    for problem in problems:
        by_column[problem.column] = by_column.get(problem.column, 0) + 1
    job.problems = [[p.line, p.column, p.message] for p in problems[:MAX_STORED_PROBLEMS]]
    job.problem_count = len(problems)
    job.rows_with_problems = len({p.line for p in problems})
    job.save(update_fields=["problems", "problem_count", "rows_with_problems"])
    _finish(job.pk, JobStatus.REJECTED, total=row_count, processed=row_count,
            summary={"rows": row_count, "by_column": by_column})  # fmt: skip


def _finish(job_id: UUID, status: str, **fields: Any) -> None:
    now = timezone.now()
    ImportJob.objects.filter(pk=job_id).update(
        status=status, phase=Phase.NONE, updated_at=now, finished_at=now, **fields
    )


def _saver(job_id: UUID, phase: str) -> Callable[[int], None]:
    """Progress saves through the thread's own connection (no transaction is open)."""

    def save(processed: int) -> None:
        ImportJob.objects.filter(pk=job_id).update(
            phase=phase, processed=processed, updated_at=timezone.now()
        )

    return save


class _PrivateSaver:
    """Progress saves from inside the import's transaction, through a second connection."""

    def __init__(self, job_id: UUID) -> None:
        self.job_id = job_id
        self.private: BaseDatabaseWrapper | None = None

    def __enter__(self) -> _PrivateSaver:
        if connection.vendor != "sqlite":  # one writer at a time: see the module's docstring
            self.private = connections.create_connection(connection.alias)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.private is not None:
            self.private.close()

    def __call__(self, processed: int) -> None:
        if self.private is None:
            return
        meta = ImportJob._meta
        table = self.private.ops.quote_name(meta.db_table)
        values = [
            processed,
            meta.get_field("updated_at").get_db_prep_save(timezone.now(), self.private),
            meta.pk.get_db_prep_save(self.job_id, self.private),
        ]
        with self.private.cursor() as cursor:
            # Only quoted names are interpolated; every value is a parameter.
            cursor.execute(
                f"UPDATE {table} SET processed = %s, updated_at = %s WHERE id = %s",  # noqa: S608
                values,
            )


# --- the file's life ---------------------------------------------------------


def remove_file(job: ImportJob) -> None:
    ImportFile.objects.filter(job=job).delete()
    ImportJob.objects.filter(pk=job.pk).update(file_removed_at=timezone.now())
    job.file_removed_at = timezone.now()


def discard(job: ImportJob, *, actor_label: str = "", request: Any = None) -> None:
    """The user abandons the import: the file goes now, the job stays as a record."""
    if job.is_running:
        raise JobConflict(job.pk)
    remove_file(job)
    if job.status not in CLOSED:
        _finish(job.pk, JobStatus.DISCARDED)
        job.status = JobStatus.DISCARDED
    record("import.discarded", request=request, actor_label=actor_label,
           agency_id=job.agency_id, object_type="import", object_id=job.pk)  # fmt: skip


def refresh(job: ImportJob) -> ImportJob:
    """The job as stored, with a run that stopped moving reported as failed."""
    if job.status in RUNNING and job.updated_at < timezone.now() - STALE_AFTER:
        _finish(job.pk, JobStatus.FAILED,
                error=_("it stopped without finishing (the server may have restarted)"))  # fmt: skip
        job.refresh_from_db()
    return job


def purge_expired() -> int:
    """Remove every uploaded file past its expiry; return how many were removed."""
    now = timezone.now()
    expired = list(
        ImportJob.objects.filter(expires_at__lt=now, file_removed_at__isnull=True).exclude(
            status__in=RUNNING, updated_at__gt=now - STALE_AFTER
        )
    )
    for job in expired:
        remove_file(job)
        if job.status not in CLOSED:
            _finish(job.pk, JobStatus.DISCARDED, error=_("the file expired"))
        record("import.expired", actor_label="cpnav imports expiry", agency_id=job.agency_id,
               object_type="import", object_id=job.pk)  # fmt: skip
    return len(expired)


def status_json(job: ImportJob) -> dict[str, Any]:
    return {
        "status": job.status,
        "status_label": str(job.get_status_display()),
        "phase": job.phase,
        "phase_label": str(Phase(job.phase).label) if job.phase else "",
        "processed": job.processed,
        "total": job.total,
        "percent": job.percent,
        "running": job.is_running,
        # On SQLite the count does not move while rows are written (see above).
        "indeterminate": job.is_running
        and (not job.total or (job.phase == Phase.WRITING and connection.vendor == "sqlite")),
    }


def problems_of(job: ImportJob) -> list[Problem]:
    return [Problem(int(line), str(column), str(message)) for line, column, message in job.problems]
