"""Importing cases, people and grants: checks that need the database, and the write.

All or nothing: ``write`` runs in one transaction and only when no row has a
problem; a failure half way rolls everything back. People are written
through the ``Person`` model, so their identifying fields are encrypted and
their blind indexes computed exactly as when one is added by hand.
"""

from __future__ import annotations

import base64
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Final, TypeVar

from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext as _

from cpnav.accounts import access
from cpnav.accounts.models import Agency, User
from cpnav.audit.services import record
from cpnav.cases.models import (
    Case,
    CaseMember,
    CPRequest,
    Decision,
    DecisionKind,
    Person,
    RequestEvent,
    Status,
)
from cpnav.cases.services import investigator_agencies
from cpnav.core.csvtext import Problem
from cpnav.grants.models import Grant, GrantTerm
from cpnav.imports import checks, tables
from cpnav.imports import fields as F
from cpnav.imports.models import ImportFile, ImportJob

BATCH: Final = 500
QUERY_CHUNK: Final = 500
ADULT_AGE: Final = 18

T = TypeVar("T")
Progress = Callable[[int], None]


class ImportRefused(ValueError):
    """The file or its rows cannot be imported; ``problems`` says where and why."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__(f"{len(problems)} problems")
        self.problems = list(problems)


@dataclass(frozen=True)
class Counts:
    rows: int
    cases: int
    people: int
    grants: int

    def as_dict(self) -> dict[str, int]:
        return {
            "rows": self.rows,
            "cases": self.cases,
            "people": self.people,
            "grants": self.grants,
        }


def importable_agencies(user: User) -> list[Agency]:
    """Where the user may import: exactly where they may create cases."""
    return investigator_agencies(user)


def may_import(user: User, agency: Agency) -> bool:
    return user.is_active and any(a.pk == agency.pk for a in importable_agencies(user))


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --- the stored file -----------------------------------------------------------


def pack(data: bytes) -> str:
    """The file as text for the encrypted column: compressed first (CSV shrinks ~5x)."""
    return base64.b64encode(zlib.compress(data, 6)).decode("ascii")


def unpack(text: str) -> bytes:
    return zlib.decompress(base64.b64decode(text))


def upload(
    http: HttpRequest, actor: User, agency: Agency, data: bytes, file_name: str, language: str
) -> ImportJob:
    """Keep an uploaded file (encrypted) for the next steps; ImportRefused if it is unreadable."""
    if not may_import(actor, agency):
        raise access.forbidden(http, "import")
    try:
        table = tables.open_table(data)
    except tables.TableError as error:
        raise ImportRefused([error.problem]) from None
    with transaction.atomic():
        job = ImportJob(
            agency=agency,
            created_by=actor,
            file_name=file_name[:200],
            file_format=table.format,
            file_size=len(data),
            total=table.row_estimate or 0,
            language=language[:10],
        )
        job.columns = list(table.columns)
        job.mapping = F.suggest_mapping(table.columns)
        job.save()
        ImportFile.objects.create(job=job, data=pack(data))
        record(
            "import.uploaded",
            request=http,
            agency_id=agency.pk,
            object_type="import",
            object_id=job.pk,
            details={"format": table.format, "bytes": len(data), "rows": table.row_estimate},
        )
    return job


def load_table(job: ImportJob) -> tables.Table:
    stored = ImportFile.objects.filter(job=job).first()
    if stored is None:
        raise ImportRefused(
            [Problem(0, "", _("the uploaded file was already removed; upload it again"))]
        )
    try:
        return tables.open_table(unpack(stored.data))
    except tables.TableError as error:
        raise ImportRefused([error.problem]) from None


# --- checks against what is already recorded ------------------------------------


@dataclass
class _IndexInput:
    """The three values ``Person.refresh_indexes`` reads, and the two it sets."""

    full_name: str
    date_of_birth: str
    a_number: str
    a_number_index: str = ""
    name_dob_index: str = ""


def _indexes(row: checks.Row) -> tuple[str, str]:
    """(A-number index, name and birth date index), computed by the Person model's own code.

    Called on a plain object: building a model instance per row costs more than
    the hashing, and this runs again inside the import's transaction.
    """
    values = _IndexInput(
        row.full_name, row.date_of_birth.isoformat() if row.date_of_birth else "", row.a_number
    )
    Person.refresh_indexes(values)  # type: ignore[arg-type]  # duck-typed: see _IndexInput
    return values.a_number_index, values.name_dob_index


def database_problems(
    agency: Agency, user: User, rows: Sequence[checks.Row], mapping: Mapping[str, str]
) -> list[Problem]:
    """Rows that would duplicate the agency's records: a case number or a person.

    People are matched through the blind indexes only - nothing is decrypted.
    A matched case is named only when the user may see it.
    """
    problems: list[Problem] = []
    numbers = sorted({row.case_number for row in rows})
    taken: set[str] = set()
    for chunk in _chunks(numbers, QUERY_CHUNK):
        taken.update(
            Case.objects.filter(agency=agency, case_number__in=chunk).values_list(
                "case_number", flat=True
            )
        )
    keys = [_indexes(row) for row in rows]
    people = Person.objects.filter(case__agency=agency)
    found: dict[tuple[str, str], tuple[object, str]] = {}
    for kind in ("a_number_index", "name_dob_index"):
        wanted = sorted({key[0 if kind == "a_number_index" else 1] for key in keys} - {""})
        for chunk in _chunks(wanted, QUERY_CHUNK):
            for index, case_id, case_number in people.filter(**{f"{kind}__in": chunk}).values_list(
                kind, "case_id", "case__case_number"
            ):
                found.setdefault((kind, index), (case_id, case_number))
    case_ids = {case_id for case_id, _number in found.values()}
    visible = set(access.visible_cases(user).filter(pk__in=case_ids).values_list("pk", flat=True))

    def where(case_id: object, case_number: str) -> str:
        if case_id in visible:
            return _("(case %(number)s)") % {"number": case_number}
        return _("(in a case you cannot see; ask your supervisor)")

    for row, (a_index, name_index) in zip(rows, keys, strict=True):
        if row.case_number in taken:
            problems.append(
                Problem(
                    row.line,
                    mapping.get("case_number", "case_number"),
                    _("your agency already has a case with this number; add the person on the "
                      "case's page, or use another number"),
                )
            )  # fmt: skip
        if a_index and ("a_number_index", a_index) in found:
            match = found["a_number_index", a_index]
            problems.append(
                Problem(
                    row.line,
                    mapping.get("a_number", "a_number"),
                    _(
                        "a person with the same A-number is already recorded at this agency %(where)s"
                    )
                    % {"where": where(*match)},
                )
            )
        if name_index and ("name_dob_index", name_index) in found:
            match = found["name_dob_index", name_index]
            problems.append(
                Problem(
                    row.line,
                    mapping.get("full_name", "full_name"),
                    _("a person with the same name and date of birth is already recorded at this "
                      "agency %(where)s") % {"where": where(*match)},
                )
            )  # fmt: skip
    return problems


def check_table(
    table: tables.Table,
    mapping: Mapping[str, str],
    agency: Agency,
    user: User,
    *,
    progress: Progress | None = None,
) -> checks.Checked:
    """Every row checked, in the file and against the agency's records."""
    result = checks.check(table, mapping, progress=progress)
    if result.rows:
        result.problems += database_problems(agency, user, result.rows, mapping)
        checks.sort_problems(result.problems, mapping)
    return result


