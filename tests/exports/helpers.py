"""Reading exports back the way a spreadsheet program would."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Any

from django.http import HttpRequest
from django.test import RequestFactory
from django.utils import timezone
from openpyxl import load_workbook

from cpnav.accounts.models import User
from cpnav.cases.models import Case, CaseMember, CPRequest, Person
from cpnav.cases.workflow import perform
from cpnav.core.tabular import csv_lines, xlsx_file
from cpnav.exports import services
from cpnav.referrals.models import Kind, Provider, Referral
from tests.route import Route

NAME = "Ana Synthetic-Testperson"
SECRETS = (NAME, "1990-04-02", "A012345678", "+1 555 0100")
EVIL = '=HYPERLINK("http://evil.example","x")'


def csv_rows(job: services.Export) -> list[dict[str, str]]:
    text = "".join(csv_lines(job.header(), job.rows()))
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:], newline="")))


def xlsx_rows(job: services.Export) -> list[dict[str, Any]]:
    with xlsx_file(job.header(), job.rows(), job.filename) as handle:
        book = load_workbook(handle, read_only=True)
        sheet = book.active
        assert sheet is not None
        header, *rows = [list(row) for row in sheet.iter_rows(values_only=True)]
        book.close()
    names = [str(name) for name in header]
    return [dict(zip(names, row, strict=True)) for row in rows]


def export(
    user: User, dataset: str, *, fmt: str = "csv", identifying: bool = False, **filters: Any
) -> list[dict[str, Any]]:
    job = services.start(user, dataset, fmt, services.Filters(**filters), identifying=identifying)
    rows = csv_rows(job) if fmt == "csv" else xlsx_rows(job)
    return [dict(row) for row in rows]


def http(rf: RequestFactory, user: User) -> HttpRequest:
    request = rf.post("/")
    request.user = user
    return request


def advance(rf: RequestFactory, route: Route, *steps: str, **data: Any) -> CPRequest:
    """Move the route's request through the named transitions, each by the right person."""
    actors = {
        "submit_for_approval": route.investigator,
        "approve": route.supervisor,
        "endorse": route.sponsor,
        "grant": route.reviewer,
    }
    for name in steps:
        extra = data if name == "grant" else {}
        route.cp = perform(http(rf, actors[name]), route.cp, name, actors[name], **extra)
    return route.cp


def grant(rf: RequestFactory, route: Route, start: date | None = None) -> CPRequest:
    return advance(
        rf, route, "submit_for_approval", "approve", "endorse", "grant",
        start_date=start or date.today() - timedelta(days=30),
    )  # fmt: skip


def refer(route: Route) -> Referral:
    provider = Provider.objects.create(
        name="Marlow County Safe House", kind=Kind.LOCAL, jurisdiction="Marlow County, OH",
        state="OH", services=["shelter", "legal"], source="Synthetic test entry",
    )  # fmt: skip
    return Referral.objects.create(
        person=route.person, provider=provider, services=["shelter", "legal"],
        consent_recorded=True, consent_recorded_by=route.investigator,
        consent_recorded_at=timezone.now(), consent_note="Agreed; lives with her aunt Maria",
        follow_up_on=date.today() + timedelta(days=7), created_by=route.investigator,
    )  # fmt: skip


def sponsor_case(route: Route) -> Person:
    """A case of the sponsor's own federal office, with the sponsor on its team."""
    case = Case.objects.create(
        agency=route.hsi, case_number="HSI-2026-7", lead_investigator=route.sponsor
    )
    CaseMember.objects.create(case=case, user=route.sponsor)
    person = Person(case=case, full_name="Bo Synthetic-Second", date_of_birth="1985-01-01")
    person.save()
    CPRequest.objects.create(case=case, person=person, created_by=route.sponsor)
    return person
