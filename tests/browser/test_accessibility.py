"""axe-core (WCAG 2.1 A and AA) on every page built so far, in a real browser."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from cpnav.accounts.models import Agency, Role, User
from tests.browser.conftest import axe_violations
from tests.browser.helpers import accept_notice, sign_in_password
from tests.conftest import MakeUser, totp_code

pytestmark = pytest.mark.django_db(transaction=True)

PUBLIC = [
    "/",
    "/accessibility/",
    "/privacy/",
    "/vulnerability-disclosure/",
    "/accounts/notice/",
    "/accounts/invitations/not-a-token/",
    "/no-such-page/",
    "/check/",
]


def test_public_pages(page: Page) -> None:
    for path in PUBLIC:
        page.goto(path)
        assert axe_violations(page) == [], path
    accept_notice(page)
    assert axe_violations(page) == []
    sign_in_password(page, "nobody@nowhere.example", "wrong wrong wrong wrong")
    expect(page.get_by_text("do not match an account")).to_be_visible()
    assert axe_violations(page) == []


def test_public_pages_in_spanish(page: Page) -> None:
    page.goto("/")
    page.get_by_role("button", name="Español").click()
    for path in ["/", "/accounts/notice/", "/check/"]:
        page.goto(path)
        expect(page.locator("html")).to_have_attribute("lang", "es")
        assert axe_violations(page) == [], path


def test_eligibility_check_walk(page: Page) -> None:
    page.goto("/check/")
    page.locator("label", has_text="Local").click()
    page.get_by_role("button", name="Next").click()
    page.get_by_label("Estimated age in years").fill("300")
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_text("Please correct the following")).to_be_visible()
    assert axe_violations(page) == []
    page.get_by_label("Estimated age in years").fill("16")
    page.locator("label", has_text="Not a U.S. citizen or permanent resident").click()
    page.get_by_role("button", name="Next").click()
    assert axe_violations(page) == []
    page.get_by_role("group", name="Was the person induced").locator(
        "label", has_text="Yes"
    ).click()
    page.get_by_role("group", name="Was the person under 18").locator(
        "label", has_text="Yes"
    ).click()
    page.get_by_role("button", name="Next").click()
    page.get_by_role("group", name="potential witness").locator("label", has_text="Yes").click()
    page.get_by_role("button", name="See the result").click()
    expect(page.get_by_role("heading", name="The criteria appear to be met")).to_be_visible()
    expect(page.locator("#action-notify_hhs_within_24h")).to_be_visible()
    assert axe_violations(page) == []
    page.get_by_role("button", name="Change The person").click()
    expect(page.get_by_label("Estimated age in years")).to_have_value("16")


def test_signed_in_pages(
    page: Page, make_user: MakeUser, agency_a: Agency, owner: User, teammate: User
) -> None:
    make_user("audit@a.example", agency_a, (Role.AUDITOR,))
    owner_roles = owner.memberships.get()
    assert owner_roles.role == Role.AGENCY_ADMIN
    from cpnav.accounts.models import Membership

    Membership.objects.create(user=owner, agency=agency_a, role=Role.AUDITOR)
    accept_notice(page)
    sign_in_password(page, owner.email)
    assert axe_violations(page) == []  # the code page
    page.get_by_label("Code").fill(totp_code(owner))
    page.get_by_role("button", name="Sign in").click()
    for path in [
        "/",
        "/accounts/me/",
        "/accounts/mfa/recovery-codes/",
        "/accounts/mfa/setup/",
        f"/agencies/{agency_a.pk}/members/",
        f"/agencies/{agency_a.pk}/members/invite/",
        f"/agencies/{agency_a.pk}/members/{teammate.pk}/",
        "/audit/",
        "/audit/?since=2026-05-01&until=2026-04-01",
        "/admin/",
    ]:
        page.goto(path)
        assert axe_violations(page) == [], path


def test_services_and_referral_pages(page: Page, route: Any) -> None:
    """The directory, a provider, the import page, a person's referrals and one referral."""
    from cpnav.accounts.models import Membership
    from cpnav.referrals.models import Provider
    from cpnav.referrals.services import refer

    Membership.objects.create(user=route.investigator, agency=route.county, role=Role.AGENCY_ADMIN)
    # Transactional tests empty the table the data migration filled, so make one here.
    provider = Provider.objects.create(
        key="test-shelter", name="Synthetic Shelter", kind="local", jurisdiction="County A",
        state="OH", services=["shelter"], languages=["English", "Spanish"], phone="5550100100",
        source="Synthetic test entry",
    )  # fmt: skip
    offered = list(provider.services)[:1]
    referral = refer(
        None, route.investigator, route.person, provider, offered, True, None, "Agreed by phone"
    )
    accept_notice(page)
    sign_in_password(page, route.investigator.email)
    page.get_by_label("Code").fill(totp_code(route.investigator))
    page.get_by_role("button", name="Sign in").click()
    for path in [
        "/services/",
        "/services/?q=hotline",
        f"/services/{provider.pk}/",
        "/services/import/",
        f"/people/{route.person.pk}/referrals/",
        f"/referrals/{referral.pk}/",
        "/deadlines/",
    ]:
        page.goto(path)
        assert axe_violations(page) == [], path
