"""Imports in a real browser: upload, columns, dry-run report, import, progress bar.

The live server runs the check and the import in their real background
thread (with its own database connection); axe-core checks every step.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import FilePayload, Page, expect

from cpnav.accounts.models import Agency, Role, User
from cpnav.cases.models import Case, Person
from cpnav.imports.models import ImportFile, ImportJob, JobStatus, Phase
from cpnav.imports.services import pack
from tests.browser.conftest import SignIn, accessible
from tests.conftest import MakeUser
from tests.imports.helpers import csv_bytes, person, xlsx_from_dicts

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def importer(make_user: MakeUser, agency_a: Agency) -> User:
    return make_user("importer@a.example", agency_a, (Role.INVESTIGATOR,))


def upload(page: Page, name: str, data: bytes) -> None:
    page.goto("/imports/")
    payload: FilePayload = {"name": name, "mimeType": "application/octet-stream", "buffer": data}
    page.locator('input[type="file"][name="file"]').set_input_files(files=payload)
    page.get_by_role("button", name="Upload and choose the columns").click()
    expect(page.get_by_role("heading", level=1, name="Choose the columns")).to_be_visible()


def test_import_journey(sign_in: SignIn, importer: User, agency_a: Agency) -> None:
    page = sign_in(importer)
    page.goto("/imports/")
    expect(
        page.get_by_role("heading", level=1, name="Import cases, people and grants")
    ).to_be_visible()
    accessible(page, "upload page")

    # A file with a day-first date and a formula: the report names both, nothing is written.
    bad = [person(1, DOB="31/01/1990"), person(2, Country='=HYPERLINK("https://evil.example")')]
    upload(page, "cases.csv", csv_bytes(bad))
    expect(page.get_by_label("Full name")).to_have_value("Victim name")
    expect(page.get_by_label("Other names")).to_have_value("")
    accessible(page, "mapping page")
    page.get_by_role("button", name="Check every row").click()
    expect(
        page.get_by_role("heading", name="2 problems in 2 rows; nothing was imported.")
    ).to_be_visible()
    table = page.get_by_role("table", name="Problems, row by row")
    expect(table.get_by_role("row")).to_have_count(3)
    expect(table).to_contain_text("looks like day/month/year")
    expect(table).to_contain_text('starts with "="')
    accessible(page, "dry-run report")
    assert not Case.objects.exists()

    # The corrected workbook: checked, then imported.
    upload(page, "cases.xlsx", xlsx_from_dicts([person(1), person(2), person(3)]))
    page.get_by_role("button", name="Check every row").click()
    expect(page.get_by_role("heading", name="All 3 rows are valid")).to_be_visible()
    accessible(page, "ready to import")
    page.get_by_role("button", name="Import 3 rows").click()
    expect(page.get_by_text("3 rows: 3 cases, 3 people and 3 grants were created.")).to_be_visible()
    accessible(page, "import done")
    assert Person.objects.filter(case__agency=agency_a).count() == 3
    assert ImportJob.objects.filter(status=JobStatus.DONE).count() == 1
    assert ImportFile.objects.count() == 1  # the first (rejected) upload's file, until discarded

    page.get_by_role("link", name="Back to imports").click()
    page.get_by_role("link", name="cases.csv").click()
    page.get_by_role("button", name="Discard this file").first.click()
    expect(page.get_by_text("The file was deleted. Nothing was imported from it.")).to_be_visible()
    assert not ImportFile.objects.exists()


def test_the_progress_bar_follows_the_job(
    sign_in: SignIn, importer: User, agency_a: Agency
) -> None:
    """A job "running" elsewhere: the page's script polls its status and moves the bar."""
    job = ImportJob(
        agency=agency_a, created_by=importer, file_name="big.csv", file_format="csv",
        file_size=10, status=JobStatus.CHECKING, phase=Phase.CHECKING, total=200, processed=50,
        updated_at=timezone.now(),
    )  # fmt: skip
    job.columns = ["Case #"]
    job.save()
    ImportFile.objects.create(job=job, data=pack(b"Case #\r\n1\r\n"))
    page = sign_in(importer)
    page.goto(f"/imports/{job.pk}/")
    bar = page.locator("progress#import-progress")
    expect(bar).to_have_attribute("value", "50")
    expect(page.locator("#import-progress-text")).to_have_text("50 of 200 rows checked")
    expect(page.get_by_role("link", name="Refresh to see the progress")).to_be_visible()
    accessible(page, "progress page")
    expect(page.locator("#import-progress-box")).to_have_attribute("data-polls", re.compile(r"\d"))

    ImportJob.objects.filter(pk=job.pk).update(processed=150, updated_at=timezone.now())
    # The script polled once at 50 before this update: the bar and the text move, and
    # the screen-reader announcement follows a quarter at a time.
    expect(page.locator("#import-progress-text")).to_have_text("150 of 200 rows checked")
    assert page.evaluate("document.getElementById('import-progress').value") == 150
    expect(page.locator("#import-progress-live")).to_have_text("150 of 200 rows checked")

    ImportJob.objects.filter(pk=job.pk).update(
        status=JobStatus.CHECKED, phase="", processed=200, finished_at=timezone.now(),
        summary={"rows": 200, "cases": 200, "people": 200, "grants": 0, "unmapped": []},
        updated_at=timezone.now() + timedelta(seconds=1),
    )  # fmt: skip
    expect(page.get_by_role("heading", name=re.compile("All 200 rows are valid"))).to_be_visible()
