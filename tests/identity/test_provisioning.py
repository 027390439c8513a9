"""First sign-ins: matched to an invitation or held for an agency administrator,
never a role from an attribute; administrators decide within their own agency."""

from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from cpnav.accounts.models import Agency, Invitation, Membership, Role, User
from cpnav.audit.models import AuditEvent
from cpnav.identity.models import AccessRequest, AccessStatus, ExternalIdentity, IdentityProvider
from tests.conftest import signed_in
from tests.identity.conftest import Flow
from tests.identity.oidc_provider import LoopbackOP, OPUser


def _invite(agency: Agency, by: User, email: str, roles: list[str]) -> str:
    token = secrets.token_urlsafe(32)
    Invitation.objects.create(
        agency=agency, email=email, full_name="Dana Example", roles=roles,
        token_hash=Invitation.hash_token(token), created_by=by,
        expires_at=timezone.now() + timedelta(hours=72),
    )  # fmt: skip
    return token


def test_the_invitation_link_accepts_and_links(
    flow: Flow, op: LoopbackOP, owner: User, agency_a: Agency
) -> None:
    # The provider's address differs from the invited one: the link proves the mailbox.
    op.add_user(OPUser("sub-new", "personal@example.org", "Dana Example"))
    token = _invite(agency_a, owner, "dana@a.example", [Role.INVESTIGATOR])
    response = flow.sign_in("sub-new", f"?invitation={token}")
    user = User.objects.get(email="dana@a.example")
    assert not user.has_usable_password()
    assert ExternalIdentity.objects.get(subject="sub-new").user == user
    assert set(Membership.objects.filter(user=user).values_list("role", flat=True)) == {
        Role.INVESTIGATOR
    }
    assert response["Location"] == "/"  # multi-factor asserted by the provider
    assert AuditEvent.objects.filter(action="invitation.accepted").exists()
    assert AuditEvent.objects.filter(action="identity.linked").exists()


def test_a_wrong_invitation_token_is_refused(flow: Flow) -> None:
    response = flow.client.get("/identity/test-op/start/?invitation=made-up")
    assert response.status_code == 404
    assert "cannot be accepted" in response.content.decode()


def test_an_invitation_of_an_agency_the_provider_does_not_serve_is_refused(
    flow: Flow, outsider: User, agency_b: Agency
) -> None:
    token = _invite(agency_b, outsider, "dana@b.example", [Role.INVESTIGATOR])
    assert flow.client.get(f"/identity/test-op/start/?invitation={token}").status_code == 404


def test_one_open_invitation_for_the_verified_email_is_accepted(
    flow: Flow, op: LoopbackOP, owner: User, agency_a: Agency
) -> None:
    op.add_user(OPUser("sub-new", "dana@a.example", "Dana Example"))
    _invite(agency_a, owner, "dana@a.example", [Role.SUPERVISOR])
    flow.sign_in("sub-new")
    user = User.objects.get(email="dana@a.example")
    assert Membership.objects.filter(user=user, role=Role.SUPERVISOR).exists()


def test_an_unverified_email_matches_no_invitation(
    flow: Flow, op: LoopbackOP, owner: User, agency_a: Agency
) -> None:
    op.add_user(OPUser("sub-new", "dana@a.example", "Dana Example", email_verified=False))
    _invite(agency_a, owner, "dana@a.example", [Role.SUPERVISOR])
    response = flow.sign_in("sub-new")
    assert "waits for your agency administrator" in response.content.decode()
    assert not User.objects.filter(email="dana@a.example").exists()
    assert AccessRequest.objects.get(subject="sub-new").agency == agency_a


def test_an_existing_account_is_never_linked_silently(
    flow: Flow, op: LoopbackOP, teammate: User
) -> None:
    op.add_user(OPUser("sub-tm", teammate.email, "Teammate"))
    response = flow.sign_in("sub-tm")
    assert "waits for your agency administrator" in response.content.decode()
    assert not ExternalIdentity.objects.exists()
    assert "_auth_user_id" not in flow.client.session
    assert AccessRequest.objects.get(subject="sub-tm").status == AccessStatus.PENDING


def test_no_role_comes_from_an_attribute(
    flow: Flow, op: LoopbackOP, provider: IdentityProvider, agency_a: Agency, agency_b: Agency
) -> None:
    agency_b.ori = "OR0000001"
    agency_b.save()
    provider.agencies.add(agency_b)
    op.add_user(OPUser("sub-new", "new@b.example", "New Person",
                       extra={"ori": "OR0000001", "roles": "agency_admin"}))  # fmt: skip
    response = flow.sign_in("sub-new")
    assert response.status_code == 200
    held = AccessRequest.objects.get(subject="sub-new")
    assert held.agency == agency_b
    assert held.attributes["ori"] == "OR0000001"
    assert not Membership.objects.filter(user__email="new@b.example").exists()
    # Signing in again while it waits makes no second request.
    flow.accept_notice()
    flow.sign_in("sub-new")
    assert AccessRequest.objects.filter(subject="sub-new").count() == 1


