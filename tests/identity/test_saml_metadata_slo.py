"""Our SAML metadata, our keys, and single logout from the identity provider."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from cpnav.accounts.models import User
from cpnav.audit.models import AuditEvent, Outcome
from cpnav.identity import saml
from cpnav.identity.models import IdentityProvider, ProviderKind
from tests.conftest import signed_in
from tests.identity.saml_fixtures import ann, idp, provider
from tests.identity.saml_idp import IdP

__all__ = ["ann", "idp", "provider"]  # fixtures, imported for pytest

pytestmark = pytest.mark.django_db


def test_metadata_is_published_at_our_entity_id(client: Client, provider: IdentityProvider) -> None:
    response = client.get(f"/identity/saml/{provider.slug}/metadata/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/samlmetadata+xml"
    xml = response.content.decode()
    assert f'entityID="{saml.entity_id(provider)}"' in xml
    assert saml.entity_id(provider) == "http://127.0.0.1:8000/identity/saml/justice-fed/metadata/"
    assert 'AuthnRequestsSigned="true"' in xml
    assert 'WantAssertionsSigned="true"' in xml
    assert "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent" in xml
    assert (
        'Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" '
        f'Location="{saml.acs_url(provider)}"'
    ) in xml
    assert (
        'Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" '
        f'Location="{saml.slo_url(provider)}"'
    ) in xml
    body = "".join(line for line in provider.sp_certificate.splitlines() if "-----" not in line)
    assert body in xml
    assert "PRIVATE" not in xml


def test_unknown_metadata_is_refused(client: Client, db: None) -> None:
    response = client.get("/identity/saml/nobody/metadata/")
    assert response.status_code == 404
    assert "no such sign-in" in response.content.decode()


def test_keys_are_made_once_and_kept_encrypted(db: None) -> None:
    provider = IdentityProvider.objects.create(slug="fresh", name="Fresh", kind=ProviderKind.SAML)
    assert provider.sp_private_key == ""
    saml.ensure_sp_keys(provider)
    key, cert = provider.sp_private_key, provider.sp_certificate
    assert key.startswith("-----BEGIN PRIVATE KEY-----")  # pragma: allowlist secret (a header)
    assert cert.startswith("-----BEGIN CERTIFICATE-----")
    saml.ensure_sp_keys(provider)
    provider.refresh_from_db()
    assert (provider.sp_private_key, provider.sp_certificate) == (key, cert)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT sp_private_key FROM identity_identityprovider WHERE slug = %s", ["fresh"]
        )
        (stored,) = cursor.fetchone()
    assert "PRIVATE KEY" not in stored


def _path(location: str) -> str:
    parts = urlsplit(location)
    return f"{parts.path}?{parts.query}"


def _account_page(client: Client) -> Any:
    return client.get(reverse("accounts:account"))


def test_logout_from_the_provider_ends_sessions_at_the_next_request(
    client: Client, provider: IdentityProvider, idp: IdP, ann: User
) -> None:
    signed_in(client, ann)
    assert _account_page(client).status_code == 200
    location = idp.logout_request(saml.slo_url(provider), "persistent-ann")
    answer = Client().get(_path(location))
    assert answer.status_code == 302
    assert answer["Location"].startswith(f"{idp.base_url}/slo?SAMLResponse=")
    assert "Signature=" in answer["Location"]
    # Ann's own browser, signed in before, is signed out at its next request.
    after = _account_page(client)
    assert after.status_code == 302
    assert after["Location"].startswith(reverse("accounts:signin"))
    event = AuditEvent.objects.filter(action="identity.saml_logout").get()
    assert event.details == {"provider": "justice-fed", "known": True}
    assert AuditEvent.objects.filter(action="account.sessions_ended").exists()


def _refused_logout(response: Any, reason: str) -> None:
    assert response.status_code == 400
    assert "Sign-in refused" in response.content.decode()
    event = AuditEvent.objects.filter(action="identity.signin_refused").order_by("-seq").first()
    assert event is not None
    assert event.outcome == Outcome.FAILURE
    assert event.details["reason"] == reason
    logged = AuditEvent.objects.filter(action="identity.saml_logout").order_by("-seq").first()
    assert logged is not None
    assert logged.details["reason"] == reason


@pytest.mark.parametrize("how", ["forged", "unsigned", "replayed"])
def test_bad_logout_requests_are_refused_and_sessions_kept(
    client: Client, provider: IdentityProvider, idp: IdP, ann: User, how: str
) -> None:
    signed_in(client, ann)
    location = idp.logout_request(saml.slo_url(provider), "persistent-ann", forged=how == "forged")
    path = _path(location)
    if how == "unsigned":
        path = path.split("&SigAlg=")[0]
        _refused_logout(Client().get(path), "unsigned")
    elif how == "forged":
        _refused_logout(Client().get(path), "signature")
    else:
        assert Client().get(path).status_code == 302
        ann.refresh_from_db()  # the first one ended her sessions; sign in anew
        signed_in(client, ann)
        _refused_logout(Client().get(path), "replay")
    assert _account_page(client).status_code == 200


def test_logout_for_someone_unknown_is_answered(provider: IdentityProvider, idp: IdP) -> None:
    location = idp.logout_request(saml.slo_url(provider), "persistent-nobody")
    assert Client().get(_path(location)).status_code == 302
    event = AuditEvent.objects.filter(action="identity.saml_logout").get()
    assert event.details["known"] is False


def test_without_a_provider_logout_address_we_show_our_own_page(
    provider: IdentityProvider, idp: IdP, ann: User
) -> None:
    location = idp.logout_request(saml.slo_url(provider), "persistent-ann")
    without_slo = "><".join(
        part for part in idp.metadata.split("><") if "SingleLogoutService" not in part
    )
    IdentityProvider.objects.filter(pk=provider.pk).update(idp_metadata_xml=without_slo)
    answer = Client().get(_path(location))
    assert answer.status_code == 200
    assert "You are signed out" in answer.content.decode()
    assert answer["Clear-Site-Data"] == '"cache", "storage"'


def test_only_logout_requests_are_taken(client: Client, provider: IdentityProvider) -> None:
    response = client.get(f"/identity/saml/{provider.slug}/slo/?SAMLResponse=abc")
    assert response.status_code == 400
    assert "only sign-out requests" in response.content.decode()
