"""Agency administrators manage their own members only (owner / teammate / outsider)."""

from __future__ import annotations

import uuid

import pytest
from django.test import Client
from django.urls import reverse

from cpnav.accounts.models import Agency, Membership, Role, User
from cpnav.audit.models import AuditEvent
from tests.conftest import signed_in

pytestmark = pytest.mark.django_db


def admin_urls(agency: Agency, member: User) -> list[str]:
    return [
        reverse("accounts:members", args=[agency.pk]),
        reverse("accounts:invite", args=[agency.pk]),
        reverse("accounts:member", args=[agency.pk, member.pk]),
    ]


def test_owner_sees_their_members(
    client: Client, owner: User, teammate: User, agency_a: Agency
) -> None:
    signed_in(client, owner)
    for url in admin_urls(agency_a, teammate):
        assert client.get(url).status_code == 200
    page = client.get(reverse("accounts:members", args=[agency_a.pk]))
    assert teammate.email.encode() in page.content


@pytest.mark.parametrize("persona", ["teammate", "outsider"])
def test_others_get_404_and_the_refusal_is_logged(
    client: Client, persona: str, owner: User, teammate: User, outsider: User, agency_a: Agency
) -> None:
    signed_in(client, {"teammate": teammate, "outsider": outsider}[persona])
    for url in admin_urls(agency_a, teammate):
        assert client.get(url).status_code == 404
    for action in ["disable", "unlock", "end-sessions", "enable"]:
        url = reverse("accounts:member_action", args=[agency_a.pk, teammate.pk, action])
        assert client.post(url).status_code == 404
    teammate.refresh_from_db()
    assert teammate.is_active
    assert AuditEvent.objects.filter(action="access.denied", outcome="denied").count() >= 7


def test_unknown_uuids_get_404(client: Client, owner: User, agency_a: Agency) -> None:
    signed_in(client, owner)
    assert client.get(reverse("accounts:members", args=[uuid.uuid4()])).status_code == 404
    url = reverse("accounts:member", args=[agency_a.pk, uuid.uuid4()])
    assert client.get(url).status_code == 404
    assert client.get("/agencies/not-a-uuid/members/").status_code == 404


def test_member_of_another_agency_is_not_reachable_through_mine(
    client: Client, owner: User, outsider: User, agency_a: Agency
) -> None:
    signed_in(client, owner)
    assert (
        client.get(reverse("accounts:member", args=[agency_a.pk, outsider.pk])).status_code == 404
    )


def test_roles_change_is_audited(
    client: Client, owner: User, teammate: User, agency_a: Agency
) -> None:
    signed_in(client, owner)
    url = reverse("accounts:member", args=[agency_a.pk, teammate.pk])
    client.post(url, {"roles": [Role.SUPERVISOR, Role.INVESTIGATOR]})
    assert set(teammate.memberships.values_list("role", flat=True)) == {
        Role.SUPERVISOR,
        Role.INVESTIGATOR,
    }
    event = AuditEvent.objects.get(action="membership.role_added")
    assert event.details == {"role": Role.SUPERVISOR}
    assert event.actor_id == owner.pk


def test_last_admin_cannot_be_removed(client: Client, owner: User, agency_a: Agency) -> None:
    signed_in(client, owner)
    url = reverse("accounts:member", args=[agency_a.pk, owner.pk])
    response = client.post(url, {"roles": [Role.INVESTIGATOR]})
    assert b"at least one active administrator" in response.content
    assert Membership.objects.filter(user=owner, role=Role.AGENCY_ADMIN).exists()


def test_disabling_ends_the_members_sessions(
    client: Client, owner: User, teammate: User, agency_a: Agency
) -> None:
    victim_session = signed_in(Client(), teammate)
    assert victim_session.get(reverse("accounts:account")).status_code == 200
    signed_in(client, owner)
    client.post(reverse("accounts:member_action", args=[agency_a.pk, teammate.pk, "disable"]))
    assert victim_session.get(reverse("accounts:account")).status_code == 302
    teammate.refresh_from_db()
    assert not teammate.is_active


def test_admin_ends_a_members_sessions(
    client: Client, owner: User, teammate: User, agency_a: Agency
) -> None:
    other = signed_in(Client(), teammate)
    signed_in(client, owner)
    client.post(reverse("accounts:member_action", args=[agency_a.pk, teammate.pk, "end-sessions"]))
    assert other.get(reverse("accounts:account")).status_code == 302
    teammate.refresh_from_db()
    assert teammate.is_active


def test_admin_cannot_disable_themselves(client: Client, owner: User, agency_a: Agency) -> None:
    signed_in(client, owner)
    client.post(reverse("accounts:member_action", args=[agency_a.pk, owner.pk, "disable"]))
    owner.refresh_from_db()
    assert owner.is_active


def test_unknown_action_is_404(
    client: Client, owner: User, teammate: User, agency_a: Agency
) -> None:
    signed_in(client, owner)
    url = reverse("accounts:member_action", args=[agency_a.pk, teammate.pk, "promote"])
    assert client.post(url).status_code == 404


def test_system_admin_reaches_django_admin_and_others_do_not(
    client: Client, make_user: object, owner: User
) -> None:
    sysadmin = make_user("root@sys.example", is_staff=True, is_superuser=True)  # type: ignore[operator]
    signed_in(client, owner)
    assert client.get("/admin/").status_code in {302, 403}
    assert client.get("/admin/login/").status_code == 403
    anonymous = Client().get("/admin/")
    assert anonymous.status_code == 302
    signed_in(client, sysadmin)
    assert client.get("/admin/").status_code == 200


def test_changes_in_django_admin_are_audited(
    client: Client, make_user: object, teammate: User
) -> None:
    sysadmin = make_user("root2@sys.example", is_staff=True, is_superuser=True)  # type: ignore[operator]
    signed_in(client, sysadmin)
    response = client.get(f"/admin/accounts/user/{teammate.pk}/change/")
    assert response.status_code == 200
    agency = Agency.objects.create(name="Audited Agency", level="local", state="TX")
    url = f"/admin/accounts/agency/{agency.pk}/change/"
    form = client.get(url)
    assert form.status_code == 200
    client.post(
        url,
        {
            "name": "Renamed Agency",
            "level": "local",
            "state": "TX",
            "ori": "",
            "time_zone": "America/Chicago",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
            "memberships-MIN_NUM_FORMS": "0",
            "memberships-MAX_NUM_FORMS": "1000",
        },
    )
    agency.refresh_from_db()
    assert agency.name == "Renamed Agency"
    event = AuditEvent.objects.get(action="admin.change", object_id=str(agency.pk))
    assert set(event.details["fields"]) == {"name", "time_zone"}
    assert event.actor_id == sysadmin.pk
