"""Grants in a real browser: a reminder leads to an extension, the deadlines
dashboard and its private calendar, and recording the end of protection.

Grants are built in the database through the real workflow (``grant_route``);
reminders go out over a real SMTP server on loopback. Everyone signs in through
the real pages, each person in a browser context of their own, and axe-core
checks the pages along the way.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from datetime import date, timedelta
from email.message import Message
from typing import Any

import pytest
from django.test import RequestFactory
from icalendar import Calendar
from playwright.sync_api import Locator, Page, expect

from cpnav.cases.models import CPRequest, Status
from cpnav.cases.workflow import reference
from cpnav.grants import reminders
from cpnav.grants.models import EndKind, GrantEnd, GrantTerm
from tests.browser.conftest import SignIn, accessible
from tests.browser.test_interviews import Walk, walk
from tests.grants.test_grant_pages import grant_route
from tests.grants.test_reminders import ending_in
from tests.mailserver import Inbox
from tests.route import Route

pytestmark = pytest.mark.django_db(transaction=True)

PERSON_NAME = "Ana Synthetic-Testperson"
SECRETS = ("Ana", "Synthetic-Testperson", "A012345678")  # never in email or calendars
CASE_NUMBER = "2026-0042"
# Answered from the previous grant, the case and the signed-in official: never asked.
EXTENSION_PREFILLED = {
    "Current term ends", "Grant reference", "Agency level", "Federal partner engaged",
    "Name", "Email",
}  # fmt: skip
EXTENSION_ANSWERS = {
    "Title": "Detective Sergeant",
    "Phone": "+1 555 0199",
    "Details of changes": "The person moved to a safer address.",
}


# --- small helpers -------------------------------------------------------------


def primary_nav(page: Page, name: str) -> None:
    page.get_by_role("navigation", name="Primary").get_by_role("link", name=name).click()


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


def open_from_queue(page: Page, queue: str) -> None:
    primary_nav(page, queue)
    expect(page.get_by_role("heading", level=1, name=queue)).to_be_visible()
    page.get_by_role("link", name=re.compile(re.escape(CASE_NUMBER))).click()


def anniversary(day: date, years: int) -> date:
    """The same calendar day ``years`` later (February 29 falls on February 28)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def decoded_parts(message: Message) -> list[str]:
    """Every text part of an email, transfer encoding undone."""
    texts = []
    for part in message.walk():
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            texts.append(payload.decode(part.get_content_charset() or "utf-8"))
    return texts


def expect_grant_status(page: Page, status: str) -> None:
    """The grant page's status tag (the code, or its label: "extension_requested" or
    "Extension requested")."""
    words = r"[_ ]".join(re.escape(word) for word in status.split("_"))
    tag = page.locator("main .usa-tag").first
    expect(tag).to_have_text(re.compile(rf"^\s*{words}\s*$", re.IGNORECASE))


def deadlines_dashboard(page: Page) -> Locator:
    primary_nav(page, "Deadlines")
    expect(page.get_by_role("heading", level=1, name="Deadlines")).to_be_visible()
    return page.get_by_role("table")


