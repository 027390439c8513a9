from __future__ import annotations

import re

import pytest
from django.core import mail
from playwright.sync_api import Page, expect

from cpnav.accounts.models import Agency, Invitation, Role, User
from tests.browser.conftest import axe_violations
from tests.browser.helpers import accept_notice, code_from_key, sign_in_password, tab_to
from tests.conftest import PASSWORD, totp_code

pytestmark = pytest.mark.django_db(transaction=True)


def test_keyboard_only_sign_in_with_totp(page: Page, teammate: User) -> None:
    page.goto("/accounts/signin/")
    tab_to(page, "#accept-notice")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    tab_to(page, "#id_email")
    page.keyboard.type(teammate.email)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
    tab_to(page, "#id_code")
    page.keyboard.type(totp_code(teammate))
    page.keyboard.press("Enter")
    expect(page.get_by_text("Welcome, teammate.")).to_be_visible()
    assert axe_violations(page) == []


def test_lock_out_after_five_failures(page: Page, teammate: User) -> None:
    accept_notice(page)
    for _ in range(4):
        sign_in_password(page, teammate.email, "entirely the wrong password")
        expect(page.get_by_text("do not match an account")).to_be_visible()
    sign_in_password(page, teammate.email, "entirely the wrong password")
    expect(page.get_by_role("heading", name="This account is locked")).to_be_visible()
    page.goto("/accounts/signin/")
    sign_in_password(page, teammate.email)
    expect(page.get_by_role("heading", name="This account is locked")).to_be_visible()
    assert axe_violations(page) == []


def test_idle_time_out_warns_then_signs_out(page: Page, teammate: User, settings: object) -> None:
    settings.SESSION_IDLE_SECONDS = 6  # type: ignore[attr-defined]
    settings.SESSION_WARNING_SECONDS = 4  # type: ignore[attr-defined]
    accept_notice(page)
    sign_in_password(page, teammate.email)
    page.get_by_label("Code").fill(totp_code(teammate))
    page.get_by_role("button", name="Sign in").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible(timeout=5000)
    assert axe_violations(page) == []
    page.get_by_role("button", name="Stay signed in").click()
    expect(dialog).to_be_hidden()
    # Without a click this time, the page moves to sign-in when the session ends.
    expect(page.get_by_text("without activity")).to_be_visible(timeout=15000)


def test_invitation_acceptance_and_enrolment(page: Page, owner: User, agency_a: Agency) -> None:
    accept_notice(page)
    sign_in_password(page, owner.email)
    page.get_by_label("Code").fill(totp_code(owner))
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Members").click()
    page.get_by_role("link", name="Invite a member").click()
    assert axe_violations(page) == []
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_text("Please correct the following")).to_be_visible()
    assert axe_violations(page) == []
    page.get_by_label("Full name").fill("Robin Newcomer")
    page.get_by_label("Work email address").fill("robin@a.example")
    page.locator("label", has_text="Investigator").click()
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_text("Invitation sent to robin@a.example")).to_be_visible()
    link = re.search(r"(/accounts/invitations/\S+/)", str(mail.outbox[-1].body))
    assert link is not None
    page.get_by_role("button", name="Sign out").first.click()

    page.goto(link.group(1))
    assert axe_violations(page) == []
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password again").fill(PASSWORD)
    page.get_by_role("button", name="Accept invitation").click()
    expect(page.get_by_role("heading", name="Set up your authenticator app")).to_be_visible()
    assert axe_violations(page) == []
    key = page.locator("#totp-key").inner_text()
    page.get_by_label("6-digit code from your app").fill(code_from_key(key))
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    assert axe_violations(page) == []
    robin = User.objects.get(email="robin@a.example")
    assert robin.memberships.get().role == Role.INVESTIGATOR
    assert Invitation.objects.get().accepted_by == robin
