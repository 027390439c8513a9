"""Need to know: who sees a case, a person and a request, at each point of the route."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone

from cpnav.accounts import access
from cpnav.audit.models import AuditEvent
from cpnav.cases.models import Attachment, Share, Status
from tests.cases.test_workflow import to_state
from tests.conftest import signed_in
from tests.route import Route

pytestmark = pytest.mark.django_db(transaction=True)

PERSONAS = ["investigator", "teammate", "supervisor", "outsider", "sponsor", "other_sponsor",
            "reviewer", "specialist"]  # fmt: skip
SEES: dict[str, set[str]] = {
    Status.DRAFT: {"investigator", "supervisor"},
    Status.AWAITING_SUPERVISOR: {"investigator", "supervisor"},
    Status.AWAITING_SPONSOR: {"investigator", "supervisor", "sponsor"},
    Status.SUBMITTED: {"investigator", "supervisor", "sponsor", "reviewer"},
}


@pytest.mark.parametrize("team_list_max", [access.TEAM_LIST_MAX, 0])
@pytest.mark.parametrize("status", list(SEES))
def test_visibility_follows_the_route(
    rf: RequestFactory, route: Route, status: str, team_list_max: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    # 0: a case team too big to list in the query is read through a subquery instead.
    monkeypatch.setattr(access, "TEAM_LIST_MAX", team_list_max)
    to_state(rf, route, status)
    for persona in PERSONAS:
        user = getattr(route, persona)
        sees_request = access.visible_requests(user).filter(pk=route.cp.pk).exists()
        sees_case = access.visible_cases(user).filter(pk=route.case.pk).exists()
        expected = persona in SEES[status]
        assert sees_request is expected, (persona, status)
        assert sees_case is expected, (persona, status)


def urls(route: Route, attachment_id: uuid.UUID) -> list[tuple[str, str]]:
    return [
        ("get", reverse("cases:case", args=[route.case.pk])),
        ("get", reverse("cases:case_edit", args=[route.case.pk])),
        ("get", reverse("cases:person_new", args=[route.case.pk])),
        ("get", reverse("cases:person", args=[route.person.pk])),
        ("get", reverse("cases:person_edit", args=[route.person.pk])),
        ("post", reverse("cases:request_new", args=[route.person.pk])),
        ("get", reverse("cases:request", args=[route.cp.pk])),
        ("post", reverse("cases:request_facts", args=[route.cp.pk])),
        ("post", reverse("cases:request_transition", args=[route.cp.pk, "submit_for_approval"])),
        ("post", reverse("cases:attachment_upload", args=[route.cp.pk])),
        ("get", reverse("cases:attachment", args=[attachment_id])),
    ]


@pytest.mark.parametrize(
    "persona", ["outsider", "teammate", "other_sponsor", "reviewer", "specialist"]
)
def test_people_outside_need_to_know_get_404_everywhere(route: Route, persona: str) -> None:
    attachment = Attachment.objects.create(
        request=route.cp, relative_path="aa/bb/x", sha256="0" * 64, size=1,
        content_type="application/pdf", original_name="statement.pdf", uploaded_by=route.investigator,
    )  # fmt: skip
    client = signed_in(Client(), getattr(route, persona))
    for method, url in urls(route, attachment.pk):
        response = getattr(client, method)(url)
        assert response.status_code == 404, (persona, url, response.status_code)
    assert AuditEvent.objects.filter(action="access.denied", outcome="denied").count() >= 11


def test_unknown_uuids_are_404(route: Route) -> None:
    client = signed_in(Client(), route.investigator)
    for name in ("cases:case", "cases:person", "cases:request", "cases:attachment"):
        assert client.get(reverse(name, args=[uuid.uuid4()])).status_code == 404


def test_every_view_of_identifying_fields_is_audited(route: Route) -> None:
    client = signed_in(Client(), route.investigator)
    page = client.get(reverse("cases:person", args=[route.person.pk]))
    assert "Ana Synthetic-Testperson" in page.content.decode()
    event = AuditEvent.objects.get(action="person.viewed")
    assert event.actor_id == route.investigator.pk
    assert event.object_id == str(route.person.pk)
    assert "full_name" in event.details["fields"]


def test_a_share_gives_a_redacted_expiring_view(route: Route) -> None:
    share = Share.objects.create(
        person=route.person, grantee=route.specialist, fields=["full_name", "contact"],
        reason="Shelter placement", granted_by=route.investigator,
        expires_at=timezone.now() + timedelta(days=7),
    )  # fmt: skip
    client = signed_in(Client(), route.specialist)
    page = client.get(reverse("cases:person", args=[route.person.pk])).content.decode()
    assert "Ana Synthetic-Testperson" in page
    assert "A012345678" not in page
    assert "[redacted]" in page
    assert client.get(reverse("cases:case", args=[route.case.pk])).status_code == 404
    event = AuditEvent.objects.get(action="person.viewed")
    assert event.details["via_share"] == str(share.pk)
    share.expires_at = timezone.now() - timedelta(seconds=1)
    share.save()
    assert client.get(reverse("cases:person", args=[route.person.pk])).status_code == 404


def test_share_service_rules(rf: RequestFactory, route: Route) -> None:
    from cpnav.cases import services

    http = rf.post("/")
    http.user = route.investigator
    with pytest.raises(services.CaseError, match="victim specialists"):
        services.share_person(http, route.investigator, route.person, route.outsider, ["full_name"],
                              "x", timezone.now() + timedelta(days=1))  # fmt: skip
    with pytest.raises(services.CaseError, match="future"):
        services.share_person(http, route.investigator, route.person, route.specialist, ["full_name"],
                              "x", timezone.now() - timedelta(days=1))  # fmt: skip
    share = services.share_person(http, route.investigator, route.person, route.specialist,
                                  ["full_name"], "Shelter", timezone.now() + timedelta(days=1))  # fmt: skip
    assert AuditEvent.objects.filter(action="person.shared").exists()
    services.revoke_share(http, share)
    assert access.active_share(route.specialist, route.person) is None