def fetch(url: str) -> tuple[int, bytes, str]:
    """A plain HTTP GET with no cookies, as a calendar program makes it."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (test server)
            return response.status, response.read(), response.headers["Content-Type"]
    except urllib.error.HTTPError as error:
        return error.code, b"", ""


# --- 1. a reminder, the grant page, an extension, and the chained new term -----


def test_reminder_to_new_term(
    rf: RequestFactory, route: Route, smtp: Inbox, settings: Any, live_server: Any,
    sign_in: SignIn,
) -> None:  # fmt: skip
    settings.BASE_URL = live_server.url  # links in reminders point at this server
    grant = ending_in(rf, route, 80)  # the 90-day extension window opened ten days ago
    first = grant.terms.get()
    ref = reference(route.cp)
    smtp.messages.clear()  # the route's own notices

    report = reminders.send_due()
    assert report.sent >= 1
    assert report.failed == 0
    mine = [m for m in smtp.messages if m["To"] == route.investigator.email]
    assert mine, "no reminder reached the investigator"
    for message in smtp.messages:
        assert ref in message["Subject"]
        texts = decoded_parts(message)
        assert texts
        assert all(ref in text for text in texts)
        for secret in SECRETS:
            assert secret not in message["Subject"]
            assert all(secret not in text for text in texts), secret

    # The investigator follows the in-app reminder to the grant page.
    inv = sign_in(route.investigator)
    primary_nav(inv, "Notifications")
    expect(inv.get_by_role("heading", level=1, name="Notifications")).to_be_visible()
    accessible(inv, "notifications with reminders")
    inv.get_by_role("link", name=f"{ref}: Request a CP extension").click()
    grant_url = f"/grants/{grant.pk}/"
    expect(inv).to_have_url(re.compile(f"{re.escape(grant_url)}$"))
    expect(inv.get_by_role("heading", level=1, name=f"Continued Presence {ref}")).to_be_visible()
    expect_grant_status(inv, "active")
    deadlines = inv.get_by_role("main").get_by_role("list").filter(has_text="Add to calendar")
    extension_item = deadlines.get_by_role("listitem").filter(has_text="Request a CP extension")
    expect(extension_item).to_contain_text("overdue")
    expect(extension_item).to_contain_text("CPNAV_EXTENSION_LEAD_DAYS")
    term_item = deadlines.get_by_role("listitem").filter(has_text="CP term ends")
    expect(term_item).to_contain_text(f"{first.end:%Y-%m-%d}")
    expect(term_item).to_contain_text("CP term end as recorded on the grant")
    expect(inv.get_by_text(PERSON_NAME)).to_have_count(0)
    accessible(inv, "grant page")

    # From the terms list to the request, and an extension request is started.
    terms = inv.locator("main ol.usa-list").first
    expect(terms.get_by_role("listitem")).to_have_count(1)
    terms.get_by_role("link", name="request", exact=True).click()
    expect(inv).to_have_url(re.compile(f"/requests/{route.cp.pk}/$"))
    inv.get_by_role("button", name="Start an extension request").click()
    extension = CPRequest.objects.get(kind="extension")
    extension_ref = reference(extension)
    extension_url = f"/requests/{extension.pk}/"
    expect(inv).to_have_url(re.compile(f"{re.escape(extension_url)}$"))
    expect(inv.get_by_role("heading", level=1, name=f"Extension {extension_ref}")).to_be_visible()
    expect(inv.locator("main .usa-tag").first).to_have_text("Draft")

    # The guided extension interview, answered by the kind of each question.
    inv.get_by_role("link", name="Start the interview").click()
    checked: set[str] = set()

    def check(page: Page, name: str, kind: str) -> None:
        checked.add(name)
        accessible(page, f"extension interview question: {name} ({kind})")

    done = Walk()
    walk(inv, done, answers=EXTENSION_ANSWERS, hook=check)
    assert not EXTENSION_PREFILLED & set(done.names), "a question the record answers was asked"
    assert {"Still a potential witness", "Criminal case", "Title", "Phone"} <= set(done.names)
    assert {kind for _, kind, _ in done.answers} >= {"radio", "text"}
    expect(
        inv.get_by_role("heading", level=1, name="Extension request: review your answers")
    ).to_be_visible()
    expect(inv.get_by_text("Still to answer")).to_have_count(0)
    review = inv.get_by_role("main")
    expect(
        review.locator("dt", has_text=re.compile("^Current term ends")).first.locator("+ dd")
    ).to_contain_text(f"{first.end:%Y-%m-%d}")
    accessible(inv, "extension interview review")

    # Back on the request page, it goes to the supervisor.
    inv.get_by_role("link", name="Back to the request").click()
    expect(inv).to_have_url(re.compile(f"{re.escape(extension_url)}$"))
    act(inv, "Send to supervisor")
    expect(inv.locator("main .usa-tag").first).to_have_text("Awaiting supervisor approval")
    accessible(inv, "extension request sent to the supervisor")

    sup = sign_in(route.supervisor)
    open_from_queue(sup, "Awaiting my approval")
    expect(sup).to_have_url(re.compile(f"{re.escape(extension_url)}$"))
    act(sup, "Approve")

    hsi = sign_in(route.sponsor)
    open_from_queue(hsi, "Awaiting my endorsement")
    expect(hsi).to_have_url(re.compile(f"{re.escape(extension_url)}$"))
    act(hsi, "Endorse and submit to CCHT")

    # Meanwhile the grant shows the pending extension, and the window is done.
    inv.goto(grant_url)
    expect_grant_status(inv, "extension_requested")

    # CCHT records the grant with no start date: it runs on from the previous end.
    ccht = sign_in(route.reviewer)
    open_from_queue(ccht, "CCHT inbox")
    expect(ccht).to_have_url(re.compile(f"{re.escape(extension_url)}$"))
    act(ccht, "Record grant")
    expect(ccht.locator("main .usa-tag").first).to_have_text("Granted")

    new_start = first.end + timedelta(days=1)
    new_end = anniversary(new_start, 2) - timedelta(days=1)
    second = GrantTerm.objects.get(request=extension)
    assert (second.grant_id, second.kind) == (grant.pk, "extension")
    assert (second.start, second.end) == (new_start, new_end)
    assert CPRequest.objects.get(pk=extension.pk).status == Status.GRANTED

    # The investigator goes from the extension to the grant: two terms, chained.
    inv.goto(extension_url)
    expect(inv.locator("main .usa-tag").first).to_have_text("Granted")
    inv.get_by_role("link", name=re.compile("^Track this grant")).click()
    expect(inv).to_have_url(re.compile(f"{re.escape(grant_url)}$"))
    expect_grant_status(inv, "active")
    items = inv.locator("main ol.usa-list").first.get_by_role("listitem")
    expect(items).to_have_count(2)
    expect(items.nth(0)).to_contain_text(
        f"Initial term: {first.start:%Y-%m-%d} to {first.end:%Y-%m-%d}"
    )
    expect(items.nth(1)).to_contain_text(f"Extension: {new_start:%Y-%m-%d} to {new_end:%Y-%m-%d}")
    accessible(inv, "grant page with two terms")

    # The grant page lists every date of the new term, however far ahead.
    new_term_item = (
        inv.get_by_role("main").get_by_role("list").filter(has_text="Add to calendar")
        .get_by_role("listitem").filter(has_text="CP term ends")
    )  # fmt: skip
    expect(new_term_item).to_contain_text(f"{new_end:%Y-%m-%d}")

    # The deadlines dashboard, in both scopes: the new term's dates are more than a
    # year away, so nothing is overdue or due within the window, the longest included.
    table = deadlines_dashboard(inv)
    expect(inv.get_by_role("link", name="My case teams")).to_have_attribute("aria-current", "page")
    expect(table).to_contain_text("Nothing overdue and nothing due within 120 days.")
    accessible(inv, "deadlines dashboard: my case teams")
    inv.get_by_label("Due within").select_option("365")
    inv.get_by_role("button", name="Show these deadlines").click()
    expect(inv.get_by_label("Due within")).to_have_value("365")
    expect(inv.get_by_role("table")).to_contain_text(
        "Nothing overdue and nothing due within 365 days."
    )
    inv.get_by_role("link", name="Everything I can see (my agency)").click()
    expect(inv.get_by_role("link", name="Everything I can see (my agency)")).to_have_attribute(
        "aria-current", "page"
    )
    expect(inv.get_by_label("Due within")).to_have_value("365")  # the choice carries over
    expect(inv.get_by_role("table")).not_to_contain_text(ref)
    accessible(inv, "deadlines dashboard: agency")


# --- 2. the deadlines dashboard and the private calendar -----------------------


def test_dashboard_and_calendar(rf: RequestFactory, route: Route, sign_in: SignIn) -> None:
    grant = ending_in(rf, route, 80)
    ref = reference(route.cp)
    inv = sign_in(route.investigator)
    table = deadlines_dashboard(inv)
    row = table.get_by_role("row").filter(has_text="Request a CP extension")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(re.compile("overdue|due soon"))
    expect(row).to_contain_text("CPNAV_EXTENSION_LEAD_DAYS")
    expect(row.get_by_role("link", name=ref)).to_have_attribute("href", f"/grants/{grant.pk}/")
    expect(inv.get_by_text(PERSON_NAME)).to_have_count(0)
    accessible(inv, "deadlines dashboard")

    def subscribe() -> str:
        inv.get_by_role("button", name=re.compile("^Subscribe in my calendar")).click()
        notice = inv.get_by_role("status").filter(has_text="Your private calendar address")
        expect(notice).to_be_visible()
        found = re.search(r"(https?://\S+/calendar/\S+\.ics)", notice.inner_text())
        assert found is not None, notice.inner_text()
        return found.group(1)

    address = subscribe()
    expect(inv.get_by_role("heading", level=1, name="Deadlines")).to_be_visible()
    accessible(inv, "deadlines dashboard with the calendar address")
    inv.reload()  # shown once
    expect(inv.get_by_role("heading", level=1, name="Deadlines")).to_be_visible()
    expect(inv.get_by_text(address)).to_have_count(0)
    expect(inv.get_by_text("Your private calendar address")).to_have_count(0)

    status, body, content_type = fetch(address)
    assert status == 200
    assert content_type.startswith("text/calendar")
    events = list(Calendar.from_ical(body).walk("VEVENT"))
    assert events
    assert all(str(e["SUMMARY"]).startswith(f"{ref}: ") for e in events)
    assert {str(e["SUMMARY"]) for e in events} >= {
        f"{ref}: Request a CP extension",
        f"{ref}: CP term ends",
    }
    text = body.decode()
    for secret in SECRETS:
        assert secret not in text, secret

    # A new address cancels the old one.
    newer = subscribe()
    assert newer != address
    assert fetch(address)[0] == 404
    assert fetch(newer)[0] == 200


# --- 3. the end of protection --------------------------------------------------


def test_end_of_protection_warns_about_t_visa(
    rf: RequestFactory, route: Route, sign_in: SignIn
) -> None:
    grant = grant_route(rf, route, date.today() - timedelta(days=200))
    grant_url = f"/grants/{grant.pk}/"
    inv = sign_in(route.investigator)
    inv.goto(grant_url)
    expect_grant_status(inv, "active")
    end_form = inv.locator("form").filter(has=inv.locator("input[name=form][value=end]"))

    # Submitted empty, the form says what is missing.
    end_form.get_by_role("button", name="Record").click()
    expect(inv.get_by_text("Please correct the following")).to_be_visible()
    end_form = inv.locator("form").filter(has=inv.locator("input[name=form][value=end]"))
    expect(end_form.locator(".usa-error-message")).to_have_count(3)
    expect(end_form.get_by_role("group", name="What happened")).to_have_attribute(
        "aria-describedby", re.compile("id_kind-error")
    )
    accessible(inv, "grant page with an end-of-protection error")
    assert not GrantEnd.objects.exists()

    today = date.today()
    end_form.get_by_role("group", name="What happened").locator(
        "label", has_text="No longer a potential witness"
    ).click()
    end_form.get_by_label("From").fill(today.isoformat())
    end_form.get_by_label("Why").fill("The prosecutor no longer needs the person as a witness.")
    end_form.get_by_role("button", name="Record").click()

    warning = inv.get_by_role("status").filter(has_text="Recorded.")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("T visa referral and services")
    expect(warning).to_contain_text("CP must never be used as leverage")
    expect_grant_status(inv, "ended")
    ended = inv.get_by_role("heading", name="End of protection", exact=True)
    expect(ended).to_be_visible()
    expect(
        inv.get_by_role("listitem").filter(has_text="No longer a potential witness")
    ).to_contain_text(f"{today:%Y-%m-%d}")
    # The T visa referral is now due: it starts on the day protection ends.
    expect(
        inv.get_by_role("listitem").filter(has_text="Refer to immigration counsel about a T visa")
    ).to_contain_text(f"{today:%Y-%m-%d}")
    accessible(inv, "grant page after recording the end")

    end = GrantEnd.objects.get(grant=grant)
    assert (end.kind, end.effective_on, end.recorded_by) == (
        EndKind.NO_LONGER_WITNESS,
        today,
        route.investigator,
    )
    assert grant.status(today) == "ended"
