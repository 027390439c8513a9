"""The export pages: sign-in required, the option only for those allowed, files downloaded."""

from __future__ import annotations

import csv
import io

import pytest
from django.http import FileResponse, StreamingHttpResponse
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from cpnav.accounts.models import User
from cpnav.audit.models import AuditEvent
from cpnav.core.tabular import XLSX_TYPE
from tests.conftest import signed_in
from tests.exports.helpers import NAME
from tests.route import Route

pytestmark = pytest.mark.django_db

WARNING = "Identifying fields are victim data"


def url(dataset: str = "") -> str:
    return reverse("exports:export", args=[dataset]) if dataset else reverse("exports:index")


def read_csv(response: StreamingHttpResponse) -> list[dict[str, str]]:
    text = b"".join(response.streaming_content).decode("utf-8")  # type: ignore[arg-type]
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"), newline="")))


@pytest.mark.parametrize("path", [url(), url("requests")])
def test_sign_in_is_required(client: Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 302
    assert "/accounts/signin/" in response["Location"]
    assert client.post(path, {"format": "csv"}).status_code == 302
    assert not AuditEvent.objects.filter(action__startswith="export.").exists()


def test_the_index_lists_every_dataset(route: Route) -> None:
    page = signed_in(Client(), route.investigator).get(url()).content.decode()
    for dataset in ("cases", "requests", "grants", "deadlines", "referrals"):
        assert url(dataset) in page


def test_an_unknown_dataset_is_404(route: Route) -> None:
    assert signed_in(Client(), route.investigator).get(url("people")).status_code == 404


@pytest.mark.parametrize(
    ("persona", "offered"),
    [("investigator", True), ("supervisor", True), ("teammate", False), ("outsider", False),
     ("sponsor", False), ("specialist", False)],
)  # fmt: skip
def test_the_identifying_option_is_offered_only_to_those_allowed(
    route: Route, persona: str, offered: bool
) -> None:
    page = signed_in(Client(), getattr(route, persona)).get(url("requests")).content.decode()
    assert ('name="include_identifying"' in page) is offered
    assert (WARNING in page) is offered


def test_cases_never_offer_identifying_fields(route: Route) -> None:
    page = signed_in(Client(), route.investigator).get(url("cases")).content.decode()
    assert 'name="include_identifying"' not in page


def test_a_csv_download_streams_what_the_user_may_see(route: Route) -> None:
    client = signed_in(Client(), route.investigator)
    response = client.post(url("requests"), {"format": "csv"})
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="cpnav-requests-')
    assert "no-store" in response["Cache-Control"]
    (row,) = read_csv(response)
    assert row["Person reference"] == str(route.person.pk)
    assert NAME not in str(row)
    done = AuditEvent.objects.get(action="export.completed")
    assert done.details["rows"] == 1
    started = AuditEvent.objects.get(action="export.requests")
    assert started.source_ip == "127.0.0.1"


def test_identifying_fields_on_request(route: Route) -> None:
    client = signed_in(Client(), route.supervisor)
    response = client.post(url("requests"), {"format": "csv", "include_identifying": "on"})
    assert isinstance(response, StreamingHttpResponse)
    assert "-identifying.csv" in response["Content-Disposition"]
    (row,) = read_csv(response)
    assert row["Full name"] == NAME


def test_a_forged_identifying_choice_is_ignored(route: Route) -> None:
    client = signed_in(Client(), route.teammate)
    response = client.post(url("requests"), {"format": "csv", "include_identifying": "on"})
    assert isinstance(response, StreamingHttpResponse)
    assert read_csv(response) == []
    assert AuditEvent.objects.get(action="export.requests").details["identifying"] is False


def test_the_outsider_gets_an_empty_file(route: Route) -> None:
    response = signed_in(Client(), route.outsider).post(url("cases"), {"format": "csv"})
    assert isinstance(response, StreamingHttpResponse)
    assert read_csv(response) == []


def test_an_xlsx_download(route: Route) -> None:
    response = signed_in(Client(), route.investigator).post(url("cases"), {"format": "xlsx"})
    assert isinstance(response, FileResponse)
    assert response["Content-Type"] == XLSX_TYPE
    book = load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True)
    sheet = book.active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    book.close()
    assert rows[1][2] == "2026-0042"
    assert AuditEvent.objects.get(action="export.completed").details["rows"] == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"format": "csv", "date_from": "2026-02-01", "date_to": "2026-01-01"}, "before the start"),
        ({"format": "pdf"}, "Select a valid choice"),
        ({"format": "csv", "status": "nope"}, "Select a valid choice"),
    ],
)
def test_bad_choices_are_shown_on_the_page(
    route: Route, data: dict[str, str], message: str
) -> None:
    response = signed_in(Client(), route.investigator).post(url("requests"), data)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not AuditEvent.objects.filter(action__startswith="export.").exists()


def test_another_agency_cannot_be_chosen(route: Route) -> None:
    user: User = route.investigator
    response = signed_in(Client(), user).post(
        url("cases"), {"format": "csv", "agency": str(route.other_county.pk)}
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
