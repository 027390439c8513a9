"""Engagement pages through the test client: public forms and their guards, the
requester's and attendee's pages, the coordinators' pages, and who may see what."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar

from cpnav.accounts.models import Agency, Role, User
from cpnav.audit.models import AuditEvent
from cpnav.core.ratelimit import reset as reset_rate_limits
from cpnav.engagement.models import (
    MeetingRequest,
    Registration,
    RegistrationStatus,
    RequestStatus,
    Session,
)
from cpnav.engagement.times import today_in
from tests.conftest import MakeUser, signed_in

pytestmark = pytest.mark.django_db
ZONE = "America/Chicago"


@pytest.fixture(autouse=True)
def _quick_forms(settings: Any, db: None) -> None:
    settings.PUBLIC_FORM_MIN_SECONDS = 0
    reset_rate_limits()


@pytest.fixture
def coordinator(make_user: MakeUser, ccht: Agency) -> User:
    return make_user("coordinator@ccht.example", ccht, (Role.ENGAGEMENT_COORDINATOR,))


def _stamp(client: Client, url: str) -> str:
    page = client.get(url).content.decode()
    found = re.search(r'name="form_started" value="([^"]+)"', page)
    assert found, "the public form carries its signed timestamp"
    return found.group(1)


def _future(days: int) -> str:
    return (today_in(ZONE, timezone.now()) + timedelta(days=days)).isoformat()


def _meeting_post(**extra: Any) -> dict[str, Any]:
    data = {
        "contact_name": "Dana Example",
        "contact_email": "dana@county.example",
        "agency_name": "Example County Sheriff",
        "jurisdiction": "TX",
        "jurisdiction_detail": "Example County",
        "audience": ["investigators", "patrol"],
        "audience_size": "25",
        "topics": ["cp_basics"],
        "preferred_1": _future(20),
        "preferred_time": "morning",
        "time_zone": ZONE,
    }
    data.update(extra)
    return data


def _session_post(**extra: Any) -> dict[str, Any]:
    data = {
        "title": "Continued Presence for patrol",
        "topics": ["cp_basics"],
        "day": _future(10),
        "at": "14:00",
        "time_zone": ZONE,
        "duration_minutes": "60",
        "capacity": "2",
        "meeting_link": "https://meet.example/abc",
        "is_public": "on",
    }
    data.update(extra)
    return data


def test_public_meeting_request_gets_a_status_link(client: Client) -> None:
    url = reverse("engagement:request_new")
    data = _meeting_post(form_started=_stamp(client, url))
    response = client.post(url, data)
    assert response.status_code == 302
    meeting = MeetingRequest.objects.get()
    assert meeting.requester is None
    assert meeting.status == RequestStatus.SUBMITTED
    status_page = client.get(response["Location"])
    assert meeting.reference in status_page.content.decode()
    assert AuditEvent.objects.filter(action="engagement.request_submitted").exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"website": "http://spam.example"}, "hidden field"),
        ({"form_started": "forged"}, "damaged or too old"),
        ({"topics_other": "http://a.example http://b.example http://c.example"}, "web links"),
    ],
)
def test_public_form_refuses_automated_sending_and_keeps_the_answers(
    client: Client, change: dict[str, str], message: str
) -> None:
    url = reverse("engagement:request_new")
    data = {**_meeting_post(form_started=_stamp(client, url)), **change}
    response = client.post(url, data)
    page = response.content.decode()
    assert response.status_code == 400
    assert message in page
    assert 'value="Example County Sheriff"' in page  # what was typed is still there
    assert not MeetingRequest.objects.exists()


def test_public_form_sent_too_quickly_is_refused(client: Client, settings: Any) -> None:
    settings.PUBLIC_FORM_MIN_SECONDS = 60
    url = reverse("engagement:request_new")
    response = client.post(url, _meeting_post(form_started=_stamp(client, url)))
    assert response.status_code == 400
    assert "a moment after it appeared" in response.content.decode()
    assert not MeetingRequest.objects.exists()


def test_public_form_rate_limit(client: Client, settings: Any) -> None:
    settings.PUBLIC_FORM_RATE = "2/hour"
    url = reverse("engagement:request_new")
    for _ in range(2):
        assert client.post(url, _meeting_post(form_started=_stamp(client, url))).status_code == 302
    response = client.post(url, _meeting_post(form_started=_stamp(client, url)))
    assert response.status_code == 429
    assert "Too many forms" in response.content.decode()
    assert MeetingRequest.objects.count() == 2


@pytest.mark.parametrize(
    ("change", "field_text"),
    [
        ({"preferred_1": "2020-01-01"}, "must be after today"),
        ({"time_zone": "Mars/Olympus"}, "Select a valid choice"),
        ({"audience_size": "0"}, "greater than or equal to 1"),
        ({"topics": [], "topics_other": ""}, "Choose a topic"),
    ],
)
def test_meeting_request_bad_input(client: Client, change: dict[str, Any], field_text: str) -> None:
    url = reverse("engagement:request_new")
    response = client.post(url, _meeting_post(form_started=_stamp(client, url), **change))
    assert response.status_code == 200
    assert field_text in response.content.decode()
    assert not MeetingRequest.objects.exists()


def test_signed_in_request_and_coordinator_queue(
    client: Client, teammate: User, coordinator: User, agency_a: Agency
) -> None:
    signed_in(client, teammate)
    url = reverse("engagement:request_new")
    page = client.get(url).content.decode()
    assert "form_started" not in page  # no robot checks for signed-in officers
    data = _meeting_post(agency=str(agency_a.pk), agency_name="")
    response = client.post(url, data)
    meeting = MeetingRequest.objects.get()
    assert response["Location"] == reverse("engagement:request", args=[meeting.pk])
    assert meeting.agency == agency_a
    assert meeting.agency_name == agency_a.name

    staff = Client()
    signed_in(staff, coordinator)
    queue = staff.get(reverse("engagement:requests")).content.decode()
    assert meeting.reference in queue
    detail = reverse("engagement:request", args=[meeting.pk])
    response = staff.post(
        detail,
        {"form": "propose", "version": "1", "time_zone": ZONE, "day_1": _future(15),
         "at_1": "10:00", "note": "Would this work?"},
    )  # fmt: skip
    assert response.status_code == 302
    meeting.refresh_from_db()
    assert meeting.status == RequestStatus.DATES_PROPOSED

    # The requester takes the time offered.
    response = client.post(detail, {"form": "choose", "version": "2", "choice": "0"})
    assert response.status_code == 302
    meeting.refresh_from_db()
    assert meeting.status == RequestStatus.ACCEPTED
    assert meeting.agreed_start is not None

    # A stale page is refused, not applied.
    response = staff.post(detail, {"form": "decline", "version": "2", "reason": "No"}, follow=True)
    assert "Someone changed this" in response.content.decode()
    meeting.refresh_from_db()
    assert meeting.status == RequestStatus.ACCEPTED

    # A session made from the request is linked to it.
    new = reverse("engagement:session_new") + f"?request={meeting.pk}"
    form = staff.get(new).content.decode()
    assert meeting.agency_name in form
    response = staff.post(
        new, {**_session_post(is_public=""), "meeting_request": str(meeting.pk),
              "meeting_version": "3"},
    )  # fmt: skip
    assert response.status_code == 302
    meeting.refresh_from_db()
    assert meeting.status == RequestStatus.SCHEDULED
    assert meeting.session is not None
    assert not meeting.session.is_public


def test_others_cannot_see_or_coordinate(
    client: Client, teammate: User, outsider: User, coordinator: User
) -> None:
    signed_in(client, teammate)
    client.post(reverse("engagement:request_new"), _meeting_post())
    meeting = MeetingRequest.objects.get()
    other = signed_in(Client(), outsider)
    assert other.get(reverse("engagement:request", args=[meeting.pk])).status_code == 404
    assert meeting.reference not in other.get(reverse("engagement:requests")).content.decode()
    for name in ("sessions", "session_new", "agencies"):
        assert client.get(reverse(f"engagement:{name}")).status_code == 403
    assert Client().get(reverse("engagement:sessions")).status_code == 302  # sign in first


def test_session_create_register_waitlist_cancel(
    client: Client, coordinator: User, django_capture_on_commit_callbacks: Any
) -> None:
    staff = signed_in(Client(), coordinator)
    bad = staff.post(reverse("engagement:session_new"), _session_post(capacity="0"))
    assert "greater than or equal to 1" in bad.content.decode()
    bad = staff.post(reverse("engagement:session_new"), _session_post(day="2020-05-01"))
    assert "already passed" in bad.content.decode()
    assert not Session.objects.exists()
    staff.post(reverse("engagement:session_new"), _session_post())
    session = Session.objects.get()
    assert session.title in Client().get(reverse("engagement:home")).content.decode()

    url = reverse("engagement:session", args=[session.pk])
    public = Client().get(url).content.decode()
    assert session.meeting_link not in public  # the link is for people holding a place

    places = []
    for n in range(3):
        visitor = Client()
        with django_capture_on_commit_callbacks(execute=True):
            response = visitor.post(url, {
                "full_name": f"Officer {n}", "email": f"officer{n}@county.example",
                "agency_name": "Example PD", "form_started": _stamp(visitor, url),
            })  # fmt: skip
        assert response.status_code == 302
        places.append((visitor, response["Location"]))
    statuses = list(Registration.objects.order_by("queued_at").values_list("status", flat=True))
    assert statuses == ["registered", "registered", "waitlisted"]

    again = Client()
    response = again.post(url, {
        "full_name": "Officer 0", "email": "OFFICER0@county.example", "agency_name": "Example PD",
        "form_started": _stamp(again, url),
    })  # fmt: skip
    assert "already has a place" in response.content.decode()

    first, manage = places[0]
    page = first.get(manage).content.decode()
    assert session.meeting_link in page
    ics = first.get(manage + "invite.ics")
    assert ics["Content-Type"].startswith("text/calendar")
    event = Calendar.from_ical(ics.content).walk("VEVENT")[0]
    assert str(event["UID"]) == session.uid
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert first.post(manage).status_code == 302
    assert Registration.objects.get(email="officer0@county.example").status == "cancelled"
    assert Registration.objects.get(email="officer2@county.example").status == "registered"
    assert {m.to[0] for m in mail.outbox} == {"officer0@county.example", "officer2@county.example"}


def test_session_manage_attendance_import_and_follow_up(
    coordinator: User, django_capture_on_commit_callbacks: Any
) -> None:
    staff = signed_in(Client(), coordinator)
    staff.post(
        reverse("engagement:session_new"), _session_post(materials=["what-is-continued-presence"])
    )
    session = Session.objects.get()
    url = reverse("engagement:session", args=[session.pk])
    for n in range(2):
        visitor = Client()
        visitor.post(url, {
            "full_name": f"Officer {n}", "email": f"officer{n}@county.example",
            "agency_name": "Example PD", "form_started": _stamp(visitor, url),
        })  # fmt: skip
    Session.objects.filter(pk=session.pk).update(starts_at=timezone.now() - timedelta(hours=2))
    manage = reverse("engagement:session_manage", args=[session.pk])
    assert "Attendance" in staff.get(manage).content.decode()

    from django.core.files.uploadedfile import SimpleUploadedFile

    bad = SimpleUploadedFile(
        "a.csv", b"email,attended\nofficer0@county.example,yes\nx@y.example,yes\n"
    )
    page = staff.post(manage, {"form": "import", "file": bad}).content.decode()
    assert "Nothing was imported" in page
    assert "line 3" in page
    assert not Registration.objects.filter(attended__isnull=False).exists()

    good = SimpleUploadedFile(
        "a.csv", b"email,attended\nofficer0@county.example,yes\nofficer1@county.example,no\n"
    )
    assert staff.post(manage, {"form": "import", "file": good}).status_code == 302
    assert Registration.objects.get(email="officer0@county.example").attended is True

    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        staff.post(manage, {"form": "follow_up", "note": "Thank you"})
    assert [m.to[0] for m in mail.outbox] == ["officer0@county.example"]

    history = staff.get(reverse("engagement:agencies")).content.decode()
    assert "Example PD" in history


def test_signed_in_attendee_sees_own_places(
    client: Client, teammate: User, coordinator: User, agency_a: Agency
) -> None:
    staff = signed_in(Client(), coordinator)
    staff.post(reverse("engagement:session_new"), _session_post())
    session = Session.objects.get()
    signed_in(client, teammate)
    url = reverse("engagement:session", args=[session.pk])
    response = client.post(url, {"full_name": "Team Mate", "email": teammate.email,
                                 "agency": str(agency_a.pk)})  # fmt: skip
    assert response.status_code == 302
    registration = Registration.objects.get()
    assert registration.user == teammate
    assert registration.agency == agency_a
    assert session.title in client.get(reverse("engagement:mine")).content.decode()
    own = reverse("engagement:my_registration", args=[registration.pk])
    assert client.get(own).status_code == 200
    other = signed_in(Client(), coordinator)
    assert other.get(own).status_code == 404
    assert session.meeting_link in client.get(url).content.decode()
    assert registration.status == RegistrationStatus.REGISTERED


def test_unknown_links_are_not_found(client: Client) -> None:
    assert client.get(reverse("engagement:request_status", args=["nope"])).status_code == 404
    assert client.get(reverse("engagement:registration", args=["nope"])).status_code == 404
