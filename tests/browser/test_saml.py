"""SAML sign-in in a real browser: cpnav on localhost, the test identity provider on
127.0.0.1, so the provider's POST to our ACS is cross-site as in production."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import Page, expect

from cpnav.accounts.models import Agency, Level, Membership, Role, User
from cpnav.identity import saml
from cpnav.identity.models import ExternalIdentity, IdentityProvider, ProviderKind
from tests.browser.conftest import accessible
from tests.browser.helpers import accept_notice
from tests.identity.saml_fixtures import ANN, BEN
from tests.identity.saml_idp import MFA_CONTEXT, IdP, Knobs, running

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def idp() -> Iterator[IdP]:
    with running("127.0.0.1", ann=ANN, ben=BEN) as started:
        started.knobs = Knobs(mfa=True)
        yield started


@pytest.fixture
def provider(settings: Any, live_server: Any, idp: IdP) -> IdentityProvider:
    # Our entity ID and ACS are absolute addresses: the live server's.
    settings.BASE_URL = live_server.url
    assert "localhost" in live_server.url
    agency = Agency.objects.create(name="Agency A County Sheriff", level=Level.LOCAL, state="OH")
    made = IdentityProvider.objects.create(
        slug="justice-fed",
        name="Justice Federation",
        kind=ProviderKind.SAML,
        enabled=True,
        idp_metadata_xml=idp.metadata,
        mfa_authn_contexts=MFA_CONTEXT,
    )
    made.agencies.add(agency)
    idp.trust(saml.metadata_xml(made))
    user = User.objects.create_user(ANN.email, None, full_name=ANN.full_name)
    Membership.objects.create(user=user, agency=agency, role=Role.INVESTIGATOR)
    TOTPDevice.objects.create(user=user, name="test", confirmed=True)
    ExternalIdentity.objects.create(provider=made, subject="persistent-ann", user=user)
    return made


def _to_provider(page: Page) -> None:
    accept_notice(page)
    page.get_by_role("link", name="Sign in with Justice Federation").click()
    expect(page.get_by_role("heading", name="Test identity provider")).to_be_visible()
    assert page.url.startswith("http://127.0.0.1:")


def test_sign_in_through_the_provider_lands_signed_in(
    page: Page, provider: IdentityProvider, idp: IdP, live_server: Any
) -> None:
    _to_provider(page)
    page.get_by_role("button", name="Ann Officer").click()
    expect(page.get_by_text("Welcome, Ann.")).to_be_visible()
    assert page.url == f"{live_server.url}/"
    accessible(page, "home after a SAML sign-in")


def test_a_forged_answer_is_refused_with_its_message(
    page: Page, provider: IdentityProvider, idp: IdP
) -> None:
    idp.knobs = Knobs(mfa=True, forged=True)
    _to_provider(page)
    page.get_by_role("button", name="Ann Officer").click()
    expect(page.get_by_role("heading", name="Sign-in refused")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("signature on this answer is not valid")
    accessible(page, "SAML refusal")
    page.goto("/accounts/me/")
    assert "/accounts/signin/" in page.url


def test_logout_at_the_provider_ends_the_session_at_the_next_request(
    page: Page, provider: IdentityProvider, idp: IdP
) -> None:
    _to_provider(page)
    page.get_by_role("button", name="Ann Officer").click()
    expect(page.get_by_text("Welcome, Ann.")).to_be_visible()
    # The provider disables Ann: its LogoutRequest reaches cpnav (front channel).
    page.goto(idp.logout_request(saml.slo_url(provider), "persistent-ann"))
    assert page.url.startswith(f"{idp.base_url}/slo?SAMLResponse=")
    page.goto("/accounts/me/")
    # Signed out: sent to sign in again (by way of the system-use notice).
    assert re.search(r"/accounts/(signin|notice)/\?next=%2Faccounts%2Fme%2F", page.url), page.url


def test_a_replayed_answer_is_refused(page: Page, provider: IdentityProvider, idp: IdP) -> None:
    _to_provider(page)
    page.get_by_role("button", name="Ann Officer").click()
    expect(page.get_by_text("Welcome, Ann.")).to_be_visible()
    # Someone re-posts the same answer (from the browser's history, say).
    acs = saml.acs_url(provider)
    page.goto(f"{idp.base_url}/slo")  # a page at the provider's origin
    page.set_content(
        f'<form method="post" action="{acs}"><input type="hidden" name="SAMLResponse" '
        f'value="{idp.posted[-1]}"><button>Post again</button></form>'
    )
    page.get_by_role("button", name="Post again").click()
    expect(page.get_by_role("alert")).to_contain_text("already been used")


def test_the_signed_out_page_when_the_provider_takes_no_answer(
    page: Page, provider: IdentityProvider, idp: IdP
) -> None:
    _to_provider(page)
    page.get_by_role("button", name="Ann Officer").click()
    expect(page.get_by_text("Welcome, Ann.")).to_be_visible()
    location = idp.logout_request(saml.slo_url(provider), "persistent-ann")
    IdentityProvider.objects.filter(pk=provider.pk).update(
        idp_metadata_xml="><".join(
            part for part in idp.metadata.split("><") if "SingleLogoutService" not in part
        )
    )
    page.goto(location)
    expect(page.get_by_role("heading", name="You are signed out")).to_be_visible()
    accessible(page, "signed out by the identity provider")
