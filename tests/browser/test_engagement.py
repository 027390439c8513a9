"""CCHT engagement in a real browser: a public meeting request that ends in an
attended session, the waiting list, the public form's errors, and axe-core on
every engagement page (anonymous, officer and coordinator views, error states,
and Spanish).

Anonymous visitors use the ``page`` fixture; officers and coordinators sign in
through the real pages. The live server runs in this process, so the ``settings``
fixture reaches it and the mail it sends lands in ``django.core.mail.outbox``.
State that is not the point of a test is built through the services.
"""

from __future__ import annotations

import re
from datetime import date, time, timedelta
from pprint import pformat
from typing import Any

import pytest
from django.core import mail
from django.core.mail import EmailMessage
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import FilePayload, Locator, Page, expect

from cpnav.accounts.models import Agency, Role, User
from cpnav.core.ratelimit import reset as reset_rate_limits
from cpnav.engagement import services
from cpnav.engagement.models import MeetingRequest, Registration, Session
from cpnav.engagement.times import today_in
from tests.browser.conftest import SignIn, accessible, axe_violations
from tests.conftest import MakeUser

pytestmark = pytest.mark.django_db(transaction=True)

ZONE = "America/Chicago"
AGENCY_NAME = "Example County Sheriff"
CONTACT_NAME = "Dana Example"
CONTACT_EMAIL = "dana@county.example"
OFFICER_NAME = "Olu Officer"
OFFICER_EMAIL = "olu.officer@county.example"
MEETING_LINK = "https://meet.example.gov/ccht-example-county"


@pytest.fixture(autouse=True)
def _public_forms(settings: Any, live_server: Any) -> None:
    """Public forms may be sent at once and often; mail stays in memory; links point here."""
    settings.PUBLIC_FORM_MIN_SECONDS = 0
    settings.PUBLIC_FORM_RATE = "1000/hour"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.BASE_URL = live_server.url
    reset_rate_limits()  # counters from earlier tests


@pytest.fixture
def coordinator(make_user: MakeUser, ccht: Agency) -> User:
    return make_user("coordinator@ccht.example", ccht, (Role.ENGAGEMENT_COORDINATOR,))


@pytest.fixture
def officer(make_user: MakeUser, agency_a: Agency) -> User:
    return make_user("officer@a.example", agency_a, (Role.INVESTIGATOR,))


# --- small helpers -------------------------------------------------------------


def future(days: int) -> date:
    """A day ahead in the test zone: the services compare with the real clock."""
    return today_in(ZONE, timezone.now()) + timedelta(days=days)


def primary_nav(page: Page, name: str) -> None:
    page.get_by_role("navigation", name="Primary").get_by_role("link", name=name).click()


def choose(page: Page, group: str, label: str) -> None:
    """Click the label of a visually hidden USWDS checkbox or radio inside a fieldset."""
    page.get_by_role("group", name=group).locator("label", has_text=label).click()


def status_tag(page: Page) -> Locator:
    return page.locator("main .usa-tag").first


def form_for(page: Page, name: str) -> Locator:
    """One of several forms on a page, by its hidden ``form`` discriminator."""
    return page.locator("form", has=page.locator(f'input[name="form"][value="{name}"]'))


def fill_meeting_form(page: Page, preferred: date) -> None:
    page.get_by_label("Your name", exact=True).fill(CONTACT_NAME)
    page.get_by_label("Your work email", exact=True).fill(CONTACT_EMAIL)
    page.get_by_label("Agency name", exact=True).fill(AGENCY_NAME)
    page.get_by_label("State or territory").select_option("TX")
    page.get_by_label("City, county or tribal area").fill("Example County")
    choose(page, "Who would attend", "Investigators")
    choose(page, "Who would attend", "Patrol officers")
    page.get_by_label("About how many people").fill("25")
    choose(page, "Topics", "Continued Presence basics")
    page.get_by_label("Preferred date", exact=True).fill(preferred.isoformat())
    choose(page, "Time of day", "Morning")
    page.get_by_label("Your time zone").select_option(ZONE)


def register_on(page: Page, name: str, email: str, button: str = "Register") -> None:
    """Fill the public registration form on a session page and send it."""
    page.get_by_label("Full name").fill(name)
    page.get_by_label("Work email").fill(email)
    page.get_by_label("Agency name", exact=True).fill(AGENCY_NAME)
    page.get_by_role("button", name=button, exact=True).click()


