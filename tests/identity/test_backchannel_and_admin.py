"""Back-channel logout ends the person's sessions at their next request; system
administrators configure providers and run a test sign-in that changes nothing."""

from __future__ import annotations

import pytest
from django.test import Client

from cpnav.accounts.models import Agency, Role, User
from cpnav.audit.models import AuditEvent, Outcome
from cpnav.identity.models import ExternalIdentity, IdentityProvider, ProviderKind
from tests.conftest import MakeUser, signed_in
from tests.identity.conftest import CLIENT_ID, Flow
from tests.identity.oidc_provider import BACKCHANNEL_EVENT, LoopbackOP, OPUser

LOGOUT = "/identity/test-op/backchannel-logout/"


@pytest.fixture
def dana(make_user: MakeUser, agency_a: Agency, provider: IdentityProvider) -> User:
    user = make_user("dana@a.example", agency_a, (Role.INVESTIGATOR,))
    ExternalIdentity.objects.create(provider=provider, subject="sub-dana", user=user)
    return user


def _signed_in_through(flow: Flow, op_user: OPUser) -> None:
    assert flow.sign_in(op_user.sub)["Location"] == "/"
    assert flow.client.get("/accounts/me/").status_code == 200


def test_a_logout_token_ends_the_session_at_the_next_request(
    flow: Flow, op: LoopbackOP, op_user: OPUser, dana: User
) -> None:
    _signed_in_through(flow, op_user)
    response = Client().post(LOGOUT, {"logout_token": op.logout_token(CLIENT_ID, "sub-dana")})
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    assert flow.client.get("/accounts/me/").status_code == 302  # to sign-in
    assert AuditEvent.objects.filter(action="account.sessions_ended").exists()
    assert AuditEvent.objects.get(action="identity.backchannel_logout").details["known"]


def test_a_logout_token_naming_only_the_session_id(
    flow: Flow, op: LoopbackOP, op_user: OPUser, dana: User
) -> None:
    _signed_in_through(flow, op_user)
    token = op.logout_token(CLIENT_ID, None, sid="sid-sub-dana")
    assert Client().post(LOGOUT, {"logout_token": token}).status_code == 200
    assert flow.client.get("/accounts/me/").status_code == 302


BAD_TOKENS = [
    ("replayed", {}, "replay"),
    ("with a nonce", {"nonce": "n"}, "nonce"),
    ("for another client", {"aud": "someone-else"}, "audience"),
    ("from another issuer", {"iss": "https://other.example.invalid"}, "issuer"),
    ("without the event", {"events": {"other": {}}}, "malformed"),
    ("without jti", {"jti": None}, "malformed"),
    ("too old", {"iat": 1_000_000}, "expired"),
]


@pytest.mark.parametrize(
    ("what", "overrides", "reason"), BAD_TOKENS, ids=[b[0] for b in BAD_TOKENS]
)
def test_a_bad_logout_token_is_refused(
    flow: Flow, op: LoopbackOP, op_user: OPUser, dana: User,
    what: str, overrides: dict[str, object], reason: str,
) -> None:  # fmt: skip
    _signed_in_through(flow, op_user)
    if what == "replayed":
        token = op.logout_token(CLIENT_ID, "sub-nobody")
        assert Client().post(LOGOUT, {"logout_token": token}).status_code == 200
    else:
        token = op.logout_token(CLIENT_ID, "sub-dana", **overrides)
    response = Client().post(LOGOUT, {"logout_token": token})
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_request"}
    event = AuditEvent.objects.filter(action="identity.backchannel_logout").latest("seq")
    assert event.outcome == Outcome.FAILURE
    assert event.details["reason"] == reason
    assert flow.client.get("/accounts/me/").status_code == 200


def test_a_forged_logout_token_is_refused(
    flow: Flow, op: LoopbackOP, op_user: OPUser, dana: User
) -> None:
    _signed_in_through(flow, op_user)
    op.misbehave.add("forged_signature")
    response = Client().post(LOGOUT, {"logout_token": op.logout_token(CLIENT_ID, "sub-dana")})
    assert response.status_code == 400
    assert flow.client.get("/accounts/me/").status_code == 200
    assert BACKCHANNEL_EVENT  # the event the valid tokens carry


# --- Administration ------------------------------------------------------------------


