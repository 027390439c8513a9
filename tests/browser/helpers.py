from __future__ import annotations

from base64 import b32decode

from django_otp.oath import totp
from playwright.sync_api import CDPSession, Page

from tests.conftest import PASSWORD


def tab_to(page: Page, selector: str, limit: int = 40) -> None:
    """Move focus with the Tab key alone until the element is focused."""
    for _ in range(limit):
        if page.evaluate("(s) => document.activeElement === document.querySelector(s)", selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"could not reach {selector} with the keyboard")


def code_from_key(key_text: str) -> str:
    """The current code for a key as the enrolment page shows it (base32 in groups)."""
    compact = key_text.replace(" ", "")
    return f"{totp(b32decode(compact + '=' * (-len(compact) % 8))):06d}"


def accept_notice(page: Page) -> None:
    page.goto("/accounts/signin/")
    page.get_by_role("button", name="I understand and agree").click()


def sign_in_password(page: Page, email: str, password: str = PASSWORD) -> None:
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Continue").click()


def add_virtual_authenticator(page: Page) -> tuple[CDPSession, str]:
    """Give the page's browser a security key: Chromium's virtual authenticator (DevTools
    protocol), which answers WebAuthn ceremonies at once, as if touched and verified."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    added = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "usb",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
            }
        },
    )
    return cdp, str(added["authenticatorId"])