def calendar_methods(message: EmailMessage) -> list[tuple[str, str]]:
    """(method parameter, decoded text) of each text/calendar part of a sent message."""
    found = []
    for part in message.message().walk():
        if part.get_content_type() == "text/calendar":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            found.append((str(part.get_param("method")), payload.decode()))
    return found


def sent_to(email: str, subject: str) -> list[EmailMessage]:
    return [m for m in mail.outbox if m.to == [email] and subject in m.subject]


def new_session(coordinator: User, title: str, capacity: int = 5) -> Session:
    return services.create_session(
        None, coordinator,
        services.SessionInput(
            title=title, day=future(10), at=time(14, 0), time_zone=ZONE, duration_minutes=60,
            capacity=capacity, meeting_link=MEETING_LINK, topics=["cp_basics"],
            description="What Continued Presence is and how to ask for it.",
            materials=["what-is-continued-presence"], presenters="CCHT staff",
        ),
    )  # fmt: skip


def new_request(
    requester: User | None = None, agency: Agency | None = None
) -> tuple[MeetingRequest, str]:
    return services.submit_request(
        None, requester,
        services.MeetingInput(
            contact_name=CONTACT_NAME, contact_email=CONTACT_EMAIL, agency_name=AGENCY_NAME,
            agency=agency, jurisdiction="TX", jurisdiction_detail="Example County",
            audience=["investigators"], audience_size=25, topics=["cp_basics"],
            preferred_dates=[future(20)], preferred_time="morning", time_zone=ZONE,
        ),
    )  # fmt: skip


def register(
    session: Session, name: str, agency: Agency | None = None, user: User | None = None
) -> tuple[Registration, str]:
    email = user.email if user else f"{name.lower().replace(' ', '.')}@county.example"
    who = services.Registrant(full_name=name, email=email, agency_name=AGENCY_NAME, agency=agency)
    return services.register(None, session, who, user=user)


def propose(coordinator: User, meeting: MeetingRequest) -> MeetingRequest:
    return services.propose(
        None, coordinator, meeting, version=meeting.version, time_zone=ZONE,
        times=[services.LocalTime(future(15), time(10, 0)),
               services.LocalTime(future(16), time(13, 30))],
    )  # fmt: skip


# Form controls axe-core cannot judge on its own: a repeated id is only "incomplete"
# there (duplicate-id-aria needs review), yet a label's ``for`` then names the first
# control with that id and leaves the second without a label.
_FORM_PROBLEMS = """() => {
    const seen = {}, problems = [];
    for (const el of document.querySelectorAll('[id]')) {
        if (seen[el.id]) problems.push('duplicate id: ' + el.id);
        seen[el.id] = true;
    }
    const controls = 'input:not([type=hidden]), select, textarea';
    for (const el of document.querySelectorAll(controls)) {
        if (el.closest('[aria-hidden="true"]')) continue;
        if (el.labels.length === 0 && !el.getAttribute('aria-label')) {
            problems.push('no label: ' + el.name);
        }
    }
    return problems;
}"""
# Pages exempt from the id and label check (none: each form on a page has its own auto_id).
REPEATED_IDS: frozenset[str] = frozenset()


def form_problems(page: Page) -> list[str]:
    found: list[str] = page.evaluate(_FORM_PROBLEMS)
    return found


def into_the_past(session: Session) -> None:
    Session.objects.filter(pk=session.pk).update(starts_at=timezone.now() - timedelta(hours=2))


# --- 1. from a public request to an attended session -------------------------------


