"""The dashboard and its downloads: who gets in, what the filters do, what the files hold."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django.http import FileResponse, StreamingHttpResponse
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from cpnav.audit.models import AuditEvent
from cpnav.reports import services
from tests.conftest import signed_in
from tests.reports.world import World

DASHBOARD = reverse("reports:dashboard")
FY2026 = {"fiscal_year": "2026", "period": "year"}


def page(client: Client, **query: str) -> str:
    response = client.get(DASHBOARD, query)
    assert response.status_code == 200
    return response.content.decode()


def download_url(table: str, fmt: str) -> str:
    return reverse("reports:download", args=[table, fmt])


def body(response: Any) -> bytes:
    if isinstance(response, StreamingHttpResponse | FileResponse):
        return b"".join(response.streaming_content)  # type: ignore[arg-type]
    content: bytes = response.content
    return content


def read_csv(response: Any) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body(response).decode("utf-8-sig"))))


def read_xlsx(response: Any) -> list[list[object]]:
    book = load_workbook(io.BytesIO(body(response)), read_only=True)
    sheet = book.worksheets[0]
    return [list(row) for row in sheet.iter_rows(values_only=True)]


# --- who gets in -----------------------------------------------------------------------------


def test_sign_in_is_required(db: None) -> None:
    response = Client().get(DASHBOARD)
    assert response.status_code == 302
    assert "/accounts/signin/" in response["Location"]
    assert Client().get(download_url("renewals", "csv")).status_code == 302


def test_a_user_without_a_membership_is_refused(world: World) -> None:
    client = signed_in(Client(), world.nobody)
    assert client.get(DASHBOARD).status_code == 403
    assert client.get(download_url("renewals", "csv"), FY2026).status_code == 403
    assert AuditEvent.objects.filter(action="access.denied", object_type="reports").count() == 2
    assert not AuditEvent.objects.filter(action="report.downloaded").exists()


def test_another_agencys_numbers_are_refused(requests_world: World) -> None:
    w = requests_world
    client = signed_in(Client(), w.outsider)
    assert client.get(DASHBOARD, {**FY2026, "agency": str(w.county.pk)}).status_code == 404
    url = download_url("requests-level", "csv")
    assert client.get(url, {**FY2026, "agency": str(w.county.pk)}).status_code == 404
    assert client.get(DASHBOARD, {"agency": "not-a-uuid"}).status_code == 404
    assert AuditEvent.objects.filter(action="access.denied", object_type="agency").count() == 3
    assert not AuditEvent.objects.filter(action="report.downloaded").exists()


# --- the page ----------------------------------------------------------------------------------


def test_the_dashboard_shows_charts_tables_and_downloads(requests_world: World) -> None:
    html = page(signed_in(Client(), requests_world.ccht_user), **FY2026)
    assert "All agencies: FY2026 (2025-10-01 to 2026-09-30)" in html
    for slug in services.SLUGS:
        assert f'id="{slug}"' in html
        assert f"{download_url(slug, 'csv')}?fiscal_year=2026&amp;period=year" in html
        assert f"{download_url(slug, 'xlsx')}?fiscal_year=2026&amp;period=year" in html
        assert f'aria-labelledby="chart-{slug}-title chart-{slug}-desc"' in html
    assert html.count('role="img"') == len(services.SLUGS)
    assert html.count("<table") == len(services.SLUGS)
    assert "&lt;5" in html
    assert "<script>" not in html.split('id="main-content"')[1].split("</main>")[0]
    assert 'style="' not in html
    assert "Far County Police" in html  # CCHT sees every agency
    for secret in ("Synthetic Person", "SYN-"):
        assert secret not in html


def test_an_agency_user_sees_their_agency_only(requests_world: World) -> None:
    w = requests_world
    html = page(signed_in(Client(), w.county_user), **FY2026)
    assert "All my agencies: FY2026" in html
    assert "Lakeside County Sheriff" in html
    for other in ("Far County Police", "Texas Department", "Desert Nation", "FBI Field Office"):
        assert other not in html
    mine = page(signed_in(Client(), w.county_user), **FY2026, agency=str(w.county.pk))
    assert "Lakeside County Sheriff: FY2026" in mine


def test_ccht_finds_the_agency_by_name_instead_of_a_list(requests_world: World) -> None:
    w = requests_world
    html = page(signed_in(Client(), w.ccht_user), **FY2026)
    assert '<select name="agency"' not in html  # thousands of agencies: no list
    assert '<label class="usa-label" for="id_find">Agency (name or ORI) <span' in html
    # Any agency CCHT may report on can be chosen, even one with no case (zeros).
    html = page(signed_in(Client(), w.ccht_user), **FY2026, agency=str(w.ccht.pk))
    assert "CCHT: FY2026" in html
    assert 'name="find" value="CCHT"' in html
    assert f'name="agency" value="{w.ccht.pk}"' in html


def test_filters_by_quarter_custom_dates_and_agency(requests_world: World, settings: Any) -> None:
    settings.REPORT_SUPPRESS_BELOW = 1
    w = requests_world
    client = signed_in(Client(), w.ccht_user)
    q1 = page(client, fiscal_year="2026", period="q1")
    assert "FY2026, quarter 1 (2025-10-01 to 2025-12-31)" in q1
    custom = page(client, period="custom", date_from="2026-04-01", date_to="2026-05-31")
    assert "All agencies: 2026-04-01 to 2026-05-31" in custom
    far = page(client, **FY2026, agency=str(w.far.pk))
    assert "Far County Police: FY2026" in far
    assert "Lakeside County Sheriff" not in far.split('id="report-heading"')[1]
    rows = read_csv(
        client.get(download_url("requests-outcome", "csv"), {**FY2026, "agency": str(w.far.pk)})
    )
    assert rows[-1] == ["Total", "1"]
    rows = read_csv(
        client.get(download_url("requests-outcome", "csv"), {"fiscal_year": "2026", "period": "q1"})
    )
    assert rows[-1] == ["Total", "3"]


def test_bad_filters_are_explained(requests_world: World) -> None:
    client = signed_in(Client(), requests_world.ccht_user)
    html = page(client, period="custom", date_from="2026-05-01", date_to="2026-04-01")
    assert "The last day is before the first day." in html
    assert "report-heading" not in html
    html = page(client, period="custom")
    assert "Give the first day" in html
    html = page(client, fiscal_year="1999", period="year")
    assert "Select a valid choice" in html
    response = client.get(download_url("renewals", "csv"), {"period": "custom"})
    assert response.status_code == 302
    assert response["Location"].startswith(DASHBOARD)


# --- the downloads ---------------------------------------------------------------------------


def test_csv_and_xlsx_downloads_read_back_with_small_cells_hidden(requests_world: World) -> None:
    client = signed_in(Client(), requests_world.ccht_user)
    response = client.get(download_url("requests-level", "csv"), FY2026)
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="cpnav-requests-level-FY2026.csv"' in response["Content-Disposition"]
    rows = read_csv(response)
    assert rows[0] == ["Agency level", "Granted", "Denied", "Withdrawn", "Pending at CCHT", "Total"]
    assert [row[0] for row in rows[1:]] == [
        "Federal",
        "State",
        "Local",
        "Tribal",
        "Territorial",
        "Total",
    ]
    assert rows[2] == ["State", "<5", "0", "0", "<5", "<5"]
    assert rows[5] == ["Territorial", "0", "0", "0", "0", "0"]

    response = client.get(download_url("requests-level", "xlsx"), FY2026)
    assert "cpnav-requests-level-FY2026.xlsx" in response["Content-Disposition"]
    sheet = read_xlsx(response)
    assert sheet[0] == rows[0]
    assert sheet[2] == ["State", "<5", 0, 0, "<5", "<5"]
    assert sheet[5] == ["Territorial", 0, 0, 0, 0, 0]


def test_every_download_is_audited(requests_world: World) -> None:
    w = requests_world
    client = signed_in(Client(), w.county_user)
    for fmt in ("csv", "xlsx"):
        body(client.get(download_url("timing", fmt), {**FY2026, "agency": str(w.county.pk)}))
    events = list(AuditEvent.objects.filter(action="report.downloaded").order_by("seq"))
    assert [e.details["format"] for e in events] == ["csv", "xlsx"]
    for event in events:
        assert event.actor_id == w.county_user.pk
        assert event.agency_id == w.county.pk
        assert (event.object_type, event.object_id) == ("report", "timing")
        assert event.details["period"] == ["2025-10-01", "2026-09-30"]
        assert event.details["agency"] == str(w.county.pk)
        assert event.details["threshold"] == 5


def test_downloads_of_every_table(requests_world: World) -> None:
    client = signed_in(Client(), requests_world.ccht_user)
    for slug in sorted(services.SLUGS):
        rows = read_csv(client.get(download_url(slug, "csv"), FY2026))
        assert len(rows) >= 2, slug
        for row in rows:
            for cell in row:
                assert not cell.startswith(("=", "+", "-", "@")), (slug, cell)
    assert AuditEvent.objects.filter(action="report.downloaded").count() == len(services.SLUGS)


@pytest.mark.parametrize(("table", "fmt"), [("nonsense", "csv"), ("renewals", "pdf")])
def test_unknown_tables_and_formats_are_not_found(world: World, table: str, fmt: str) -> None:
    client = signed_in(Client(), world.ccht_user)
    assert client.get(download_url(table, fmt)).status_code == 404
