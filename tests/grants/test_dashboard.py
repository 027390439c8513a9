"""The deadlines page at scale: inputs read in batches, a window, whose cases, pages."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cpnav.accounts.models import User
from cpnav.cases.models import Case, CaseMember, CPRequest, Decision, DecisionKind, Person, Status
from cpnav.grants import services
from cpnav.grants.models import EndKind, Grant, GrantEnd, GrantTerm, TVisaStatus
from cpnav.referrals.models import Provider, Referral
from tests.conftest import signed_in
from tests.grants.reference import inputs_for, person_inputs
from tests.route import Route

pytestmark = pytest.mark.django_db

TODAY = date.today()


def new_person(route: Route, case: Case | None = None, **extra: object) -> Person:
    return Person.objects.create(case=case or route.case, full_name="Synthetic Person", **extra)


def new_request(
    route: Route, person: Person, *, kind: str = "initial", status: str = Status.DRAFT
) -> CPRequest:
    return CPRequest.objects.create(
        case=person.case, person=person, created_by=route.investigator, kind=kind, status=status
    )


def add_term(route: Route, person: Person, start: date, end: date, kind: str = "initial") -> Grant:
    cp = new_request(route, person, kind=kind, status=Status.GRANTED)
    grant, _ = Grant.objects.get_or_create(person=person)
    GrantTerm.objects.create(grant=grant, request=cp, kind=kind, start=start, end=end)
    return grant


def ask(route: Route, cp: CPRequest, due: date) -> None:
    Decision.objects.create(
        request=cp, kind=DecisionKind.INFORMATION_REQUESTED, due_date=due,
        recorded_by=route.reviewer,
    )  # fmt: skip


def refer(route: Route, person: Person, follow_up: date | None, status: str) -> None:
    provider, _ = Provider.objects.get_or_create(
        name="Synthetic Safe House", jurisdiction="Marlow County, OH", source="Synthetic"
    )
    Referral.objects.create(
        person=person, provider=provider, consent_recorded=True,
        consent_recorded_by=route.investigator, consent_recorded_at=timezone.now(),
        follow_up_on=follow_up, status=status, created_by=route.investigator,
    )  # fmt: skip


@pytest.fixture
def varied(route: Route) -> list[Person]:
    """Grants and people with every kind of input, some of each state."""
    # Extension pending, an unanswered and an answered information request, open and
    # closed referrals, a possible minor not yet reported, an end (and a revocation).
    a = route.person
    a.minor_identified_at = timezone.now() - timedelta(hours=3)
    a.save()
    grant = add_term(route, a, TODAY - timedelta(days=650), TODAY + timedelta(days=79))
    grant.work_permit_expires_on = TODAY + timedelta(days=40)
    grant.t_visa_status = TVisaStatus.NOT_REFERRED
    grant.save()
    extension = new_request(route, a, kind="extension", status=Status.INFORMATION_REQUESTED)
    ask(route, extension, TODAY + timedelta(days=5))
    answered = new_request(route, a, kind="extension", status=Status.WITHDRAWN)
    ask(route, answered, TODAY - timedelta(days=5))
    refer(route, a, TODAY + timedelta(days=7), "sent")
    refer(route, a, TODAY - timedelta(days=7), "completed")
    refer(route, a, None, "accepted")
    for kind, on in [(EndKind.CIVIL_ACTION_ENDED, TODAY - timedelta(days=3)),
                     (EndKind.REVOKED, TODAY + timedelta(days=3))]:  # fmt: skip
        GrantEnd.objects.create(grant=grant, kind=kind, effective_on=on, reason="Synthetic",
                                recorded_by=route.investigator)  # fmt: skip
    # An extended grant: two terms, the reference from the first; T visa referred.
    b = new_person(route, minor_identified_at=timezone.now() - timedelta(days=9),
                   hhs_notified_at=timezone.now() - timedelta(days=8))  # fmt: skip
    add_term(route, b, TODAY - timedelta(days=800), TODAY - timedelta(days=71))
    extended = add_term(route, b, TODAY - timedelta(days=70), TODAY + timedelta(days=659),
                        kind="extension")  # fmt: skip
    extended.t_visa_status = TVisaStatus.REFERRED
    extended.save()
    GrantEnd.objects.create(grant=extended, kind=EndKind.NO_LONGER_WITNESS, effective_on=TODAY,
                            reason="Synthetic", recorded_by=route.investigator)  # fmt: skip
    # A long-expired grant with an extension granted (not pending).
    c = new_person(route)
    add_term(route, c, TODAY - timedelta(days=2000), TODAY - timedelta(days=1271))
    new_request(route, c, kind="extension", status=Status.DENIED)
    # A grant with no term recorded (its own reference).
    d = new_person(route)
    Grant.objects.create(person=d)
    # No grant yet: a possible minor reported to HHS, with an information request.
    e = new_person(route, minor_identified_at=timezone.now() - timedelta(days=2),
                   hhs_notified_at=timezone.now() - timedelta(days=1))  # fmt: skip
    ask(route, new_request(route, e, status=Status.INFORMATION_REQUESTED), TODAY + timedelta(2))
    refer(route, e, TODAY + timedelta(days=200), "sent")
    # No grant, no request, a possible minor not reported, a closed referral.
    f = new_person(route, minor_identified_at=timezone.now() - timedelta(days=1))
    refer(route, f, TODAY - timedelta(days=1), "declined")
    # Nothing at all.
    g = new_person(route)
    return [a, b, c, d, e, f, g]


def test_batched_inputs_are_the_per_grant_inputs(route: Route, varied: list[Person]) -> None:
    grants = Grant.objects.all()
    assert grants.count() == 4
    batched = dict(services.grant_inputs(grants))
    for grant in grants.select_related("person__case__agency"):
        assert batched[grant.pk] == inputs_for(grant), grant
    people = Person.objects.filter(grant__isnull=True)
    assert people.count() == 3
    batched_people = dict(services.people_inputs(people))
    for person in people.select_related("case__agency"):
        assert batched_people[person.pk] == person_inputs(person), person
    inputs = batched[Grant.objects.get(person=route.person).pk]
    assert inputs.extension_requested_on is not None
    assert len(inputs.information_requests) == 2
    assert sorted(answered for _, answered in inputs.information_requests) == [False, True]
    assert len(inputs.referrals) == 3
    assert inputs.case_or_civil_action_ended_on == TODAY - timedelta(days=3)  # not the revocation


def test_the_window_keeps_what_compute_says_and_puts_overdue_first(
    route: Route, varied: list[Person]
) -> None:
    now = timezone.now()
    grants, people = Grant.objects.all(), Person.objects.all()
    everything = services.deadlines(grants, people, now=now)
    for days in services.WINDOWS:
        until = now + timedelta(days=days)
        for done in (False, True):
            found = services.due_within(grants, people, days, include_done=done, now=now)
            expected = [row for row in everything if row.deadline.due <= until
                        and (done or row.deadline.status != "done")]  # fmt: skip
            assert sorted(found.rows, key=repr) == sorted(expected, key=repr), (days, done)
            statuses = [row.deadline.status for row in found.rows]
            assert found.overdue == statuses.count("overdue")
            assert statuses == sorted(statuses, key=lambda status: status != "overdue")
    short = services.due_within(grants, people, 30, now=now)
    kinds = {row.deadline.kind for row in short.rows}
    assert "term_end" in kinds  # the grant that expired years ago: overdue, still shown
    assert "referral_follow_up" in kinds
    assert not any(row.deadline.due > now + timedelta(days=30) for row in short.rows)
    assert all(row.deadline.status != "done" for row in short.rows)
    longer = services.due_within(grants, people, 365, include_done=True, now=now)
    assert any(row.deadline.status == "done" for row in longer.rows)
    assert len(longer.rows) > len(short.rows)


def test_the_pre_filter_leaves_out_what_cannot_be_due(route: Route, varied: list[Person]) -> None:
    far = new_person(route)
    add_term(route, far, TODAY, TODAY + timedelta(days=729))
    until = timezone.now() + timedelta(days=30)
    grants, people = services.could_be_due(
        Grant.objects.all(), Person.objects.filter(grant__isnull=True), until, include_done=False
    )
    assert not grants.filter(person=far).exists()
    assert set(people) == {varied[4], varied[5]}  # an open request, an unreported minor
    assert grants.filter(person=route.person).exists()


def add_grants(route: Route, count: int) -> None:
    for _ in range(count):
        person = new_person(route)
        add_term(route, person, TODAY - timedelta(days=700), TODAY + timedelta(days=29))
        ask(route, new_request(route, person, kind="extension",
                               status=Status.INFORMATION_REQUESTED), TODAY)  # fmt: skip
        refer(route, person, TODAY, "sent")


def page_queries(user: User, query: str) -> int:
    client = signed_in(Client(), user)
    client.get(reverse("grants:due_soon") + query)  # warm the session and caches
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("grants:due_soon") + query).status_code == 200
    return len(queries)


@pytest.mark.parametrize("query", ["", "?scope=all&show=all&within=365"])
def test_the_page_costs_the_same_queries_for_3_and_for_30_grants(route: Route, query: str) -> None:
    add_grants(route, 3)
    few = page_queries(route.investigator, query)
    add_grants(route, 27)
    assert page_queries(route.investigator, query) == few
    assert page_queries(route.supervisor, "?scope=all") == page_queries(
        route.supervisor, "?scope=all&within=30"
    )


def test_everything_at_my_agency_is_the_users_own_agencies_cases(route: Route) -> None:
    grant = add_term(route, route.person, TODAY - timedelta(days=700), TODAY + timedelta(days=29))
    link = reverse("grants:grant", args=[grant.pk])
    route.cp.status, route.cp.submitted_at = Status.SUBMITTED, timezone.now()
    route.cp.routed_to_sponsor_at = timezone.now()
    route.cp.save()

    def page(user: User, scope: str) -> str:
        client = signed_in(Client(), user)
        return client.get(reverse("grants:due_soon") + f"?scope={scope}").content.decode()

    assert link in page(route.investigator, "all")
    assert link in page(route.investigator, "mine")
    assert link in page(route.supervisor, "all")
    assert link not in page(route.supervisor, "mine")  # not on the case team
    assert link not in page(route.teammate, "all")  # same agency, not allowed to see the case
    for routed in (route.reviewer, route.sponsor):  # the case is routed to them: queues only
        assert link not in page(routed, "all")
        assert "Nothing overdue and nothing due within 120 days." in page(routed, "all")
    assert link not in page(route.outsider, "all")
    # A sponsor's own office's case is theirs.
    own = Case.objects.create(
        agency=route.hsi, case_number="HSI-1", lead_investigator=route.sponsor
    )
    CaseMember.objects.create(case=own, user=route.sponsor)
    minor = new_person(route, case=own, minor_identified_at=timezone.now())
    assert reverse("cases:person", args=[minor.pk]) in page(route.sponsor, "all")


@pytest.mark.parametrize("within", ["", "7", "abc", "-30", "120.0", "99999999999999999999"])
def test_an_unknown_window_falls_back_to_120_days(route: Route, within: str) -> None:
    add_term(route, route.person, TODAY - timedelta(days=700), TODAY + timedelta(days=100))
    client = signed_in(Client(), route.investigator)
    response = client.get(reverse("grants:due_soon") + f"?within={within}")
    assert response.status_code == 200
    page = response.content.decode()
    assert '<option value="120" selected>' in page
    assert "overdue or due within 120 days" in page
    assert "CP term ends" in page
    short = client.get(reverse("grants:due_soon") + "?within=30").content.decode()
    assert '<option value="30" selected>' in short
    assert "CP term ends" not in short
    assert "Request a CP extension" in short  # the window opened ten days ago: overdue


def test_overdue_first_counted_and_pages_of_50(route: Route) -> None:
    for _ in range(26):  # 52 rows: term ends (overdue) and extension windows
        person = new_person(route)
        add_term(route, person, TODAY - timedelta(days=900), TODAY - timedelta(days=171))
    soon = new_person(route)
    add_term(route, soon, TODAY - timedelta(days=700), TODAY + timedelta(days=29))
    client = signed_in(Client(), route.investigator)
    first = client.get(reverse("grants:due_soon")).content.decode()
    assert "54 deadlines overdue or due within 120 days" in first
    assert "53 deadlines are overdue; they are listed first." in first
    assert "Page 1 of 2" in first
    assert "scope=mine&amp;within=120&amp;show=open&amp;page=2" in first
    assert ">upcoming<" not in first
    second = client.get(reverse("grants:due_soon") + "?page=2").content.decode()
    assert ">upcoming<" in second  # the only one not overdue comes last
    assert "Page 2 of 2" in second