def test_public_request_to_attended_session(page: Page, sign_in: SignIn, coordinator: User) -> None:
    # An anonymous visitor asks for a meeting through the public form.
    page.goto("/")
    primary_nav(page, "Engagement")
    expect(page.get_by_role("heading", level=1, name="Engagement with CCHT")).to_be_visible()
    page.get_by_role("link", name="Request an informational meeting").click()
    fill_meeting_form(page, future(20))
    expect(page.locator('input[name="website"]')).to_have_value("")  # the robots' field
    page.get_by_role("button", name="Send the request").click()
    expect(page.get_by_text("Keep this page's address to follow your request.")).to_be_visible()
    meeting = MeetingRequest.objects.get()  # only once the page shows it was saved
    expect(page.get_by_text(f"Request {meeting.reference} sent.")).to_be_visible()
    expect(
        page.get_by_role("heading", level=1, name=f"Meeting request {meeting.reference}")
    ).to_be_visible()
    expect(status_tag(page)).to_have_text("Received")
    status_url = page.url
    assert "/engagement/meeting/" in status_url
    (receipt,) = sent_to(CONTACT_EMAIL, "received")
    assert status_url in receipt.body  # the status link is in the receipt

    # A coordinator finds it in the queue and proposes a time.
    coord = sign_in(coordinator)
    primary_nav(coord, "Engagement")
    coord.get_by_role("link", name="Meeting requests queue").click()
    expect(coord.get_by_role("heading", level=1, name="Meeting requests queue")).to_be_visible()
    coord.get_by_role("link", name=meeting.reference).click()
    expect(status_tag(coord)).to_have_text("Received")
    proposal = form_for(coord, "propose")
    expect(proposal.get_by_label("Time zone of these times")).to_have_value(ZONE)
    proposal.get_by_label("First date").fill(future(15).isoformat())
    proposal.get_by_label("First time").fill("10:00")
    proposal.get_by_role("button", name="Send the proposal").click()
    expect(coord.get_by_text("Saved, and the requester was told.")).to_be_visible()
    expect(status_tag(coord)).to_have_text("Other dates proposed")
    assert sent_to(CONTACT_EMAIL, "proposed other times")

    # The visitor, back on the status page, takes the time.
    page.goto(status_url)
    expect(status_tag(page)).to_have_text("Other dates proposed")
    choice = page.get_by_role("group", name="Which time suits you?").locator("label")
    expect(choice).to_have_count(1)
    choice.click()
    page.get_by_role("button", name="Take this time").click()
    expect(page.get_by_text("Thank you. CCHT will confirm the meeting.")).to_be_visible()
    expect(status_tag(page)).to_have_text("Accepted")
    expect(page.get_by_text("Agreed time")).to_be_visible()

    # The coordinator creates a session for it; the request is scheduled.
    coord.reload()
    expect(status_tag(coord)).to_have_text("Accepted")
    coord.get_by_role("link", name="Create a session for this request").click()
    expect(coord.get_by_role("heading", level=1, name="New session")).to_be_visible()
    expect(coord.get_by_label("Title", exact=True)).to_have_value(
        f"Informational meeting: {AGENCY_NAME}"
    )
    expect(coord.get_by_label("Date", exact=True)).to_have_value(future(15).isoformat())
    expect(coord.get_by_label("Start time")).to_have_value("10:00")
    expect(coord.get_by_label("Places")).to_have_value("25")
    coord.get_by_label("Meeting link").fill(MEETING_LINK)
    coord.get_by_role("button", name="Save the session").click()
    expect(coord.get_by_text("Session created.")).to_be_visible()
    manage_url = coord.url
    session = Session.objects.get()
    assert not session.is_public
    coord.get_by_role("link", name=meeting.reference).click()
    expect(status_tag(coord)).to_have_text("Scheduled")
    assert sent_to(CONTACT_EMAIL, "is scheduled")

    # An officer registers on the session page and sees the place page.
    page.goto(status_url)
    expect(status_tag(page)).to_have_text("Scheduled")
    page.get_by_role("link", name=session.title).click()
    expect(page.get_by_role("heading", level=1, name=session.title)).to_be_visible()
    expect(page.get_by_role("link", name=MEETING_LINK)).to_have_count(0)  # not before registering
    register_on(page, OFFICER_NAME, OFFICER_EMAIL)
    expect(page.get_by_text("You are registered.")).to_be_visible()
    expect(
        page.get_by_role("heading", level=1, name=f"Your place: {session.title}")
    ).to_be_visible()
    expect(status_tag(page)).to_have_text("Registered")
    expect(page.get_by_role("link", name=MEETING_LINK)).to_have_attribute("href", MEETING_LINK)
    ics_link = page.get_by_role("link", name="Download the calendar file (.ics)")
    ics = page.request.get(str(ics_link.get_attribute("href")))
    assert ics.ok
    assert ics.headers["content-type"].startswith("text/calendar")
    assert "METHOD:REQUEST" in ics.text()
    assert session.uid in ics.text()
    (invitation,) = sent_to(OFFICER_EMAIL, "registered:")
    methods = calendar_methods(invitation)
    assert [m for m, _ in methods] == ["REQUEST"]
    assert "METHOD:REQUEST" in methods[0][1]
    assert session.uid in methods[0][1]

    # After the session, the coordinator records attendance and sends the follow-up.
    into_the_past(session)
    coord.goto(manage_url)
    expect(coord.get_by_role("heading", level=2, name="Attendance")).to_be_visible()
    coord.get_by_label(f"{OFFICER_NAME} ({OFFICER_EMAIL})").select_option(label="Attended")
    coord.get_by_role("button", name="Save attendance").click()
    expect(coord.get_by_text("Attendance saved (1 changed).")).to_be_visible()
    form_for(coord, "follow_up").get_by_label("Message").fill("Thank you for joining us.")
    coord.get_by_role("button", name="Send the follow-up").click()
    expect(coord.get_by_text("Follow-up sent to 1 people.")).to_be_visible()
    (follow_up,) = sent_to(OFFICER_EMAIL, "follow-up:")
    assert "Thank you for joining us." in follow_up.body
    assert Registration.objects.get().attended is True
    for message in mail.outbox:  # one-line subjects, each checked as a real backend would
        assert "\n" not in message.subject
        message.message()

    # The agency shows in the engagement history.
    primary_nav(coord, "Engagement")
    coord.get_by_role("link", name="Engagement by agency").click()
    expect(coord.get_by_role("heading", level=1, name="Engagement by agency")).to_be_visible()
    row = coord.locator("tbody tr", has_text=AGENCY_NAME)
    expect(row.locator("td")).to_have_text(
        [re.compile(re.escape(AGENCY_NAME)), "1", "1", "1", re.compile(r"\d{4}-\d\d-\d\d")]
    )


