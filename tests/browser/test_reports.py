"""The program-metrics dashboard in a real browser, as CCHT and as an agency investigator.

The synthetic program of tests/reports/world.py is in the database; each
person signs in through the real pages, filters, reads the charts and tables,
downloads a table, and axe-core checks every page state.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from openpyxl import load_workbook
from playwright.sync_api import Page, expect

from cpnav.audit.models import AuditEvent
from tests.browser.conftest import SignIn, accessible
from tests.conftest import MakeUser
from tests.reports.world import World, add_requests, build_world

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def world(db: None, make_user: MakeUser) -> World:
    return build_world(make_user)


@pytest.fixture
def requests_world(world: World) -> World:
    return add_requests(world)


OTHER_AGENCIES = ("Far County Police", "Texas Department", "Desert Nation", "FBI Field Office")


def show(page: Page, year: str, period: str, agency: str | None = None) -> None:
    page.get_by_label("Fiscal year", exact=True).select_option(label=year)
    page.get_by_role("group", name="Period").get_by_text(period, exact=True).click()
    if agency is not None:
        page.get_by_role("combobox", name=re.compile("^Agency")).select_option(label=agency)
    page.get_by_role("button", name="Show the metrics").click()


def find(page: Page, year: str, period: str, text: str) -> None:
    """CCHT's filter: the agency is found by name or ORI, not picked from a list."""
    page.get_by_label("Fiscal year", exact=True).select_option(label=year)
    page.get_by_role("group", name="Period").get_by_text(period, exact=True).click()
    page.get_by_role("textbox", name=re.compile(r"^Agency \(name or ORI\)")).fill(text)
    page.get_by_role("button", name="Show the metrics").click()


def downloaded(page: Page, link: str) -> Path:
    with page.expect_download() as info:
        page.get_by_role("link", name=link).click()
    path = info.value.path()
    assert path is not None
    return Path(path)


def test_ccht_filters_reads_and_downloads(requests_world: World, sign_in: SignIn) -> None:
    w = requests_world
    ccht = sign_in(w.ccht_user)
    ccht.goto("/reports/")
    expect(ccht.get_by_role("heading", level=1, name="Program metrics")).to_be_visible()
    accessible(ccht, "reports dashboard, current year")

    show(ccht, "FY2026", "The whole fiscal year")
    expect(
        ccht.get_by_role("heading", level=2, name="All agencies: FY2026 (2025-10-01 to 2026-09-30)")
    ).to_be_visible()
    chart = ccht.get_by_role("img", name="Requests by agency level")
    expect(chart).to_be_visible()
    table = ccht.get_by_role("table", name=re.compile("^Requests by agency level:"))
    expect(table).to_be_visible()
    expect(table.get_by_role("row", name="State")).to_contain_text("<5")
    expect(table.get_by_role("row", name="Territorial")).to_contain_text("0")
    expect(ccht.get_by_role("table", name=re.compile("^Requests by agency:"))).to_contain_text(
        "Far County Police"
    )
    expect(ccht.get_by_text("Synthetic Person")).to_have_count(0)
    accessible(ccht, "reports dashboard, FY2026, all agencies")

    path = downloaded(ccht, "Download CSV for “Requests by agency level”")
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    assert rows[0][0] == "Agency level"
    assert "<5" in rows[2]
    path = downloaded(ccht, "Download Excel (XLSX) for “Requests by outcome”")
    sheet = load_workbook(io.BytesIO(path.read_bytes()), read_only=True).worksheets[0]
    values = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert values[0] == ["Outcome", "Requests"]
    assert ["Denied", "<5"] in values
    assert AuditEvent.objects.filter(action="report.downloaded").count() == 2

    expect(ccht.get_by_text(re.compile(r"^Figures as of \d\d:\d\d"))).to_be_visible()

    # Several agencies match: pick one from the links.
    find(ccht, "FY2026", "Quarter 1 (October to December)", "county")
    expect(
        ccht.get_by_role("heading", name="2 agencies match “county”: choose one")
    ).to_be_visible()
    accessible(ccht, "reports dashboard, several agencies match")
    ccht.get_by_role("link", name="Far County Police").click()
    expect(
        ccht.get_by_role("heading", level=2, name=re.compile("^Far County Police: FY2026"))
    ).to_be_visible()
    # None matches: said next to the field, with what was typed.
    find(ccht, "FY2026", "Quarter 1 (October to December)", "Atlantis")
    expect(ccht.get_by_role("textbox", name=re.compile(r"^Agency \(name or ORI\)"))).to_have_value(
        "Atlantis"
    )
    expect(
        ccht.get_by_role("link", name=re.compile("^Agency \\(name or ORI\\): No agency"))
    ).to_be_visible()
    accessible(ccht, "reports dashboard, no agency matches")

    # One quarter, one agency.
    find(ccht, "FY2026", "Quarter 1 (October to December)", "lakeside")
    expect(
        ccht.get_by_role(
            "heading",
            level=2,
            name="Lakeside County Sheriff: FY2026, quarter 1 (2025-10-01 to 2025-12-31)",
        )
    ).to_be_visible()
    expect(ccht.get_by_role("table", name=re.compile("^Requests by agency:"))).not_to_contain_text(
        "Far County Police"
    )
    accessible(ccht, "reports dashboard, one quarter, one agency")

    # Dates chosen the wrong way round are explained, next to the field.
    ccht.get_by_role("group", name="Period").get_by_text("Dates I choose", exact=True).click()
    ccht.get_by_label(re.compile("^From")).fill("2026-05-01")
    ccht.get_by_label(re.compile("^To")).fill("2026-04-01")
    ccht.get_by_role("button", name="Show the metrics").click()
    expect(ccht.get_by_text("Please correct the following")).to_be_visible()
    expect(
        ccht.get_by_role("link", name="To: The last day is before the first day.")
    ).to_be_visible()
    accessible(ccht, "reports dashboard with a filter error")


def test_an_investigator_sees_their_agency_only(requests_world: World, sign_in: SignIn) -> None:
    w = requests_world
    inv = sign_in(w.county_user)
    inv.goto("/reports/?fiscal_year=2026&period=year")
    expect(
        inv.get_by_role(
            "heading", level=2, name="All my agencies: FY2026 (2025-10-01 to 2026-09-30)"
        )
    ).to_be_visible()
    options = inv.get_by_role("combobox", name=re.compile("^Agency")).locator("option")
    expect(options).to_have_text(["All my agencies", "Lakeside County Sheriff"])
    main = inv.get_by_role("main")
    for other in OTHER_AGENCIES:
        expect(main.get_by_text(other)).to_have_count(0)
    expect(inv.get_by_role("table", name=re.compile("^Requests by agency:"))).to_contain_text(
        "Lakeside County Sheriff"
    )
    expect(inv.get_by_role("img", name="Days to submission and to decision")).to_be_visible()
    accessible(inv, "reports dashboard as an investigator")

    inv.goto(f"/reports/?fiscal_year=2026&period=year&agency={w.far.pk}")
    expect(inv.get_by_role("heading", level=1)).not_to_have_text("Program metrics")
    expect(inv.get_by_text("Far County Police")).to_have_count(0)


def test_someone_without_an_agency_is_refused(world: World, sign_in: SignIn) -> None:
    page = sign_in(world.nobody)
    response = page.goto("/reports/")
    assert response is not None
    assert response.status == 403
    accessible(page, "reports refused")