# --- the write -----------------------------------------------------------------


def _age_group(row: checks.Row, on: date) -> str:
    if row.date_of_birth is not None:
        born = row.date_of_birth
        age = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
        return "minor" if age < ADULT_AGE else "adult"
    if row.age_estimate is not None:
        return "minor" if row.age_estimate < ADULT_AGE else "adult"
    return "unknown"


@dataclass
class _Batch:
    cases: list[Case]
    members: list[CaseMember]
    people: list[Person]
    requests: list[CPRequest]
    decisions: list[Decision]
    grants: list[Grant]
    terms: list[GrantTerm]
    events: list[RequestEvent]

    def save(self) -> None:
        # Parents before children; UUID keys are set in Python, so no read-back is needed.
        Case.objects.bulk_create(self.cases)
        CaseMember.objects.bulk_create(self.members)
        Person.objects.bulk_create(self.people)
        CPRequest.objects.bulk_create(self.requests)
        Decision.objects.bulk_create(self.decisions)
        Grant.objects.bulk_create(self.grants)
        GrantTerm.objects.bulk_create(self.terms)
        RequestEvent.objects.bulk_create(self.events)


def _batch(
    rows: Iterable[checks.Row], agency: Agency, actor: User, cases: dict[str, Case]
) -> _Batch:
    batch = _Batch([], [], [], [], [], [], [], [])
    note = _("Recorded from an import of earlier records.")
    for row in rows:
        case = cases.get(row.case_number)
        if case is None:
            case = Case(
                agency=agency,
                case_number=row.case_number,
                trafficking_forms=list(row.trafficking_forms),
                criminal_status=row.criminal_status,
                civil_status=row.civil_status,
                lead_investigator=actor,
            )
            cases[row.case_number] = case
            batch.cases.append(case)
            batch.members.append(CaseMember(case=case, user=actor))
        person = Person(
            case=case,
            full_name=row.full_name,
            aliases=list(row.aliases),  # type: ignore[misc]  # an encrypted JSON list (stubs see text)
            date_of_birth=row.date_of_birth.isoformat() if row.date_of_birth else "",
            age_estimate=row.age_estimate,
            a_number=row.a_number,
            citizenship=row.citizenship,
            country=row.country,
            languages=list(row.languages),
            interpreter_needed=row.interpreter_needed,
            contact=row.contact,
            do_not_contact=row.do_not_contact,
            safe_contact=row.safe_contact,
        )
        person.refresh_indexes()
        batch.people.append(person)
        if row.grant_start is None or row.grant_end is None:
            continue
        # A grant hangs off the granted request, as when CCHT's decision is recorded
        # in the workflow; the dates of submission and decision are not known.
        cp = CPRequest(
            case=case,
            person=person,
            kind="initial",
            status=Status.GRANTED,
            created_by=actor,
            age_group=_age_group(row, row.grant_start),
        )
        grant = Grant(
            person=person,
            work_permit_received_on=row.work_permit_received,
            work_permit_expires_on=row.work_permit_expires,
        )
        batch.requests.append(cp)
        batch.decisions.append(
            Decision(
                request=cp,
                kind=DecisionKind.GRANTED,
                start_date=row.grant_start,
                end_date=row.grant_end,
                reason=note,
                recorded_by=actor,
            )
        )
        batch.grants.append(grant)
        batch.terms.append(
            GrantTerm(grant=grant, request=cp, kind="initial", start=row.grant_start,
                      end=row.grant_end)
        )  # fmt: skip
        batch.events.append(
            RequestEvent(request=cp, transition="import", from_status="",
                         to_status=Status.GRANTED, actor=actor, comment=note)
        )  # fmt: skip
    return batch


