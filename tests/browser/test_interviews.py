"""Interviews in a real browser: the screening and the guided CP request.

Both are walked one question at a time through the real pages, answering by
the kind of question each page shows, interrupted half-way by closing the
browser, resumed after signing in again, reviewed, and taken on: the
screening is given to a case, the CP request becomes a package that is
downloaded and read back. axe-core checks the pages along the way.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

import pytest
from docx import Document as open_docx
from playwright.sync_api import Locator, Page, expect
from pypdf import PdfReader

from cpnav.cases.models import CPRequest, Status
from cpnav.cases.workflow import reference
from cpnav.screening.models import Screening
from tests.browser.conftest import SignIn, accessible, axe_violations
from tests.route import Route

pytestmark = pytest.mark.django_db(transaction=True)

PERSON_NAME = "Ana Synthetic-Testperson"
TWENTY_YEARS_AGO = (date.today() - timedelta(days=20 * 365 + 5)).isoformat()
REVIEW_HEADING = re.compile("review your answers")


# --- one question page at a time ------------------------------------------------


def question_name(page: Page) -> str:
    """The question's short name, from the page title "<interview> — <question> | CP Navigator"."""
    title = page.title().removesuffix(" | CP Navigator")
    assert " — " in title, title
    return title.split(" — ", 1)[1]


def question_form(page: Page) -> Locator:
    return page.locator("main form.usa-form--large")


def kind_of(page: Page) -> str:
    """What kind of answer the page asks for, from its inputs (the page has loaded)."""
    form = question_form(page)
    expect(form).to_have_count(1)
    for kind, selector in [
        ("people", "input[name=rows]"),
        ("radio", "input[type=radio]"),
        ("checkbox", "input[type=checkbox]"),
        ("date", "input[type=date][name=answer]"),
        ("number", "input[inputmode=numeric][name=answer]"),
        ("long text", "textarea[name=answer]"),
        ("text", "input[name=answer]"),
    ]:
        if form.locator(selector).count():
            return kind
    raise AssertionError(f"no answer field on {page.url}")


def at_review(page: Page) -> bool:
    return page.get_by_role("heading", level=1, name=REVIEW_HEADING).count() > 0


def submit(page: Page, button: str = "Save and continue") -> None:
    """Submit the question form and wait for the page it leads to (or the same one, with errors)."""
    with page.expect_navigation():
        page.get_by_role("button", name=button, exact=True).click()


def fill(page: Page, kind: str, value: str | None) -> str:
    """Answer the question on the page; returns what was chosen or typed.

    Radios and checkboxes are visually hidden in USWDS, so their labels are
    clicked. Without a given value the first choice is taken ("Yes" for a
    yes/no question), a date 20 years ago, a number of 30, a short sentence.
    """
    form = question_form(page)
    if kind in {"radio", "checkbox"}:
        labels = form.locator(f"label.usa-{kind}__label")
        label = labels.filter(has_text=value).first if value else labels.first
        text = label.inner_text()
        label.click()
        return text
    if kind == "people":
        # One entry; the spare rows stay blank and are not entries.
        entry = form.get_by_role("group", name="Entry 1", exact=True)
        entry.get_by_label("Name").fill(value or "Luis Synthetic-Relative")
        entry.get_by_label("Relationship").fill("Brother")
        expect(form.get_by_role("group", name="Entry 2", exact=True)).to_be_visible()
        return value or "Luis Synthetic-Relative"
    defaults = {"date": TWENTY_YEARS_AGO, "number": "30"}
    text = value if value is not None else defaults.get(kind, "A synthetic answer for testing.")
    form.locator("[name=answer]").fill(text)
    return text


Hook = Callable[[Page, str, str], None]


@dataclass
class Walk:
    """Answers given so far, in order: (question name, kind, answer)."""

    answers: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return [name for name, _, _ in self.answers]


