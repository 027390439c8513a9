"""Password change, re-authentication and an administrator's reset, in a real browser.

Every page state on the way is checked with axe-core (WCAG 2.1 A and AA).
"""

from __future__ import annotations

import re

import pytest
from django.core import mail
from playwright.sync_api import Page, expect

from cpnav.accounts import mfa
from cpnav.accounts.models import Agency, User
from tests.browser.conftest import SignIn, accessible
from tests.browser.helpers import accept_notice, sign_in_password
from tests.conftest import PASSWORD, totp_code

pytestmark = pytest.mark.django_db(transaction=True)

NEW = "another long synthetic passphrase"


def test_password_change_journey(sign_in: SignIn, teammate: User) -> None:
    page = sign_in(teammate)
    elsewhere = sign_in(teammate)  # a second browser, signed in as well
    page.get_by_role("link", name="My account").click()
    page.get_by_role("link", name="Change password").click()
    expect(page.get_by_role("heading", name="Change your password")).to_be_visible()
    accessible(page, "password change form")

    page.get_by_label("Current password").fill("not the current password")
    page.get_by_label("New password").fill(NEW)
    page.get_by_label("Password again").fill(NEW)
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_text("That is not your current password.").first).to_be_visible()
    expect(page.get_by_label("New password")).to_have_value("")  # passwords are not kept
    accessible(page, "wrong current password")

    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_label("New password").fill("cpnav is my password")
    page.get_by_label("Password again").fill("cpnav is my password")
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_text("This password contains “cpnav”").first).to_be_visible()
    accessible(page, "refused new password")

    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_label("New password").fill(NEW)
    page.get_by_label("Password again").fill(NEW)
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_text("other sessions have ended")).to_be_visible()
    expect(page.get_by_role("heading", name="My account")).to_be_visible()
    accessible(page, "account page after the change")

    elsewhere.goto("/accounts/me/")  # signed out there: back to the notice before sign-in
    expect(elsewhere.get_by_role("heading", name="System use notice")).to_be_visible()
    teammate.refresh_from_db()
    assert teammate.check_password(NEW)


def test_new_recovery_codes_need_the_password_and_a_code(sign_in: SignIn, teammate: User) -> None:
    page = sign_in(teammate)
    page.goto("/accounts/mfa/recovery-codes/")
    accessible(page, "recovery codes page")
    page.get_by_label("Your password").fill(PASSWORD)
    page.get_by_label("Code").fill("000000")
    page.get_by_role("button", name="Make new recovery codes").click()
    expect(page.get_by_text("That password or code is not right").first).to_be_visible()
    accessible(page, "refused re-authentication")

    from django_otp.plugins.otp_totp.models import TOTPDevice

    TOTPDevice.objects.filter(user=teammate).update(throttling_failure_count=0)
    page.get_by_label("Your password").fill(PASSWORD)
    page.get_by_label("Code").fill(totp_code(teammate, offset_steps=1))
    page.get_by_role("button", name="Make new recovery codes").click()
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    accessible(page, "new recovery codes")

    page.goto("/accounts/mfa/setup/")
    expect(page.get_by_role("heading", name="Confirm it is you")).to_be_visible()
    accessible(page, "confirm before replacing the authenticator")


def test_administrator_reset_journey(
    page: Page, sign_in: SignIn, owner: User, teammate: User, agency_a: Agency
) -> None:
    mfa.new_recovery_codes(teammate)
    admin = sign_in(owner)
    admin.get_by_role("link", name="Members").click()
    admin.get_by_role("link", name=teammate.full_name).click()
    admin.get_by_role("link", name="Reset password or authenticator").click()
    expect(
        admin.get_by_role("heading", name=f"Help {teammate.full_name} sign in again")
    ).to_be_visible()
    accessible(admin, "reset form")

    admin.locator("label", has_text="Email a link to set a new password").click()
    admin.get_by_role("button", name="Reset").click()
    expect(admin.get_by_text("Confirm the person's identity first.").first).to_be_visible()
    expect(admin.get_by_label("Email a link to set a new password")).to_be_checked()
    accessible(admin, "reset form with an error")

    admin.locator("label", has_text="I have confirmed this person's identity").click()
    admin.get_by_role("button", name="Reset").click()
    expect(admin.get_by_text(f"Password reset link sent to {teammate.email}")).to_be_visible()
    expect(admin.get_by_text("A password reset link is open until")).to_be_visible()
    accessible(admin, "member page after the reset")

    link = re.search(r"(/accounts/password-reset/\S+/)", str(mail.outbox[-1].body))
    assert link is not None
    page.goto(link.group(1))
    expect(page.get_by_role("heading", name="Set a new password")).to_be_visible()
    accessible(page, "reset link page")
    page.get_by_label("New password").fill(NEW)
    page.get_by_label("Password again").fill(NEW)
    page.get_by_label("Code").fill("000000")
    page.get_by_role("button", name="Set new password").click()
    expect(page.get_by_text("That code is not right").first).to_be_visible()
    accessible(page, "reset link page with an error")

    from django_otp.plugins.otp_totp.models import TOTPDevice

    TOTPDevice.objects.filter(user=teammate).update(throttling_failure_count=0)
    page.get_by_label("New password").fill(NEW)
    page.get_by_label("Password again").fill(NEW)
    page.get_by_label("Code").fill(totp_code(teammate))
    page.get_by_role("button", name="Set new password").click()
    expect(page.get_by_text("Your new password is set.")).to_be_visible()
    accessible(page, "sign-in after the reset")

    accept_notice(page)
    sign_in_password(page, teammate.email, NEW)
    page.get_by_label("Code").fill(totp_code(teammate, offset_steps=1))
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("Welcome, teammate.")).to_be_visible()

    page.goto(link.group(1))
    expect(
        page.get_by_role("heading", name="This password reset link does not work")
    ).to_be_visible()
    accessible(page, "spent link")


def test_administrator_resets_the_authenticator(
    page: Page, sign_in: SignIn, owner: User, teammate: User, agency_a: Agency
) -> None:
    admin = sign_in(owner)
    admin.goto(f"/agencies/{agency_a.pk}/members/{teammate.pk}/reset/")
    admin.locator("label", has_text="Reset the authenticator app").click()
    admin.locator("label", has_text="I have confirmed this person's identity").click()
    admin.get_by_role("button", name="Reset").click()
    expect(admin.get_by_text("Authenticator reset")).to_be_visible()

    accept_notice(page)
    sign_in_password(page, teammate.email)
    expect(page.get_by_role("heading", name="Set up your authenticator app")).to_be_visible()
    accessible(page, "enrolment after an authenticator reset")
