"""Engagement services with each persona: every state of a meeting request, a session and a
registration, the mail each change sends, and nothing half-written after a refusal.

Personas: a CCHT engagement coordinator, a requester (investigator at agency A), an outsider
(investigator at agency B) and the public (no user).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar, Event

from cpnav.accounts.models import Agency, Role, User
from cpnav.audit.models import AuditEvent
from cpnav.cases.models import Notification
from cpnav.core.crypto import secret_digest
from cpnav.engagement import attendance, services
from cpnav.engagement.models import (
    MeetingRequest,
    MeetingRequestEvent,
    Registration,
    RegistrationStatus,
    RequestStatus,
    Session,
    SessionStatus,
)
from cpnav.engagement.services import EngagementError, LocalTime, Stale
from tests.conftest import MakeUser
from tests.engagement.conftest import Sending
from tests.engagement.helpers import (
    MATERIALS,
    TZ,
    calendar_parts,
    counts,
    fall_back,
    future_day,
    into_the_past,
    mails_to,
    make_session,
    meeting_data,
    move_start,
    person,
    session_data,
    spring_forward,
    the_event,
)

pytestmark = pytest.mark.django_db

S = RequestStatus


def audited(action: str, object_id: object) -> int:
    return AuditEvent.objects.filter(action=action, object_id=str(object_id)).count()


def fresh(meeting: MeetingRequest) -> MeetingRequest:
    return MeetingRequest.objects.get(pk=meeting.pk)


def reg(registration: Registration) -> Registration:
    return Registration.objects.get(pk=registration.pk)


# --- Meeting requests: submitted -------------------------------------------------------


def test_a_public_request_is_recorded_and_coordinators_are_told(
    coordinator: User, requester: User, outsider: User, sending: Sending
) -> None:
    with sending():
        meeting, token = services.submit_request(None, None, meeting_data())
    meeting = fresh(meeting)
    assert meeting.status == S.SUBMITTED
    assert meeting.version == 1
    assert (meeting.requester, meeting.agency) == (None, None)
    assert meeting.agency_name == "Springfield Police Department"
    assert meeting.contact_email == "sam.rivera@springfield-pd.example"  # normalised
    # Earliest first.
    assert meeting.preferred_dates == [future_day(20).isoformat(), future_day(30).isoformat()]
    assert meeting.reference == f"MR-{str(meeting.pk)[:8].upper()}"
    # Only the token's hash is kept; the token finds the request.
    assert meeting.status_token_hash == secret_digest(token) != token
    assert services.request_by_token(token) == meeting
    assert services.request_by_token(token + "x") is None
    (event,) = MeetingRequestEvent.objects.filter(meeting_request=meeting)
    assert (event.status, event.actor) == (S.SUBMITTED, None)
    audit = AuditEvent.objects.get(action="engagement.request_submitted")
    assert (audit.actor_id, audit.actor_label, audit.object_id) == (
        None,
        "public form",
        str(meeting.pk),
    )
    # Every coordinator gets an in-app notice; nobody else does.
    (notice,) = Notification.objects.all()
    assert notice.user == coordinator
    assert meeting.reference in notice.message
    assert "Springfield Police Department" in notice.message
    assert notice.link == reverse("engagement:request", args=[meeting.pk])
    # The receipt goes to the contact, with the status link (the token, never its hash).
    (receipt,) = mail.outbox
    assert receipt.to == ["sam.rivera@springfield-pd.example"]
    assert meeting.reference in receipt.subject
    assert reverse("engagement:request_status", args=[token]) in receipt.body
    assert meeting.status_token_hash not in receipt.body


def test_a_signed_in_request_names_the_requesters_agency(
    requester: User, agency_a: Agency, make_user: MakeUser, ccht: Agency, sending: Sending
) -> None:
    first = make_user("first@ccht.example", ccht, (Role.ENGAGEMENT_COORDINATOR,))
    second = make_user("second@ccht.example", ccht, (Role.ENGAGEMENT_COORDINATOR, Role.AUDITOR))
    # The role at an agency that is not CCHT, or on a disabled account, does not count.
    make_user("fake@a.example", agency_a, (Role.ENGAGEMENT_COORDINATOR,))
    make_user("gone@ccht.example", ccht, (Role.ENGAGEMENT_COORDINATOR,), is_active=False)
    with sending():
        meeting, _ = services.submit_request(
            None, requester, meeting_data(agency=agency_a, agency_name="typed by hand")
        )
    meeting = fresh(meeting)
    assert (meeting.requester, meeting.agency) == (requester, agency_a)
    assert meeting.agency_name == agency_a.name
    assert sorted(n.user.email for n in Notification.objects.all()) == [first.email, second.email]
    assert AuditEvent.objects.get(action="engagement.request_submitted").actor_id == requester.pk
    assert len(mail.outbox) == 1


def test_an_outsider_cannot_name_another_agency(
    outsider: User, agency_a: Agency, coordinator: User, sending: Sending
) -> None:
    before = counts()
    with sending(), pytest.raises(EngagementError) as refused:
        services.submit_request(None, outsider, meeting_data(agency=agency_a))
    assert set(refused.value.errors) == {"agency"}
    assert counts() == before


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        pytest.param({"contact_name": " "}, "contact_name", id="no-name"),
        pytest.param({"contact_name": "x" * 201}, "contact_name", id="name-too-long"),
        pytest.param({"contact_email": "not-an-email"}, "contact_email", id="bad-email"),
        pytest.param({"agency_name": ""}, "agency_name", id="no-agency"),
        pytest.param({"jurisdiction": "ZZ"}, "jurisdiction", id="unknown-state"),
        pytest.param({"jurisdiction_detail": ""}, "jurisdiction_detail", id="no-area"),
        pytest.param({"audience": []}, "audience", id="no-audience"),
        pytest.param({"audience": ["aliens"]}, "audience", id="unknown-audience"),
        pytest.param({"audience": ["patrol", "patrol"]}, "audience", id="audience-twice"),
        pytest.param({"audience_size": 0}, "audience_size", id="nobody"),
        pytest.param({"audience_size": 5001}, "audience_size", id="a-stadium"),
        pytest.param({"topics": []}, "topics", id="no-topic"),
        pytest.param({"topics": ["astrology"]}, "topics", id="unknown-topic"),
        pytest.param({"preferred_dates": []}, "preferred_dates", id="no-dates"),
        pytest.param({"preferred_dates": [future_day(0)]}, "preferred_dates", id="today"),
        pytest.param({"preferred_dates": [future_day(-3)]}, "preferred_dates", id="past"),
        pytest.param(
            {"preferred_dates": [future_day(n) for n in (5, 6, 7, 8)]},
            "preferred_dates",
            id="four-dates",
        ),
        pytest.param(
            {"preferred_dates": [future_day(5), future_day(5)]}, "preferred_dates", id="date-twice"
        ),
        pytest.param({"preferred_dates": [future_day(400)]}, "preferred_dates", id="next-year"),
        pytest.param({"preferred_time": "midnight"}, "preferred_time", id="bad-time-of-day"),
        pytest.param({"time_zone": "Mars/Olympus"}, "time_zone", id="unknown-zone"),
        pytest.param({"time_zone": ""}, "time_zone", id="no-zone"),
    ],
)
def test_a_bad_request_is_refused_field_by_field(
    overrides: dict[str, Any], field: str, coordinator: User, sending: Sending
) -> None:
    before = counts()
    with sending(), pytest.raises(EngagementError) as refused:
        services.submit_request(None, None, meeting_data(**overrides))
    assert set(refused.value.errors) == {field}
    assert refused.value.errors[field]
    assert counts() == before


def test_other_topics_may_stand_in_for_the_list(coordinator: User) -> None:
    meeting, _ = services.submit_request(
        None, None, meeting_data(topics=[], topics_other="Tribal jurisdiction questions")
    )
    assert fresh(meeting).topics == []


def test_who_sees_which_request(
    rf: RequestFactory, coordinator: User, requester: User, outsider: User, agency_a: Agency
) -> None:
    mine, _ = services.submit_request(None, requester, meeting_data(agency=agency_a))
    public, _ = services.submit_request(None, None, meeting_data())
    assert set(services.visible_requests(coordinator)) == {mine, public}
    assert list(services.visible_requests(requester)) == [mine]
    assert list(services.visible_requests(outsider)) == []
    for user, expected in ((coordinator, mine), (requester, mine)):
        http = rf.get("/")
        http.user = user
        assert services.get_request(http, mine.pk) == expected
    http = rf.get("/")
    http.user = outsider
    with pytest.raises(Http404):
        services.get_request(http, mine.pk)
    assert AuditEvent.objects.filter(
        action="access.denied", object_id=str(mine.pk), actor_id=outsider.pk
    ).exists()


# --- Meeting requests: every state and every move ---------------------------------------


@dataclass
class People:
    coordinator: User
    requester: User
    outsider: User
    session: Session


@pytest.fixture
def people(coordinator: User, requester: User, outsider: User) -> People:
    return People(coordinator, requester, outsider, make_session(coordinator, capacity=40))


def offered_times() -> list[LocalTime]:
    return [LocalTime(future_day(15), time(15, 30)), LocalTime(future_day(14), time(10, 0))]


def in_state(people: People, status: str) -> MeetingRequest:
    """A request brought to `status` the way people would; times are offered first if possible."""
    meeting, _ = services.submit_request(None, people.requester, meeting_data())
    if status == S.SUBMITTED:
        return meeting
    meeting = services.propose(
        None, people.coordinator, meeting, version=meeting.version, times=offered_times(),
        time_zone=TZ,
    )  # fmt: skip
    if status == S.DATES_PROPOSED:
        return meeting
    version = meeting.version
    if status == S.ACCEPTED:
        return services.choose_time(None, people.requester, meeting, version=version, index=0)
    if status == S.DECLINED:
        return services.decline(
            None, people.coordinator, meeting, version=version, reason="No presenter free."
        )
    if status == S.WITHDRAWN:
        return services.withdraw(None, people.requester, meeting, version=version)
    assert status == S.SCHEDULED
    return services.link_session(None, people.coordinator, meeting, people.session, version=version)


def move(people: People, name: str, meeting: MeetingRequest, version: int) -> MeetingRequest:
    """One move by the person who would make it."""
    if name == "accept":
        return services.accept(None, people.coordinator, meeting, version=version)
    if name == "propose":
        return services.propose(
            None, people.coordinator, meeting, version=version,
            times=[LocalTime(future_day(21), time(11, 0))], time_zone=TZ,
        )  # fmt: skip
    if name == "decline":
        return services.decline(
            None, people.coordinator, meeting, version=version, reason="No presenter free."
        )
    if name == "link_session":
        return services.link_session(
            None, people.coordinator, meeting, people.session, version=version
        )
    if name == "withdraw":
        return services.withdraw(None, people.requester, meeting, version=version)
    assert name == "choose_time"
    return services.choose_time(None, people.requester, meeting, version=version, index=0)


MOVES = {
    "accept": (S.ACCEPTED, {S.SUBMITTED, S.DATES_PROPOSED}),
    "propose": (S.DATES_PROPOSED, {S.SUBMITTED, S.DATES_PROPOSED, S.ACCEPTED}),
    "decline": (S.DECLINED, {S.SUBMITTED, S.DATES_PROPOSED, S.ACCEPTED}),
    "link_session": (S.SCHEDULED, {S.SUBMITTED, S.DATES_PROPOSED, S.ACCEPTED, S.SCHEDULED}),
    "withdraw": (S.WITHDRAWN, {S.SUBMITTED, S.DATES_PROPOSED, S.ACCEPTED}),
    "choose_time": (S.ACCEPTED, {S.DATES_PROPOSED}),
}


@pytest.mark.parametrize("status", list(S))
@pytest.mark.parametrize("name", list(MOVES))
def test_every_move_from_every_state(
    people: People, status: RequestStatus, name: str, sending: Sending
) -> None:
    meeting = in_state(people, status)
    assert fresh(meeting).status == status
    to, allowed_from = MOVES[name]
    before = counts()
    if status not in allowed_from:
        with sending(), pytest.raises(EngagementError):
            move(people, name, meeting, meeting.version)
        assert counts() == before
        unchanged = fresh(meeting)
        assert (unchanged.status, unchanged.version) == (status, meeting.version)
        return
    moved = move(people, name, meeting, meeting.version)  # its mail: see the tests below
    stored = fresh(moved)
    assert stored.status == to
    assert stored.version == meeting.version + 1
    last = MeetingRequestEvent.objects.filter(meeting_request=meeting).last()
    assert last is not None
    assert (last.status, last.note) == (to, "")
    assert audited(f"engagement.request_{to}", meeting.pk) >= 1
    after = counts()
    assert after.audit == before.audit + 1
    assert after.request_events == before.request_events + 1
    assert after.requests == before.requests
    assert after.sessions == before.sessions
    # The other side hears about it in the app: coordinators' moves reach the requester,
    # the requester's moves reach the coordinators.
    assert after.notifications == before.notifications + 1
    told = people.coordinator if name in ("withdraw", "choose_time") else people.requester
    assert Notification.objects.filter(
        user=told, link=reverse("engagement:request", args=[meeting.pk])
    ).exists()


@pytest.mark.parametrize(
    ("name", "words"),
    [
        pytest.param("accept", "accepted", id="accept"),
        pytest.param("decline", "No presenter free.", id="decline"),
        # These two notices run over several lines; the subject keeps only the first.
        pytest.param("propose", "11:00", id="propose"),
        pytest.param("link_session", "Each participant registers", id="link_session"),
    ],
)
def test_coordinator_moves_email_the_requester(
    people: People, name: str, words: str, sending: Sending
) -> None:
    meeting = in_state(people, S.SUBMITTED)
    with sending():
        moved = move(people, name, meeting, meeting.version)
    (message,) = mail.outbox
    assert message.to == [moved.contact_email]
    assert moved.reference in message.subject
    assert "\n" not in message.subject
    assert words in message.body
    assert reverse("engagement:request", args=[moved.pk]) in message.body


def test_a_decline_reason_on_two_lines_is_mailed(people: People, sending: Sending) -> None:
    meeting = in_state(people, S.SUBMITTED)
    with sending():
        services.decline(
            None, people.coordinator, meeting, version=1,
            reason="No presenter is free in May.\nAsk again for June.",
        )  # fmt: skip
    (message,) = mail.outbox
    assert "\n" not in message.subject
    assert "Ask again for June." in message.body


def test_the_request_flow_from_submission_to_a_session(
    people: People, agency_a: Agency, sending: Sending
) -> None:
    """Submitted -> dates proposed -> accepted with the chosen time -> scheduled."""
    meeting, _ = services.submit_request(None, people.requester, meeting_data(agency=agency_a))
    # (Its mail is not sent here: see test_coordinator_moves_email_the_requester.)
    meeting = services.propose(
        None, people.coordinator, meeting, version=1, times=offered_times(), time_zone=TZ,
        note="We can also come in person.",
    )  # fmt: skip
    assert meeting.status == S.DATES_PROPOSED
    # Offered times are kept earliest first, with their offset.
    offered = services.proposed(meeting)
    assert [(t.date(), t.time()) for t in offered] == [
        (future_day(14), time(10, 0)),
        (future_day(15), time(15, 30)),
    ]
    assert all(t.utcoffset() is not None for t in offered)
    assert fresh(meeting).agreed_start is None
    (offer,) = Notification.objects.filter(user=people.requester)
    assert "10:00" in offer.message
    assert "15:30" in offer.message
    with sending():
        meeting = services.choose_time(None, people.requester, meeting, version=2, index=1)
    stored = fresh(meeting)
    assert stored.status == S.ACCEPTED
    assert stored.agreed_start == offered[1]
    assert Notification.objects.filter(user=people.coordinator, message__contains="chose").exists()
    meeting = services.link_session(None, people.coordinator, meeting, people.session, version=3)
    stored = fresh(meeting)
    assert (stored.status, stored.session, stored.version) == (S.SCHEDULED, people.session, 4)
    scheduled = Notification.objects.filter(user=people.requester).order_by("created_at").last()
    assert scheduled is not None
    assert reverse("engagement:session", args=[people.session.pk]) in scheduled.message
    history = list(
        MeetingRequestEvent.objects.filter(meeting_request=meeting).values_list("status", flat=True)
    )
    assert history == [S.SUBMITTED, S.DATES_PROPOSED, S.ACCEPTED, S.SCHEDULED]


def test_the_public_follows_with_the_status_link(people: People, sending: Sending) -> None:
    """A public requester (no user) may take an offered time or withdraw."""
    meeting, token = services.submit_request(None, None, meeting_data())
    meeting = services.propose(
        None, people.coordinator, meeting, version=1, times=offered_times(), time_zone=TZ
    )
    found = services.request_by_token(token)
    assert found is not None
    with sending():
        chosen = services.choose_time(None, None, found, version=found.version, index=0)
    assert fresh(chosen).status == S.ACCEPTED
    event = MeetingRequestEvent.objects.filter(meeting_request=meeting).last()
    assert event is not None
    assert event.actor_label == "requester (status link)"
    with sending():
        withdrawn = services.withdraw(None, None, chosen, version=chosen.version)
    assert fresh(withdrawn).status == S.WITHDRAWN
    assert Notification.objects.filter(user=people.coordinator, message__contains="withdrawn")


@pytest.mark.parametrize("who", ["requester", "outsider", "public"])
@pytest.mark.parametrize("name", ["accept", "propose", "decline", "link_session"])
def test_only_coordinators_make_coordinator_moves(
    people: People, name: str, who: str, sending: Sending
) -> None:
    meeting = in_state(people, S.DATES_PROPOSED)
    actor: User | None = None if who == "public" else getattr(people, who)
    # The impostor in the coordinator's seat (the public has no user: None, as the pages pass).
    impostor = People(actor, people.requester, people.outsider, people.session)  # type: ignore[arg-type]
    before = counts()
    with sending(), pytest.raises(EngagementError):
        move(impostor, name, meeting, meeting.version)
    assert counts() == before
    assert fresh(meeting).status == S.DATES_PROPOSED


def test_a_coordinator_cannot_withdraw_for_the_requester(people: People) -> None:
    meeting = in_state(people, S.SUBMITTED)
    with pytest.raises(EngagementError, match="cannot be moved to withdrawn"):
        services.withdraw(None, people.coordinator, meeting, version=meeting.version)


@pytest.mark.parametrize("name", list(MOVES))
def test_a_stale_version_is_refused(people: People, name: str, sending: Sending) -> None:
    """Every move is allowed from dates_proposed; with an old page, none goes through."""
    meeting = in_state(people, S.DATES_PROPOSED)
    loaded = fresh(meeting)
    # Meanwhile another coordinator offers other times.
    meeting = services.propose(
        None, people.coordinator, meeting, version=meeting.version, times=offered_times(),
        time_zone="America/Chicago",
    )  # fmt: skip
    before = counts()
    with sending(), pytest.raises(Stale):
        move(people, name, loaded, loaded.version)
    assert counts() == before
    stored = fresh(meeting)
    assert (stored.status, stored.version) == (S.DATES_PROPOSED, loaded.version + 1)


# --- dates_proposed: what may be offered ---------------------------------------------------


@pytest.mark.parametrize(
    ("times", "zone_name", "field", "words"),
    [
        pytest.param(
            [LocalTime(future_day(-1), time(10, 0))], TZ, "times", "already passed", id="past"
        ),
        pytest.param(
            [LocalTime(future_day(9), time(9, 0)), LocalTime(future_day(-2), time(9, 0))],
            TZ,
            "times",
            "already passed",
            id="one-of-two-past",
        ),
        pytest.param(
            [LocalTime(spring_forward(), time(2, 30))],
            TZ,
            "times",
            "does not exist",
            id="skipped-by-dst",
        ),
        pytest.param(
            [LocalTime(fall_back(), time(1, 30))],
            TZ,
            "times",
            "happens twice",
            id="repeated-by-dst",
        ),
        pytest.param(
            [LocalTime(future_day(9), time(9, 0))],
            "Mars/Olympus",
            "time_zone",
            "not a time zone",
            id="unknown-zone",
        ),
        pytest.param(
            [LocalTime(future_day(9), time(9, 0))] * 2, TZ, "times", "listed twice", id="duplicate"
        ),
        pytest.param([], TZ, "times", "at least one", id="none"),
        pytest.param(
            [LocalTime(future_day(n), time(9, 0)) for n in range(3, 9)],
            TZ,
            "times",
            "at most 5",
            id="six",
        ),
    ],
)
def test_bad_proposed_times_are_refused(
    people: People,
    times: list[LocalTime],
    zone_name: str,
    field: str,
    words: str,
    sending: Sending,
) -> None:
    meeting = in_state(people, S.SUBMITTED)
    before = counts()
    with sending(), pytest.raises(EngagementError) as refused:
        services.propose(
            None, people.coordinator, meeting, version=meeting.version, times=times,
            time_zone=zone_name,
        )  # fmt: skip
    assert set(refused.value.errors) == {field}
    assert words in refused.value.errors[field]
    assert counts() == before
    stored = fresh(meeting)
    assert (stored.status, stored.proposed_times, stored.version) == (S.SUBMITTED, [], 1)


def test_times_may_be_offered_in_another_zone(people: People) -> None:
    meeting = in_state(people, S.SUBMITTED)
    meeting = services.propose(
        None, people.coordinator, meeting, version=1,
        times=[LocalTime(future_day(12), time(9, 0))], time_zone="America/Phoenix",
    )  # fmt: skip
    (offered,) = services.proposed(fresh(meeting))
    assert offered.utcoffset() == timedelta(hours=-7)
    assert (offered.hour, offered.minute) == (9, 0)


@pytest.mark.parametrize("index", [-1, 2, 5])
def test_choose_time_needs_one_of_the_offered_times(people: People, index: int) -> None:
    meeting = in_state(people, S.DATES_PROPOSED)
    before = counts()
    with pytest.raises(EngagementError) as refused:
        services.choose_time(None, people.requester, meeting, version=meeting.version, index=index)
    assert set(refused.value.errors) == {"choice"}
    assert counts() == before


def test_a_time_that_has_passed_cannot_be_chosen(people: People) -> None:
    meeting = in_state(people, S.DATES_PROPOSED)
    past = (timezone.now() - timedelta(minutes=5)).isoformat()
    MeetingRequest.objects.filter(pk=meeting.pk).update(proposed_times=[past])
    meeting = fresh(meeting)
    with pytest.raises(EngagementError, match="has passed"):
        services.choose_time(None, people.requester, meeting, version=meeting.version, index=0)
    assert fresh(meeting).status == S.DATES_PROPOSED


# --- declined and withdrawn ------------------------------------------------------------------


@pytest.mark.parametrize("reason", ["", "   ", "x" * 2001])
def test_declining_needs_a_reason(people: People, reason: str) -> None:
    meeting = in_state(people, S.SUBMITTED)
    before = counts()
    with pytest.raises(EngagementError) as refused:
        services.decline(None, people.coordinator, meeting, version=1, reason=reason)
    assert set(refused.value.errors) == {"reason"}
    assert counts() == before
    assert fresh(meeting).status == S.SUBMITTED


def test_declining_tells_the_requester_why(people: People, sending: Sending) -> None:
    meeting = in_state(people, S.ACCEPTED)
    with sending():
        services.decline(
            None, people.coordinator, meeting, version=meeting.version,
            reason="  Our presenters are all booked that month.  ",
        )  # fmt: skip
    stored = fresh(meeting)
    assert (stored.status, stored.decline_reason) == (
        S.DECLINED,
        "Our presenters are all booked that month.",
    )
    (notice,) = mails_to(stored.contact_email)[-1:]
    assert "Our presenters are all booked that month." in notice.body
    # Declined is final: not even the requester can withdraw it any more.
    before = counts()
    with pytest.raises(EngagementError, match="declined cannot be moved to withdrawn"):
        services.withdraw(None, people.requester, stored, version=stored.version)
    assert counts() == before


@pytest.mark.parametrize("status", [S.SUBMITTED, S.DATES_PROPOSED, S.ACCEPTED])
def test_the_requester_withdraws_an_open_request(
    people: People, status: RequestStatus, sending: Sending
) -> None:
    meeting = in_state(people, status)
    assert fresh(meeting).is_open
    with sending():
        services.withdraw(
            None, people.requester, meeting, version=meeting.version, note="Training cancelled."
        )
    stored = fresh(meeting)
    assert stored.status == S.WITHDRAWN
    assert not stored.is_open
    event = MeetingRequestEvent.objects.filter(meeting_request=meeting).last()
    assert event is not None
    assert (event.actor, event.note) == (people.requester, "Training cancelled.")
    assert Notification.objects.filter(user=people.coordinator, message__contains="withdrawn")


def test_a_note_over_the_limit_is_refused(people: People) -> None:
    meeting = in_state(people, S.SUBMITTED)
    before = counts()
    with pytest.raises(EngagementError) as refused:
        services.withdraw(None, people.requester, meeting, version=1, note="x" * 2001)
    assert set(refused.value.errors) == {"note"}
    assert counts() == before


# --- scheduled ------------------------------------------------------------------------------


def test_link_session_needs_a_session_still_to_come(people: People) -> None:
    meeting = in_state(people, S.ACCEPTED)
    cancelled = make_session(people.coordinator)
    cancelled = services.cancel_session(
        None, people.coordinator, cancelled, version=1, reason="Presenter ill."
    )
    started = into_the_past(make_session(people.coordinator))
    for session in (cancelled, started):
        before = counts()
        with pytest.raises(EngagementError) as refused:
            services.link_session(
                None, people.coordinator, meeting, session, version=meeting.version
            )
        assert set(refused.value.errors) == {"session"}
        assert counts() == before
    assert fresh(meeting).session is None


def test_create_session_for_a_request_links_both_at_once(people: People, sending: Sending) -> None:
    meeting = in_state(people, S.ACCEPTED)
    session = services.create_session(
        None, people.coordinator, session_data(title="Briefing for Agency A", is_public=False),
        meeting=meeting, meeting_version=meeting.version,
    )  # fmt: skip
    stored = fresh(meeting)
    assert (stored.status, stored.session) == (S.SCHEDULED, session)
    assert list(session.meeting_requests.all()) == [stored]
    assert audited("engagement.session_created", session.pk) == 1
    assert audited("engagement.request_scheduled", meeting.pk) == 1
    notice = Notification.objects.filter(user=people.requester).order_by("created_at").last()
    assert notice is not None
    assert "Briefing for Agency A" in notice.message


@pytest.mark.parametrize("problem", ["stale-version", "declined-request"])
def test_a_failing_link_rolls_back_the_new_session(
    people: People, problem: str, sending: Sending
) -> None:
    error: type[Exception]
    if problem == "stale-version":
        meeting = in_state(people, S.ACCEPTED)
        version, error = meeting.version - 1, Stale
    else:
        meeting = in_state(people, S.DECLINED)
        version, error = meeting.version, EngagementError
    before = counts()
    with sending(), pytest.raises(error):
        services.create_session(
            None, people.coordinator, session_data(title="Never held"), meeting=meeting,
            meeting_version=version,
        )  # fmt: skip
    assert counts() == before
    assert not Session.objects.filter(title="Never held").exists()
    assert fresh(meeting).session is None


# --- Sessions: create -------------------------------------------------------------------


def test_a_coordinator_creates_a_session(coordinator: User) -> None:
    data = session_data(day=future_day(12), at=time(14, 0), time_zone=TZ)
    session = services.create_session(None, coordinator, data)
    stored = Session.objects.get(pk=session.pk)
    assert stored.status == SessionStatus.SCHEDULED
    assert stored.version == 1
    assert stored.created_by == coordinator
    local = services.local_start(stored)
    assert (local.date(), local.time()) == (future_day(12), time(14, 0))
    assert str(local.tzinfo) == TZ
    assert services.session_input(stored) == data
    assert services.places_left(stored) == 2
    audit = AuditEvent.objects.get(action="engagement.session_created")
    assert (audit.actor_id, audit.object_id) == (coordinator.pk, str(session.pk))
    assert audit.details["starts_at"] == stored.starts_at.isoformat()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        pytest.param({"day": future_day(-1)}, "day", id="past-date"),
        pytest.param({"capacity": 0}, "capacity", id="capacity-0"),
        pytest.param({"capacity": 3001}, "capacity", id="capacity-3001"),
        pytest.param({"duration_minutes": 10}, "duration_minutes", id="duration-10"),
        pytest.param({"duration_minutes": 481}, "duration_minutes", id="duration-481"),
        pytest.param(
            {"meeting_link": "http://meet.example.gov/cp"}, "meeting_link", id="http-link"
        ),
        pytest.param({"meeting_link": "javascript:alert(1)"}, "meeting_link", id="script-link"),
        pytest.param({"meeting_link": ""}, "meeting_link", id="no-link"),
        pytest.param({"materials": ["no-such-guide-page"]}, "materials", id="unknown-material"),
        pytest.param({"topics": ["astrology"]}, "topics", id="unknown-topic"),
        pytest.param({"topics": []}, "topics", id="no-topic"),
        pytest.param({"title": "  "}, "title", id="no-title"),
        pytest.param({"day": spring_forward(), "at": time(2, 30)}, "at", id="dst-gap"),
        pytest.param({"day": fall_back(), "at": time(1, 30)}, "at", id="dst-repeat"),
        pytest.param({"time_zone": "Mars/Olympus"}, "time_zone", id="unknown-zone"),
    ],
)
def test_a_bad_session_is_refused_on_its_own_field(
    coordinator: User, overrides: dict[str, Any], field: str
) -> None:
    before = counts()
    with pytest.raises(EngagementError) as refused:
        services.create_session(None, coordinator, session_data(**overrides))
    assert set(refused.value.errors) == {field}
    assert refused.value.errors[field]
    assert counts() == before


@pytest.mark.parametrize("who", ["requester", "outsider"])
def test_only_coordinators_create_sessions(
    rf: RequestFactory, request: pytest.FixtureRequest, who: str, coordinator: User
) -> None:
    user: User = request.getfixturevalue(who)
    before = counts()
    with pytest.raises(EngagementError):
        services.create_session(None, user, session_data())
    assert counts() == before
    # Through a page, the refusal is a 403 and is audited.
    http = rf.post("/engagement/sessions/new/")
    http.user = user
    with pytest.raises(PermissionDenied):
        services.create_session(http, user, session_data())
    assert Session.objects.count() == before.sessions
    assert AuditEvent.objects.filter(action="access.denied", actor_id=user.pk).count() == 1


# --- Sessions: update ---------------------------------------------------------------------


@pytest.fixture
def full_session(coordinator: User, sending: Sending) -> Session:
    """Two places, both taken (ana, ben), and cy on the waiting list."""
    session = make_session(coordinator, capacity=2)
    with sending():
        for name in ("ana", "ben", "cy"):
            services.register(None, session, person(name))
    mail.outbox.clear()
    return Session.objects.get(pk=session.pk)


def by_email(session: Session) -> dict[str, Registration]:
    return {r.email: r for r in session.registrations.all()}


def test_a_changed_start_sends_each_registered_person_an_update(
    coordinator: User, full_session: Session, sending: Sending
) -> None:
    original = full_session.starts_at
    with sending():
        updated = services.update_session(
            None, coordinator, full_session,
            session_data(day=future_day(11), at=time(15, 0), capacity=2), version=1,
        )  # fmt: skip
    assert updated.version == 2
    assert updated.starts_at == original + timedelta(days=1, hours=1)
    assert sorted(m.to[0] for m in mail.outbox) == ["ana@agency.example", "ben@agency.example"]
    for message in mail.outbox:
        cal, event = the_event(message)
        assert str(cal["METHOD"]) == "REQUEST"
        assert str(event["UID"]) == full_session.uid
        assert event.decoded("SEQUENCE") == 2  # the first invitation was 1
        assert event.decoded("DTSTART") == updated.starts_at
        assert event["DTSTART"].params["TZID"] == TZ
        assert "updated" in message.subject
    stored = by_email(updated)
    assert stored["ana@agency.example"].sequence == 2
    assert stored["cy@agency.example"].sequence == 0  # the waiting list gets nothing
    assert audited("engagement.session_updated", updated.pk) == 1
    details = AuditEvent.objects.get(action="engagement.session_updated").details
    assert details["changed"] == ["starts_at"]


def test_capacity_cannot_drop_below_the_people_registered(
    coordinator: User, full_session: Session, sending: Sending
) -> None:
    before = counts()
    with sending(), pytest.raises(EngagementError) as refused:
        services.update_session(
            None, coordinator, full_session, session_data(capacity=1), version=1
        )
    assert set(refused.value.errors) == {"capacity"}
    assert "2 people are registered" in refused.value.errors["capacity"]
    assert counts() == before
    stored = Session.objects.get(pk=full_session.pk)
    assert (stored.capacity, stored.version) == (2, 1)
    assert {r.sequence for r in stored.registrations.filter(status="registered")} == {1}


def test_more_places_go_to_the_waiting_list(
    coordinator: User, full_session: Session, sending: Sending
) -> None:
    with sending():
        services.update_session(
            None, coordinator, full_session, session_data(capacity=3), version=1
        )
    cy = by_email(full_session)["cy@agency.example"]
    assert cy.status == RegistrationStatus.REGISTERED
    assert cy.sequence == 1
    (message,) = mails_to("cy@agency.example")
    cal, event = the_event(message)
    assert str(cal["METHOD"]) == "REQUEST"
    assert event.decoded("SEQUENCE") == 1
    assert str(event["LOCATION"]) == full_session.meeting_link
    assert AuditEvent.objects.filter(action="engagement.promoted", object_id=str(cy.pk)).exists()


def test_update_refuses_a_stale_cancelled_or_started_session(
    coordinator: User, full_session: Session
) -> None:
    services.update_session(None, coordinator, full_session, session_data(title="New"), version=1)
    before = counts()
    with pytest.raises(Stale):
        services.update_session(None, coordinator, full_session, session_data(), version=1)
    assert counts() == before
    into_the_past(full_session)
    with pytest.raises(EngagementError, match="has started"):
        services.update_session(None, coordinator, full_session, session_data(), version=2)
    other = services.cancel_session(
        None, coordinator, make_session(coordinator), version=1, reason="Moved online."
    )
    with pytest.raises(EngagementError, match="cancelled"):
        services.update_session(None, coordinator, other, session_data(), version=other.version)


# --- Sessions: cancel -------------------------------------------------------------------


def test_cancelling_a_session(coordinator: User, full_session: Session, sending: Sending) -> None:
    dan, _ = services.register(None, full_session, person("dan"))
    services.cancel_registration(None, dan)  # dan's place in line is gone: he hears nothing
    mail.outbox.clear()
    with sending():
        cancelled = services.cancel_session(
            None, coordinator, full_session, version=1, reason="The presenter is ill."
        )
    assert cancelled.status == SessionStatus.CANCELLED
    assert (cancelled.cancel_reason, cancelled.version) == ("The presenter is ill.", 2)
    assert sorted(m.to[0] for m in mail.outbox) == [
        "ana@agency.example",
        "ben@agency.example",
        "cy@agency.example",
    ]
    for email in ("ana@agency.example", "ben@agency.example"):
        (message,) = mails_to(email)
        cal, event = the_event(message)
        assert str(cal["METHOD"]) == "CANCEL"
        assert str(event["STATUS"]) == "CANCELLED"
        assert str(event["UID"]) == full_session.uid
        assert event.decoded("SEQUENCE") == 2
        assert "The presenter is ill." in message.body
    (notice,) = mails_to("cy@agency.example")
    assert calendar_parts(notice) == []  # the waiting list gets a plain notice
    assert "The presenter is ill." in notice.body
    assert full_session.meeting_link not in notice.body
    assert audited("engagement.session_cancelled", full_session.pk) == 1


def test_cancelling_needs_a_reason_a_fresh_version_and_happens_once(
    coordinator: User, full_session: Session
) -> None:
    before = counts()
    with pytest.raises(EngagementError) as refused:
        services.cancel_session(None, coordinator, full_session, version=1, reason=" ")
    assert set(refused.value.errors) == {"reason"}
    with pytest.raises(Stale):
        services.cancel_session(None, coordinator, full_session, version=9, reason="Ill.")
    assert counts() == before
    services.cancel_session(None, coordinator, full_session, version=1, reason="Ill.")
    with pytest.raises(EngagementError, match="already cancelled"):
        services.cancel_session(None, coordinator, full_session, version=2, reason="Ill.")
    assert Session.objects.get(pk=full_session.pk).version == 2


# --- Registrations ---------------------------------------------------------------------------


def test_registered_then_waitlisted_when_full(
    coordinator: User, requester: User, agency_a: Agency, sending: Sending
) -> None:
    session = make_session(coordinator, capacity=1)
    with sending():
        first, token = services.register(
            None, session, person("ana", email="Ana@Agency.Example", agency=agency_a), requester
        )
        second, second_token = services.register(None, session, person("ben"))
    first, second = reg(first), reg(second)
    assert (first.status, first.email, first.user) == (
        "registered",
        "ana@agency.example",
        requester,
    )
    assert (first.agency, first.agency_name) == (agency_a, agency_a.name)
    assert (second.status, second.user) == ("waitlisted", None)
    assert services.places_left(session) == 0
    assert services.registration_by_token(token) == first
    assert first.manage_token_hash == secret_digest(token)
    # The place comes with the invitation and the link; the waiting list with neither.
    (invitation,) = mails_to("ana@agency.example")
    cal, event = the_event(invitation)
    assert str(cal["METHOD"]) == "REQUEST"
    assert event.decoded("SEQUENCE") == first.sequence == 1
    assert str(event["LOCATION"]) == session.meeting_link
    assert session.meeting_link in invitation.body
    assert reverse("engagement:registration", args=[token]) in invitation.body
    (waiting,) = mails_to("ben@agency.example")
    assert calendar_parts(waiting) == []
    assert session.meeting_link not in waiting.body
    assert "waiting list" in waiting.subject
    assert reverse("engagement:registration", args=[second_token]) in waiting.body
    assert AuditEvent.objects.filter(action="engagement.registered").count() == 1
    assert AuditEvent.objects.filter(action="engagement.waitlisted").count() == 1
    assert list(services.own_registrations(requester)) == [first]


@pytest.mark.parametrize(
    "second", ["ana@agency.example", "ANA@agency.example", " ana@Agency.example "]
)
def test_one_place_per_email(coordinator: User, second: str, sending: Sending) -> None:
    session = make_session(coordinator)
    services.register(None, session, person("ana"))
    before = counts()
    with sending(), pytest.raises(EngagementError) as refused:
        services.register(None, session, person("ana", email=second))
    assert set(refused.value.errors) == {"email"}
    assert counts() == before


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        pytest.param({"full_name": " "}, "full_name", id="no-name"),
        pytest.param({"agency_name": ""}, "agency_name", id="no-agency"),
        pytest.param({"email": "ana at agency"}, "email", id="bad-email"),
        pytest.param({"full_name": "x" * 201}, "full_name", id="long-name"),
    ],
)
def test_a_bad_registration_is_refused(
    coordinator: User, overrides: dict[str, Any], field: str
) -> None:
    session = make_session(coordinator)
    before = counts()
    with pytest.raises(EngagementError) as refused:
        services.register(None, session, person("ana", **overrides))
    assert set(refused.value.errors) == {field}
    assert counts() == before


def test_registering_again_after_cancelling(coordinator: User, sending: Sending) -> None:
    session = make_session(coordinator)
    with sending():
        first, old_token = services.register(None, session, person("ana"))
        services.cancel_registration(None, first)
    cancel_cal, cancel_event = the_event(mails_to("ana@agency.example")[-1])
    assert str(cancel_cal["METHOD"]) == "CANCEL"
    cancel_sequence = cancel_event.decoded("SEQUENCE")
    assert cancel_sequence == 2
    with sending():
        again, new_token = services.register(None, session, person("ana"))
    assert again.pk == first.pk  # the same row, renewed
    stored = reg(again)
    assert (stored.status, stored.cancelled_at) == ("registered", None)
    cal, event = the_event(mails_to("ana@agency.example")[-1])
    assert str(cal["METHOD"]) == "REQUEST"
    assert event.decoded("SEQUENCE") == stored.sequence == 3
    assert event.decoded("SEQUENCE") > cancel_sequence
    assert str(event["UID"]) == session.uid
    # Only the new link works.
    assert services.registration_by_token(old_token) is None
    assert services.registration_by_token(new_token) == stored
    assert AuditEvent.objects.get(action="engagement.registered", details__again=True)


def test_no_registration_for_a_cancelled_or_started_session(coordinator: User) -> None:
    cancelled = services.cancel_session(
        None, coordinator, make_session(coordinator), version=1, reason="Ill."
    )
    started = into_the_past(make_session(coordinator))
    for session, words in ((cancelled, "cancelled"), (started, "started")):
        before = counts()
        with pytest.raises(EngagementError, match=words):
            services.register(None, session, person("ana"))
        assert counts() == before


def test_a_freed_place_goes_to_the_first_in_line(
    coordinator: User, full_session: Session, sending: Sending
) -> None:
    dan, _ = services.register(None, full_session, person("dan"))
    people = by_email(full_session)
    cy, dan = people["cy@agency.example"], reg(dan)
    assert [services.waiting_position(r) for r in (cy, dan)] == [1, 2]
    assert services.waiting_position(people["ana@agency.example"]) is None
    mail.outbox.clear()
    with sending():
        services.cancel_registration(None, people["ana@agency.example"])
    people = by_email(full_session)
    assert people["ana@agency.example"].status == "cancelled"
    assert people["ana@agency.example"].cancelled_at is not None
    assert people["cy@agency.example"].status == "registered"
    assert people["dan@agency.example"].status == "waitlisted"
    assert services.waiting_position(people["dan@agency.example"]) == 1
    assert services.waiting_position(people["cy@agency.example"]) is None
    (cancel,) = mails_to("ana@agency.example")
    assert str(the_event(cancel)[0]["METHOD"]) == "CANCEL"
    (promoted,) = mails_to("cy@agency.example")
    cal, event = the_event(promoted)
    assert str(cal["METHOD"]) == "REQUEST"
    assert str(event["LOCATION"]) == full_session.meeting_link
    assert mails_to("dan@agency.example") == []
    assert len(mail.outbox) == 2


def test_leaving_the_waiting_list_frees_no_place(
    coordinator: User, full_session: Session, sending: Sending
) -> None:
    dan, _ = services.register(None, full_session, person("dan"))
    cy = by_email(full_session)["cy@agency.example"]
    mail.outbox.clear()
    with sending():
        services.cancel_registration(None, cy)
    assert reg(cy).status == "cancelled"
    assert reg(dan).status == "waitlisted"
    assert services.waiting_position(reg(dan)) == 1
    assert services.waiting_position(reg(cy)) is None
    assert mail.outbox == []  # nothing was in anyone's calendar


def test_cancelling_a_registration_twice_or_after_the_start(
    coordinator: User, full_session: Session
) -> None:
    ana = by_email(full_session)["ana@agency.example"]
    services.cancel_registration(None, ana)
    before = counts()
    with pytest.raises(EngagementError, match="already cancelled"):
        services.cancel_registration(None, ana)
    ben = by_email(full_session)["ben@agency.example"]
    into_the_past(full_session)
    with pytest.raises(EngagementError, match="started"):
        services.cancel_registration(None, ben)
    assert counts() == before
    assert reg(ben).status == "registered"


def test_the_attendee_calendar_as_it_stands(coordinator: User, full_session: Session) -> None:
    people = by_email(full_session)
    ana = people["ana@agency.example"]
    cal, event = the_event_of(services.attendee_calendar(ana))
    assert (str(cal["METHOD"]), event.decoded("SEQUENCE")) == ("REQUEST", 1)
    services.cancel_registration(None, ana)
    cal, event = the_event_of(services.attendee_calendar(reg(ana)))
    assert (str(cal["METHOD"]), event.decoded("SEQUENCE")) == ("CANCEL", 2)


def the_event_of(ics: bytes) -> tuple[Calendar, Event]:
    cal = Calendar.from_ical(ics)
    (event,) = cal.events
    return cal, event


# --- Attendance ---------------------------------------------------------------------------


@pytest.fixture
def held_session(coordinator: User, sending: Sending) -> Session:
    """ana, ben and cy registered, dan waiting, eve cancelled; the session is over."""
    session = make_session(coordinator, capacity=3)
    with sending():
        for name in ("ana", "ben", "cy", "dan", "eve"):
            services.register(None, session, person(name))
    services.cancel_registration(None, by_email(session)["eve@agency.example"])
    mail.outbox.clear()
    return into_the_past(session)


def marks(session: Session, **attended: bool | None) -> dict[uuid.UUID, bool | None]:
    people = by_email(session)
    return {people[f"{name}@agency.example"].pk: value for name, value in attended.items()}


def test_attendance_before_the_start_is_refused(coordinator: User, sending: Sending) -> None:
    session = make_session(coordinator)
    services.register(None, session, person("ana"))
    before = counts()
    with pytest.raises(EngagementError, match="once the session has started"):
        services.record_attendance(None, coordinator, session, marks(session, ana=True))
    assert counts() == before
    assert reg(by_email(session)["ana@agency.example"]).attended is None


def test_recording_attendance(coordinator: User, held_session: Session) -> None:
    changed = services.record_attendance(
        None, coordinator, held_session, marks(held_session, ana=True, ben=False, cy=None)
    )
    assert changed == 2  # cy was not known before and still is not
    people = by_email(held_session)
    assert people["ana@agency.example"].attended is True
    assert people["ana@agency.example"].attendance_recorded_at is not None
    assert people["ben@agency.example"].attended is False
    assert people["cy@agency.example"].attended is None
    assert people["cy@agency.example"].attendance_recorded_at is None
    assert AuditEvent.objects.get(action="engagement.attendance_recorded").details == {"changed": 2}
    # The same marks again change nothing.
    assert (
        services.record_attendance(
            None, coordinator, held_session, marks(held_session, ana=True, ben=False)
        )
        == 0
    )


@pytest.mark.parametrize("stranger", ["random-id", "cancelled-registration", "other-session"])
def test_an_unknown_registration_saves_nothing(
    coordinator: User, held_session: Session, stranger: str
) -> None:
    if stranger == "random-id":
        unknown = uuid.uuid4()
    elif stranger == "cancelled-registration":
        unknown = by_email(held_session)["eve@agency.example"].pk
    else:
        elsewhere, _ = services.register(None, make_session(coordinator), person("zed"))
        unknown = elsewhere.pk
    before = counts()
    batch = {**marks(held_session, ana=True, ben=False), unknown: True}
    with pytest.raises(EngagementError, match="Not registered for this session"):
        services.record_attendance(None, coordinator, held_session, batch)
    assert counts() == before
    assert {r.attended for r in held_session.registrations.all()} == {None}


@pytest.mark.parametrize("who", ["requester", "outsider"])
def test_only_coordinators_record_attendance(
    request: pytest.FixtureRequest, who: str, held_session: Session
) -> None:
    user: User = request.getfixturevalue(who)
    with pytest.raises(EngagementError):
        services.record_attendance(None, user, held_session, marks(held_session, ana=True))
    with pytest.raises(EngagementError):
        services.send_follow_up(None, user, held_session, include_absent=True, note="")
    assert {r.attended for r in held_session.registrations.all()} == {None}
    assert mail.outbox == []


def held_emails(session: Session) -> frozenset[str]:
    return frozenset(
        session.registrations.exclude(status=RegistrationStatus.CANCELLED).values_list(
            "email", flat=True
        )
    )


def test_importing_an_attendance_list_end_to_end(coordinator: User, held_session: Session) -> None:
    data = (
        "\ufeffName,Email,Attended,Minutes\r\n"
        "Ana,ANA@agency.example,yes,58\r\n"
        "Ben,ben@agency.example,no,0\r\n"
        "\r\n"
        "Cy,cy@agency.example,,61\r\n"
    ).encode()
    parsed = attendance.parse(data, held_emails(held_session))
    assert parsed.ok, [str(p) for p in parsed.problems]
    changed = services.record_attendance(
        None, coordinator, held_session, services.attendance_marks(held_session, parsed.rows)
    )
    assert changed == 3
    people = by_email(held_session)
    assert [people[f"{n}@agency.example"].attended for n in ("ana", "ben", "cy", "dan")] == [
        True,
        False,
        True,  # an empty mark: present
        None,  # not on the list: not known
    ]


def test_a_bad_attendance_list_saves_nothing(coordinator: User, held_session: Session) -> None:
    data = b"email,attended\r\nana@agency.example,yes\r\neve@agency.example,yes\r\n"
    parsed = attendance.parse(data, held_emails(held_session))
    assert not parsed.ok
    assert [(p.line, p.column) for p in parsed.problems] == [(3, "email")]  # eve cancelled
    assert {r.attended for r in held_session.registrations.all()} == {None}


# --- Follow-up ------------------------------------------------------------------------------


def test_the_waiting_list_cannot_be_marked_present(
    coordinator: User, held_session: Session
) -> None:
    """dan waited in line and never had the link: marking him is refused, nothing saved."""
    before = counts()
    with pytest.raises(EngagementError, match="Not registered"):
        services.record_attendance(
            None, coordinator, held_session, marks(held_session, ana=True, dan=True)
        )
    assert counts() == before
    assert not Registration.objects.filter(attended__isnull=False).exists()


def test_follow_up_goes_to_attendees_once(
    coordinator: User, held_session: Session, sending: Sending
) -> None:
    services.record_attendance(
        None, coordinator, held_session, marks(held_session, ana=True, ben=False)
    )
    with sending():
        sent = services.send_follow_up(
            None, coordinator, held_session, include_absent=False, note="Slides are attached."
        )
    assert sent == 1
    (thanks,) = mail.outbox
    assert thanks.to == ["ana@agency.example"]
    assert "Thank you for joining" in thanks.body
    assert "Slides are attached." in thanks.body
    for slug in MATERIALS:
        assert reverse("guide:page", args=["en", slug]) in thanks.body
    assert Session.objects.get(pk=held_session.pk).follow_up_sent_at is not None
    # Again: nobody new is chosen.
    before = counts()
    with sending(), pytest.raises(EngagementError, match="already had the follow-up"):
        services.send_follow_up(None, coordinator, held_session, include_absent=False, note="")
    assert counts() == before
    # With the absent: ben (absent) and cy (not known), and not ana again.
    with sending():
        sent = services.send_follow_up(
            None, coordinator, held_session, include_absent=True, note=""
        )
    assert sent == 2
    assert sorted(m.to[0] for m in mail.outbox[1:]) == ["ben@agency.example", "cy@agency.example"]
    assert all("We missed you" in m.body for m in mail.outbox[1:])
    with pytest.raises(EngagementError):
        services.send_follow_up(None, coordinator, held_session, include_absent=True, note="")
    assert len(mail.outbox) == 3
    sent_per_run = AuditEvent.objects.filter(action="engagement.follow_up_sent").order_by("seq")
    assert [e.details["sent"] for e in sent_per_run] == [1, 2]


def test_no_follow_up_before_the_start_or_with_a_long_note(
    coordinator: User, held_session: Session
) -> None:
    with pytest.raises(EngagementError) as refused:
        services.send_follow_up(
            None, coordinator, held_session, include_absent=True, note="x" * 2001
        )
    assert set(refused.value.errors) == {"note"}
    move_start(held_session, timezone.now() + timedelta(days=1))
    with pytest.raises(EngagementError, match="once the session has started"):
        services.send_follow_up(None, coordinator, held_session, include_absent=True, note="")
    assert mail.outbox == []
    assert held_session.registrations.filter(follow_up_sent_at__isnull=False).count() == 0


# --- Engagement by agency --------------------------------------------------------------------


def test_engagement_by_agency(
    coordinator: User, requester: User, agency_a: Agency, agency_b: Agency
) -> None:
    services.submit_request(None, requester, meeting_data(agency=agency_a))
    services.submit_request(None, None, meeting_data(agency_name="Springfield Police Department"))
    services.submit_request(None, None, meeting_data(agency_name="SPRINGFIELD  police department"))
    session = make_session(coordinator, capacity=5)
    services.register(None, session, person("ana", agency=agency_a), requester)
    services.register(None, session, person("ben", agency_name="springfield police Department"))
    gone, _ = services.register(None, session, person("cy", agency=agency_a))
    services.cancel_registration(None, gone)
    into_the_past(session)
    services.record_attendance(None, coordinator, session, marks(session, ana=True, ben=False))
    rows = services.engagement_by_agency()
    assert [r.name.casefold().split() for r in rows] == [
        agency_a.name.casefold().split(),
        ["springfield", "police", "department"],  # one of the spellings people typed
    ]
    by_agency, by_name = rows
    assert by_agency.name == agency_a.name
    assert by_agency.key == str(agency_a.pk)
    assert by_agency.agency == agency_a
    assert (by_agency.meeting_requests, by_agency.registrations, by_agency.attended) == (1, 1, 1)
    assert by_name.key not in (by_agency.key, "")
    for row in rows:  # each key works in an address
        assert row.key in reverse("engagement:agency", args=[row.key])
    assert by_name.agency is None
    assert (by_name.meeting_requests, by_name.registrations, by_name.attended) == (2, 1, 0)
    assert by_name.last is not None
    assert by_agency.last is not None
    assert agency_b.name not in [r.name for r in rows]

    name, requests, registrations = services.agency_history(by_agency.key)
    assert name == agency_a.name
    assert [m.agency for m in requests] == [agency_a]
    assert [r.email for r in registrations] == ["ana@agency.example"]  # cy cancelled

    name, requests, registrations = services.agency_history(by_name.key)
    assert name.casefold().split() == ["springfield", "police", "department"]
    assert requests.count() == 2
    assert [r.email for r in registrations] == ["ben@agency.example"]


@pytest.mark.parametrize(
    "key", ["not-a-uuid", str(uuid.uuid4()), "name:nobody at all", "n-" + "0" * 20, ""]
)
def test_agency_history_of_nobody(key: str, agency_a: Agency) -> None:
    name, requests, registrations = services.agency_history(key)
    assert name == ""
    assert not requests.exists()
    assert not registrations.exists()


def test_member_agency(requester: User, agency_a: Agency, agency_b: Agency) -> None:
    assert services.member_agency(requester, agency_a.pk) == agency_a
    assert services.member_agency(requester, agency_b.pk) is None
    assert services.member_agency(requester, None) is None


# --- Listings --------------------------------------------------------------------------------


def test_upcoming_public_sessions(coordinator: User, full_session: Session) -> None:
    private = make_session(coordinator, is_public=False)
    services.cancel_session(None, coordinator, make_session(coordinator), version=1, reason="Ill.")
    over = into_the_past(make_session(coordinator))
    listed = list(services.upcoming_public())
    assert listed == [full_session]
    assert listed[0].taken == 2  # type: ignore[attr-defined]
    managed = {s.pk: s for s in services.coordinator_sessions()}
    assert {private.pk, over.pk, full_session.pk} <= set(managed)
    assert (managed[full_session.pk].taken, managed[full_session.pk].waiting) == (2, 1)  # type: ignore[attr-defined]
    later = datetime.now(UTC) + timedelta(days=30)
    assert list(services.upcoming_public(later)) == []
