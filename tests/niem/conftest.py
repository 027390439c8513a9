"""Synthetic records of every kind the exchange carries, on the shared route fixture."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from django.http import HttpRequest
from django.test import RequestFactory
from django.utils import timezone

from cpnav.accounts.models import User
from cpnav.cases.models import Case, CaseMember, CPRequest, Person
from cpnav.cases.workflow import perform
from cpnav.grants.models import Grant
from cpnav.grants.services import record_end
from tests.route import Route

UNICODE_NAME = "Zoë Ñúñez-Ōkubo 李小龍"
ALIASES = ["Zoe Nunez", "Мария Тестова"]


def http(user: User, path: str = "/") -> HttpRequest:
    request = RequestFactory().get(path)
    request.user = user
    return request


def advance(route: Route, cp: CPRequest, *steps: str, **data: Any) -> CPRequest:
    actors = {
        "submit_for_approval": route.investigator,
        "approve": route.supervisor,
        "endorse": route.sponsor,
        "record_receipt": route.reviewer,
        "grant": route.reviewer,
        "deny": route.reviewer,
    }
    for name in steps:
        extra = data if name in ("grant", "deny") else {}
        cp = perform(http(actors[name]), cp, name, actors[name], **extra)
    return cp


SUBMIT = ("submit_for_approval", "approve", "endorse", "record_receipt")


@dataclass
class Records:
    draft: CPRequest  # labor trafficking, adult, Unicode name
    minor: CPRequest  # sex trafficking, a minor, civil action, aliases
    granted: CPRequest
    denied: CPRequest
    extension: CPRequest  # a granted extension: its grant has two terms
    grant: Grant  # two terms
    ended: Grant  # ended early


def _person(case: Case, **fields: Any) -> Person:
    person = Person(case=case, **fields)
    person.refresh_indexes()
    person.save()
    return person


def _request(route: Route, person: Person, **fields: Any) -> CPRequest:
    return CPRequest.objects.create(
        case=person.case, person=person, created_by=route.investigator,
        sponsor_office=route.hsi, facts=route.cp.facts, **fields,
    )  # fmt: skip


@pytest.fixture
def records(route: Route) -> Records:
    route.hsi.ori = "OHHSI0000"
    route.hsi.save()
    route.person.full_name = UNICODE_NAME
    route.person.languages = ["Spanish", "K'iche'"]
    route.person.interpreter_needed = True
    route.person.country = "Guatemala"
    route.person.refresh_indexes()
    route.person.save()
    route.cp.narrative = "Recruited with a false job offer; wages withheld."
    route.cp.save()

    minor_case = Case.objects.create(
        agency=route.county, case_number="2026-0077", lead_investigator=route.investigator,
        federal_partner=route.hsi, trafficking_forms=["sex", "labor"],
        criminal_status="charged", civil_court="U.S. District Court, S.D. Ohio",
        civil_number="2:26-cv-00123", civil_filed_on=date(2026, 3, 2), civil_status="pending",
    )  # fmt: skip
    CaseMember.objects.create(case=minor_case, user=route.investigator)
    born = timezone.localdate() - timedelta(days=16 * 365)
    minor_person = _person(
        minor_case, full_name="Lưu Thị Ánh", aliases=ALIASES, date_of_birth=born.isoformat(),
        age_estimate=16, citizenship="noncitizen", country="Viet Nam", languages=["Vietnamese"],
        a_number="A098765432", contact="via shelter caseworker", do_not_contact=True,
        safe_contact="Call the shelter line; never text.",
        minor_identified_at=timezone.now() - timedelta(hours=30),
        hhs_notified_at=timezone.now() - timedelta(hours=20),
    )  # fmt: skip
    minor = _request(route, minor_person, narrative="Synthetic narrative «ünïcödé» & <tags>.")

    granted_person = _person(
        route.case, full_name="Grant Person Synthetic", citizenship="noncitizen"
    )
    granted = advance(
        route, _request(route, granted_person), *SUBMIT, "grant",
        start_date=timezone.localdate() - timedelta(days=700),
    )  # fmt: skip
    extension = advance(
        route,
        _request(route, granted_person, kind="extension"),
        *SUBMIT,
        "grant",
    )
    denied_person = _person(route.case, full_name="Denied Person Synthetic")
    denied = advance(route, _request(route, denied_person), *SUBMIT, "deny", comment="Not shown.")

    ended_person = _person(route.case, full_name="Ended Person Synthetic")
    ended_cp = advance(
        route, _request(route, ended_person), *SUBMIT, "grant",
        start_date=timezone.localdate() - timedelta(days=100),
    )  # fmt: skip
    ended = ended_cp.term.grant
    record_end(
        http(route.reviewer), route.reviewer, ended, "no_longer_witness",
        timezone.localdate() - timedelta(days=5), "Synthetic reason.",
    )  # fmt: skip
    grant = Grant.objects.get(person=granted_person)
    return Records(route.cp, minor, granted, denied, extension, grant, ended)