def walk(
    page: Page,
    record: Walk,
    *,
    answers: dict[str, str] | None = None,
    hook: Hook | None = None,
    stop_after: int | None = None,
) -> None:
    """Answer question after question until the review page (or ``stop_after`` answers)."""
    while not at_review(page):
        if stop_after is not None and len(record.answers) >= stop_after:
            return
        name, kind = question_name(page), kind_of(page)
        if hook is not None:
            hook(page, name, kind)
        given = fill(page, kind, (answers or {}).get(name))
        submit(page)
        expect(page).not_to_have_title(re.compile(re.escape(f"— {name} |")))
        record.answers.append((name, kind, given))
        assert len(record.answers) < 60, "the interview does not end"


def check_back_link_keeps(page: Page, previous: tuple[str, str, str]) -> None:
    """From a question page, Back shows the previous question with its saved answer."""
    name, kind, given = previous
    page.get_by_role("link", name="Back", exact=True).click()
    expect(page).to_have_title(re.compile(re.escape(f"— {name} |")))
    if kind in {"radio", "checkbox"}:
        box = (
            page.get_by_role("radio", name=given, exact=True)
            if kind == "radio"
            else page.get_by_role("checkbox", name=given, exact=True)
        )
        expect(box).to_be_checked()
    elif kind == "people":
        expect(page.get_by_label("Name").first).to_have_value(given)
    else:
        expect(question_form(page).locator("[name=answer]")).to_have_value(given)


# --- 1. the identification screening ------------------------------------------


def test_screening_from_home_page_interrupted_resumed_changed_and_handed_to_a_case(
    sign_in: SignIn, route: Route
) -> None:
    page = sign_in(route.investigator)
    page.get_by_role("button", name="Start a screening").click()
    expect(page.get_by_role("heading", level=1, name="Screening")).to_be_visible()
    screening = Screening.objects.get(owner=route.investigator)

    checked: set[str] = set()

    def checks(page: Page, name: str, kind: str) -> None:
        """axe on the first page of each kind, and on a page with a validation error."""
        if kind in checked:
            return
        checked.add(kind)
        accessible(page, f"screening question: {name} ({kind})")
        if kind == "radio":  # a required yes/no question left unanswered
            submit(page)
            expect(page.get_by_text("Please correct the following")).to_be_visible()
            expect(page.get_by_text("please choose an answer")).to_have_count(2)
            expect(page.get_by_role("group", name=re.compile("^Did the person"))).to_have_attribute(
                "aria-describedby", re.compile("id_answer-error")
            )
            accessible(page, f"screening question with an error: {name}")
        if kind == "date":  # a date in the future
            question_form(page).locator("[name=answer]").fill("2099-01-01")
            submit(page)
            expect(page.get_by_text("must be in the past").first).to_be_visible()
            expect(question_form(page).locator("[name=answer]")).to_have_attribute(
                "aria-invalid", "true"
            )
            accessible(page, f"screening date question with an error: {name}")

    # Half-way, the browser is closed.
    done = Walk()
    walk(page, done, hook=checks, stop_after=8)
    waiting = question_name(page)
    assert waiting not in done.names
    page.context.close()
    assert len(Screening.objects.get(pk=screening.pk).answers) == 8

    # Signed in again, the screening list leads back to the same question.
    page = sign_in(route.investigator)
    page.goto("/screening/")
    expect(page.get_by_role("heading", level=1, name="Identification screening")).to_be_visible()
    accessible(page, "screening list")
    page.get_by_role("main").get_by_role("listitem").get_by_role("link").click()
    expect(page).to_have_title(re.compile(re.escape(f"— {waiting} |")))
    check_back_link_keeps(page, done.answers[-1])
    submit(page)  # the kept answer again; on to the first unanswered question
    expect(page).to_have_title(re.compile(re.escape(f"— {waiting} |")))

    walk(page, done, hook=checks)
    assert {"radio", "date"} <= checked
    kinds = {kind for _, kind, _ in done.answers}
    assert {"radio", "date"} <= kinds
    assert "Not a U.S. citizen or permanent resident" in [given for *_, given in done.answers]
    assert "Estimated age" not in done.names  # a date of birth was given
    expect(
        page.get_by_role("heading", level=1, name="Screening: review your answers")
    ).to_be_visible()
    expect(page.get_by_text("Still to answer")).to_have_count(0)
    accessible(page, "screening review")

    # Change an earlier answer from the review: no date of birth after all, so the
    # estimated age (a number) is asked next, then the review again.
    page.get_by_role("link", name="Change Date of birth", exact=True).click()
    expect(question_form(page).locator("[name=answer]")).to_have_value(TWENTY_YEARS_AGO)
    question_form(page).locator("[name=answer]").fill("")
    submit(page)
    expect(page).to_have_title(re.compile(re.escape("— Estimated age |")))
    assert kind_of(page) == "number"
    accessible(page, "screening number question")
    walk(page, done, answers={"Estimated age": "16"})
    assert done.names[-1] == "Estimated age"
    review = page.get_by_role("main")
    expect(review.locator("dt", has_text="Date of birth").locator("+ dd")).to_contain_text(
        "Left blank"
    )
    expect(review.locator("dt", has_text="Estimated age").locator("+ dd")).to_contain_text("16")
    expect(page.get_by_text("Indicators of labor trafficking were reported.")).to_be_visible()
    expect(
        page.get_by_text("The person may be under 18: notify HHS within 24 hours.")
    ).to_be_visible()
    accessible(page, "screening review after a change")

    # Given to the route's person: a new draft CP request opens with the signs found.
    page.get_by_label("Person (case number)").select_option(
        label=f"Person 1 in case {route.case.case_number}"
    )
    page.get_by_role("button", name="Start a CP request with these answers").click()
    expect(page.get_by_text("The screening's answers started a draft CP request.")).to_be_visible()
    cp = CPRequest.objects.exclude(pk=route.cp.pk).get()
    expect(page).to_have_url(re.compile(f"/requests/{cp.pk}/$"))
    expect(page.get_by_role("heading", level=1, name=re.compile(reference(cp)))).to_be_visible()
    expect(page.locator("main .usa-tag").first).to_have_text("Draft")
    expect(page.get_by_role("link", name="Start the interview")).to_be_visible()
    assert cp.status == Status.DRAFT
    assert cp.person == route.person
    exploitation = cp.facts["exploitation"]
    assert exploitation["labor_or_services"] is True
    assert set(exploitation["means"]) == {"force", "fraud", "coercion"}
    assert cp.facts["witness"] == {"potential_witness": True}
    screening.refresh_from_db()
    assert screening.handed_to == cp
    assert screening.answers["date_of_birth"] is None
    assert screening.answers["age_estimate"] == 16

    page.goto("/screening/")
    expect(page.get_by_role("main").get_by_role("listitem")).to_contain_text("given to a case")