def test_approval_makes_the_account_and_the_next_sign_in_works(
    flow: Flow, op: LoopbackOP, owner: User, agency_a: Agency
) -> None:
    op.add_user(OPUser("sub-new", "new@a.example", "New Person"))
    flow.sign_in("sub-new")
    held = AccessRequest.objects.get(subject="sub-new")
    admin = signed_in(Client(), owner)
    listing = admin.get(f"/identity/agencies/{agency_a.pk}/access-requests/")
    assert "new@a.example" in listing.content.decode()
    url = f"/identity/agencies/{agency_a.pk}/access-requests/{held.pk}/"
    assert admin.post(url, {"decision": "approve"}).status_code == 200  # roles required
    response = admin.post(url, {"decision": "approve", "roles": [Role.INVESTIGATOR]})
    assert response.status_code == 302
    held.refresh_from_db()
    assert held.status == AccessStatus.APPROVED
    assert held.decided_by == owner
    assert AuditEvent.objects.filter(action="identity.access_approved").exists()
    flow.accept_notice()
    assert flow.sign_in("sub-new")["Location"] == "/"
    assert flow.client.session["_auth_user_id"] == str(User.objects.get(email="new@a.example").pk)


def test_a_role_the_agency_cannot_have_is_refused(
    flow: Flow, op: LoopbackOP, owner: User, agency_a: Agency
) -> None:
    op.add_user(OPUser("sub-new", "new@a.example", "New Person"))
    flow.sign_in("sub-new")
    held = AccessRequest.objects.get(subject="sub-new")
    admin = signed_in(Client(), owner)
    url = f"/identity/agencies/{agency_a.pk}/access-requests/{held.pk}/"
    response = admin.post(url, {"decision": "approve", "roles": [Role.FEDERAL_SPONSOR]})
    assert response.status_code == 200
    assert AccessRequest.objects.get(pk=held.pk).status == AccessStatus.PENDING


def test_refusal_is_recorded_and_the_next_sign_in_explains(
    flow: Flow, op: LoopbackOP, owner: User, agency_a: Agency
) -> None:
    op.add_user(OPUser("sub-new", "new@a.example", "New Person"))
    flow.sign_in("sub-new")
    held = AccessRequest.objects.get(subject="sub-new")
    admin = signed_in(Client(), owner)
    url = f"/identity/agencies/{agency_a.pk}/access-requests/{held.pk}/"
    assert admin.post(url, {"decision": "refuse"}).status_code == 302
    assert AuditEvent.objects.filter(action="identity.access_refused").exists()
    flow.accept_notice()
    response = flow.sign_in("sub-new")
    assert response.status_code == 403
    assert "was refused" in response.content.decode()


def test_approving_an_unverified_address_of_an_existing_account_is_refused(
    flow: Flow, op: LoopbackOP, owner: User, teammate: User, agency_a: Agency
) -> None:
    op.add_user(OPUser("sub-x", teammate.email, "Impostor", email_verified=False))
    flow.sign_in("sub-x")
    held = AccessRequest.objects.get(subject="sub-x")
    admin = signed_in(Client(), owner)
    url = f"/identity/agencies/{agency_a.pk}/access-requests/{held.pk}/"
    response = admin.post(url, {"decision": "approve", "roles": [Role.INVESTIGATOR]})
    assert "did not verify the address" in response.content.decode()
    assert not ExternalIdentity.objects.exists()


@pytest.mark.parametrize("who", ["outsider", "teammate"])
def test_others_cannot_see_or_decide_the_agencys_requests(
    flow: Flow, op: LoopbackOP, agency_a: Agency, outsider: User, teammate: User, who: str
) -> None:
    op.add_user(OPUser("sub-new", "new@a.example", "New Person"))
    flow.sign_in("sub-new")
    held = AccessRequest.objects.get(subject="sub-new")
    other = signed_in(Client(), outsider if who == "outsider" else teammate)
    base = f"/identity/agencies/{agency_a.pk}/access-requests/"
    assert other.get(base).status_code == 404
    assert other.get(f"{base}{held.pk}/").status_code == 404
    assert other.post(f"{base}{held.pk}/", {"decision": "approve",
                                            "roles": [Role.AGENCY_ADMIN]}).status_code == 404  # fmt: skip
    # Nor through their own agency's address.
    if who == "outsider":
        own = f"/identity/agencies/{outsider.memberships.get().agency_id}/access-requests/"
        assert other.get(f"{own}{held.pk}/").status_code == 404
    assert AccessRequest.objects.get(pk=held.pk).status == AccessStatus.PENDING
