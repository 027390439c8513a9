"""Import jobs: the background thread, its progress, the report it stores, the file's life.

These tests commit (transaction=True): the job's thread has its own database
connection and sees only what is committed, as in production.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest
from django.db import DatabaseError, connection, connections
from django.test import RequestFactory
from django.utils import timezone

from cpnav.accounts.models import Agency, Membership, User
from cpnav.audit.models import AuditEvent
from cpnav.cases.models import Case, Person
from cpnav.imports import jobs, services
from cpnav.imports.models import ImportFile, ImportJob, JobStatus, Phase
from tests.imports.conftest import http_as
from tests.imports.helpers import csv_bytes, person

pytestmark = pytest.mark.django_db(transaction=True)


def uploaded(rf: RequestFactory, user: User, agency: Agency, data: bytes) -> ImportJob:
    return services.upload(http_as(rf, user), user, agency, data, "cases.csv", "en")


def fresh(job: ImportJob) -> ImportJob:
    return ImportJob.objects.get(pk=job.pk)


def test_a_check_runs_in_a_thread_and_keeps_the_counts(
    rf: RequestFactory, agency_a: Agency, importer: User
) -> None:
    job = uploaded(
        rf, importer, agency_a, csv_bytes([person(1), person(2, **{"CP start": "", "CP end": ""})])
    )
    assert jobs.start(job, "check")  # finished while the request waited
    job = fresh(job)
    assert job.status == JobStatus.CHECKED
    assert (job.total, job.processed, job.percent, job.phase) == (2, 2, 100, Phase.NONE)
    assert job.summary == {"rows": 2, "cases": 2, "people": 2, "grants": 1, "unmapped": []}
    assert job.has_file
    assert not Case.objects.exists()


def test_a_check_with_problems_stores_the_report(
    rf: RequestFactory, agency_a: Agency, importer: User
) -> None:
    rows = [person(1, DOB="1/2/90"), person(2), person(3, Citizenship="x", DOB="13/01/1990")]
    job = uploaded(rf, importer, agency_a, csv_bytes(rows))
    jobs.start(job, "check")
    job = fresh(job)
    assert job.status == JobStatus.REJECTED
    assert (job.problem_count, job.rows_with_problems) == (3, 2)
    assert [(p.line, p.column) for p in jobs.problems_of(job)] == [
        (2, "DOB"), (4, "DOB"), (4, "Citizenship"),
    ]  # fmt: skip
    assert job.summary == {"rows": 3, "by_column": {"DOB": 2, "Citizenship": 1}}
    with connection.cursor() as cursor:
        cursor.execute("SELECT problems FROM imports_importjob")
        (raw,) = cursor.fetchone()
    assert raw.startswith("v1:")  # messages quote cells: encrypted


def test_the_report_keeps_the_first_problems_and_counts_them_all(
    rf: RequestFactory, agency_a: Agency, importer: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jobs, "MAX_STORED_PROBLEMS", 2)
    job = uploaded(rf, importer, agency_a, csv_bytes([person(n, DOB="x") for n in range(1, 6)]))
    jobs.start(job, "check")
    job = fresh(job)
    assert (job.problem_count, len(job.problems)) == (5, 2)


def test_an_import_writes_removes_the_file_and_shows_100_percent(
    rf: RequestFactory, agency_a: Agency, importer: User
) -> None:
    job = uploaded(rf, importer, agency_a, csv_bytes([person(1), person(2)]))
    jobs.start(job, "check")
    assert jobs.start(fresh(job), "import")
    job = fresh(job)
    assert job.status == JobStatus.DONE
    assert jobs.status_json(job) | {"status_label": ""} == {
        "status": "done", "status_label": "", "phase": "", "phase_label": "", "processed": 2,
        "total": 2, "percent": 100, "running": False, "indeterminate": False,
    }  # fmt: skip
    assert not job.has_file
    assert not ImportFile.objects.exists()
    assert Person.objects.filter(case__agency=agency_a).count() == 2
    event = AuditEvent.objects.get(action="import.completed")
    assert event.object_id == str(job.pk)
    assert event.details["via"] == "page"


def test_only_a_checked_file_is_imported_and_only_once(
    rf: RequestFactory, agency_a: Agency, importer: User
) -> None:
    job = uploaded(rf, importer, agency_a, csv_bytes([person(1)]))
    with pytest.raises(jobs.JobConflict):
        jobs.start(job, "import")  # not checked yet
    jobs.start(job, "check")
    jobs.start(fresh(job), "import")
    with pytest.raises(jobs.JobConflict):
        jobs.start(fresh(job), "import")
    assert Person.objects.count() == 1


def test_an_import_is_checked_again_and_refused_if_a_duplicate_appeared(
    rf: RequestFactory, agency_a: Agency, importer: User, teammate: User
) -> None:
    job = uploaded(rf, importer, agency_a, csv_bytes([person(1), person(2)]))
    jobs.start(job, "check")
    Case.objects.create(agency=agency_a, case_number="2026-000002", lead_investigator=teammate)
    jobs.start(fresh(job), "import")
    job = fresh(job)
    assert job.status == JobStatus.REJECTED
    assert "already has a case with this number" in jobs.problems_of(job)[0].message
    assert Person.objects.count() == 0
    assert job.has_file  # the user may fix the file and try again


def test_a_database_failure_is_reported_and_nothing_is_kept(
    rf: RequestFactory, agency_a: Agency, importer: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = uploaded(rf, importer, agency_a, csv_bytes([person(1), person(2)]))
    jobs.start(job, "check")

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise DatabaseError("could not extend file (simulated)")

    monkeypatch.setattr(Person.objects, "bulk_create", refuse)
    jobs.start(fresh(job), "import")
    job = fresh(job)
    assert job.status == JobStatus.FAILED
    assert job.error == "the database refused the records (could not extend file (simulated))"
    assert not Case.objects.exists()
    assert job.has_file


def test_an_unexpected_error_fails_the_job_instead_of_leaving_it_running(
    rf: RequestFactory, agency_a: Agency, importer: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = uploaded(rf, importer, agency_a, csv_bytes([person(1)]))

    def boom(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(services, "check_table", boom)
    jobs.start(job, "check")
    job = fresh(job)
    assert (job.status, job.error) == (JobStatus.FAILED, "an unexpected error stopped it")


def test_a_user_who_lost_the_role_cannot_run_the_import(
    rf: RequestFactory, agency_a: Agency, importer: User
) -> None:
    job = uploaded(rf, importer, agency_a, csv_bytes([person(1)]))
    jobs.start(job, "check")
    Membership.objects.filter(user=importer).delete()
    jobs.start(fresh(job), "import")
    job = fresh(job)
    assert (job.status, job.error) == (
        JobStatus.FAILED,
        "you may no longer create cases at this agency",
    )
    assert not Person.objects.exists()


def test_the_thread_closes_its_connections(
    rf: RequestFactory, agency_a: Agency, importer: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = uploaded(rf, importer, agency_a, csv_bytes([person(1)]))
    closed: list[str] = []
    original = connections.close_all

    def spy() -> None:
        import threading

        closed.append(threading.current_thread().name)
        original()

    monkeypatch.setattr(connections, "close_all", spy)
    jobs.start(job, "check")
    assert closed == [f"import-{job.pk}"]


def test_progress_is_saved_while_rows_are_checked(
    rf: RequestFactory, agency_a: Agency, importer: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = uploaded(rf, importer, agency_a, csv_bytes([person(n) for n in range(1, 6)]))
    seen: list[tuple[str, int]] = []
    original = jobs._saver

    def saver(job_id: UUID, phase: str) -> Any:
        save = original(job_id, phase)

        def spy(processed: int) -> None:
            save(processed)
            row = ImportJob.objects.get(pk=job_id)
            seen.append((row.phase, row.processed))

        return spy

    monkeypatch.setattr(jobs, "_saver", saver)
    jobs.start(job, "check")
    assert seen == [("checking", 5)]  # fewer rows than PROGRESS_EVERY: saved at the end


def test_write_progress_goes_through_a_second_connection(
    rf: RequestFactory, agency_a: Agency, importer: User
) -> None:
    job = uploaded(rf, importer, agency_a, csv_bytes([person(1)]))
    with jobs._PrivateSaver(job.pk) as save:
        save(7)
        if connection.vendor == "sqlite":
            assert save.private is None  # one writer at a time: nothing to do
            assert fresh(job).processed == 0
        else:
            assert save.private is not None
            assert save.private is not connection
            assert fresh(job).processed == 7


@pytest.mark.skipif("connection.vendor == 'sqlite'")
def test_write_progress_is_visible_before_the_commit(
    rf: RequestFactory, agency_a: Agency, importer: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL another connection sees the count move inside the import's transaction."""
    monkeypatch.setattr(services, "BATCH", 2)
    job = uploaded(rf, importer, agency_a, csv_bytes([person(n) for n in range(1, 6)]))
    jobs.start(job, "check")
    outside: list[int] = []
    original = jobs._PrivateSaver.__call__

    def spy(self: jobs._PrivateSaver, processed: int) -> None:
        original(self, processed)
        other = connections.create_connection("default")
        try:
            with other.cursor() as cursor:
                cursor.execute("SELECT processed FROM imports_importjob")
                outside.append(cursor.fetchone()[0])
        finally:
            other.close()

    monkeypatch.setattr(jobs._PrivateSaver, "__call__", spy)
    jobs.start(fresh(job), "import")
    assert outside == [2, 4, 5]


