"""Security keys in a real browser: Chromium's virtual authenticator answers the ceremonies
that cpnav/core/static/cpnav/webauthn.js starts. Each new page state is checked with axe-core.

WebAuthn needs a domain as the relying party ID (browsers refuse an IP address), so the
live server is reached as http://localhost:PORT and the settings follow it.
"""

from __future__ import annotations

import os
from base64 import b64decode, urlsafe_b64encode
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, expect

from cpnav.accounts.models import SecurityKey, User
from tests.browser.conftest import SignIn, accessible
from tests.browser.helpers import accept_notice, add_virtual_authenticator, sign_in_password
from tests.browser.test_csp import REPORT_VIOLATIONS
from tests.conftest import PASSWORD, MakeUser, totp_code

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _relying_party(settings: Any, live_server: Any) -> None:
    host = urlsplit(live_server.url).hostname
    assert host == "localhost", live_server.url
    settings.WEBAUTHN_RP_ID = host
    settings.WEBAUTHN_ORIGINS = [live_server.url]


def b64u(data: bytes) -> str:
    return urlsafe_b64encode(data).rstrip(b"=").decode()


def test_register_a_key_sign_out_and_sign_in_with_it(sign_in: SignIn, teammate: User) -> None:
    page = sign_in(teammate)
    cdp, authenticator = add_virtual_authenticator(page)
    page.get_by_role("link", name="My account").click()
    page.get_by_role("link", name="Add a security key").click()
    expect(page.get_by_role("heading", name="Confirm it is you")).to_be_visible()
    page.get_by_label("Your password").fill(PASSWORD)
    page.get_by_label("Code").fill(totp_code(teammate, offset_steps=1))
    page.get_by_role("button", name="Continue").click()

    expect(page.get_by_role("heading", name="Add a security key")).to_be_visible()
    expect(page.get_by_role("button", name="Add security key")).to_be_visible()
    accessible(page, "add a security key")
    page.get_by_label("Name of this key").fill("Blue USB key")
    page.get_by_role("button", name="Add security key").click()
    expect(page.get_by_text("Security key “Blue USB key” added.")).to_be_visible()
    expect(page.locator("#security-keys")).to_contain_text("Blue USB key")
    accessible(page, "account page listing the key")

    held = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"]
    key = SecurityKey.objects.get(user=teammate)
    assert [b64u(b64decode(c["credentialId"])) for c in held] == [key.credential_id]

    page.get_by_role("button", name="Sign out", exact=True).click()
    accept_notice(page)
    sign_in_password(page, teammate.email)
    expect(page.get_by_role("heading", name="Use your security key")).to_be_visible()
    expect(page.get_by_role("heading", name="Or enter a code")).to_be_visible()
    accessible(page, "second step offering the key first")
    page.get_by_role("button", name="Use your security key").click()
    expect(page.get_by_text(f"Welcome, {teammate.get_short_name()}.")).to_be_visible()
    key.refresh_from_db()
    assert key.last_used_at is not None
    assert key.sign_count >= 1

    # Rename it, then remove it: removing asks first for the password and the key.
    page.get_by_role("link", name="My account").click()
    page.get_by_role("link", name="Rename or remove Blue USB key").click()
    expect(page.get_by_role("heading", name="Security key “Blue USB key”")).to_be_visible()
    accessible(page, "a key's own page")
    page.get_by_label("Name of this key").fill("Desk key")
    page.get_by_role("button", name="Save name").click()
    expect(page.get_by_text("Security key renamed.")).to_be_visible()
    page.get_by_role("link", name="Rename or remove Desk key").click()
    page.get_by_role("button", name="Remove this key").click()
    expect(page.get_by_role("heading", name="With your security key")).to_be_visible()
    accessible(page, "confirm it is you with a key or a code")
    with_key = page.locator("section.cpnav-webauthn")
    with_key.get_by_label("Your password").fill(PASSWORD)
    with_key.get_by_role("button", name="Continue with security key").click()
    expect(page.get_by_role("heading", name="Security key “Desk key”")).to_be_visible()
    page.get_by_role("button", name="Remove this key").click()
    expect(page.get_by_text("Security key “Desk key” removed.")).to_be_visible()
    assert not SecurityKey.objects.filter(user=teammate).exists()


def test_the_code_form_is_the_fallback(page: Page, teammate: User) -> None:
    """A key that this browser does not hold: the attempt fails with a message, the page
    stays usable, and the code signs in."""
    SecurityKey.objects.create(
        user=teammate, credential_id=b64u(os.urandom(32)), public_key=b"\xa0", name="Lost key"
    )
    add_virtual_authenticator(page)  # holds no credential for this site
    accept_notice(page)
    sign_in_password(page, teammate.email)
    expect(page.get_by_role("heading", name="Use your security key")).to_be_visible()
    page.get_by_role("button", name="Use your security key").click()
    expect(page.get_by_role("alert")).to_contain_text("The security key was not used")
    expect(page.get_by_role("button", name="Use your security key")).to_be_enabled()
    accessible(page, "second step after a key was not used")
    page.get_by_label("Code").fill(totp_code(teammate))
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_text(f"Welcome, {teammate.get_short_name()}.")).to_be_visible()


def test_first_enrolment_with_a_security_key(page: Page, make_user: MakeUser) -> None:
    user = make_user("newcomer@a.example", totp=False)
    add_virtual_authenticator(page)
    accept_notice(page)
    sign_in_password(page, user.email)
    expect(page.get_by_role("heading", name="Recommended: a security key")).to_be_visible()
    accessible(page, "enrolment offering a security key")
    page.get_by_role("link", name="Use a security key").click()
    expect(page.get_by_role("heading", name="Add a security key")).to_be_visible()
    accessible(page, "first enrolment with a key")
    page.get_by_label("Name of this key").fill("Laptop fingerprint")
    page.get_by_role("button", name="Add security key").click()
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    accessible(page, "recovery codes after enrolling a key")
    assert SecurityKey.objects.get(user=user).name == "Laptop fingerprint"


def test_the_key_pages_run_under_the_real_content_security_policy(
    browser: Browser, live_server: Any, make_user: MakeUser
) -> None:
    """webauthn.js and the json_script options work with the policy enforced, reporting
    no violation, from enrolment to signing in with the key."""
    user = make_user("strict@a.example", totp=False)
    violations: list[str] = []
    context = browser.new_context(base_url=live_server.url)  # no bypass_csp here
    context.set_default_timeout(10_000)
    context.add_init_script(REPORT_VIOLATIONS)
    page = context.new_page()
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    add_virtual_authenticator(page)
    accept_notice(page)
    sign_in_password(page, user.email)
    page.get_by_role("link", name="Use a security key").click()
    page.get_by_label("Name of this key").fill("Strict key")
    page.get_by_role("button", name="Add security key").click()
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    page.get_by_role("button", name="Sign out", exact=True).click()
    accept_notice(page)
    sign_in_password(page, user.email)
    page.get_by_role("button", name="Use your security key").click()
    expect(page.get_by_text(f"Welcome, {user.get_short_name()}.")).to_be_visible()
    context.close()
    assert violations == []
