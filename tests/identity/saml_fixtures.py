"""Fixtures for the SAML tests: a running test identity provider, and cpnav's provider
row for it with each side holding the other's metadata."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import Client

from cpnav.accounts.models import Agency, Membership, Role, User
from cpnav.accounts.views import NOTICE_ACCEPTED
from cpnav.identity import saml
from cpnav.identity.models import ExternalIdentity, IdentityProvider, ProviderKind
from tests.identity.saml_idp import MFA_CONTEXT, IdP, Person, cached_keys, running

ANN = Person(
    username="ann",
    email="ann.officer@example.org",
    full_name="Ann Officer",
    ori="OH0010000",
    employer="Agency A County Sheriff",
    sworn="1",
)
BEN = Person(username="ben", email="ben.new@example.org", full_name="Ben Newcomer")


@pytest.fixture
def idp() -> Iterator[IdP]:
    with running("127.0.0.1", ann=ANN, ben=BEN) as started:
        yield started


@pytest.fixture
def provider(db: None, idp: IdP, agency_a: Agency) -> IdentityProvider:
    made = IdentityProvider.objects.create(
        slug="justice-fed",
        name="Justice Federation",
        kind=ProviderKind.SAML,
        enabled=True,
        idp_metadata_xml=idp.metadata,
        mfa_authn_contexts=MFA_CONTEXT,
        # Made once per run; ensure_sp_keys() is tested on its own.
        sp_private_key=cached_keys("cpnav service provider")[0],
        sp_certificate=cached_keys("cpnav service provider")[1],
    )
    made.agencies.add(agency_a)
    idp.trust(saml.metadata_xml(made))
    return made


@pytest.fixture
def ann(db: None, provider: IdentityProvider, agency_a: Agency) -> User:
    """A linked, returning officer of agency A (with an authenticator of her own)."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    user = User.objects.create_user(ANN.email, None, full_name=ANN.full_name)
    Membership.objects.create(user=user, agency=agency_a, role=Role.INVESTIGATOR)
    TOTPDevice.objects.create(user=user, name="test", confirmed=True)
    ExternalIdentity.objects.create(provider=provider, subject="persistent-ann", user=user)
    return user


def started(client: Client, provider: IdentityProvider, query: str = "") -> str:
    """Start a sign-in as a browser would; returns the identity provider's address."""
    session = client.session
    session[NOTICE_ACCEPTED] = True
    session.save()
    response = client.get(f"/identity/{provider.slug}/start/{query}")
    assert response.status_code == 302, response.content[:500]
    location = str(response["Location"])
    assert location.startswith("http://127.0.0.1:")
    return location


def acs_path(provider: IdentityProvider) -> str:
    return f"/identity/saml/{provider.slug}/acs/"
