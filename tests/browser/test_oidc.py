"""Full browser sign-ins through the loopback OpenID Provider's own pages.

The provider fetches our public key from the live server's JWKS address, as a
real provider does, to check our private_key_jwt assertions.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from cpnav.accounts.models import Agency, Invitation, Membership, Role, User
from cpnav.identity.models import AccessRequest, ExternalIdentity, IdentityProvider, ProviderKind
from tests.browser.conftest import SignIn, accessible
from tests.conftest import MakeUser, totp_code
from tests.identity.oidc_provider import Client, LoopbackOP, OPUser

pytestmark = pytest.mark.django_db(transaction=True)
CLIENT_ID = "cpnav-browser-client"


@pytest.fixture
def op() -> Iterator[LoopbackOP]:
    started = LoopbackOP().start()
    yield started
    started.stop()


@pytest.fixture
def provider(op: LoopbackOP, agency_a: Agency, live_server: Any, settings: Any) -> IdentityProvider:
    settings.IDENTITY_ALLOW_HTTP_LOOPBACK = True
    settings.BASE_URL = live_server.url
    made = IdentityProvider.objects.create(
        slug="test-op", name="Test OP", kind=ProviderKind.OIDC, enabled=True,
        issuer=op.issuer, client_id=CLIENT_ID,
    )  # fmt: skip
    made.agencies.add(agency_a)
    op.register(Client(
        CLIENT_ID, [f"{live_server.url}/identity/test-op/callback/"],
        jwks_uri=f"{live_server.url}/identity/test-op/jwks.json",
    ))  # fmt: skip
    return made


def _start(page: Page) -> None:
    """From the sign-in page (notice accepted) through the provider's login page."""
    page.goto("/accounts/signin/")
    if page.get_by_role("button", name="I understand and agree").count():
        page.get_by_role("button", name="I understand and agree").click()
    page.get_by_role("link", name="Sign in with Test OP").click()


def _at_provider(page: Page, name: str) -> None:
    expect(page.get_by_role("heading", name="Test identity provider")).to_be_visible()
    page.get_by_role("button", name=f"Continue as {name}").click()


def test_mfa_asserted_lands_signed_in(
    page: Page, op: LoopbackOP, provider: IdentityProvider, make_user: MakeUser, agency_a: Agency
) -> None:
    dana = make_user("dana@a.example", agency_a, (Role.INVESTIGATOR,))
    ExternalIdentity.objects.create(provider=provider, subject="sub-dana", user=dana)
    op.add_user(OPUser("sub-dana", "dana@a.example", "Dana Example"))
    page.goto("/accounts/signin/")
    page.get_by_role("button", name="I understand and agree").click()
    expect(page.get_by_role("link", name="Sign in with Test OP")).to_be_visible()
    accessible(page, "sign-in page with an identity provider")
    page.get_by_role("link", name="Sign in with Test OP").click()
    _at_provider(page, "Dana Example")
    expect(page.get_by_text("Welcome, dana.")).to_be_visible()


def test_without_mfa_the_local_code_is_asked(
    page: Page, op: LoopbackOP, provider: IdentityProvider, make_user: MakeUser, agency_a: Agency
) -> None:
    dana = make_user("dana@a.example", agency_a, (Role.INVESTIGATOR,))
    ExternalIdentity.objects.create(provider=provider, subject="sub-dana", user=dana)
    op.add_user(OPUser("sub-dana", "dana@a.example", "Dana Example", amr=["pwd"], acr="low"))
    _start(page)
    _at_provider(page, "Dana Example")
    expect(page.get_by_label("Code")).to_be_visible()
    page.get_by_label("Code").fill(totp_code(dana))
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("Welcome, dana.")).to_be_visible()


def test_first_sign_in_through_an_invitation(
    page: Page, op: LoopbackOP, provider: IdentityProvider, owner: User, agency_a: Agency
) -> None:
    token = secrets.token_urlsafe(32)
    Invitation.objects.create(
        agency=agency_a, email="new@a.example", full_name="New Person",
        roles=[Role.INVESTIGATOR], token_hash=Invitation.hash_token(token), created_by=owner,
        expires_at=timezone.now() + timedelta(hours=72),
    )  # fmt: skip
    op.add_user(OPUser("sub-new", "new.person@example.org", "New Person"))
    page.goto(f"/accounts/invitations/{token}/")
    expect(page.get_by_role("link", name="Sign in with Test OP")).to_be_visible()
    accessible(page, "invitation page with an identity provider")
    page.get_by_role("link", name="Sign in with Test OP").click()
    # The system use notice comes first, then the sign-in page's button.
    page.get_by_role("button", name="I understand and agree").click()
    page.get_by_role("link", name="Sign in with Test OP").click()
    _at_provider(page, "New Person")
    expect(page.get_by_text("Welcome, New.")).to_be_visible()
    user = User.objects.get(email="new@a.example")
    assert Membership.objects.filter(user=user, role=Role.INVESTIGATOR).exists()


