from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse

from cpnav.audit.models import AuditEvent
from cpnav.cases.models import CPRequest, Status
from cpnav.cases.workflow import perform
from cpnav.grants.models import Grant, GrantTerm
from tests.conftest import signed_in
from tests.route import Route

pytestmark = pytest.mark.django_db(transaction=True)


def grant_route(rf: RequestFactory, route: Route, start: date) -> Grant:
    for name, who, data in [
        ("submit_for_approval", route.investigator, {}),
        ("approve", route.supervisor, {}),
        ("endorse", route.sponsor, {}),
        ("grant", route.reviewer, {"start_date": start}),
    ]:
        http = rf.post("/")
        http.user = who
        route.cp = perform(http, route.cp, name, who, **data)
    return Grant.objects.get(person=route.person)


def test_a_grant_records_its_term_and_an_extension_chains_from_its_end(
    rf: RequestFactory, route: Route
) -> None:
    grant = grant_route(rf, route, date(2024, 2, 29))
    first = grant.terms.get()
    assert (first.start, first.end) == (date(2024, 2, 29), date(2026, 2, 27))
    client = signed_in(Client(), route.investigator)
    client.post(reverse("cases:request_new", args=[route.person.pk]), {"kind": "extension"})
    extension = CPRequest.objects.get(kind="extension")
    assert grant.status(date(2025, 6, 1)) == "active"
    # Requested once CCHT has it; on its way through the agency and the sponsor it is not.
    for name, who, then in [
        ("submit_for_approval", route.investigator, "active"),
        ("approve", route.supervisor, "active"),
        ("endorse", route.sponsor, "extension_requested"),
    ]:
        http = rf.post("/")
        http.user = who
        extension = perform(http, extension, name, who)
        assert grant.status(date(2025, 6, 1)) == then, name
    http = rf.post("/")
    http.user = route.reviewer
    extension = perform(http, extension, "grant", route.reviewer)
    second = GrantTerm.objects.get(request=extension)
    assert (second.start, second.end) == (date(2026, 2, 28), date(2028, 2, 27))
    assert grant.status(date(2026, 6, 1)) == "active"
    assert grant.status(date(2028, 3, 1)) == "expired"


def test_due_soon_dashboard_shows_deadlines_with_their_source(
    rf: RequestFactory, route: Route
) -> None:
    start = date.today() - timedelta(days=700)
    grant = grant_route(rf, route, start)
    client = signed_in(Client(), route.investigator)
    page = client.get(reverse("grants:due_soon")).content.decode()
    assert "CPNAV_EXTENSION_LEAD_DAYS" in page
    assert "overdue" in page or "due soon" in page
    assert reverse("grants:grant", args=[grant.pk]) in page
    assert "Ana" not in page  # references, never names
    outsider = signed_in(Client(), route.outsider)
    assert (
        reverse("grants:grant", args=[grant.pk])
        not in outsider.get(reverse("grants:due_soon") + "?scope=all").content.decode()
    )
    assert outsider.get(reverse("grants:grant", args=[grant.pk])).status_code == 404


def test_tracking_and_end_of_protection(rf: RequestFactory, route: Route) -> None:
    grant = grant_route(rf, route, date(2025, 1, 15))
    client = signed_in(Client(), route.investigator)
    url = reverse("grants:grant", args=[grant.pk])
    bad = client.post(url, {"form": "tracking", "t_visa_status": "unknown", "version": "1",
                            "work_permit_received_on": "2025-03-01", "work_permit_expires_on": "2025-01-01"})  # fmt: skip
    assert "expires before" in bad.content.decode()
    future = client.post(url, {"form": "tracking", "t_visa_status": "unknown", "version": "1",
                               "hhs_letter_on": (date.today() + timedelta(days=5)).isoformat()})  # fmt: skip
    assert "in the future" in future.content.decode()
    tracked = {"form": "tracking", "t_visa_status": "referred", "t_visa_referred_on": "2025-02-01",
               "work_permit_received_on": "2025-03-01", "work_permit_expires_on": "2027-01-14"}  # fmt: skip
    client.post(url, {**tracked, "version": str(grant.version)})
    grant.refresh_from_db()
    assert grant.t_visa_status == "referred"
    # A second save from a page opened before the first is refused and keeps what was typed.
    stale = client.post(url, {**tracked, "t_visa_status": "filed", "version": "1"})
    assert "Someone saved this grant" in stale.content.decode()
    assert 'value="2027-01-14"' in stale.content.decode()
    grant.refresh_from_db()
    assert grant.t_visa_status == "referred"
    assert grant.work_permit_expires_on == date(2027, 1, 14)
    missing_reason = client.post(
        url,
        {"form": "end", "kind": "no_longer_witness", "effective_on": "2025-06-01", "reason": " "},
    )
    assert missing_reason.status_code == 200
    response = client.post(url, {"form": "end", "kind": "revoked", "effective_on": "2025-06-01",
                                 "reason": "Synthetic reason"}, follow=True)  # fmt: skip
    assert "never be used as leverage" in response.content.decode()
    assert grant.status(date(2025, 7, 1)) == "revoked"
    assert AuditEvent.objects.filter(action="grant.ended").exists()
    supervisor_of_other = signed_in(Client(), route.sponsor)
    assert supervisor_of_other.post(url, {"form": "end", "kind": "revoked", "effective_on": "2025-06-01",
                                          "reason": "x"}).status_code == 403  # fmt: skip


def test_request_page_links_to_its_grant(rf: RequestFactory, route: Route) -> None:
    grant = grant_route(rf, route, date(2025, 1, 15))
    page = signed_in(Client(), route.investigator).get(reverse("cases:request", args=[route.cp.pk]))
    assert reverse("grants:grant", args=[grant.pk]) in page.content.decode()
    assert CPRequest.objects.get(pk=route.cp.pk).status == Status.GRANTED


def test_a_possible_minor_starts_the_24_hour_hhs_clock_before_any_grant(route: Route) -> None:
    from cpnav.cases.models import Person

    route.county.time_zone = "America/Chicago"
    route.county.save()
    client = signed_in(Client(), route.investigator)
    url = reverse("cases:person_edit", args=[route.person.pk])
    data = {"version": str(route.person.version), "full_name": route.person.full_name,
            "citizenship": "noncitizen", "date_of_birth": "2010-01-01",
            "minor_identified_at": "2026-03-07T22:30"}  # fmt: skip
    assert client.post(url, data).status_code == 302
    person = Person.objects.get(pk=route.person.pk)
    assert person.minor_identified_at is not None
    assert person.minor_identified_at.isoformat().startswith("2026-03-08T04:30")  # 22:30 CST in UTC
    page = client.get(reverse("grants:due_soon")).content.decode()
    assert "7105(b)(1)(G)" in page
    assert "2026-03-08 23:30 CDT" in page  # 24 real hours after 22:30 CST: the clocks moved
    assert reverse("cases:person", args=[person.pk]) in page
    assert "overdue" in page
    data.update({"version": str(person.version), "hhs_notified_at": "2026-03-08T09:00"})
    client.post(url, data)
    done = client.get(reverse("grants:due_soon") + "?show=all").content.decode()
    assert "done" in done