def test_a_job_that_stopped_moving_is_reported_failed(
    rf: RequestFactory, agency_a: Agency, importer: User
) -> None:
    job = uploaded(rf, importer, agency_a, csv_bytes([person(1)]))
    ImportJob.objects.filter(pk=job.pk).update(
        status=JobStatus.IMPORTING, updated_at=timezone.now() - jobs.STALE_AFTER - timedelta(1)
    )
    job = jobs.refresh(fresh(job))
    assert job.status == JobStatus.FAILED
    assert "stopped without finishing" in job.error


def test_expired_files_are_removed(rf: RequestFactory, agency_a: Agency, importer: User) -> None:
    old = uploaded(rf, importer, agency_a, csv_bytes([person(1)]))
    kept = uploaded(rf, importer, agency_a, csv_bytes([person(2)]))
    ImportJob.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert jobs.purge_expired() == 1
    old, kept = fresh(old), fresh(kept)
    assert (old.status, old.has_file, old.error) == (JobStatus.DISCARDED, False, "the file expired")
    assert kept.has_file
    assert list(ImportFile.objects.values_list("job", flat=True)) == [kept.pk]
    assert AuditEvent.objects.filter(action="import.expired", object_id=str(old.pk)).exists()


def test_discarding_removes_the_file(rf: RequestFactory, agency_a: Agency, importer: User) -> None:
    job = uploaded(rf, importer, agency_a, csv_bytes([person(1)]))
    jobs.discard(job, request=http_as(rf, importer))
    job = fresh(job)
    assert (job.status, job.has_file) == (JobStatus.DISCARDED, False)
    assert not ImportFile.objects.exists()
