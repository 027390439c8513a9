"""Every forged, misdirected, stale or replayed answer is refused with a clear page
and an audit event naming the reason."""

from __future__ import annotations

import pytest

from cpnav.accounts.models import Agency, Role, User
from cpnav.audit.models import AuditEvent, Outcome
from cpnav.identity.models import ExternalIdentity, IdentityProvider
from cpnav.identity.oidc import FLOWS
from tests.conftest import MakeUser
from tests.identity.conftest import Flow
from tests.identity.oidc_provider import LoopbackOP, OPUser


@pytest.fixture
def dana(make_user: MakeUser, agency_a: Agency, provider: IdentityProvider) -> User:
    user = make_user("dana@a.example", agency_a, (Role.INVESTIGATOR,))
    ExternalIdentity.objects.create(provider=provider, subject="sub-dana", user=user)
    return user


def _refused(response: object, reason: str, status: int = 400) -> str:
    from django.http import HttpResponse

    assert isinstance(response, HttpResponse)
    assert response.status_code == status, response.content[:300]
    text = response.content.decode()
    assert "Sign-in refused" in text
    assert "Traceback" not in text
    event = AuditEvent.objects.filter(action="identity.signin_refused").latest("seq")
    assert event.outcome == Outcome.FAILURE
    assert event.details == {"provider": "test-op", "reason": reason}
    return text


MISBEHAVIOURS = [
    ("forged_signature", "signature", "invalid signature"),
    ("wrong_audience", "audience", "meant for another application"),
    ("expired", "expired", "expired"),
    ("nonce_mismatch", "nonce", "does not belong to this sign-in"),
    ("wrong_issuer", "issuer", "did not come from the expected identity provider"),
    ("alg_none", "algorithm", "not signed as required"),
    ("alg_hs256", "algorithm", "not signed as required"),
    ("not_yet_valid", "not_yet_valid", "not valid yet"),
]


@pytest.mark.parametrize(("misbehaviour", "reason", "message"), MISBEHAVIOURS)
def test_a_bad_id_token_is_refused(
    flow: Flow, op: LoopbackOP, op_user: OPUser, dana: User,
    misbehaviour: str, reason: str, message: str,
) -> None:  # fmt: skip
    op.misbehave.add(misbehaviour)
    text = _refused(flow.sign_in(op_user.sub), reason)
    assert message in text
    assert "_auth_user_id" not in flow.client.session


def test_a_redirect_from_the_provider_is_never_followed(
    flow: Flow, op: LoopbackOP, op_user: OPUser, dana: User
) -> None:
    # The ID token carries no email, so cpnav asks the userinfo endpoint, which redirects.
    op.misbehave.add("redirect_userinfo")
    text = _refused(flow.sign_in(op_user.sub), "userinfo")
    assert "did not send your details" in text


def test_a_replayed_callback_is_refused(flow: Flow, op_user: OPUser, dana: User) -> None:
    target = flow.authorize(flow.start(), op_user.sub)
    assert flow.callback(target)["Location"] == "/"
    flow.client.post("/accounts/signout/")
    flow.accept_notice()
    _refused(flow.callback(target), "state")


def test_a_callback_raced_from_a_copied_session_is_refused(
    flow: Flow, op_user: OPUser, dana: User
) -> None:
    """Two requests with one callback can both read the session before either saves it."""
    target = flow.authorize(flow.start(), op_user.sub)
    saved = dict(flow.client.session[FLOWS])
    assert flow.callback(target)["Location"] == "/"
    flow.client.post("/accounts/signout/")
    flow.accept_notice()
    session = flow.client.session
    session[FLOWS] = saved
    session.save()
    _refused(flow.callback(target), "replay")


def test_a_replayed_id_token_is_refused(
    flow: Flow, op: LoopbackOP, op_user: OPUser, dana: User
) -> None:
    """The provider (or someone between) sends an ID token already used: its nonce is
    another sign-in's, and the token itself was seen."""
    assert flow.sign_in(op_user.sub)["Location"] == "/"
    flow.client.post("/accounts/signout/")
    flow.accept_notice()
    op.misbehave.add("replay_id_token")
    _refused(flow.sign_in(op_user.sub), "nonce")


def test_the_same_id_token_is_used_once(provider: IdentityProvider, op: LoopbackOP) -> None:
    import time

    from cpnav.identity import oidc

    user = op.add_user(OPUser("sub-x", "x@a.example", "X"))
    token = op.id_token(user, provider.client_id, "n-1", "access")
    oidc.check_id_token(provider, token, nonce="n-1", access_token="access", now=time.time())
    with pytest.raises(oidc.Refused) as refused:
        oidc.check_id_token(provider, token, nonce="n-1", access_token="access", now=time.time())
    assert refused.value.reason == "replay"


def test_an_access_token_not_matching_at_hash_is_refused(
    provider: IdentityProvider, op: LoopbackOP
) -> None:
    import time

    from cpnav.identity import oidc

    user = op.add_user(OPUser("sub-x", "x@a.example", "X"))
    token = op.id_token(user, provider.client_id, "n-1", "access")
    with pytest.raises(oidc.Refused) as refused:
        oidc.check_id_token(provider, token, nonce="n-1", access_token="other", now=time.time())
    assert refused.value.reason == "at_hash"


def test_a_reused_code_is_refused_by_the_provider(
    flow: Flow, op: LoopbackOP, op_user: OPUser, dana: User
) -> None:
    target = flow.authorize(flow.start(), op_user.sub)
    code = target.split("code=")[1].split("&")[0]
    op.codes[code]["used"] = True
    _refused(flow.callback(target), "token_endpoint")
    assert op.token_errors == ["unknown or used code"]


def test_the_provider_checks_our_client_assertion_and_pkce(
    flow: Flow, op: LoopbackOP, op_user: OPUser, dana: User
) -> None:
    """Our request passes the provider's private_key_jwt and PKCE checks (the positive
    case); a wrong published key makes it fail."""
    from joserfc.jwk import RSAKey

    other = RSAKey.generate_key(2048, private=True)
    op.clients["cpnav-test-client"].jwks = {"keys": [other.as_dict(private=False)]}
    _refused(flow.sign_in(op_user.sub), "token_endpoint")
    assert op.token_errors == ["client assertion not verified"]


def test_an_error_from_the_provider_is_explained(flow: Flow, op: LoopbackOP) -> None:
    location = flow.start()
    state = location.split("state=")[1].split("&")[0]
    response = flow.callback(f"/identity/test-op/callback/?error=access_denied&state={state}")
    text = _refused(response, "provider_error:access_denied", 403)
    assert "You cancelled the sign-in" in text


def test_a_callback_without_a_started_sign_in_is_refused(flow: Flow) -> None:
    _refused(flow.callback("/identity/test-op/callback/?code=x&state=made-up"), "state")


def test_an_unreachable_provider_is_a_clear_page(flow: Flow, provider: IdentityProvider) -> None:
    provider.issuer = "http://127.0.0.1:9/nothing"
    provider.save()
    response = flow.client.get("/identity/test-op/start/")
    assert response.status_code == 502
    assert "could not be reached" in response.content.decode()


def test_an_https_issuer_is_required_outside_tests(flow: Flow, settings: object) -> None:
    setattr(settings, "IDENTITY_ALLOW_HTTP_LOOPBACK", False)  # noqa: B010
    response = flow.client.get("/identity/test-op/start/")
    assert response.status_code == 502
    assert "not allowed" in response.content.decode()
