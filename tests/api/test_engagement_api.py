"""The CCHT engagement API: meeting requests, sessions, registrations, attendance.

Personas: a CCHT engagement coordinator, an investigator at agency A (the
requester) and an investigator at agency B (the outsider). Every session starts
in the future relative to the real clock; attendance needs a past start, set
directly in the database after registering.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.test import Client, RequestFactory
from django.utils import timezone
from icalendar import Calendar
from pytest_django import DjangoCaptureOnCommitCallbacks

from cpnav.accounts import tokens
from cpnav.accounts.models import Agency, Role, User
from cpnav.cases.models import Notification
from cpnav.core.ratelimit import reset as reset_rate_limits
from cpnav.engagement.models import (
    MeetingRequest,
    Registration,
    RegistrationStatus,
    RequestStatus,
    Session,
    SessionStatus,
)
from tests.conftest import MakeUser

pytestmark = pytest.mark.django_db

TZ = "America/New_York"
LINK = "https://meet.example.gov/cp-basics"


# --- Helpers and personas --------------------------------------------------------------


def future_day(days: int, zone_name: str = TZ) -> date:
    return timezone.now().astimezone(ZoneInfo(zone_name)).date() + timedelta(days=days)


def spring_forward() -> date:
    """The next second Sunday of March still ahead: 02:30 does not exist in New York."""
    year = timezone.now().year
    while True:
        first = date(year, 3, 1)
        found = first + timedelta(days=(6 - first.weekday()) % 7 + 7)
        if found > future_day(1):
            return found
        year += 1


def token_for(user: User, scopes: tuple[str, ...] = ("read", "write")) -> str:
    http = RequestFactory().post("/")
    http.user = user
    return tokens.issue(http, user, "test", list(scopes), 30)[1]


class Api:
    def __init__(self, user: User | None, scopes: tuple[str, ...] = ("read", "write")) -> None:
        if user is None:
            self.client = Client()
        else:
            self.client = Client(HTTP_AUTHORIZATION=f"Bearer {token_for(user, scopes)}")

    def call(self, method: str, path: str, body: Any = None) -> Any:
        kwargs: dict[str, Any] = {}
        if body is not None:
            kwargs = {"data": json.dumps(body, default=str), "content_type": "application/json"}
        return getattr(self.client, method)(f"/api/v1{path}", **kwargs)


def paths(response: Any) -> list[str]:
    return [e["path"] for e in response.json()["errors"]]


def session_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Continued Presence basics",
        "date": future_day(10).isoformat(),
        "time": "14:00",
        "time_zone": TZ,
        "duration_minutes": 60,
        "capacity": 2,
        "meeting_link": LINK,
        "topics": ["cp_basics"],
        "description": "What Continued Presence is and how to ask for it.",
        "materials": ["what-is-continued-presence"],
        "presenters": "CCHT staff",
    }
    body.update(overrides)
    return body


def meeting_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "agency_name": "Springfield Police Department",
        "jurisdiction": "OH",
        "jurisdiction_detail": "Springfield, Clark County",
        "audience": ["patrol", "investigators"],
        "audience_size": 40,
        "topics": ["cp_basics"],
        "preferred_dates": [future_day(30).isoformat(), future_day(20).isoformat()],
        "preferred_time": "morning",
        "time_zone": TZ,
    }
    body.update(overrides)
    return body


@pytest.fixture(autouse=True)
def _fresh_rate_limits(db: None) -> None:
    reset_rate_limits()


@pytest.fixture
def coordinator(make_user: MakeUser, ccht: Agency) -> User:
    return make_user("coordinator@ccht.example", ccht, (Role.ENGAGEMENT_COORDINATOR,))


@pytest.fixture
def requester(make_user: MakeUser, agency_a: Agency) -> User:
    return make_user("requester@a.example", agency_a, (Role.INVESTIGATOR,))


@pytest.fixture
def outsider(make_user: MakeUser, agency_b: Agency) -> User:
    return make_user("outsider@b.example", agency_b, (Role.INVESTIGATOR,))


@pytest.fixture
def meeting(requester: User, agency_a: Agency) -> dict[str, Any]:
    """A meeting request submitted over the API by the requester, for agency A."""
    response = Api(requester).call(
        "post", "/engagement/meeting-requests", meeting_body(agency=str(agency_a.pk))
    )
    assert response.status_code == 201, response.json()
    body: dict[str, Any] = response.json()
    return body


def create_session(coordinator: User, **overrides: Any) -> dict[str, Any]:
    response = Api(coordinator).call("post", "/engagement/sessions", session_body(**overrides))
    assert response.status_code == 201, response.json()
    body: dict[str, Any] = response.json()
    return body


def into_the_past(session_id: str) -> None:
    Session.objects.filter(pk=session_id).update(starts_at=timezone.now() - timedelta(hours=2))


# --- Tokens and scopes -------------------------------------------------------------------


def test_a_token_is_required_for_everything_but_public_sessions(coordinator: User) -> None:
    anonymous = Api(None)
    for method, path in [
        ("get", "/engagement/meeting-requests"),
        ("post", "/engagement/meeting-requests"),
        ("post", "/engagement/sessions"),
        ("get", "/engagement/agencies"),
        ("get", f"/engagement/sessions/{uuid.uuid4()}/invite.ics"),
    ]:
        response = anonymous.call(method, path, {} if method == "post" else None)
        assert response.status_code == 401, (method, path)
        assert response.json()["detail"]
    assert anonymous.call("get", "/engagement/sessions").status_code == 200
    session = create_session(coordinator)
    assert anonymous.call("get", f"/engagement/sessions/{session['id']}").status_code == 200
    # A token that is sent must be valid, even where none is needed.
    bad = Client(HTTP_AUTHORIZATION="Bearer cpnav_000000000000_nope")
    assert bad.get(f"/api/v1/engagement/sessions/{session['id']}").status_code == 401


def test_a_read_only_token_cannot_write(
    requester: User, coordinator: User, agency_a: Agency
) -> None:
    reader = Api(requester, ("read",))
    assert reader.call("get", "/engagement/meeting-requests").status_code == 200
    response = reader.call(
        "post", "/engagement/meeting-requests", meeting_body(agency=str(agency_a.pk))
    )
    assert response.status_code == 403
    assert response.json()["detail"]
    assert (
        Api(coordinator, ("read",)).call("post", "/engagement/sessions", session_body()).status_code
        == 403
    )
    assert not MeetingRequest.objects.exists()
    assert not Session.objects.exists()
    # A write-only token cannot read.
    assert Api(requester, ("write",)).call("get", "/engagement/meeting-requests").status_code == 403


# --- Meeting requests ------------------------------------------------------------------


def test_requester_submits_a_meeting_request(
    requester: User,
    coordinator: User,
    agency_a: Agency,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    api = Api(requester)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.call(
            "post", "/engagement/meeting-requests", meeting_body(agency=str(agency_a.pk))
        )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == RequestStatus.SUBMITTED
    assert body["agency"] == {"id": str(agency_a.pk), "name": agency_a.name}
    assert body["agency_name"] == agency_a.name
    assert body["contact_email"] == requester.email
    assert body["contact_name"] == requester.full_name
    assert body["preferred_dates"] == sorted(body["preferred_dates"])
    assert body["version"] == 1
    assert [e["status"] for e in body["events"]] == ["submitted"]
    assert body["reference"].startswith("MR-")
    assert MeetingRequest.objects.get().requester == requester
    assert [m.to for m in mail.outbox] == [[requester.email]]
    assert Notification.objects.filter(user=coordinator).count() == 1
    assert api.call("get", f"/engagement/meeting-requests/{body['id']}").json() == body


def test_meeting_request_refusals_name_their_fields(requester: User, agency_b: Agency) -> None:
    api = Api(requester)
    refusals = [
        (meeting_body(agency=str(agency_b.pk)), "$.agency"),
        (meeting_body(agency=str(uuid.uuid4())), "$.agency"),
        (meeting_body(preferred_dates=[date.today().isoformat()]), "$.preferred_dates"),
        (meeting_body(time_zone="Mars/Olympus"), "$.time_zone"),
        (meeting_body(audience_size=0), "$.audience_size"),
        (meeting_body(jurisdiction="ZZ"), "$.jurisdiction"),
        (meeting_body(agency_name=""), "$.agency_name"),
    ]
    for body, path in refusals:
        response = api.call("post", "/engagement/meeting-requests", body)
        assert response.status_code == 422, body
        assert path in paths(response), (path, response.json())
        assert response.json()["detail"]
    mars = api.call("post", "/engagement/meeting-requests", meeting_body(time_zone="Mars/Olympus"))
    assert "not a time zone" in mars.json()["errors"][0]["message"]
    typed = api.call("post", "/engagement/meeting-requests", meeting_body(audience_size="many"))
    assert typed.status_code == 422
    assert any(p.endswith("audience_size") for p in paths(typed))
    assert not MeetingRequest.objects.exists()


def test_each_sees_only_what_is_theirs(
    meeting: dict[str, Any], requester: User, outsider: User, coordinator: User
) -> None:
    assert Api(requester).call("get", "/engagement/meeting-requests").json()["count"] == 1
    assert Api(outsider).call("get", "/engagement/meeting-requests").json()["count"] == 0
    coordinating = Api(coordinator)
    listed = coordinating.call("get", "/engagement/meeting-requests").json()
    assert [item["id"] for item in listed["items"]] == [meeting["id"]]
    assert (
        coordinating.call("get", "/engagement/meeting-requests?status=submitted").json()["count"]
        == 1
    )
    assert (
        coordinating.call("get", "/engagement/meeting-requests?status=declined").json()["count"]
        == 0
    )
    assert coordinating.call("get", "/engagement/meeting-requests?status=bogus").status_code == 422
    other = Api(outsider)
    base = f"/engagement/meeting-requests/{meeting['id']}"
    assert other.call("get", base).status_code == 404
    for action, body in [("withdraw", {"version": 1}), ("choose", {"version": 1, "index": 0}),
                         ("accept", {"version": 1}), ("decline", {"version": 1, "reason": "x"})]:  # fmt: skip
        response = other.call("post", f"{base}/{action}", body)
        assert response.status_code == 404, action
        assert response.json()["detail"]
    assert other.call("get", f"/engagement/meeting-requests/{uuid.uuid4()}").status_code == 404
    teleport = Api(coordinator).call("post", f"{base}/teleport", {"version": 1})
    assert teleport.status_code == 404
    assert teleport.json()["detail"]
    assert MeetingRequest.objects.get().status == RequestStatus.SUBMITTED


def test_coordinator_actions_are_refused_to_the_requester(
    meeting: dict[str, Any], requester: User, coordinator: User
) -> None:
    api = Api(requester)
    base = f"/engagement/meeting-requests/{meeting['id']}"
    session = create_session(coordinator)
    attempts = {
        "accept": {"version": 1},
        "decline": {"version": 1, "reason": "No."},
        "propose": {"version": 1, "times": [{"date": future_day(12).isoformat(), "time": "10:00"}]},
        "link": {"version": 1, "session": session["id"]},
    }
    for action, body in attempts.items():
        response = api.call("post", f"{base}/{action}", body)
        assert response.status_code == 403, action
        assert response.json()["detail"]
    fresh = MeetingRequest.objects.get()
    assert (fresh.status, fresh.version) == (RequestStatus.SUBMITTED, 1)


def test_propose_and_choose_a_time(
    meeting: dict[str, Any],
    requester: User,
    coordinator: User,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    coordinating = Api(coordinator)
    base = f"/engagement/meeting-requests/{meeting['id']}"
    first = {"date": future_day(12, "America/Chicago").isoformat(), "time": "10:00"}
    second = {"date": future_day(14, "America/Chicago").isoformat(), "time": "15:30"}
    refused: list[tuple[dict[str, Any], str]] = [
        ({"times": [{"date": future_day(-2).isoformat(), "time": "10:00"}]}, "$.times"),
        ({"times": [{"date": spring_forward().isoformat(), "time": "02:30"}]}, "$.times"),
        ({"times": [first], "time_zone": "Mars/Olympus"}, "$.time_zone"),
        ({"times": []}, "$.times"),
        ({"times": [first, first]}, "$.times"),
    ]
    for body, path in refused:
        response = coordinating.call("post", f"{base}/propose", {"version": 1, **body})
        assert response.status_code == 422, body
        assert paths(response) == [path], response.json()
    nonexistent = coordinating.call("post", f"{base}/propose", {"version": 1, "times": [
        {"date": spring_forward().isoformat(), "time": "02:30"}]})  # fmt: skip
    assert "does not exist" in nonexistent.json()["errors"][0]["message"]
    # The email to the requester is queued for after the commit (and sent: see the test below).
    with django_capture_on_commit_callbacks() as queued:
        response = coordinating.call("post", f"{base}/propose", {
            "version": 1, "times": [second, first], "time_zone": "America/Chicago",
            "note": "Either works for us.",
        })  # fmt: skip
    assert response.status_code == 200, response.json()
    assert len(queued) == 1
    proposed = response.json()
    assert proposed["status"] == RequestStatus.DATES_PROPOSED
    assert proposed["version"] == 2
    assert proposed["events"][-1]["note"] == "Either works for us."
    starts = [datetime.fromisoformat(t) for t in proposed["proposed_times"]]
    assert starts == sorted(starts)
    assert starts[0].astimezone(ZoneInfo("America/Chicago")).hour == 10

    api = Api(requester)
    assert paths(api.call("post", f"{base}/choose", {"version": 2, "index": 5})) == ["$.index"]
    stale = api.call("post", f"{base}/choose", {"version": 1, "index": 1})
    assert stale.status_code == 409
    assert "version" in stale.json()["detail"]
    assert paths(stale) == ["$.version"]
    chosen = api.call("post", f"{base}/choose", {"version": 2, "index": 1})
    assert chosen.status_code == 200, chosen.json()
    assert chosen.json()["status"] == RequestStatus.ACCEPTED
    assert datetime.fromisoformat(chosen.json()["agreed_start"]) == starts[1]
    assert [e["status"] for e in chosen.json()["events"]] == [
        "submitted", "dates_proposed", "accepted"]  # fmt: skip


@pytest.mark.parametrize("action", ["propose", "link", "decline"])
def test_coordinator_moves_reach_the_requester_by_email(
    meeting: dict[str, Any],
    requester: User,
    coordinator: User,
    action: str,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    api = Api(coordinator)
    bodies: dict[str, Callable[[], dict[str, Any]]] = {
        "propose": lambda: {"times": [{"date": future_day(12).isoformat(), "time": "10:00"}]},
        "link": lambda: {"session": create_session(coordinator)["id"]},
        "decline": lambda: {"reason": "No presenters that week.\nTry us in the spring."},
    }
    body = bodies[action]()
    with django_capture_on_commit_callbacks(execute=True):
        response = api.call(
            "post", f"/engagement/meeting-requests/{meeting['id']}/{action}", {"version": 1, **body}
        )
    assert response.status_code == 200
    assert [m.to for m in mail.outbox] == [[requester.email]]
    assert "\n" not in mail.outbox[0].subject


def test_accept_with_a_stale_version_is_a_conflict(
    meeting: dict[str, Any], coordinator: User
) -> None:
    api = Api(coordinator)
    base = f"/engagement/meeting-requests/{meeting['id']}"
    accepted = api.call("post", f"{base}/accept", {"version": 1, "note": "Glad to."})
    assert accepted.status_code == 200
    assert (accepted.json()["status"], accepted.json()["version"]) == ("accepted", 2)
    again = api.call("post", f"{base}/accept", {"version": 1})
    assert again.status_code == 409
    assert "now version 2" in again.json()["detail"]
    # Accepted cannot be accepted again: the service says so, for the whole request.
    twice = api.call("post", f"{base}/accept", {"version": 2})
    assert twice.status_code == 422
    assert paths(twice) == ["$"]


def test_scheduling_a_request_by_creating_its_session(
    meeting: dict[str, Any], coordinator: User
) -> None:
    api = Api(coordinator)
    stale = api.call("post", "/engagement/sessions", session_body(
        meeting_request=meeting["id"], meeting_request_version=7))  # fmt: skip
    assert stale.status_code == 409
    assert not Session.objects.exists()  # the session is not kept without its request
    missing = api.call("post", "/engagement/sessions", session_body(meeting_request=meeting["id"]))
    assert paths(missing) == ["$.meeting_request_version"]
    unknown = api.call("post", "/engagement/sessions", session_body(
        meeting_request=str(uuid.uuid4()), meeting_request_version=1))  # fmt: skip
    assert paths(unknown) == ["$.meeting_request"]
    created = api.call("post", "/engagement/sessions", session_body(
        meeting_request=meeting["id"], meeting_request_version=1, is_public=False))  # fmt: skip
    assert created.status_code == 201, created.json()
    scheduled = api.call("get", f"/engagement/meeting-requests/{meeting['id']}").json()
    assert scheduled["status"] == RequestStatus.SCHEDULED
    assert scheduled["session"] == created.json()["id"]


def test_linking_an_existing_session(meeting: dict[str, Any], coordinator: User) -> None:
    api = Api(coordinator)
    base = f"/engagement/meeting-requests/{meeting['id']}"
    unknown = api.call("post", f"{base}/link", {"version": 1, "session": str(uuid.uuid4())})
    assert paths(unknown) == ["$.session"]
    session = create_session(coordinator)
    past = create_session(coordinator, title="Earlier")
    into_the_past(past["id"])
    refused = api.call("post", f"{base}/link", {"version": 1, "session": past["id"]})
    assert refused.status_code == 422
    assert paths(refused) == ["$.session"]
    linked = api.call("post", f"{base}/link", {"version": 1, "session": session["id"]})
    assert linked.status_code == 200, linked.json()
    assert (linked.json()["status"], linked.json()["session"]) == ("scheduled", session["id"])


def test_decline_then_withdraw_is_refused(
    meeting: dict[str, Any],
    requester: User,
    coordinator: User,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    api = Api(coordinator)
    base = f"/engagement/meeting-requests/{meeting['id']}"
    empty = api.call("post", f"{base}/decline", {"version": 1, "reason": "  "})
    assert empty.status_code == 422
    assert paths(empty) == ["$.reason"]
    with django_capture_on_commit_callbacks(execute=True):
        declined = api.call(
            "post", f"{base}/decline", {"version": 1, "reason": "No presenters that week."}
        )
    assert declined.status_code == 200
    assert declined.json()["decline_reason"] == "No presenters that week."
    assert [m.to for m in mail.outbox] == [[requester.email]]
    assert "No presenters that week." in mail.outbox[0].subject
    withdrawn = Api(requester).call("post", f"{base}/withdraw", {"version": 2})
    assert withdrawn.status_code == 422
    assert paths(withdrawn) == ["$"]
    assert "cannot be moved" in withdrawn.json()["detail"]
    assert MeetingRequest.objects.get().status == RequestStatus.DECLINED


def test_requester_withdraws(meeting: dict[str, Any], requester: User) -> None:
    api = Api(requester)
    base = f"/engagement/meeting-requests/{meeting['id']}"
    response = api.call("post", f"{base}/withdraw", {"version": 1, "note": "Plans changed."})
    assert response.status_code == 200
    assert response.json()["status"] == RequestStatus.WITHDRAWN
    assert response.json()["events"][-1]["note"] == "Plans changed."
    assert api.call("post", f"{base}/withdraw", {"version": 2}).status_code == 422


# --- Sessions --------------------------------------------------------------------------


def test_session_input_is_checked_by_the_service(coordinator: User) -> None:
    api = Api(coordinator)
    refusals = [
        (session_body(date=future_day(-1).isoformat()), "$.date", "passed"),
        (session_body(time_zone="Mars/Olympus"), "$.time_zone", "not a time zone"),
        (session_body(capacity=0), "$.capacity", "places"),
        (session_body(date=spring_forward().isoformat(), time="02:30"), "$.time",
         "does not exist"),
        (session_body(meeting_link="http://meet.example.gov/x"), "$.meeting_link", "https"),
        (session_body(topics=["astrology"]), "$.topics", "astrology"),
        (session_body(materials=["no-such-page"]), "$.materials", "no-such-page"),
        (session_body(duration_minutes=5), "$.duration_minutes", "15"),
    ]  # fmt: skip
    for body, path, words in refusals:
        response = api.call("post", "/engagement/sessions", body)
        assert response.status_code == 422, body
        errors = response.json()["errors"]
        assert [e["path"] for e in errors] == [path], errors
        assert words in errors[0]["message"], errors
    typed = api.call("post", "/engagement/sessions", session_body(capacity="lots"))
    assert typed.status_code == 422
    assert [e["path"] for e in typed.json()["errors"]] == ["$.capacity"]
    assert not Session.objects.exists()


def test_only_coordinators_manage_sessions(
    coordinator: User, requester: User, outsider: User
) -> None:
    session = create_session(coordinator)
    api = Api(requester)
    base = f"/engagement/sessions/{session['id']}"
    for method, path, body in [
        ("post", "/engagement/sessions", session_body()),
        ("put", base, {**session_body(), "version": 1}),
        ("post", f"{base}/cancel", {"version": 1, "reason": "x"}),
        ("get", f"{base}/registrations", None),
        ("post", f"{base}/attendance", [{"email": requester.email, "attended": True}]),
        ("post", f"{base}/follow-up", {}),
        ("get", "/engagement/agencies", None),
    ]:
        response = api.call(method, path, body)
        assert response.status_code == 403, (method, path)
        assert response.json()["detail"]
    assert Session.objects.count() == 1
    assert Session.objects.get().version == 1
    # A coordinator asking for a session that does not exist gets 404.
    assert (
        Api(coordinator)
        .call("get", f"/engagement/sessions/{uuid.uuid4()}/registrations")
        .status_code
        == 404
    )


def test_update_and_cancel_a_session(
    coordinator: User,
    requester: User,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    api = Api(coordinator)
    session = create_session(coordinator)
    base = f"/engagement/sessions/{session['id']}"
    assert session["version"] == 1
    assert session["meeting_link"] == LINK  # the coordinator sees it
    assert Api(requester).call("post", f"{base}/registrations", {}).status_code == 201
    mail.outbox.clear()
    change = {**session_body(title="CP basics (new time)", time="15:00"), "version": 1}
    with django_capture_on_commit_callbacks(execute=True):
        updated = api.call("put", base, change)
    assert updated.status_code == 200, updated.json()
    assert (updated.json()["version"], updated.json()["time"]) == (2, "15:00:00")
    assert updated.json()["title"] == "CP basics (new time)"
    assert [m.to for m in mail.outbox] == [[requester.email]]
    assert "updated" in mail.outbox[0].subject
    stale = api.call("put", base, change)
    assert stale.status_code == 409
    assert paths(stale) == ["$.version"]
    too_small = api.call("put", base, {**session_body(capacity=0), "version": 2})
    assert paths(too_small) == ["$.capacity"]
    no_reason = api.call("post", f"{base}/cancel", {"version": 2, "reason": ""})
    assert paths(no_reason) == ["$.reason"]
    assert api.call("post", f"{base}/cancel", {"version": 1, "reason": "x"}).status_code == 409
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        cancelled = api.call("post", f"{base}/cancel", {"version": 2, "reason": "Presenter ill."})
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == SessionStatus.CANCELLED
    assert cancelled.json()["cancel_reason"] == "Presenter ill."
    assert [m.to for m in mail.outbox] == [[requester.email]]
    again = api.call("post", f"{base}/cancel", {"version": 3, "reason": "Still ill."})
    assert again.status_code == 422
    assert "already cancelled" in again.json()["detail"]
    closed = Api(requester).call("post", f"{base}/registrations", {})
    assert closed.status_code == 422  # registered already, and cancelled anyway
    assert Api(None).call("get", "/engagement/sessions").json()["count"] == 0


# --- Registrations and the meeting link -------------------------------------------------


def test_registration_waiting_list_and_promotion(
    coordinator: User,
    requester: User,
    outsider: User,
    agency_a: Agency,
    agency_b: Agency,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    session = create_session(coordinator, capacity=1)
    base = f"/engagement/sessions/{session['id']}"
    mine, theirs = Api(requester), Api(outsider)
    foreign = mine.call("post", f"{base}/registrations", {"agency": str(agency_b.pk)})
    assert foreign.status_code == 422
    assert paths(foreign) == ["$.agency"]
    with django_capture_on_commit_callbacks(execute=True):
        first = mine.call("post", f"{base}/registrations", {})
    assert first.status_code == 201, first.json()
    assert first.json()["status"] == RegistrationStatus.REGISTERED
    assert first.json()["email"] == requester.email
    assert first.json()["agency"] == str(agency_a.pk)  # the only agency, used by default
    assert first.json()["agency_name"] == agency_a.name
    assert [m.to for m in mail.outbox] == [[requester.email]]
    second = theirs.call("post", f"{base}/registrations", {"agency": str(agency_b.pk)})
    assert second.status_code == 201
    assert second.json()["status"] == RegistrationStatus.WAITLISTED
    assert second.json()["waiting_position"] == 1
    twice = mine.call("post", f"{base}/registrations", {})
    assert twice.status_code == 422
    assert "already has a place" in twice.json()["detail"]
    assert Registration.objects.count() == 2

    listed = Api(coordinator).call("get", f"{base}/registrations").json()
    assert [(r["email"], r["status"]) for r in listed["items"]] == [
        (requester.email, "registered"), (outsider.email, "waitlisted")]  # fmt: skip
    waiting = Api(coordinator).call("get", f"{base}/registrations?status=waitlisted").json()
    assert waiting["count"] == 1
    assert Api(None).call("get", base).json()["places_left"] == 0

    assert theirs.call("get", base).json()["meeting_link"] is None  # in line: no link yet
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        given_up = mine.call("delete", f"{base}/registration")
    assert given_up.status_code == 200
    assert given_up.json()["status"] == RegistrationStatus.CANCELLED
    assert sorted(m.to[0] for m in mail.outbox) == [outsider.email, requester.email]
    promoted = Registration.objects.get(email=outsider.email)
    assert promoted.status == RegistrationStatus.REGISTERED
    assert theirs.call("get", base).json()["meeting_link"] == LINK
    assert mine.call("get", base).json()["meeting_link"] is None
    assert mine.call("delete", f"{base}/registration").status_code == 422
    assert Api(coordinator).call("delete", f"{base}/registration").status_code == 404
    # Registering again after cancelling puts the requester at the back of the line.
    back = mine.call("post", f"{base}/registrations", {})
    assert back.status_code == 201
    assert back.json()["status"] == RegistrationStatus.WAITLISTED


def test_meeting_link_is_hidden_from_the_public(
    coordinator: User, requester: User, outsider: User
) -> None:
    public = create_session(coordinator)
    private = create_session(coordinator, title="For Springfield PD", is_public=False)
    anonymous = Api(None)
    listed = anonymous.call("get", "/engagement/sessions").json()
    assert [item["id"] for item in listed["items"]] == [public["id"]]
    assert all("meeting_link" not in item for item in listed["items"])
    assert LINK not in json.dumps(listed)
    assert listed["items"][0]["places_left"] == 2
    for session in (public, private):
        assert anonymous.call("get", f"/engagement/sessions/{session['id']}").json()[
            "meeting_link"] is None  # fmt: skip
    base = f"/engagement/sessions/{public['id']}"
    assert Api(outsider).call("get", base).json()["meeting_link"] is None
    assert Api(requester).call("post", f"{base}/registrations", {}).status_code == 201
    assert Api(requester).call("get", base).json()["meeting_link"] == LINK
    assert Api(coordinator).call("get", base).json()["meeting_link"] == LINK
    assert anonymous.call("get", base).json()["meeting_link"] is None
    assert anonymous.call("get", f"/engagement/sessions/{uuid.uuid4()}").status_code == 404


def test_invitation_file_keeps_its_uid(coordinator: User, requester: User, outsider: User) -> None:
    session = create_session(coordinator)
    base = f"/engagement/sessions/{session['id']}"
    api = Api(requester)
    assert api.call("get", f"{base}/invite.ics").status_code == 404  # no registration yet
    assert api.call("post", f"{base}/registrations", {}).status_code == 201
    uids = []
    for _ in range(2):
        response = api.call("get", f"{base}/invite.ics")
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/calendar")
        cal = Calendar.from_ical(response.content)
        (event,) = cal.events
        uids.append(str(event["UID"]))
        assert str(event["LOCATION"]) == LINK
        assert str(event["STATUS"]) == "CONFIRMED"
        assert str(event["ATTENDEE"]) == f"mailto:{requester.email}"
        start = event.decoded("DTSTART")
        assert start.isoformat() == datetime.fromisoformat(session["starts_at"]).isoformat()
    assert uids == [f"session-{session['id']}@cpnav"] * 2
    assert Api(outsider).call("get", f"{base}/invite.ics").status_code == 404
    assert api.call("delete", f"{base}/registration").status_code == 200
    cancelled = Calendar.from_ical(api.call("get", f"{base}/invite.ics").content)
    (event,) = cancelled.events
    assert str(event["UID"]) == uids[0]
    assert str(event["STATUS"]) == "CANCELLED"
    assert "LOCATION" not in event


# --- Attendance, follow-up and history -------------------------------------------------


def test_attendance_is_all_or_nothing(coordinator: User, requester: User, outsider: User) -> None:
    session = create_session(coordinator, capacity=3)
    base = f"/engagement/sessions/{session['id']}"
    for user in (requester, outsider):
        assert Api(user).call("post", f"{base}/registrations", {}).status_code == 201
    api = Api(coordinator)
    early = api.call("post", f"{base}/attendance", [{"email": requester.email, "attended": True}])
    assert early.status_code == 422
    assert "started" in early.json()["detail"]
    into_the_past(session["id"])
    unknown = api.call("post", f"{base}/attendance", [
        {"email": requester.email, "attended": True},
        {"email": "nobody@x.example", "attended": True},
        {"email": "not an email", "attended": False},
    ])  # fmt: skip
    assert unknown.status_code == 422
    assert paths(unknown) == ["$[1].email", "$[2].email"]
    assert "nobody@x.example" in unknown.json()["errors"][0]["message"]
    twice = api.call("post", f"{base}/attendance", [
        {"email": requester.email, "attended": True},
        {"email": requester.email.upper(), "attended": False},
    ])  # fmt: skip
    assert paths(twice) == ["$[1].email"]
    empty = api.call("post", f"{base}/attendance", [])
    assert (empty.status_code, paths(empty)) == (422, ["$"])
    assert not Registration.objects.filter(attended__isnull=False).exists()
    recorded = api.call("post", f"{base}/attendance", [
        {"email": requester.email, "attended": True},
        {"email": outsider.email, "attended": False},
    ])  # fmt: skip
    assert recorded.status_code == 200, recorded.json()
    assert recorded.json() == {"changed": 2}
    assert dict(Registration.objects.values_list("email", "attended")) == {
        requester.email: True, outsider.email: False}  # fmt: skip
    listed = api.call("get", f"{base}/registrations").json()
    assert {r["email"]: r["attended"] for r in listed["items"]} == {
        requester.email: True, outsider.email: False}  # fmt: skip


def test_follow_up_goes_once_to_each(
    coordinator: User,
    requester: User,
    outsider: User,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
) -> None:
    session = create_session(coordinator, capacity=3)
    base = f"/engagement/sessions/{session['id']}"
    for user in (requester, outsider):
        assert Api(user).call("post", f"{base}/registrations", {}).status_code == 201
    api = Api(coordinator)
    assert api.call("post", f"{base}/follow-up", {}).status_code == 422  # not started
    into_the_past(session["id"])
    marks = [{"email": requester.email}, {"email": outsider.email, "attended": False}]
    assert api.call("post", f"{base}/attendance", marks).status_code == 200
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        sent = api.call("post", f"{base}/follow-up", {"note": "Slides attached in the guide."})
    assert sent.json() == {"sent": 1}
    assert [m.to for m in mail.outbox] == [[requester.email]]
    assert "Slides attached in the guide." in mail.outbox[0].body
    assert "what-is-continued-presence" in mail.outbox[0].body
    nobody = api.call("post", f"{base}/follow-up", {})
    assert nobody.status_code == 422
    assert paths(nobody) == ["$"]
    with django_capture_on_commit_callbacks(execute=True):
        absent = api.call("post", f"{base}/follow-up", {"include_absent": True})
    assert absent.json() == {"sent": 1}
    assert mail.outbox[-1].to == [outsider.email]
    too_long = api.call("post", f"{base}/follow-up", {"include_absent": True, "note": "x" * 2001})
    assert paths(too_long) == ["$.note"]


def test_engagement_history_by_agency(
    meeting: dict[str, Any], coordinator: User, requester: User, agency_a: Agency
) -> None:
    session = create_session(coordinator)
    assert (
        Api(requester)
        .call("post", f"/engagement/sessions/{session['id']}/registrations", {})
        .status_code
        == 201
    )
    rows = Api(coordinator).call("get", "/engagement/agencies").json()
    assert rows["count"] == 1
    (row,) = rows["items"]
    assert row["agency"] == str(agency_a.pk)
    assert row["key"] == str(agency_a.pk)
    assert (row["name"], row["meeting_requests"], row["registrations"], row["attended"]) == (
        agency_a.name, 1, 1, 0)  # fmt: skip
    assert row["last"] is not None


# --- The contract ------------------------------------------------------------------------


def test_public_calls_are_rate_limited(coordinator: User, settings: Any) -> None:
    settings.API_ANONYMOUS_RATE = "2/min"
    session = create_session(coordinator)
    anonymous = Api(None)
    assert [anonymous.call("get", "/engagement/sessions").status_code for _ in range(2)] == [
        200, 200]  # fmt: skip
    limited = anonymous.call("get", f"/engagement/sessions/{session['id']}")
    assert limited.status_code == 429
    assert int(limited["Retry-After"]) > 0
    assert limited.json()["detail"]
    # A made-up token does not get around the limit.
    bogus = Client(HTTP_AUTHORIZATION="Bearer cpnav_000000000000_nope")
    assert bogus.get("/api/v1/engagement/sessions").status_code == 429
    # Token holders are not counted against the public rate.
    assert Api(coordinator).call("get", "/engagement/sessions").status_code == 200


def test_openapi_declares_the_errors(client: Client) -> None:
    spec = client.get("/api/v1/openapi.json").json()
    operations = [
        (method, path, operation)
        for path, methods in spec["paths"].items()
        if path.startswith("/api/v1/engagement/")
        for method, operation in methods.items()
    ]
    assert len(operations) == 21
    for method, path, operation in operations:
        declared = set(operation["responses"])
        assert {"401", "403", "404", "422"} <= declared, (method, path)
        if method != "get":
            assert "409" in declared, (method, path)
        if operation.get("security") != [{"TokenAuth": []}]:
            assert "429" in declared, (method, path)
        for code in declared - {"200", "201"}:
            schema = operation["responses"][code]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorOut"}, (method, path, code)
    ics = spec["paths"]["/api/v1/engagement/sessions/{session_id}/invite.ics"]["get"]
    assert "text/calendar" in ics["responses"]["200"]["content"]