# --- 2. the waiting list ---------------------------------------------------------------


def test_waiting_list_moves_up_when_a_place_is_freed(page: Page, coordinator: User) -> None:
    session = new_session(coordinator, "Continued Presence basics", capacity=1)
    session_url = reverse("engagement:session", args=[session.pk])

    page.goto(session_url)
    register_on(page, "First Officer", "first@county.example")
    expect(status_tag(page)).to_have_text("Registered")
    first_place = page.url

    page.goto(session_url)
    expect(page.get_by_text("None: new registrations join the waiting list.")).to_be_visible()
    register_on(page, "Second Officer", "second@county.example", button="Join the waiting list")
    expect(page.get_by_text("you are on the waiting list")).to_be_visible()
    expect(status_tag(page)).to_have_text("On the waiting list")
    expect(page.get_by_text("number 1 in line")).to_be_visible()
    expect(page.get_by_role("link", name=MEETING_LINK)).to_have_count(0)
    second_place = page.url

    page.goto(first_place)
    page.get_by_role("button", name="Cancel my place").click()
    expect(page.get_by_text("Your place is cancelled.")).to_be_visible()
    expect(status_tag(page)).to_have_text("Cancelled")

    page.goto(second_place)
    expect(status_tag(page)).to_have_text("Registered")
    expect(page.get_by_role("link", name=MEETING_LINK)).to_be_visible()
    (promoted,) = sent_to("second@county.example", "you have a place")
    assert [m for m, _ in calendar_methods(promoted)] == ["REQUEST"]
    (cancelled,) = sent_to("first@county.example", "cancelled:")
    assert [m for m, _ in calendar_methods(cancelled)] == ["CANCEL"]


# --- 3. the public form's errors ---------------------------------------------------------


def test_meeting_form_past_date_shows_errors_and_keeps_answers(page: Page) -> None:
    page.goto(reverse("engagement:request_new"))
    fill_meeting_form(page, future(-3))
    page.get_by_role("button", name="Send the request").click()
    summary = page.get_by_role("alert").filter(has_text="Please correct the following")
    expect(summary).to_be_visible()
    expect(
        summary.get_by_role(
            "link", name=re.compile("^Preferred date: Each date must be after today")
        )
    ).to_be_visible()
    expect(page.get_by_label("Agency name", exact=True)).to_have_value(AGENCY_NAME)
    expect(page.get_by_label("Your name", exact=True)).to_have_value(CONTACT_NAME)
    expect(page.get_by_label("Preferred date", exact=True)).to_have_attribute(
        "aria-invalid", "true"
    )
    assert not MeetingRequest.objects.exists()
    accessible(page, "meeting form with a past date")


