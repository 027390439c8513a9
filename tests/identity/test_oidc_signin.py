"""Sign-in through the loopback OpenID Provider, end to end with Django's test client."""

from __future__ import annotations

import pytest

from cpnav.accounts.models import Agency, Role, User
from cpnav.audit.models import AuditEvent
from cpnav.identity.models import ExternalIdentity, IdentityProvider
from tests.conftest import MakeUser
from tests.identity.conftest import Flow
from tests.identity.oidc_provider import LoopbackOP, OPUser


def _link(provider: IdentityProvider, user: User, sub: str = "sub-dana") -> None:
    ExternalIdentity.objects.create(provider=provider, subject=sub, user=user)


@pytest.fixture
def dana(make_user: MakeUser, agency_a: Agency) -> User:
    return make_user("dana@a.example", agency_a, (Role.INVESTIGATOR,))


def test_a_linked_person_with_mfa_asserted_is_signed_in(
    flow: Flow, provider: IdentityProvider, op_user: OPUser, dana: User
) -> None:
    _link(provider, dana)
    response = flow.sign_in(op_user.sub)
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert flow.client.session["_auth_user_id"] == str(dana.pk)
    event = AuditEvent.objects.filter(action="identity.signin").latest("seq")
    assert event.details["provider"] == "test-op"
    assert event.details["acr"] == "urn:example:aal2"
    assert "mfa" in event.details["amr"]
    link = ExternalIdentity.objects.get(provider=provider, subject="sub-dana")
    assert link.last_signin_at is not None
    assert link.last_assurance["amr"] == ["pwd", "mfa"]


def test_without_mfa_asserted_the_local_second_factor_comes_next(
    flow: Flow, provider: IdentityProvider, op: LoopbackOP, dana: User
) -> None:
    op.add_user(OPUser("sub-dana", "dana@a.example", "Dana Example", amr=["pwd"], acr="low"))
    _link(provider, dana)
    response = flow.sign_in("sub-dana")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/signin/verify/"
    assert "_auth_user_id" not in flow.client.session


def test_mfa_from_an_acr_value_the_provider_lists(
    flow: Flow, provider: IdentityProvider, op: LoopbackOP, dana: User
) -> None:
    provider.mfa_acr_values = "urn:example:aal2 urn:example:aal3"
    provider.mfa_amr_values = ""
    provider.save()
    op.add_user(OPUser("sub-dana", "dana@a.example", "Dana Example", amr=[]))
    _link(provider, dana)
    assert flow.sign_in("sub-dana")["Location"] == "/"


def test_the_next_address_survives_the_trip(
    flow: Flow, provider: IdentityProvider, op_user: OPUser, dana: User
) -> None:
    _link(provider, dana)
    assert flow.sign_in(op_user.sub, "?next=/cases/")["Location"] == "/cases/"


def test_another_site_as_next_is_ignored(
    flow: Flow, provider: IdentityProvider, op_user: OPUser, dana: User
) -> None:
    _link(provider, dana)
    assert flow.sign_in(op_user.sub, "?next=https://evil.example.invalid/")["Location"] == "/"


def test_the_notice_comes_first(op: LoopbackOP, provider: IdentityProvider) -> None:
    fresh = Flow(__import__("django.test", fromlist=["Client"]).Client(), op)
    response = fresh.client.get("/identity/test-op/start/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/notice/")


def test_the_authorization_request_uses_pkce_state_nonce_and_acr(
    flow: Flow, provider: IdentityProvider
) -> None:
    provider.acr_values = "http://idmanagement.gov/ns/assurance/ial/1"
    provider.save()
    location = flow.start()
    assert "code_challenge_method=S256" in location
    assert "code_challenge=" in location
    assert "state=" in location
    assert "nonce=" in location
    assert "acr_values=http%3A%2F%2Fidmanagement.gov" in location


def test_a_disabled_provider_cannot_be_used(flow: Flow, provider: IdentityProvider) -> None:
    provider.enabled = False
    provider.save()
    assert flow.client.get("/identity/test-op/start/").status_code == 404


def test_our_public_key_is_published(provider: IdentityProvider, client: object) -> None:
    from django.test import Client

    assert isinstance(client, Client)
    keys = client.get("/identity/test-op/jwks.json").json()["keys"]
    assert len(keys) == 1
    assert keys[0]["kty"] == "RSA"
    assert "d" not in keys[0]
    assert keys[0]["alg"] == "RS256"
    assert keys[0]["kid"]


def test_a_rotated_provider_key_is_fetched_once_more(
    flow: Flow, provider: IdentityProvider, op: LoopbackOP, op_user: OPUser, dana: User
) -> None:
    _link(provider, dana)
    flow.client.get("/identity/test-op/start/")  # caches the discovery document
    op.rotate_key()
    assert flow.sign_in(op_user.sub)["Location"] == "/"


def test_a_deactivated_account_is_refused(
    flow: Flow, provider: IdentityProvider, op_user: OPUser, dana: User
) -> None:
    _link(provider, dana)
    dana.is_active = False
    dana.save()
    response = flow.sign_in(op_user.sub)
    assert response.status_code == 403
    assert "disabled" in response.content.decode()
    assert AuditEvent.objects.filter(
        action="identity.signin_refused", details__reason="disabled"
    ).exists()


def test_a_locked_account_is_refused(
    flow: Flow, provider: IdentityProvider, op_user: OPUser, dana: User
) -> None:
    from django.utils import timezone

    _link(provider, dana)
    dana.locked_at = timezone.now()
    dana.save()
    assert flow.sign_in(op_user.sub).status_code == 403
    assert AuditEvent.objects.filter(details__reason="locked").exists()


def test_a_member_of_another_agency_is_refused(
    flow: Flow, provider: IdentityProvider, op_user: OPUser, make_user: MakeUser,
    agency_b: Agency,
) -> None:  # fmt: skip
    other = make_user("dana@a.example", agency_b, (Role.INVESTIGATOR,))
    _link(provider, other)
    assert flow.sign_in(op_user.sub).status_code == 403
    assert AuditEvent.objects.filter(details__reason="not_member").exists()