def test_labelled_screening_is_listed_by_its_label(sign_in: SignIn, route: Route) -> None:
    page = sign_in(route.investigator)
    page.goto("/screening/")
    page.get_by_label("Private reference (optional, no name needed)").fill("Farm visit")
    page.get_by_role("button", name="Start a screening").click()
    expect(page.get_by_role("button", name="Save and continue")).to_be_visible()
    page.goto("/screening/")
    expect(page.get_by_role("link", name="Farm visit")).to_be_visible(timeout=2_000)
    assert axe_violations(page) == []


# --- 2. the guided CP request --------------------------------------------------

PREFILLED = {  # answered from the case, the person and the signed-in official
    "Agency level", "Federal partner engaged", "Name", "Email", "Citizenship",
    "Date of birth", "Estimated age", "Forms of trafficking", "Commercial sex act",
    "Civil action", "Case number",
}  # fmt: skip
CP_ANSWERS = {
    "Federal partner": "HSI Field Office, Special Agent Synthetic-Contact",
    "Title": "Detective Sergeant",
    "Phone": "+1 555 0199",
    "Preferred language": "Spanish",
    "Investigation summary": (
        "A synthetic labor trafficking investigation at a farm; the person worked there "
        "and can describe the recruitment and the debts."
    ),
}