# --- 4. axe-core on every engagement page ---------------------------------------------------


def test_every_engagement_page_is_accessible(
    page: Page, sign_in: SignIn, coordinator: User, officer: User, agency_a: Agency,
) -> None:  # fmt: skip
    found: dict[str, list[dict[str, Any]]] = {}

    def check(target: Page, where: str) -> None:
        violations = axe_violations(target)
        problems = form_problems(target)
        if problems and where not in REPEATED_IDS:
            violations.append({"id": "form-problems", "nodes": problems})
        if violations:
            found[where] = violations

    def visit(target: Page, path: str, text: str, where: str) -> None:
        response = target.goto(path)
        assert response is not None, (where, path)
        assert response.ok, (where, path, response.status)
        expect(target.get_by_text(text).first).to_be_visible()
        check(target, where)

    # Sessions in each state, with places held, in line and given up.
    open_ = new_session(coordinator, "Open session")
    _, held_token = register(open_, "Holding Officer")
    register(open_, "Holding Officer Two")
    gone, gone_token = register(open_, "Leaving Officer")
    services.cancel_registration(None, gone)
    register(open_, "Officer", agency=agency_a, user=officer)
    full = new_session(coordinator, "Full session", capacity=1)
    register(full, "Full Officer")
    _, waiting_token = register(full, "Waiting Officer")
    cancelled = new_session(coordinator, "Cancelled session")
    register(cancelled, "Disappointed Officer")
    cancelled = services.cancel_session(
        None, coordinator, cancelled, version=cancelled.version, reason="Presenter unavailable."
    )
    started = new_session(coordinator, "Held session")
    register(started, "Attending Officer")
    register(started, "Absent Officer")
    into_the_past(started)

    # Meeting requests in each state.
    submitted, submitted_token = new_request()
    offered, offered_token = new_request()
    offered = propose(coordinator, offered)
    accepted, _ = new_request()
    accepted = propose(coordinator, accepted)
    accepted = services.choose_time(None, None, accepted, version=accepted.version, index=0)
    scheduled, scheduled_token = new_request()
    services.link_session(None, coordinator, scheduled, open_, version=scheduled.version)
    own, _ = new_request(officer, agency_a)

    def session_page(s: Session) -> str:
        return reverse("engagement:session", args=[s.pk])

    def manage(s: Session) -> str:
        return reverse("engagement:session_manage", args=[s.pk])

    def status(token: str) -> str:
        return reverse("engagement:request_status", args=[token])

    def place(token: str) -> str:
        return reverse("engagement:registration", args=[token])

    def detail(m: MeetingRequest) -> str:
        return reverse("engagement:request", args=[m.pk])

    # Anonymous.
    visit(page, "/engagement/", "Upcoming sessions", "home")
    visit(page, "/engagement/meeting/", "Send the request", "meeting form")
    visit(page, status(submitted_token), "Received", "status: submitted")
    visit(page, status(offered_token), "Times CCHT proposed", "status: dates proposed")
    visit(page, status(scheduled_token), "Each participant registers", "status: scheduled")
    visit(page, session_page(open_), "Register", "session: open")
    page.get_by_role("button", name="Register", exact=True).click()
    expect(page.get_by_text("Please correct the following")).to_be_visible()
    check(page, "session: registration errors")
    visit(page, session_page(full), "Join the waiting list", "session: full")
    visit(page, session_page(cancelled), "This session is cancelled.", "session: cancelled")
    visit(page, session_page(started), "the session has started", "session: started")
    visit(page, place(held_token), "Cancel my place", "place: registered")
    visit(page, place(waiting_token), "Leave the waiting list", "place: waitlisted")
    visit(page, place(gone_token), "Register again", "place: cancelled")
    page.goto("/engagement/")
    page.get_by_role("button", name="Español").click()
    expect(page.locator("html")).to_have_attribute("lang", "es")
    check(page, "home (es)")
    page.goto(session_page(open_))
    expect(page.locator("html")).to_have_attribute("lang", "es")
    check(page, "session: open (es)")

    # A signed-in officer.
    own_place = Registration.objects.get(user=officer)
    inv = sign_in(officer)
    visit(inv, "/engagement/mine/", "My sessions and requests", "mine")
    visit(
        inv, reverse("engagement:my_registration", args=[own_place.pk]), "Cancel my place",
        "mine: place",
    )  # fmt: skip
    visit(inv, detail(own), "Withdraw the request", "mine: request")
    visit(inv, session_page(open_), "You have a place.", "session: signed-in attendee")

    # A coordinator.
    coord = sign_in(coordinator)
    visit(coord, "/engagement/", "Meeting requests queue", "home: coordinator")
    visit(coord, "/engagement/requests/", submitted.reference, "queue")
    visit(coord, detail(submitted), "Accept the request", "request: submitted")
    form_for(coord, "decline").get_by_role("button", name="Decline the request").click()
    expect(coord.get_by_text("Please correct the following")).to_be_visible()
    check(coord, "request: decline without a reason")
    visit(coord, detail(offered), "Send the proposal", "request: dates proposed")
    visit(coord, detail(accepted), "Create a session for this request", "request: accepted")
    visit(coord, detail(scheduled), "History", "request: scheduled")
    visit(coord, "/engagement/sessions/", "Held session", "sessions")
    visit(coord, "/engagement/sessions/new/", "Save the session", "new session")
    coord.get_by_role("button", name="Save the session").click()
    expect(coord.get_by_text("Please correct the following")).to_be_visible()
    check(coord, "new session: errors")
    visit(
        coord, f"/engagement/sessions/new/?request={accepted.pk}", "For meeting request",
        "new session: for a request",
    )  # fmt: skip
    visit(
        coord, reverse("engagement:session_edit", args=[open_.pk]), "Change the session",
        "edit session",
    )  # fmt: skip
    visit(coord, session_page(open_), "Manage this session", "session: coordinator")
    visit(coord, manage(open_), "Cancel the session", "manage: before the start")
    visit(coord, manage(cancelled), "Presenter unavailable.", "manage: cancelled")
    visit(coord, manage(started), "Save attendance", "manage: after the start")
    expect(coord.get_by_role("button", name="Import attendance")).to_be_visible()
    expect(coord.get_by_role("button", name="Send the follow-up")).to_be_visible()
    bad_list: FilePayload = {
        "name": "attendance.csv",
        "mimeType": "text/csv",
        "buffer": b"email,attended\nattending.officer@county.example,yes\n"
        b"stranger@elsewhere.example,yes\n",
    }
    coord.locator('input[type="file"][name="file"]').set_input_files(files=bad_list)
    coord.get_by_role("button", name="Import attendance").click()
    expect(coord.get_by_text("Nothing was imported.")).to_be_visible()
    expect(coord.get_by_text("line 3")).to_be_visible()
    check(coord, "manage: failed import")
    visit(coord, "/engagement/agencies/", "Engagement by agency", "agencies")
    visit(
        coord, reverse("engagement:agency", args=[agency_a.pk]), own.reference,
        "agency: with an account",
    )  # fmt: skip
    coord.goto("/engagement/agencies/")
    coord.get_by_role("link", name=AGENCY_NAME).click()
    expect(coord.get_by_role("heading", level=1, name=re.compile(AGENCY_NAME))).to_be_visible()
    check(coord, "agency: by name")

    assert found == {}, pformat(found)


# --- pages with several forms ---------------------------------------------------------------


def test_multi_form_pages_have_unique_ids_and_labelled_controls(
    page: Page, sign_in: SignIn, coordinator: User
) -> None:
    meeting, token = new_request()
    propose(coordinator, meeting)
    page.goto(reverse("engagement:request_status", args=[token]))
    expect(page.get_by_role("button", name="Take this time")).to_be_visible()
    assert form_problems(page) == []  # the choose and withdraw forms

    fresh, _ = new_request()
    coord = sign_in(coordinator)
    coord.goto(reverse("engagement:request", args=[fresh.pk]))
    expect(form_for(coord, "propose")).to_be_visible()
    assert form_problems(coord) == []  # the accept, propose, link and decline forms
