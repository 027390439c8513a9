"""Referring a person: consent first, the case team only, every change audited."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone

from cpnav.accounts.models import User
from cpnav.audit.models import AuditEvent
from cpnav.cases.models import Share
from cpnav.grants.deadlines import DeadlineInputs, compute
from cpnav.referrals import services
from cpnav.referrals.models import Provider, Referral, ReferralStatus
from tests.conftest import signed_in
from tests.route import Route

pytestmark = pytest.mark.django_db

NAME = "Ana Synthetic-Testperson"


def http(rf: RequestFactory, user: User) -> HttpRequest:
    request = rf.post("/")
    request.user = user
    return request


def today(route: Route) -> date:
    return services.local_today(route.county)


def make(rf: RequestFactory, route: Route, provider: Provider, **overrides: object) -> Referral:
    arguments: dict[str, object] = {
        "services": ["shelter"], "consent": True, "follow_up_on": today(route) + timedelta(days=7),
        "note": "Agreed verbally, with an interpreter",
    }  # fmt: skip
    arguments.update(overrides)
    return services.refer(
        http(rf, route.investigator), route.investigator, route.person, provider,
        arguments["services"], arguments["consent"], arguments["follow_up_on"],  # type: ignore[arg-type]
        arguments["note"],  # type: ignore[arg-type]
    )  # fmt: skip


def test_a_referral_records_consent_history_and_audit(
    rf: RequestFactory, route: Route, shelter: Provider
) -> None:
    referral = make(rf, route, shelter)
    assert referral.status == ReferralStatus.SENT
    assert referral.consent_recorded
    assert referral.consent_recorded_by == route.investigator
    assert referral.consent_recorded_at is not None
    assert referral.consent_note == "Agreed verbally, with an interpreter"
    assert referral.created_by == route.investigator
    assert [e.status for e in referral.events.all()] == ["sent"]
    event = AuditEvent.objects.get(action="referral.created")
    assert event.object_id == str(referral.pk)
    assert event.agency_id == route.county.pk
    assert event.details["provider"] == str(shelter.pk)
    assert event.details["consent_recorded"] is True
    assert NAME not in str(event.details)


def test_no_referral_without_consent(rf: RequestFactory, route: Route, shelter: Provider) -> None:
    with pytest.raises(services.ReferralError, match="agreed") as error:
        make(rf, route, shelter, consent=False)
    assert error.value.field == "consent"
    assert not Referral.objects.exists()
    assert not AuditEvent.objects.filter(action="referral.created").exists()


def test_follow_up_is_not_in_the_past(rf: RequestFactory, route: Route, shelter: Provider) -> None:
    with pytest.raises(services.ReferralError, match="in the past"):
        make(rf, route, shelter, follow_up_on=today(route) - timedelta(days=1))
    assert make(rf, route, shelter, follow_up_on=today(route)).follow_up_on == today(route)
    assert make(rf, route, shelter, follow_up_on=None).follow_up_on is None


def test_services_must_be_offered_and_the_provider_listed(
    rf: RequestFactory, route: Route, shelter: Provider
) -> None:
    with pytest.raises(services.ReferralError, match="does not list that service"):
        make(rf, route, shelter, services=["shelter", "legal"])
    with pytest.raises(services.ReferralError, match="at least one"):
        make(rf, route, shelter, services=[])
    with pytest.raises(services.ReferralError, match="under 2000"):
        make(rf, route, shelter, note="x" * 2001)
    shelter.active = False
    shelter.save()
    with pytest.raises(services.ReferralError, match="no longer listed"):
        make(rf, route, shelter)


def test_the_database_refuses_a_referral_without_consent(route: Route, shelter: Provider) -> None:
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        Referral.objects.create(
            person=route.person, provider=shelter, services=["shelter"], consent_recorded=False,
            consent_recorded_by=route.investigator, consent_recorded_at=timezone.now(),
            created_by=route.investigator,
        )  # fmt: skip


def test_only_the_case_team_and_supervisors_refer(
    rf: RequestFactory, route: Route, shelter: Provider
) -> None:
    for who in (route.teammate, route.outsider, route.sponsor, route.specialist):
        with pytest.raises(PermissionDenied):
            services.refer(http(rf, who), who, route.person, shelter, ["shelter"], True, None, "")
    supervisor = services.refer(
        http(rf, route.supervisor), route.supervisor, route.person, shelter, ["shelter"], True,
        None, "",
    )  # fmt: skip
    assert supervisor.created_by == route.supervisor
    assert AuditEvent.objects.filter(action="access.denied", outcome="denied").count() == 4


def test_status_transitions(rf: RequestFactory, route: Route, shelter: Provider) -> None:
    referral = make(rf, route, shelter)
    request = http(rf, route.investigator)
    with pytest.raises(services.ReferralError, match="cannot become completed"):
        services.set_status(request, route.investigator, referral, "completed", version=1)
    referral = services.set_status(
        request, route.investigator, referral, "accepted", version=1, note="Intake booked"
    )
    assert (referral.status, referral.version) == ("accepted", 2)
    with pytest.raises(services.StaleReferral):
        services.set_status(request, route.investigator, referral, "completed", version=1)
    referral = services.set_status(request, route.investigator, referral, "completed", version=2)
    assert [(e.status, e.note) for e in referral.events.all()] == [
        ("sent", ""), ("accepted", "Intake booked"), ("completed", ""),
    ]  # fmt: skip
    with pytest.raises(services.ReferralError, match="cannot become"):
        services.set_status(request, route.investigator, referral, "declined", version=3)
    declined = services.set_status(
        request, route.investigator, make(rf, route, shelter), "declined", version=1
    )
    assert declined.next_statuses() == []
    changes = AuditEvent.objects.filter(action="referral.status_changed").order_by("seq")
    assert [(e.details["from"], e.details["to"]) for e in changes] == [
        ("sent", "accepted"), ("accepted", "completed"), ("sent", "declined"),
    ]  # fmt: skip


def test_follow_up_changes(rf: RequestFactory, route: Route, shelter: Provider) -> None:
    referral = make(rf, route, shelter)
    request = http(rf, route.investigator)
    with pytest.raises(services.ReferralError, match="in the past"):
        services.set_follow_up(
            request, route.investigator, referral, today(route) - timedelta(days=1), version=1
        )
    referral = services.set_follow_up(request, route.investigator, referral, None, version=1)
    assert referral.follow_up_on is None
    event = AuditEvent.objects.get(action="referral.follow_up_changed")
    assert event.details["to"] is None
    with pytest.raises(PermissionDenied):
        services.set_follow_up(http(rf, route.teammate), route.teammate, referral, None, version=2)


def test_referral_inputs_feed_the_deadlines(
    rf: RequestFactory, route: Route, shelter: Provider
) -> None:
    assert services.referral_inputs(route.person) == ()
    due = today(route) + timedelta(days=10)
    first = make(rf, route, shelter, follow_up_on=due)
    make(rf, route, shelter, follow_up_on=None)
    done = make(rf, route, shelter, follow_up_on=due + timedelta(days=1))
    request = http(rf, route.investigator)
    done = services.set_status(request, route.investigator, done, "accepted", version=1)
    services.set_status(request, route.investigator, done, "completed", version=2)
    inputs = services.referral_inputs(route.person)
    assert inputs == (
        (due, "sent"), (None, "sent"), (due + timedelta(days=1), "completed"),
    )  # fmt: skip
    deadlines = compute(
        DeadlineInputs(reference="CP-1A2B3C4D", agency_time_zone=route.county.time_zone,
                       referrals=inputs),
        now=timezone.now(),
    )  # fmt: skip
    assert [(d.kind, d.due.date()) for d in deadlines] == [("referral_follow_up", due)]
    assert first.status == "sent"


# --- Pages ---------------------------------------------------------------------


def test_refer_page_needs_consent_and_never_shows_the_name(
    route: Route, shelter: Provider, national: list[Provider]
) -> None:
    client = signed_in(Client(), route.investigator)
    url = reverse("referrals:person_referrals", args=[route.person.pk])
    page = client.get(url).content.decode()
    assert "<title>Referrals |" in page
    assert NAME not in page
    assert route.case.case_number in page
    assert 'name="consent"' in page
    assert page.index("National Human Trafficking Hotline") < page.index("Marlow County Safe House")
    form = {"provider": str(shelter.pk), "services": ["shelter"],
            "follow_up_on": (today(route) + timedelta(days=3)).isoformat(), "consent_note": ""}  # fmt: skip
    refused = client.post(url, form)
    assert refused.status_code == 200
    assert "Without their agreement, no referral is made." in refused.content.decode()
    assert not Referral.objects.exists()
    past = client.post(url, {**form, "consent": "on", "follow_up_on": "2020-01-01"})
    assert "The follow-up date is in the past." in past.content.decode()
    wrong = client.post(url, {**form, "consent": "on", "services": ["legal"]})
    assert "does not list that service" in wrong.content.decode()
    done = client.post(url, {**form, "consent": "on"}, follow=True)
    referral = Referral.objects.get()
    assert referral.reference in done.content.decode()
    assert "Marlow County Safe House" in done.content.decode()
    assert NAME not in done.content.decode()


def test_referral_page_changes_status_and_follow_up(
    rf: RequestFactory, route: Route, shelter: Provider
) -> None:
    referral = make(rf, route, shelter)
    client = signed_in(Client(), route.supervisor)
    url = reverse("referrals:referral", args=[referral.pk])
    page = client.get(url).content.decode()
    assert f"<title>Referral {referral.reference} |" in page
    assert NAME not in page
    assert "Agreed verbally" in page
    assert 'href="tel:+15550100100"' in page
    invalid = client.post(url, {"form": "status", "version": "1", "status": "completed"})
    assert "Select a valid choice" in invalid.content.decode()
    client.post(url, {"form": "status", "version": "1", "status": "accepted", "note": "Booked"})
    referral.refresh_from_db()
    assert referral.status == "accepted"
    stale = client.post(url, {"form": "status", "version": "1", "status": "declined"}, follow=True)
    assert "Someone changed this referral" in stale.content.decode()
    past = client.post(url, {"form": "follow_up", "version": "2", "follow_up_on": "2020-01-01"})
    assert "The follow-up date is in the past." in past.content.decode()
    later = today(route) + timedelta(days=30)
    client.post(url, {"form": "follow_up", "version": "2", "follow_up_on": later.isoformat()})
    referral.refresh_from_db()
    assert (referral.follow_up_on, referral.version) == (later, 3)


@pytest.mark.parametrize(
    ("persona", "status"),
    [("investigator", 200), ("supervisor", 200), ("teammate", 404), ("outsider", 404),
     ("other_sponsor", 404), ("reviewer", 404), ("specialist", 404)],
)  # fmt: skip
def test_who_may_open_the_referral_pages(
    rf: RequestFactory, route: Route, shelter: Provider, persona: str, status: int
) -> None:
    referral = make(rf, route, shelter)
    client = signed_in(Client(), getattr(route, persona))
    for url in (
        reverse("referrals:person_referrals", args=[route.person.pk]),
        reverse("referrals:referral", args=[referral.pk]),
    ):
        assert client.get(url).status_code == status
    post = client.post(
        reverse("referrals:person_referrals", args=[route.person.pk]),
        {"provider": str(shelter.pk), "services": ["shelter"], "consent": "on"},
    )
    assert post.status_code == (302 if status == 200 else status)


def test_a_share_never_allows_referrals(
    rf: RequestFactory, route: Route, shelter: Provider
) -> None:
    Share.objects.create(
        person=route.person, grantee=route.specialist, fields=["full_name"], reason="Shelter",
        granted_by=route.investigator, expires_at=timezone.now() + timedelta(days=7),
    )  # fmt: skip
    client = signed_in(Client(), route.specialist)
    assert client.get(reverse("cases:person", args=[route.person.pk])).status_code == 200
    url = reverse("referrals:person_referrals", args=[route.person.pk])
    assert client.get(url).status_code == 403
    response = client.post(
        url, {"provider": str(shelter.pk), "services": ["shelter"], "consent": "on"}
    )
    assert response.status_code == 403
    assert not Referral.objects.exists()
    referral = make(rf, route, shelter)
    assert client.get(reverse("referrals:referral", args=[referral.pk])).status_code == 404


def test_seeing_a_routed_case_is_not_enough(
    rf: RequestFactory, route: Route, shelter: Provider
) -> None:
    route.cp.routed_to_sponsor_at = timezone.now()
    route.cp.save()
    referral = make(rf, route, shelter)
    client = signed_in(Client(), route.sponsor)
    assert client.get(reverse("cases:person", args=[route.person.pk])).status_code == 200
    assert (
        client.get(reverse("referrals:person_referrals", args=[route.person.pk])).status_code == 403
    )
    url = reverse("referrals:referral", args=[referral.pk])
    assert client.get(url).status_code == 403
    assert (
        client.post(url, {"form": "status", "version": "1", "status": "declined"}).status_code
        == 403
    )
    referral.refresh_from_db()
    assert referral.status == "sent"


def test_outsiders_are_logged(route: Route) -> None:
    client = signed_in(Client(), route.outsider)
    assert (
        client.get(reverse("referrals:person_referrals", args=[route.person.pk])).status_code == 404
    )
    event = AuditEvent.objects.get(action="access.denied")
    assert event.object_type == "person"
    assert (
        Client().get(reverse("referrals:person_referrals", args=[route.person.pk])).status_code
        == 302
    )
