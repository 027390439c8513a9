"""Cases in a real browser: the whole route, stale edits and outsiders, with axe-core throughout.

Everyone signs in through the real pages (system-use notice, password, TOTP code),
each person in a browser context of their own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from playwright.sync_api import Locator, Page, expect

from cpnav.accounts.models import Agency, Level, Role, User
from cpnav.cases.models import Case, CaseMember, CPRequest, Decision, Person, Status
from tests.browser.conftest import SignIn, accessible
from tests.conftest import MakeUser

pytestmark = pytest.mark.django_db(transaction=True)

PERSON_NAME = "Mara Synthetic-Example"
CASE_NUMBER = "2026-0777"
GRANT_START = date(2026, 1, 15)
GRANT_END = date(2028, 1, 14)  # two years later, less one day


@dataclass
class People:
    county: Agency
    hsi: Agency
    investigator: User
    supervisor: User
    sponsor: User
    reviewer: User
    outsider: User


@pytest.fixture
def people(make_user: MakeUser) -> People:
    county = Agency.objects.create(name="County A Sheriff", level=Level.LOCAL, state="OH")
    other_county = Agency.objects.create(name="County B Police", level=Level.LOCAL, state="OR")
    hsi = Agency.objects.create(name="HSI Field Office", level=Level.FEDERAL, state="OH")
    Agency.objects.create(name="FBI Field Office", level=Level.FEDERAL, state="WA")
    ccht = Agency.objects.create(name="CCHT", level=Level.FEDERAL, state="DC", is_ccht=True)
    return People(
        county=county,
        hsi=hsi,
        investigator=make_user("inv@a.example", county, (Role.INVESTIGATOR,)),
        supervisor=make_user("sup@a.example", county, (Role.SUPERVISOR,)),
        sponsor=make_user("sponsor@hsi.example", hsi, (Role.FEDERAL_SPONSOR,)),
        reviewer=make_user("reviewer@ccht.example", ccht, (Role.CCHT_REVIEWER,)),
        outsider=make_user("inv@b.example", other_county, (Role.INVESTIGATOR,)),
    )


@pytest.fixture
def seeded(people: People) -> CPRequest:
    """A county case with one person and a draft request, made without the browser."""
    case = Case.objects.create(
        agency=people.county, case_number="2026-0042", lead_investigator=people.investigator,
        federal_partner=people.hsi, trafficking_forms=["labor"],
    )  # fmt: skip
    CaseMember.objects.create(case=case, user=people.investigator)
    person = Person(
        case=case, full_name="Ana Synthetic-Testperson", date_of_birth="1990-04-02",
        citizenship="noncitizen", a_number="A012345678", contact="+1 555 0100",
    )  # fmt: skip
    person.refresh_indexes()
    person.save()
    return CPRequest.objects.create(
        case=case, person=person, created_by=people.investigator, sponsor_office=people.hsi
    )


def choose(page: Page, group: str, label: str) -> None:
    """Click the label of a visually hidden USWDS radio or checkbox inside a fieldset."""
    page.get_by_role("group", name=group, exact=True).locator("label", has_text=label).click()


def act(page: Page, label: str, fields: dict[str, str] | None = None) -> None:
    """Open a transition's <details>, fill its form and submit it."""
    details: Locator = page.locator("details").filter(
        has=page.locator("summary", has_text=re.compile(f"^{re.escape(label)}$"))
    )
    details.locator("summary").click()
    for name, value in (fields or {}).items():
        details.get_by_label(name).fill(value)
    details.get_by_role("button", name=label, exact=True).click()
    expect(page.get_by_text(f"Done: {label}.")).to_be_visible()


def open_queue(page: Page, name: str) -> None:
    page.get_by_role("navigation", name="Primary").get_by_role("link", name=name).click()
    expect(page.get_by_role("heading", level=1, name=name)).to_be_visible()
    accessible(page, name)
    page.get_by_role("link", name=re.compile(re.escape(CASE_NUMBER))).click()


