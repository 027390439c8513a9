"""A county case routed through an HSI sponsor to CCHT, and the people around it.

investigator  - on the case team at the county (agency A)
teammate      - investigator at the county, not on the case team
supervisor    - the county's supervisor
outsider      - investigator at another county (agency B)
sponsor       - federal sponsor at the HSI office partnered with the county
other_sponsor - federal sponsor at an unrelated federal office
reviewer      - CCHT reviewer
specialist    - victim specialist at another organisation
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from cpnav.accounts.models import Agency, Level, Role, User
from cpnav.cases.models import Case, CaseMember, CPRequest, Person
from tests.conftest import MakeUser


@dataclass
class Route:
    county: Agency
    other_county: Agency
    hsi: Agency
    other_federal: Agency
    ccht: Agency
    investigator: User
    teammate: User
    supervisor: User
    outsider: User
    sponsor: User
    other_sponsor: User
    reviewer: User
    specialist: User
    case: Case
    person: Person
    cp: CPRequest


@pytest.fixture
def route(db: None, make_user: MakeUser) -> Route:
    county = Agency.objects.create(name="County A Sheriff", level=Level.LOCAL, state="OH")
    other_county = Agency.objects.create(name="County B Police", level=Level.LOCAL, state="OR")
    hsi = Agency.objects.create(name="HSI Field Office", level=Level.FEDERAL, state="OH")
    other_federal = Agency.objects.create(name="FBI Field Office", level=Level.FEDERAL, state="WA")
    ccht = Agency.objects.create(name="CCHT", level=Level.FEDERAL, state="DC", is_ccht=True)
    advocates = Agency.objects.create(name="Advocacy Center", level=Level.LOCAL, state="OH")
    people = {
        "investigator": make_user("inv@a.example", county, (Role.INVESTIGATOR,)),
        "teammate": make_user("mate@a.example", county, (Role.INVESTIGATOR,)),
        "supervisor": make_user("sup@a.example", county, (Role.SUPERVISOR,)),
        "outsider": make_user("inv@b.example", other_county, (Role.INVESTIGATOR, Role.SUPERVISOR)),
        "sponsor": make_user("sponsor@hsi.example", hsi, (Role.FEDERAL_SPONSOR,)),
        "other_sponsor": make_user("sponsor@fbi.example", other_federal, (Role.FEDERAL_SPONSOR,)),
        "reviewer": make_user("reviewer@ccht.example", ccht, (Role.CCHT_REVIEWER,)),
        "specialist": make_user("advocate@x.example", advocates, (Role.VICTIM_SPECIALIST,)),
    }
    case = Case.objects.create(
        agency=county, case_number="2026-0042", lead_investigator=people["investigator"],
        federal_partner=hsi, trafficking_forms=["labor"],
    )  # fmt: skip
    CaseMember.objects.create(case=case, user=people["investigator"])
    person = Person(
        case=case, full_name="Ana Synthetic-Testperson", date_of_birth="1990-04-02",
        citizenship="noncitizen", a_number="A012345678", contact="+1 555 0100",
    )  # fmt: skip
    person.refresh_indexes()
    person.save()
    cp = CPRequest.objects.create(
        case=case, person=person, created_by=people["investigator"], sponsor_office=hsi,
        facts={"exploitation": {"labor_or_services": True, "means": ["fraud"],
                                "purpose": ["debt_bondage"]},
               "witness": {"potential_witness": True}},
    )  # fmt: skip
    return Route(county, other_county, hsi, other_federal, ccht, case=case, person=person, cp=cp,
                 **people)  # fmt: skip