def test_cp_request_interview_interrupted_resumed_reviewed_and_packaged(
    sign_in: SignIn, route: Route
) -> None:
    request_url = f"/requests/{route.cp.pk}/"
    ref = reference(route.cp)
    page = sign_in(route.investigator)
    page.goto(request_url)
    expect(page.get_by_role("heading", level=1, name=re.compile(ref))).to_be_visible()

    # Before the interview the package cannot be made; it says what is missing.
    page.get_by_role("button", name="Generate the package").click()
    expect(page.get_by_text("Name the requesting official")).to_be_visible()
    expect(page.get_by_text("Write the investigation summary")).to_be_visible()
    expect(page.get_by_role("table", name="Generated packages")).to_have_count(0)

    page.get_by_role("link", name="Start the interview").click()
    checked: set[str] = set()

    def checks(page: Page, name: str, kind: str) -> None:
        if kind not in checked:
            checked.add(kind)
            accessible(page, f"CP interview question: {name} ({kind})")

    done = Walk()
    walk(page, done, answers=CP_ANSWERS, hook=checks, stop_after=6)
    waiting = question_name(page)
    assert waiting not in done.names
    page.context.close()

    # Signed in again, the request page continues at the same question.
    page = sign_in(route.investigator)
    page.goto(request_url)
    page.get_by_role("link", name="Continue the interview").click()
    expect(page).to_have_title(re.compile(re.escape(f"— {waiting} |")))
    check_back_link_keeps(page, done.answers[-1])
    submit(page)
    expect(page).to_have_title(re.compile(re.escape(f"— {waiting} |")))

    walk(page, done, answers=CP_ANSWERS, hook=checks)
    assert not PREFILLED & set(done.names), "a question the record answers was asked"
    assert {"Title", "Phone", "Investigation summary", "Family in the U.S."} <= set(done.names)
    assert {"radio", "checkbox", "text", "long text", "people"} <= checked

    # The review lists every answer, the prefilled ones too.
    expect(
        page.get_by_role("heading", level=1, name="CP request: review your answers")
    ).to_be_visible()
    expect(page.get_by_text("Still to answer")).to_have_count(0)
    review = page.get_by_role("main")
    for label, value in [
        ("Agency level", "Local (city or county)"),
        ("Name", route.investigator.full_name),
        ("Title", "Detective Sergeant"),
        ("Family in the U.S.", "Name: Luis Synthetic-Relative, Relationship: Brother"),
    ]:
        term = review.locator("dt", has_text=re.compile(f"^{re.escape(label)}")).first
        expect(term.locator("+ dd")).to_contain_text(value)
    accessible(page, "CP interview review")

    # Back on the request page, the determination has an outcome.
    page.get_by_role("link", name="Back to the request").click()
    expect(page).to_have_url(re.compile(f"{request_url}$"))
    determination = page.get_by_role("complementary", name="Policy determination")
    expect(determination).to_contain_text(re.compile(r"Outcome: \S+"))
    expect(page.get_by_role("link", name="Review all answers")).to_be_visible()

    page.get_by_role("button", name="Generate the package").click()
    expect(page.get_by_text("Package version 1 generated.")).to_be_visible()
    packages = page.get_by_role("table", name="Generated packages")
    expect(packages.get_by_role("link")).to_have_count(2)
    accessible(page, "request page after generating the package")

    with page.expect_download() as pdf_download:
        packages.get_by_role("link", name="PDF").click()
    assert pdf_download.value.suggested_filename == f"{ref}-package-v1.pdf"
    reader = PdfReader(pdf_download.value.path())
    assert len(reader.pages) > 1
    pdf_text = "\n".join(p.extract_text() for p in reader.pages)
    assert ref in pdf_text

    with page.expect_download() as docx_download:
        packages.get_by_role("link", name="DOCX").click()
    assert docx_download.value.suggested_filename == f"{ref}-package-v1.docx"
    document = open_docx(str(docx_download.value.path()))
    docx_text = "\n".join(
        [p.text for p in document.paragraphs]
        + [cell.text for table in document.tables for row in table.rows for cell in row.cells]
    )
    assert PERSON_NAME in docx_text
    assert "Detective Sergeant" in docx_text  # the official's title came from the interview

    cp = CPRequest.objects.get(pk=route.cp.pk)
    assert cp.answers["official_phone"] == "+1 555 0199"
    assert cp.answers["family_in_us"] == [
        {"name": "Luis Synthetic-Relative", "relationship": "Brother"}
    ]
    assert cp.narrative == CP_ANSWERS["Investigation summary"]
    assert cp.determination
