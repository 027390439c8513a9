"""Importing into the database: all or nothing, duplicates, who may import."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError, connection
from django.test import RequestFactory

from cpnav.accounts.models import Agency, User
from cpnav.audit.models import AuditEvent, Outcome
from cpnav.cases.models import Case, CPRequest, Decision, Person, RequestEvent, Status
from cpnav.core.crypto import blind_index
from cpnav.grants.models import Grant, GrantTerm
from cpnav.imports import fields as F
from cpnav.imports import services
from cpnav.imports.models import ImportFile, ImportJob
from cpnav.imports.services import ImportRefused, import_file
from tests.imports.conftest import http_as
from tests.imports.helpers import csv_bytes, person, xlsx_from_dicts

pytestmark = pytest.mark.django_db


def run(data: bytes, agency: Agency, user: User, *, dry_run: bool = False, **kw: Any) -> Any:
    return import_file(data, agency, user, kw.pop("mapping", {}), dry_run=dry_run, **kw)


def refused(data: bytes, agency: Agency, user: User, **kw: Any) -> list[str]:
    with pytest.raises(ImportRefused) as caught:
        run(data, agency, user, **kw)
    return [str(problem) for problem in caught.value.problems]


def test_an_import_creates_cases_people_and_grants(agency_a: Agency, importer: User) -> None:
    rows = [
        person(1, **{"Languages": "K'iche'; Spanish"}),
        person(2, **{"Case #": "2026-000001", "CP start": "", "CP end": "", "DOB": ""}),
        person(3, **{"Trafficking type": "sex", "DOB": "2010-05-05"}),
    ]
    result, counts = run(csv_bytes(rows), agency_a, importer)
    assert counts == services.Counts(rows=3, cases=2, people=3, grants=2)
    assert result.ok
    one, three = Case.objects.filter(agency=agency_a).order_by("case_number")
    assert one.case_number == "2026-000001"
    assert one.trafficking_forms == ["labor"]
    assert one.lead_investigator == importer
    assert list(one.members.values_list("user", flat=True)) == [importer.pk]
    people = {p.full_name: p for p in one.people.all()}
    first = people["Synthetic Person 1"]
    assert first.date_of_birth == "1990-01-02"
    assert first.a_number == "A000000001"
    assert first.languages == ["K'iche'", "Spanish"]
    assert first.citizenship == "noncitizen"
    assert first.a_number_index == blind_index("000000001", purpose="a_number")
    assert first.name_dob_index == blind_index("Synthetic Person 1|1990-01-02", purpose="name_dob")
    grant = Grant.objects.get(person=first)
    term = grant.current_term()
    assert term is not None
    assert (term.start, term.end) == (date(2025, 1, 6), date(2027, 1, 5))
    assert grant.status(date(2026, 1, 1)) == "active"
    cp = term.request
    assert (cp.status, cp.kind, cp.person, cp.age_group) == (
        Status.GRANTED,
        "initial",
        first,
        "adult",
    )
    assert Decision.objects.get(request=cp).kind == "granted"
    assert RequestEvent.objects.get(request=cp).transition == "import"
    assert not Grant.objects.filter(person=people["Synthetic Person 2"]).exists()
    minor = three.people.get()
    assert CPRequest.objects.get(person=minor).age_group == "minor"
    event = AuditEvent.objects.get(action="import.completed")
    assert event.actor_id == importer.pk
    assert event.agency_id == agency_a.pk
    assert event.details == {"rows": 3, "cases": 2, "people": 3, "grants": 2, "via": "command line"}


def test_identifying_fields_are_encrypted_at_rest(agency_a: Agency, importer: User) -> None:
    run(csv_bytes([person(1)]), agency_a, importer)
    with connection.cursor() as cursor:
        cursor.execute("SELECT full_name, date_of_birth, a_number FROM cases_person")
        stored = cursor.fetchone()
    assert all(value.startswith("v1:") for value in stored)
    assert "Synthetic" not in "".join(stored)


def test_xlsx_imports_like_csv(agency_a: Agency, importer: User) -> None:
    _result, counts = run(xlsx_from_dicts([person(1), person(2)]), agency_a, importer)
    assert counts.people == 2
    assert Person.objects.filter(case__agency=agency_a).count() == 2


def test_a_dry_run_writes_nothing(agency_a: Agency, importer: User) -> None:
    result, counts = run(csv_bytes([person(1), person(2)]), agency_a, importer, dry_run=True)
    assert counts is None
    assert (result.row_count, result.case_count, result.grant_count) == (2, 2, 2)
    assert not Case.objects.exists()
    assert not AuditEvent.objects.filter(action="import.completed").exists()


def test_one_bad_row_means_nothing_is_written(agency_a: Agency, importer: User) -> None:
    rows = [person(n) for n in range(1, 50)] + [person(50, DOB="31/12/1990")]
    assert refused(csv_bytes(rows), agency_a, importer) == [
        'line 51, column "DOB": "31/12/1990" looks like day/month/year, which is refused; '
        "write YYYY-MM-DD (2024-03-15) or MM/DD/YYYY (03/15/2024)"
    ]
    assert Case.objects.count() == Person.objects.count() == Grant.objects.count() == 0


def test_a_failure_half_way_rolls_everything_back(
    agency_a: Agency, importer: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(services, "BATCH", 2)
    calls = {"n": 0}
    original = GrantTerm.objects.bulk_create

    def fail_on_third_batch(objs: Any, *args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 3:
            raise DatabaseError("disk full (simulated)")
        return original(objs, *args, **kwargs)

    monkeypatch.setattr(GrantTerm.objects, "bulk_create", fail_on_third_batch)
    seen: list[int] = []
    with pytest.raises(DatabaseError):
        run(csv_bytes([person(n) for n in range(1, 8)]), agency_a, importer, writing=seen.append)
    assert seen == [2, 4]  # two batches were written before the failure...
    assert Case.objects.count() == Person.objects.count() == CPRequest.objects.count() == 0
    assert not AuditEvent.objects.filter(action="import.completed").exists()  # ...and undone


def test_duplicates_within_the_file_are_refused(agency_a: Agency, importer: User) -> None:
    rows = [person(1), person(2, **{"A-Number": "000000001"})]
    assert refused(csv_bytes(rows), agency_a, importer) == [
        'line 3, column "A-Number": the same A-number as line 2'
    ]
    assert not Person.objects.exists()


def test_people_already_recorded_at_the_agency_are_refused(
    agency_a: Agency, importer: User, existing_person: Person
) -> None:
    rows = [
        person(1, **{"Victim name": "Someone Else"}),  # same A-number
        person(2, **{"Victim name": "SYNTHETIC person 1", "A-Number": ""}),  # same name and DOB
        person(3),
    ]
    assert refused(csv_bytes(rows), agency_a, importer) == [
        'line 2, column "A-Number": a person with the same A-number is already recorded at '
        "this agency (in a case you cannot see; ask your supervisor)",
        'line 3, column "Victim name": a person with the same name and date of birth is already '
        "recorded at this agency (in a case you cannot see; ask your supervisor)",
    ]
    assert Person.objects.count() == 1


def test_a_duplicate_in_a_case_the_user_sees_names_the_case(
    agency_a: Agency, teammate: User, existing_person: Person
) -> None:
    problems = refused(csv_bytes([person(1)]), agency_a, teammate)
    assert problems[0].endswith("already recorded at this agency (case OLD-1)")


def test_people_of_another_agency_are_not_duplicates(
    agency_b: Agency, investigator_b: User, existing_person: Person
) -> None:
    _result, counts = run(csv_bytes([person(1)]), agency_b, investigator_b)
    assert counts.people == 1


def test_a_case_number_the_agency_uses_is_refused(
    agency_a: Agency, importer: User, existing_person: Person
) -> None:
    problems = refused(csv_bytes([person(7, **{"Case #": "OLD-1"})]), agency_a, importer)
    assert problems == [
        'line 2, column "Case #": your agency already has a case with this number; add the '
        "person on the case's page, or use another number"
    ]


def test_the_write_checks_again_for_what_was_added_since_the_dry_run(
    agency_a: Agency, importer: User, teammate: User
) -> None:
    result, _none = run(csv_bytes([person(1)]), agency_a, importer, dry_run=True)
    added = Case.objects.create(
        agency=agency_a, case_number="2026-000001", lead_investigator=teammate
    )
    assert added.pk
    with pytest.raises(ImportRefused) as caught:
        services.write(agency_a, importer, result.rows, F.suggest_mapping(
            ("Case #", "Victim name", "DOB", "A-Number")))  # fmt: skip
    assert "already has a case with this number" in str(caught.value.problems[0])
    assert Person.objects.count() == 0


# --- who may import --------------------------------------------------------------


def test_only_investigators_of_the_agency_may_import(
    agency_a: Agency, importer: User, owner: User, outsider: User, investigator_b: User
) -> None:
    assert services.may_import(importer, agency_a)
    assert not services.may_import(owner, agency_a)  # an agency admin is not an investigator
    assert not services.may_import(outsider, agency_a)
    assert not services.may_import(investigator_b, agency_a)


def test_an_outsider_cannot_upload_into_another_agency(
    rf: RequestFactory, agency_a: Agency, investigator_b: User
) -> None:
    with pytest.raises(PermissionDenied):
        services.upload(
            http_as(rf, investigator_b), investigator_b, agency_a, csv_bytes([person(1)]),
            "cases.csv", "en",
        )  # fmt: skip
    assert not ImportJob.objects.exists()
    denied = AuditEvent.objects.get(action="access.denied")
    assert (denied.actor_id, denied.outcome) == (investigator_b.pk, Outcome.DENIED)


def test_an_upload_is_kept_encrypted_with_a_suggested_mapping(
    rf: RequestFactory, agency_a: Agency, importer: User
) -> None:
    data = csv_bytes([person(1), person(2)])
    job = services.upload(http_as(rf, importer), importer, agency_a, data, "Ana's cases.csv", "es")
    assert (job.file_format, job.file_size, job.total, job.language) == ("csv", len(data), 2, "es")
    assert job.mapping["full_name"] == "Victim name"
    stored = ImportFile.objects.get(job=job)
    assert services.unpack(stored.data) == data
    with connection.cursor() as cursor:
        cursor.execute("SELECT data FROM imports_importfile")
        (raw,) = cursor.fetchone()
        cursor.execute("SELECT file_name, columns, mapping FROM imports_importjob")
        job_row = cursor.fetchone()
    assert raw.startswith("v1:")
    assert all(value.startswith("v1:") for value in job_row)  # a header may be a person's row
    assert services.load_table(job).row_estimate == 2
    assert AuditEvent.objects.get(action="import.uploaded").details["bytes"] == len(data)


def test_an_unreadable_upload_is_refused_with_its_problem(
    rf: RequestFactory, agency_a: Agency, importer: User
) -> None:
    with pytest.raises(ImportRefused) as caught:
        services.upload(http_as(rf, importer), importer, agency_a,
                        "Case #\r\nJos\u00e9\r\n".encode("cp1252"), "x.csv", "en")  # fmt: skip
    assert "not UTF-8 text" in str(caught.value.problems[0])
    assert not ImportJob.objects.exists()
