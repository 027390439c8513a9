"""Browser tests drive the system Chromium through Playwright (never a downloaded browser)."""

from __future__ import annotations

import os
import shutil
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from cpnav.accounts.models import User

# Playwright's sync API runs an event loop in this thread; Django's ORM calls
# from test code are still synchronous and safe here.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]  # fmt: skip


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, live_server: Any) -> Iterator[Page]:
    # bypass_csp lets the accessibility check inject axe-core; the app's CSP
    # itself is tested without a browser.
    context = browser.new_context(base_url=live_server.url, bypass_csp=True)
    context.set_default_timeout(10_000)
    opened = context.new_page()
    yield opened
    context.close()


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """Run axe-core for WCAG 2.1 A and AA on the current page."""
    page.add_script_tag(path=str(AXE))
    result: dict[str, Any] = page.evaluate(
        """async () => await axe.run(document, {
            runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}
        })"""
    )
    return [
        {"id": v["id"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
    ]


def accessible(page: Page, where: str) -> None:
    assert axe_violations(page) == [], where


SignIn = Callable[[User], Page]


@pytest.fixture
def sign_in(browser: Browser, live_server: Any) -> Iterator[SignIn]:
    """A fresh browser context signed in through the real pages (notice, password, code).

    Closing a page's context simulates a closed browser; signing in again
    opens a new one. A TOTP code is accepted once, so each later sign-in of
    the same user uses the next time step's code (within the device's tolerance).
    """
    from tests.browser.helpers import accept_notice, sign_in_password
    from tests.conftest import totp_code

    contexts: list[BrowserContext] = []
    sign_ins: Counter[str] = Counter()

    def open_as(user: User) -> Page:
        context = browser.new_context(base_url=live_server.url, bypass_csp=True)
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        accept_notice(page)
        sign_in_password(page, user.email)
        page.get_by_label("Code").fill(totp_code(user, offset_steps=sign_ins[user.email]))
        sign_ins[user.email] += 1
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_text(f"Welcome, {user.get_short_name()}.")).to_be_visible()
        return page

    yield open_as
    for context in contexts:
        context.close()  # a no-op for a context already closed by the test
