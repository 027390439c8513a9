"""Chromium enforcing the real Content-Security-Policy reports no violation.

The other browser tests bypass the policy (to inject axe-core); the policy's
headers are tested without a browser in tests/security/test_headers.py.
"""

from __future__ import annotations

from typing import Any

from django.test import Client
from playwright.sync_api import Browser, ConsoleMessage

from cpnav.accounts.models import User
from tests.conftest import signed_in

# Pages whose scripts (USWDS, the session clock, the quick exit) run under the policy.
ANONYMOUS_PAGES = ["/", "/accounts/notice/", "/guide/", "/guide/en/victim-sheet/", "/check/"]
SIGNED_IN_PAGES = ["/", "/cases/", "/deadlines/", "/accounts/me/", "/guide/"]
REPORT_VIOLATIONS = """document.addEventListener("securitypolicyviolation", (e) =>
    console.error(`Content Security Policy violation: ${e.violatedDirective} ${e.blockedURI}`))"""


def test_chromium_enforcing_the_policy_reports_no_violation(
    browser: Browser, live_server: Any, owner: User
) -> None:
    # The other browser tests bypass the policy to inject axe-core; this one enforces it.
    violations: list[str] = []

    def note(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            violations.append(f"{message.page.url if message.page else '?'}: {message.text}")

    session = signed_in(Client(), owner).cookies["cpnav_session"].value
    for cookie, pages in ((None, ANONYMOUS_PAGES), (session, SIGNED_IN_PAGES)):
        context = browser.new_context(base_url=live_server.url)
        context.set_default_timeout(10_000)
        context.add_init_script(REPORT_VIOLATIONS)
        if cookie:
            context.add_cookies(
                [{"name": "cpnav_session", "value": cookie, "url": live_server.url}]
            )
        page = context.new_page()
        page.on("console", note)
        for url in pages:
            response = page.goto(url, wait_until="load")
            assert response is not None, url
            assert response.ok, url
        if cookie:
            assert page.locator("#session-warning").count() == 1  # session.js's page
        context.close()
    assert violations == []