def test_access_request_then_approval(
    page: Page, op: LoopbackOP, provider: IdentityProvider, owner: User, agency_a: Agency,
    sign_in: SignIn,
) -> None:  # fmt: skip
    op.add_user(OPUser("sub-new", "new@a.example", "New Person"))
    _start(page)
    _at_provider(page, "New Person")
    expect(
        page.get_by_role("heading", name="Your request waits for your agency administrator")
    ).to_be_visible()
    accessible(page, "access request waiting page")

    admin = sign_in(owner)
    admin.goto(f"/agencies/{agency_a.pk}/members/")
    admin.get_by_role("link", name="Access requests (1 waiting)").click()
    accessible(admin, "access request queue")
    admin.get_by_role("link", name="New Person").click()
    accessible(admin, "access request decision")
    admin.get_by_role("button", name="Approve").click()
    expect(admin.get_by_text("Choose at least one role.").first).to_be_visible()
    accessible(admin, "access request decision with an error")
    admin.locator("label", has_text="Investigator").click()
    admin.get_by_role("button", name="Approve").click()
    expect(admin.get_by_text("Approved: new@a.example can now sign in.")).to_be_visible()
    assert AccessRequest.objects.get().status == "approved"

    _start(page)
    _at_provider(page, "New Person")
    expect(page.get_by_text("Welcome, New.")).to_be_visible()


def test_test_sign_in_button(
    page: Page, op: LoopbackOP, provider: IdentityProvider, make_user: MakeUser, sign_in: SignIn
) -> None:
    sysadmin = make_user("sysadmin@example.org", is_staff=True, is_superuser=True)
    op.add_user(OPUser("sub-x", "x@a.example", "Pat Example", extra={"ori": "OH0000001"}))
    admin = sign_in(sysadmin)
    admin.goto("/identity/admin/providers/")
    accessible(admin, "identity providers")
    admin.get_by_role("link", name="Add an identity provider").click()
    accessible(admin, "new identity provider")
    admin.goto("/identity/admin/providers/")
    admin.get_by_role("link", name="Test OP").click()
    expect(admin.get_by_text("/identity/test-op/jwks.json")).to_be_visible()
    accessible(admin, "identity provider settings")
    admin.get_by_role("link", name="Test sign-in").click()
    _at_provider(admin, "Pat Example")
    expect(
        admin.get_by_role("heading", name="Test sign-in with Test OP: it worked")
    ).to_be_visible()
    expect(admin.locator("#test-outcome")).to_contain_text("access request would be held")
    accessible(admin, "test sign-in result")
    assert not AccessRequest.objects.exists()


def test_a_forged_answer_shows_a_clear_page(
    page: Page, op: LoopbackOP, provider: IdentityProvider, make_user: MakeUser, agency_a: Agency
) -> None:
    dana = make_user("dana@a.example", agency_a, (Role.INVESTIGATOR,))
    ExternalIdentity.objects.create(provider=provider, subject="sub-dana", user=dana)
    op.add_user(OPUser("sub-dana", "dana@a.example", "Dana Example"))
    op.misbehave.add("forged_signature")
    _start(page)
    _at_provider(page, "Dana Example")
    expect(page.get_by_role("heading", name="Sign-in refused")).to_be_visible()
    expect(page.get_by_text("invalid signature")).to_be_visible()
    accessible(page, "sign-in refused")


def test_disabled_at_the_provider_ends_the_session(
    page: Page, op: LoopbackOP, provider: IdentityProvider, make_user: MakeUser,
    agency_a: Agency, live_server: Any,
) -> None:  # fmt: skip
    dana = make_user("dana@a.example", agency_a, (Role.INVESTIGATOR,))
    ExternalIdentity.objects.create(provider=provider, subject="sub-dana", user=dana)
    op.add_user(OPUser("sub-dana", "dana@a.example", "Dana Example"))
    _start(page)
    _at_provider(page, "Dana Example")
    expect(page.get_by_text("Welcome, dana.")).to_be_visible()
    status = op.disable_user(
        "sub-dana", CLIENT_ID, f"{live_server.url}/identity/test-op/backchannel-logout/"
    )
    assert status == 200
    page.goto("/accounts/me/")
    # Signed out: sent to sign in again, which starts with the system use notice.
    expect(page.get_by_role("button", name="I understand and agree")).to_be_visible()
    assert "/accounts/me/" not in page.url
