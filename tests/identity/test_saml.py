"""SAML sign-in against a real pysaml2 identity provider on loopback: what succeeds,
and each refusal with its message and audit event."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from cpnav.accounts.models import User
from cpnav.audit.models import AuditEvent, Outcome
from cpnav.identity import saml
from cpnav.identity.models import AccessRequest, IdentityProvider
from tests.identity.saml_fixtures import ANN, acs_path, ann, idp, provider, started
from tests.identity.saml_idp import IdP, Knobs

__all__ = ["ann", "idp", "provider"]  # fixtures, imported for pytest

pytestmark = pytest.mark.django_db


def post(client: Client, provider: IdentityProvider, saml_response: str) -> Any:
    return client.post(acs_path(provider), {"SAMLResponse": saml_response})


def sign_in(
    client: Client, provider: IdentityProvider, idp: IdP, username: str = "ann", **knobs: Any
) -> Any:
    """Start, answer at the provider, post to the ACS, and follow to our own page."""
    location = started(client, provider)
    _acs, answer = idp.respond(location, username, Knobs(**knobs))
    posted = post(client, provider, answer)
    if posted.status_code != 303:
        return posted
    return client.get(posted["Location"])


def refused_with(response: Any, reason: str, text: str, status: int = 400) -> None:
    assert response.status_code == status, response.content[:800]
    assert text in response.content.decode()
    event = AuditEvent.objects.filter(action="identity.signin_refused").order_by("-seq").first()
    assert event is not None
    assert event.outcome == Outcome.FAILURE
    assert event.details["reason"] == reason
    assert event.details["provider"] in {"justice-fed", ""}


def test_returning_officer_with_mfa_is_signed_in(
    client: Client, provider: IdentityProvider, idp: IdP, ann: User
) -> None:
    response = sign_in(client, provider, idp, mfa=True)
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.session["_auth_user_id"] == str(ann.pk)
    event = AuditEvent.objects.filter(action="identity.signin").get()
    assert event.details["mfa"] is True
    assert event.details["authn_context"] == "https://refeds.org/profile/mfa"


def test_without_mfa_asserted_our_second_factor_comes_next(
    client: Client, provider: IdentityProvider, idp: IdP, ann: User
) -> None:
    response = sign_in(client, provider, idp, mfa=False)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:verify"))
    assert "_auth_user_id" not in client.session


def test_first_sign_in_is_held_with_mapped_attributes(
    client: Client, provider: IdentityProvider, idp: IdP
) -> None:
    response = sign_in(client, provider, idp, mfa=True)
    assert response.status_code == 200
    held = AccessRequest.objects.get()
    assert held.subject == "persistent-ann"
    assert held.email == ANN.email
    assert held.full_name == ANN.full_name
    assert held.attributes["ori"] == "OH0010000"
    assert held.attributes["employer"] == "Agency A County Sheriff"
    assert held.attributes["sworn"] == "true"


@pytest.mark.parametrize(
    ("knobs", "reason", "text", "status"),
    [
        ({"forged": True}, "signature", "signature on this answer is not valid", 403),
        ({"unsigned_assertion": True}, "unsigned", "did not sign its assertion", 403),
        ({"wrong_audience": True}, "audience", "meant for another service", 400),
        ({"wrong_recipient": True}, "recipient", "addressed to another place", 400),
        ({"wrong_issuer": True}, "issuer", "does not come from the identity provider", 400),
        ({"expired": True}, "expired", "has expired", 400),
        ({"no_in_response_to": True}, "unsolicited", "only answers to sign-ins started here", 400),
        ({"in_response_to": "id-not-ours"}, "in_response_to", "does not belong to a sign-in", 400),
        ({"transient": True}, "nameid", "persistent NameID", 400),
    ],
)
def test_bad_answers_are_refused(
    client: Client,
    provider: IdentityProvider,
    idp: IdP,
    ann: User,
    knobs: dict[str, Any],
    reason: str,
    text: str,
    status: int,
) -> None:
    response = sign_in(client, provider, idp, **knobs)
    refused_with(response, reason, text, status)
    assert "_auth_user_id" not in client.session


def test_a_replayed_assertion_is_refused(
    client: Client, provider: IdentityProvider, idp: IdP, ann: User
) -> None:
    location = started(client, provider)
    _acs, answer = idp.respond(location, "ann", Knobs(mfa=True))
    assert post(client, provider, answer).status_code == 303
    # The same answer again, from another browser (and so possibly another app server).
    refused_with(post(Client(), provider, answer), "replay", "already been used", 403)


def test_an_answer_finished_in_another_browser_is_refused(
    client: Client, provider: IdentityProvider, idp: IdP, ann: User
) -> None:
    location = started(client, provider)
    _acs, answer = idp.respond(location, "ann", Knobs(mfa=True))
    posted = post(Client(), provider, answer)
    other = Client()
    refused_with(other.get(posted["Location"]), "browser", "not started in this browser", 403)
    # And the token was used up on the way.
    refused_with(client.get(posted["Location"]), "outcome", "expired or has already been used")


def test_disabled_and_unknown_providers_are_refused(
    client: Client, provider: IdentityProvider, idp: IdP, ann: User
) -> None:
    location = started(client, provider)
    _acs, answer = idp.respond(location, "ann", Knobs(mfa=True))
    IdentityProvider.objects.filter(pk=provider.pk).update(enabled=False)
    refused_with(post(client, provider, answer), "disabled_provider", "is turned off", 403)
    refused_with(
        client.post("/identity/saml/nobody/acs/", {"SAMLResponse": answer}),
        "unknown_provider",
        "no such sign-in",
        404,
    )


def test_garbage_is_refused(client: Client, provider: IdentityProvider) -> None:
    refused_with(post(client, provider, "not base64 at all!"), "malformed", "No readable answer")
    refused_with(post(client, provider, ""), "malformed", "No readable answer")


def test_administrator_test_shows_the_claims_without_signing_in(
    client: Client, provider: IdentityProvider, idp: IdP, make_user: Any
) -> None:
    from tests.conftest import signed_in

    admin = make_user("sysadmin@example.org", is_staff=True, is_superuser=True)
    signed_in(client, admin)
    IdentityProvider.objects.filter(pk=provider.pk).update(enabled=False)
    location = started(client, provider, "?test=1")
    _acs, answer = idp.respond(location, "ann", Knobs(mfa=True))
    posted = post(Client(), provider, answer)  # the cross-site POST has no session
    assert posted.status_code == 303
    result = client.get(posted["Location"])
    assert result.status_code == 200
    page = result.content.decode()
    assert "persistent-ann" in page
    assert client.session["_auth_user_id"] == str(admin.pk)
    assert AccessRequest.objects.count() == 0


def test_the_authn_request_is_signed_and_names_our_acs(
    client: Client, provider: IdentityProvider, idp: IdP
) -> None:
    location = started(client, provider)
    assert "Signature=" in location
    assert "SigAlg=" in location
    asked = idp.read_request(location)  # verifies the signature with our metadata's key
    assert asked.assertion_consumer_service_url == saml.acs_url(provider)
    assert asked.issuer.text == saml.entity_id(provider)


@pytest.mark.parametrize("metadata", ["", "<not-metadata/>", "<<<", "no-sso"])
def test_a_provider_without_usable_metadata_refuses_to_start(
    client: Client, provider: IdentityProvider, idp: IdP, metadata: str
) -> None:
    if metadata == "no-sso":  # metadata naming no HTTP-Redirect sign-in address
        metadata = "><".join(
            part for part in idp.metadata.split("><") if "SingleSignOnService" not in part
        )
    IdentityProvider.objects.filter(pk=provider.pk).update(idp_metadata_xml=metadata)
    session = client.session
    session["cpnav_notice_accepted"] = True
    session.save()
    refused_with(client.get(f"/identity/{provider.slug}/start/"), "metadata", "metadata")


def test_the_attribute_map_is_configurable(
    client: Client, provider: IdentityProvider, idp: IdP
) -> None:
    IdentityProvider.objects.filter(pk=provider.pk).update(
        attribute_map={"full_name": "gfipm:2.0:user:EmployerName", "ori": ""}
    )
    assert sign_in(client, provider, idp, mfa=True).status_code == 200
    held = AccessRequest.objects.get()
    assert held.full_name == "Agency A County Sheriff"  # read from the remapped name
    assert held.attributes["ori"] == "OH0010000"  # an empty entry keeps GFIPM's name
