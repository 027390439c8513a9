from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from cpnav.guide.content import guide
from tests.browser.conftest import axe_violations

pytestmark = pytest.mark.django_db(transaction=True)


def test_every_guide_page_passes_axe_in_both_languages(page: Page) -> None:
    current = guide()
    for lang, pages in current.pages.items():
        page.goto(f"/guide/{lang}/")
        assert axe_violations(page) == [], lang
        for guide_page in pages:
            page.goto(f"/guide/{lang}/{guide_page.slug}/")
            expect(page.locator("html")).to_have_attribute("lang", lang)
            assert axe_violations(page) == [], f"{lang}/{guide_page.slug}"
        page.goto(f"/guide/{lang}/search/?q=minor")
        assert axe_violations(page) == [], f"{lang} search"


def test_search_from_the_side_navigation(page: Page) -> None:
    page.goto("/guide/en/")
    page.get_by_label("Search the guide").fill("federal partner")
    page.get_by_role("button", name="Search").click()
    first = page.locator("main ol li h2 a").first
    expect(first).to_have_text("Who can request Continued Presence")


def test_quick_exit_with_escape_replaces_history(page: Page, settings: object) -> None:
    # A local stand-in for the neutral site keeps the test on this machine.
    settings.QUICK_EXIT_URL = "/accessibility/"  # type: ignore[attr-defined]
    page.goto("/guide/en/minors/")
    page.goto("/guide/en/victim-sheet/")
    page.keyboard.press("Escape")
    page.wait_for_url("**/accessibility/")
    page.go_back()
    page.wait_for_url("**/guide/en/minors/")


def test_quick_exit_button(page: Page, settings: object) -> None:
    settings.QUICK_EXIT_URL = "/accessibility/"  # type: ignore[attr-defined]
    page.goto("/guide/es/victim-sheet/")
    page.locator("#quick-exit").click()
    page.wait_for_url("**/accessibility/")