@pytest.fixture
def sysadmin(make_user: MakeUser) -> User:
    return make_user("sysadmin@example.org", is_staff=True, is_superuser=True)


def test_only_system_administrators_reach_the_provider_pages(
    provider: IdentityProvider, owner: User, sysadmin: User
) -> None:
    for path in ["/identity/admin/providers/", "/identity/admin/providers/new/",
                 "/identity/admin/providers/test-op/"]:  # fmt: skip
        assert signed_in(Client(), owner).get(path).status_code == 404
        assert signed_in(Client(), sysadmin).get(path).status_code == 200
        assert Client().get(path).status_code == 302


def test_a_provider_is_created_audited_and_shows_what_to_give_the_provider(
    sysadmin: User, agency_a: Agency, settings: object
) -> None:
    admin = signed_in(Client(), sysadmin)
    data = {
        "name": "Login.gov", "slug": "login-gov", "kind": "oidc", "agencies": [str(agency_a.pk)],
        "issuer": "https://idp.int.identitysandbox.gov/", "client_id": "urn:gov:gsa:openidconnect.profiles:sp:sso:agency:cpnav",
        "scopes": "openid email", "acr_values": "urn:acr.login.gov:auth-only",
        "mfa_amr_values": "mfa",
    }  # fmt: skip
    response = admin.post("/identity/admin/providers/new/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    made = IdentityProvider.objects.get(slug="login-gov")
    assert made.client_private_jwk
    assert not made.enabled
    page = admin.get("/identity/admin/providers/login-gov/").content.decode()
    assert "/identity/login-gov/callback/" in page
    assert "/identity/login-gov/jwks.json" in page
    assert "/identity/login-gov/start/?test=1" in page
    assert AuditEvent.objects.filter(action="identity.provider_created").exists()
    response = admin.post("/identity/admin/providers/login-gov/", {**data, "enabled": "on"})
    assert response.status_code == 302
    assert AuditEvent.objects.filter(action="identity.provider_enabled").exists()
    assert IdentityProvider.objects.get(slug="login-gov").enabled


@pytest.mark.parametrize(("field", "value", "error"), [
    ("issuer", "http://idp.example.org/", "https"),
    ("scopes", "email profile", "openid"),
    ("slug", "admin", "taken"),
    ("attribute_map", "{not json", "not valid JSON"),
    ("attribute_map", '{"roles": "memberOf"}', "Unknown keys"),
])  # fmt: skip
def test_bad_provider_settings_are_refused(
    sysadmin: User, field: str, value: str, error: str
) -> None:
    data = {"name": "P", "slug": "p", "kind": "oidc", "issuer": "https://idp.example.org/",
            "client_id": "c", "scopes": "openid", field: value}  # fmt: skip
    response = signed_in(Client(), sysadmin).post("/identity/admin/providers/new/", data)
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not IdentityProvider.objects.filter(kind=ProviderKind.OIDC, slug="p").exists()


def test_the_test_sign_in_shows_the_claims_and_changes_nothing(
    op: LoopbackOP, provider: IdentityProvider, sysadmin: User, owner: User, agency_a: Agency
) -> None:
    from tests.identity.test_provisioning import _invite

    provider.enabled = False
    provider.save()
    op.add_user(OPUser("sub-new", "dana@a.example", "Dana Example", extra={"ori": "OH0000001"}))
    _invite(agency_a, owner, "dana@a.example", [Role.INVESTIGATOR])
    flow = Flow(signed_in(Client(), sysadmin), op)
    response = flow.sign_in("sub-new", "?test=1")
    text = response.content.decode()
    assert response.status_code == 200
    assert "it worked" in text
    assert "dana@a.example" in text
    assert "OH0000001" in text
    assert "urn:example:aal2" in text
    assert "invitation for dana@a.example to Agency A County Sheriff would be accepted" in text
    assert not User.objects.filter(email="dana@a.example").exists()
    assert not ExternalIdentity.objects.exists()
    assert flow.client.session["_auth_user_id"] == str(sysadmin.pk)
    assert AuditEvent.objects.filter(action="identity.test_signin").exists()


def test_the_test_sign_in_is_for_system_administrators_only(
    flow: Flow, provider: IdentityProvider, owner: User
) -> None:
    assert flow.client.get("/identity/test-op/start/?test=1").status_code == 404
    assert signed_in(Client(), owner).get("/identity/test-op/start/?test=1").status_code == 404
