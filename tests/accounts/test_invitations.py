from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cpnav.accounts.models import Agency, Invitation, Membership, Role, User
from cpnav.accounts.views import NOTICE_ACCEPTED
from cpnav.audit.models import AuditEvent
from tests.conftest import PASSWORD, signed_in

pytestmark = pytest.mark.django_db


def send_invitation(client: Client, agency: Agency, **data: Any) -> Any:
    payload: dict[str, Any] = {
        "full_name": "Pat Newman",
        "email": "pat@a.example",
        "roles": [Role.INVESTIGATOR],
    }
    payload.update(data)
    return client.post(reverse("accounts:invite", args=[agency.pk]), payload)


def link_from_mail() -> str:
    match = re.search(r"http://\S+/accounts/invitations/(\S+)/", str(mail.outbox[-1].body))
    assert match is not None
    return f"/accounts/invitations/{match.group(1)}/"


def test_admin_invites_and_the_person_joins(
    client: Client, owner: User, agency_a: Agency, django_capture_on_commit_callbacks: object
) -> None:
    signed_in(client, owner)
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        response = send_invitation(client, agency_a)
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["pat@a.example"]
    invitation = Invitation.objects.get()
    # Only a hash of the token is stored.
    assert invitation.token_hash not in mail.outbox[0].body
    link = link_from_mail()
    newcomer = Client()
    page = newcomer.get(link)
    assert page.status_code == 200
    assert b"Agency A County Sheriff" in page.content
    response = newcomer.post(
        link, {"full_name": "Pat Newman", "password": PASSWORD, "confirm": PASSWORD}
    )
    assert response["Location"] == reverse("accounts:mfa_setup")
    user = User.objects.get(email="pat@a.example")
    assert set(user.memberships.values_list("role", flat=True)) == {Role.INVESTIGATOR}
    assert AuditEvent.objects.filter(action="invitation.accepted", actor_id=user.pk).exists()
    # The link works once.
    again = Client().get(link)
    assert again.status_code == 404
    assert b"does not work" in again.content


def test_expired_invitation_is_refused(
    client: Client, owner: User, agency_a: Agency, django_capture_on_commit_callbacks: object
) -> None:
    signed_in(client, owner)
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        send_invitation(client, agency_a)
    Invitation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = Client().get(link_from_mail())
    assert response.status_code == 404
    assert AuditEvent.objects.filter(action="invitation.refused").exists()


def test_unknown_token_is_refused() -> None:
    response = Client().get("/accounts/invitations/not-a-real-token/")
    assert response.status_code == 404


def test_weak_password_is_explained_and_nothing_is_created(
    client: Client, owner: User, agency_a: Agency, django_capture_on_commit_callbacks: object
) -> None:
    signed_in(client, owner)
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        send_invitation(client, agency_a)
    link = link_from_mail()
    newcomer = Client()
    for weak, message in [
        ("short pass", b"too short"),
        ("1q2w3e4r5t6y7u8i", b"too common"),
    ]:
        response = newcomer.post(
            link, {"full_name": "Pat Newman", "password": weak, "confirm": weak}
        )
        assert response.status_code == 200
        assert message in response.content
        assert b'value="Pat Newman"' in response.content
    mismatch = newcomer.post(
        link, {"full_name": "Pat", "password": PASSWORD, "confirm": PASSWORD + "x"}
    )
    assert b"do not match" in mismatch.content
    assert not User.objects.filter(email="pat@a.example").exists()
    assert Invitation.objects.get().is_open


def test_revoked_invitation_stops_working(
    client: Client, owner: User, agency_a: Agency, django_capture_on_commit_callbacks: object
) -> None:
    signed_in(client, owner)
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        send_invitation(client, agency_a)
    invitation = Invitation.objects.get()
    client.post(reverse("accounts:revoke_invitation", args=[agency_a.pk, invitation.pk]))
    assert Client().get(link_from_mail()).status_code == 404


def test_existing_user_must_be_signed_in_as_the_invitee(
    client: Client,
    owner: User,
    outsider: User,
    agency_a: Agency,
    django_capture_on_commit_callbacks: object,
) -> None:
    signed_in(client, owner)
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        send_invitation(client, agency_a, email=outsider.email)
    link = link_from_mail()
    stranger = signed_in(Client(), owner)
    response = stranger.post(link)
    assert b"Sign in as outsider@b.example first" in response.content
    invitee = signed_in(Client(), outsider)
    invitee.post(link)
    assert Membership.objects.filter(user=outsider, agency=agency_a).exists()


def test_role_not_available_at_the_agency_is_refused(
    client: Client, owner: User, agency_a: Agency
) -> None:
    signed_in(client, owner)
    response = send_invitation(client, agency_a, roles=[Role.CCHT_REVIEWER])
    assert response.status_code == 200
    assert b"Select a valid choice" in response.content
    assert not Invitation.objects.exists()


def test_already_a_member_is_refused(
    client: Client, owner: User, teammate: User, agency_a: Agency
) -> None:
    signed_in(client, owner)
    response = send_invitation(client, agency_a, email=teammate.email)
    assert b"already a member" in response.content


def test_the_newcomer_sees_and_acknowledges_the_system_use_notice(
    client: Client, owner: User, agency_a: Agency, django_capture_on_commit_callbacks: object
) -> None:
    """CJIS AC-8: the notice is on the page, and accepting is the acknowledgement."""
    signed_in(client, owner)
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        send_invitation(client, agency_a)
    link = link_from_mail()
    newcomer = Client()
    page = newcomer.get(link)
    for text in [b"System use notice", b"monitored, recorded and audited", b"consent"]:
        assert text in page.content
    assert b'aria-describedby="notice-consent"' in page.content
    assert b"you have read the system use notice above and agree to it" in page.content
    # Looking is not acknowledging; neither is a refused attempt.
    assert NOTICE_ACCEPTED not in newcomer.session
    newcomer.post(link, {"full_name": "Pat Newman", "password": "short", "confirm": "short"})
    assert NOTICE_ACCEPTED not in newcomer.session
    assert not AuditEvent.objects.filter(action="notice.acknowledged").exists()

    newcomer.post(link, {"full_name": "Pat Newman", "password": PASSWORD, "confirm": PASSWORD})
    assert newcomer.session[NOTICE_ACCEPTED] is True
    user = User.objects.get(email="pat@a.example")
    event = AuditEvent.objects.get(action="notice.acknowledged")
    assert (event.actor_id, event.agency_id, event.details) == (
        user.pk,
        agency_a.pk,
        {"via": "invitation"},
    )


def test_the_notice_on_the_invitation_page_is_in_spanish_too(
    client: Client, owner: User, agency_a: Agency, django_capture_on_commit_callbacks: object
) -> None:
    signed_in(client, owner)
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        send_invitation(client, agency_a)
    newcomer = Client()
    newcomer.post(reverse("set_language"), {"language": "es", "next": "/"})
    page = newcomer.get(link_from_mail())
    assert b"Aviso sobre el uso del sistema" in page.content
    assert "Aceptar la invitación".encode() in page.content
    assert b"you have read the system use notice" not in page.content