def write(
    agency: Agency,
    actor: User,
    rows: Sequence[checks.Row],
    mapping: Mapping[str, str],
    *,
    progress: Progress | None = None,
    job: ImportJob | None = None,
    via: str = "page",
) -> Counts:
    """Write every row in one transaction, or nothing (ImportRefused or a database error).

    The agency row is locked first so two imports into one agency take turns:
    the duplicate checks below then see everything the other one wrote.
    """
    with transaction.atomic():
        list(Agency.objects.select_for_update(no_key=True).filter(pk=agency.pk))
        problems = database_problems(agency, actor, rows, mapping)
        if problems:
            raise ImportRefused(problems)
        cases: dict[str, Case] = {}
        written = 0
        for chunk in _chunks(rows, BATCH):
            _batch(chunk, agency, actor, cases).save()
            written += len(chunk)
            if progress is not None:
                progress(written)
        counts = Counts(
            rows=len(rows),
            cases=len(cases),
            people=len(rows),
            grants=sum(1 for row in rows if row.has_grant),
        )
        # Last, so the audit chain's lock is held only for the commit.
        record(
            "import.completed",
            actor=actor,
            agency_id=agency.pk,
            object_type="import",
            object_id=job.pk if job is not None else "",
            details={**counts.as_dict(), "via": via},
        )
    return counts


def import_file(
    data: bytes,
    agency: Agency,
    actor: User,
    mapping: Mapping[str, str],
    *,
    dry_run: bool,
    checking: Progress | None = None,
    writing: Progress | None = None,
    started: Callable[[str, int], None] | None = None,
) -> tuple[checks.Checked, Counts | None]:
    """The command line's import: check everything, then write all rows or none.

    ``started(phase, total)`` is called as each phase begins ("checking", "writing").
    """
    try:
        table = tables.open_table(data)
    except tables.TableError as error:
        raise ImportRefused([error.problem]) from None
    full = F.suggest_mapping(table.columns, mapping)
    if started is not None:
        started("checking", table.row_estimate or 0)
    result = check_table(table, full, agency, actor, progress=checking)
    if not result.ok:
        raise ImportRefused(result.problems)
    if dry_run:
        return result, None
    if started is not None:
        started("writing", len(result.rows))
    return result, write(agency, actor, result.rows, full, progress=writing, via="command line")
