"""Exports in a real browser: the pages pass axe-core and a CSV downloads.

The supervisor signs in through the real pages, opens the export pages, and
downloads the requests first without and then with identifying fields.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from cpnav.audit.models import AuditEvent
from tests.browser.conftest import SignIn, accessible
from tests.exports.helpers import NAME
from tests.route import Route

pytestmark = pytest.mark.django_db(transaction=True)


def rows_of(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def download(page: Page) -> tuple[str, list[dict[str, str]]]:
    with page.expect_download() as info:
        page.get_by_role("button", name="Download").click()
    return info.value.suggested_filename, rows_of(Path(info.value.path()))


def test_export_pages_and_a_csv_download(route: Route, sign_in: SignIn) -> None:
    page = sign_in(route.supervisor)
    page.goto("/exports/")
    expect(page.get_by_role("heading", level=1, name="Exports")).to_be_visible()
    accessible(page, "exports index")

    page.get_by_role("link", name="Export CP requests").click()
    expect(page.get_by_role("heading", level=1, name="Export CP requests")).to_be_visible()
    expect(page.get_by_text("Identifying fields are victim data")).to_be_visible()
    accessible(page, "requests export form")

    page.get_by_label("Status").select_option(label="Draft")
    name, rows = download(page)
    assert name.startswith("cpnav-requests-")
    assert name.endswith(".csv")
    assert [row["Person reference"] for row in rows] == [str(route.person.pk)]
    assert "Full name" not in rows[0]
    assert NAME not in str(rows)

    page.locator("label", has_text="Include identifying fields").click()  # USWDS styles the label
    name, rows = download(page)
    assert name.endswith("-identifying.csv")
    assert rows[0]["Full name"] == NAME

    assert AuditEvent.objects.filter(action="export.requests").count() == 2
    completed = AuditEvent.objects.filter(action="export.completed")
    assert [event.details["rows"] for event in completed] == [1, 1]


def test_errors_on_the_export_form_are_accessible(route: Route, sign_in: SignIn) -> None:
    page = sign_in(route.investigator)
    page.goto("/exports/deadlines/")
    page.get_by_label("Due on or after").fill("2026-02-01")
    page.get_by_label("Due on or before").fill("2026-01-01")
    page.get_by_role("button", name="Download").click()
    expect(page.get_by_text("Please correct the following")).to_be_visible()
    accessible(page, "deadlines export form with an error")