def test_full_route_through_the_ui(sign_in: SignIn, people: People) -> None:
    # The county investigator creates the case.
    inv = sign_in(people.investigator)
    inv.get_by_role("navigation", name="Primary").get_by_role("link", name="My cases").click()
    expect(inv.get_by_role("heading", level=1, name="My cases")).to_be_visible()
    accessible(inv, "case list")
    inv.get_by_role("link", name="New case").click()
    expect(inv.get_by_role("heading", level=1, name="New case")).to_be_visible()
    accessible(inv, "new case form")
    inv.get_by_role("button", name="Save").click()
    expect(inv.get_by_text("Please correct the following")).to_be_visible()
    accessible(inv, "new case form with errors")
    inv.get_by_label("Owning agency").select_option(label=people.county.name)
    inv.get_by_label("Case number", exact=True).fill(CASE_NUMBER)
    choose(inv, "Trafficking forms", "Labor trafficking")
    inv.get_by_label("Federal partner office").select_option(label=people.hsi.name)
    inv.get_by_role("button", name="Save").click()
    expect(inv.get_by_text("Case created.")).to_be_visible()
    expect(inv.get_by_role("heading", level=1, name=f"Case {CASE_NUMBER}")).to_be_visible()
    accessible(inv, "case page")

    # ... adds a person ...
    inv.get_by_role("link", name="Add a person").click()
    expect(inv.get_by_role("heading", level=1, name="Add a person")).to_be_visible()
    accessible(inv, "person form")
    inv.get_by_label("Full name").fill(PERSON_NAME)
    inv.get_by_label("Date of birth").fill("1991-05-06")
    inv.get_by_label("Citizenship", exact=True).select_option(
        label="Not a U.S. citizen or permanent resident"
    )
    inv.get_by_role("button", name="Save").click()
    expect(inv.get_by_text("Person added.")).to_be_visible()
    expect(inv.get_by_role("heading", level=1, name=PERSON_NAME)).to_be_visible()
    accessible(inv, "person page")

    # ... starts a request and fills in the facts.
    inv.get_by_role("button", name="Start a CP request").click()
    expect(inv.get_by_role("heading", name="Facts")).to_be_visible()
    request_url = inv.url
    choose(inv, "Was the person obtained for labor or services?", "Yes")
    choose(inv, "Means used", "Fraud")
    choose(inv, "Purpose of the labor or services", "Debt bondage")
    choose(inv, "Is the person a potential witness?", "Yes")
    inv.get_by_role("button", name="Save and update the determination").click()
    expect(inv.get_by_text("Saved. The determination was updated.")).to_be_visible()
    expect(inv.get_by_role("complementary")).to_contain_text("likely_eligible")
    accessible(inv, "draft request with facts form")
    act(inv, "Send to supervisor")
    expect(inv.locator("main .usa-tag").first).to_have_text("Awaiting supervisor approval")

    # The supervisor approves from the approval queue.
    sup = sign_in(people.supervisor)
    open_queue(sup, "Awaiting my approval")
    expect(sup).to_have_url(request_url)
    act(sup, "Approve")

    # The HSI sponsor endorses from the endorsement queue.
    hsi = sign_in(people.sponsor)
    open_queue(hsi, "Awaiting my endorsement")
    expect(hsi).to_have_url(request_url)
    act(hsi, "Endorse and submit to CCHT")

    # CCHT asks for more information.
    ccht = sign_in(people.reviewer)
    open_queue(ccht, "CCHT inbox")
    expect(ccht).to_have_url(request_url)
    due = (date.today() + timedelta(days=14)).isoformat()
    act(ccht, "Request information", {"Information needed": "Employer payroll records.",
                                      "Due date": due})  # fmt: skip
    expect(ccht.get_by_text("Employer payroll records.")).to_be_visible()

    # The investigator sees the notice and answers.
    inv.get_by_role("link", name=re.compile("^Notifications")).click()
    expect(inv.get_by_role("heading", level=1, name="Notifications")).to_be_visible()
    accessible(inv, "notifications")
    inv.get_by_role("link", name=re.compile("CCHT asks for more information")).click()
    expect(inv).to_have_url(request_url)
    act(inv, "Send the information", {"Comment (required)": "Payroll records attached."})
    expect(inv.get_by_text("Payroll records attached.")).to_be_visible()

    # CCHT grants; the end date follows from the rules.
    ccht.reload()
    act(ccht, "Record grant", {"Start date (from CCHT's notice)": GRANT_START.isoformat()})
    expect(ccht.locator("main .usa-tag").first).to_have_text("Granted")
    term = f"{GRANT_START:%Y-%m-%d} to {GRANT_END:%Y-%m-%d}"
    expect(ccht.get_by_text(term)).to_be_visible()
    accessible(ccht, "granted request (CCHT)")
    inv.reload()
    expect(inv.locator("main .usa-tag").first).to_have_text("Granted")
    expect(inv.get_by_text(term)).to_be_visible()
    accessible(inv, "granted request (investigator)")

    cp = CPRequest.objects.get()
    assert cp.status == Status.GRANTED
    assert cp.person.full_name == PERSON_NAME
    grant = Decision.objects.get(request=cp, kind="granted")
    assert (grant.start_date, grant.end_date) == (GRANT_START, GRANT_END)


def test_stale_person_edit_keeps_what_the_second_editor_typed(
    sign_in: SignIn, people: People, seeded: CPRequest
) -> None:
    edit_url = f"/people/{seeded.person.pk}/edit/"
    first = sign_in(people.investigator)
    second = sign_in(people.supervisor)
    first.goto(edit_url)
    second.goto(edit_url)
    first.get_by_label("Contact details").fill("+1 555 0111 (first editor)")
    first.get_by_role("button", name="Save").click()
    expect(first.get_by_text("Saved.", exact=True)).to_be_visible()
    second.get_by_label("Contact details").fill("+1 555 0222 (second editor)")
    second.get_by_role("button", name="Save").click()
    expect(second.get_by_text("Someone else saved this record")).to_be_visible()
    expect(second.get_by_label("Contact details")).to_have_value("+1 555 0222 (second editor)")
    accessible(second, "stale person form")
    seeded.person.refresh_from_db()
    assert seeded.person.contact == "+1 555 0111 (first editor)"


def test_outsider_gets_not_found(sign_in: SignIn, people: People, seeded: CPRequest) -> None:
    page = sign_in(people.outsider)
    for path in [
        f"/cases/{seeded.case.pk}/",
        f"/people/{seeded.person.pk}/",
        f"/people/{seeded.person.pk}/edit/",
        f"/requests/{seeded.pk}/",
    ]:
        response = page.goto(path)
        assert response is not None, path
        assert response.status == 404, path
        expect(page.get_by_role("heading", level=1, name="Page not found")).to_be_visible()
        expect(page.get_by_text("Ana Synthetic-Testperson")).to_have_count(0)
