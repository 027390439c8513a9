"""The import pages with Django's test client: upload, columns, dry-run report, import.

transaction=True: choosing the columns starts the check in a thread with its
own database connection, which sees only committed rows.
"""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from cpnav.accounts.models import Agency, User
from cpnav.audit.models import AuditEvent
from cpnav.cases.models import Case, Person
from cpnav.imports import fields as F
from cpnav.imports import views
from cpnav.imports.models import ImportFile, ImportJob, JobStatus
from tests.conftest import signed_in
from tests.imports.helpers import AUTO_MAPPING, csv_bytes, person

pytestmark = pytest.mark.django_db(transaction=True)


def upload(client: Client, agency: Agency, data: bytes, name: str = "cases.csv") -> Any:
    return client.post(
        reverse("imports:index"), {"agency": agency.pk, "file": SimpleUploadedFile(name, data)}
    )


def job_of(user: User) -> ImportJob:
    return ImportJob.objects.get(created_by=user)


def choose(client: Client, job: ImportJob, mapping: dict[str, str] | None = None) -> Any:
    data = {name: "" for name in F.NAMES} | (mapping or AUTO_MAPPING)
    return client.post(reverse("imports:mapping", args=[job.pk]), data, follow=True)


def text_of(response: Any) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


@pytest.fixture
def client_in(client: Client, importer: User) -> Client:
    return signed_in(client, importer)


def test_signing_in_is_required(client: Client) -> None:
    response = client.get(reverse("imports:index"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:signin"))


@pytest.mark.parametrize("persona", ["owner", "outsider"])
def test_only_investigators_reach_the_page(
    client: Client, persona: str, request: pytest.FixtureRequest
) -> None:
    user: User = request.getfixturevalue(persona)
    signed_in(client, user)
    assert client.get(reverse("imports:index")).status_code == 403
    assert client.post(reverse("imports:index"), {}).status_code == 403


def test_the_upload_page_documents_the_columns(client_in: Client) -> None:
    response = client_in.get(reverse("imports:index"))
    assert response.status_code == 200
    page = text_of(response)
    for field in F.FIELDS:
        assert field.name in page
    assert "YYYY-MM-DD or MM/DD/YYYY" in page
    assert reverse("imports:template") in response.content.decode()
    assert "deleted when the import is done" in page


def test_the_template_downloads(client_in: Client) -> None:
    response = client_in.get(reverse("imports:template"))
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="cases-template.csv"' in response["Content-Disposition"]
    assert response.content.decode() == F.template_csv()


def test_an_investigator_cannot_upload_into_an_agency_of_which_they_are_not(
    client_in: Client, agency_b: Agency
) -> None:
    response = upload(client_in, agency_b, csv_bytes([person(1)]))
    assert response.status_code == 200
    assert "Select a valid choice" in text_of(response)
    assert not ImportJob.objects.exists()


def test_a_windows_1252_file_is_refused_on_the_page(client_in: Client, agency_a: Agency) -> None:
    response = upload(client_in, agency_a, "Case #,Victim name\r\n1,Jos\u00e9\r\n".encode("cp1252"))
    assert "line 2: the file is not UTF-8 text (byte 0xE9)" in text_of(response)
    assert not ImportJob.objects.exists()


def test_a_file_over_the_limit_is_refused_while_it_streams(
    client_in: Client, agency_a: Agency, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(views, "MAX_BYTES", 1000)
    response = upload(client_in, agency_a, csv_bytes([person(n) for n in range(1, 40)]))
    assert "The file is larger than" in text_of(response)
    assert not ImportJob.objects.exists()


def test_the_mapping_step_offers_a_select_per_field_prefilled(
    client_in: Client, agency_a: Agency, importer: User
) -> None:
    response = upload(client_in, agency_a, csv_bytes([person(1)]))
    job = job_of(importer)
    assert response["Location"] == reverse("imports:mapping", args=[job.pk])
    page = client_in.get(response["Location"]).content.decode()
    assert page.count("<select") == len(F.FIELDS)
    assert re.search(r'<select name="full_name"[^>]*>.*?<option value="Victim name" selected>',
                     page, re.S)  # fmt: skip
    assert re.search(r'<select name="aliases"[^>]*>\s*<option value="" selected>', page, re.S)
    assert '<label class="usa-label" for="id_case_number">Case number</label>' in page


def test_a_required_field_must_be_chosen(
    client_in: Client, agency_a: Agency, importer: User
) -> None:
    upload(client_in, agency_a, csv_bytes([person(1)]))
    job = job_of(importer)
    response = choose(client_in, job, {**AUTO_MAPPING, "full_name": ""})
    assert "Choose the column that holds this; it is required." in text_of(response)
    assert job_of(importer).status == JobStatus.UPLOADED
    response = choose(client_in, job, {**AUTO_MAPPING, "country": "Victim name"})
    assert "The column Victim name is already chosen for Full name." in text_of(response)


def test_the_dry_run_report_lists_every_bad_row_and_field(
    client_in: Client, agency_a: Agency, importer: User
) -> None:
    rows = [
        person(1, DOB="13/02/1990"),
        person(2),
        person(3, **{"Victim name": '=HYPERLINK("https://evil.example","x")', "CP end": ""}),
    ]
    upload(client_in, agency_a, csv_bytes(rows))
    job = job_of(importer)
    response = choose(client_in, job)
    page = text_of(response)
    assert "3 problems in 2 rows; nothing was imported." in page
    assert "Line Column Problem" in page
    assert ('2 DOB "13/02/1990" looks like day/month/year, which is refused; write YYYY-MM-DD '
            "(2024-03-15) or MM/DD/YYYY (03/15/2024)") in page  # fmt: skip
    assert '4 Victim name starts with "=".' in page
    assert "4 CP end give the end of the term with its start" in page
    assert "Problems by column" in page
    assert not Case.objects.exists()
    csv_response = client_in.get(reverse("imports:problems", args=[job.pk]))
    report = b"".join(csv_response.streaming_content).decode("utf-8-sig")  # type: ignore[attr-defined]
    assert report.splitlines()[0] == "Line,Column,Problem"
    assert len(report.splitlines()) == 4
    assert "'starts with" not in report  # the message itself does not start with =
    assert AuditEvent.objects.filter(action="import.report_viewed").exists()


def test_check_then_import_then_status_shows_100_percent(
    client_in: Client, agency_a: Agency, importer: User
) -> None:
    upload(client_in, agency_a, csv_bytes([person(1), person(2)]))
    job = job_of(importer)
    page = text_of(choose(client_in, job))
    assert "All 2 rows are valid" in page
    assert (
        "Importing will create 2 cases, 2 people and 2 grants. Nothing has been written yet."
        in page
    )
    assert not Case.objects.exists()
    response = client_in.post(reverse("imports:run", args=[job.pk]), follow=True)
    page = text_of(response)
    assert "2 rows: 2 cases, 2 people and 2 grants were created." in page
    assert "The uploaded file was deleted." in page
    assert Person.objects.filter(case__agency=agency_a).count() == 2
    assert not ImportFile.objects.exists()
    status = client_in.get(reverse("imports:status", args=[job.pk])).json()
    assert (status["status"], status["percent"], status["running"]) == ("done", 100, False)
    assert status["text"] == "2 of 2 rows checked"


def test_a_running_job_shows_a_progress_bar_and_a_refresh_link(
    client_in: Client, agency_a: Agency, importer: User
) -> None:
    upload(client_in, agency_a, csv_bytes([person(n) for n in range(1, 5)]))
    job = job_of(importer)
    ImportJob.objects.filter(pk=job.pk).update(status=JobStatus.CHECKING, phase="checking",
                                               total=4, processed=1)  # fmt: skip
    response = client_in.get(reverse("imports:job", args=[job.pk]))
    page = response.content.decode()
    assert re.search(r'<progress id="import-progress" class="imports-progress" max="4" value="1"',
                     page)  # fmt: skip
    assert '<script src="/static/imports/progress.js"></script>' in page
    assert "<script>" not in page  # the CSP forbids inline scripts
    assert "Refresh to see the progress" in text_of(response)
    assert "1 of 4 rows checked" in text_of(response)
    status = client_in.get(reverse("imports:status", args=[job.pk])).json()
    assert (status["percent"], status["running"], status["phase_label"]) == (
        25,
        True,
        "Checking rows",
    )
    # While it runs, it can be neither started again nor discarded.
    assert client_in.post(reverse("imports:run", args=[job.pk])).status_code == 302
    client_in.post(reverse("imports:discard", args=[job.pk]))
    assert job_of(importer).has_file


def test_discarding_deletes_the_file(client_in: Client, agency_a: Agency, importer: User) -> None:
    upload(client_in, agency_a, csv_bytes([person(1)]))
    job = job_of(importer)
    response = client_in.post(reverse("imports:discard", args=[job.pk]), follow=True)
    assert "The file was deleted. Nothing was imported from it." in text_of(response)
    assert not ImportFile.objects.exists()
    assert job_of(importer).status == JobStatus.DISCARDED


@pytest.mark.parametrize("persona", ["teammate", "investigator_b", "outsider"])
def test_nobody_else_sees_or_touches_a_job(
    client: Client,
    agency_a: Agency,
    importer: User,
    persona: str,
    request: pytest.FixtureRequest,
) -> None:
    signed_in(client, importer)
    upload(client, agency_a, csv_bytes([person(1)]))
    job = job_of(importer)
    other: User = request.getfixturevalue(persona)
    client.logout()
    signed_in(client, other)
    for name in ("job", "mapping", "status", "problems"):
        assert client.get(reverse(f"imports:{name}", args=[job.pk])).status_code == 404, name
    for name in ("run", "discard", "mapping"):
        assert client.post(reverse(f"imports:{name}", args=[job.pk])).status_code == 404, name
    assert job_of(importer).has_file
    assert AuditEvent.objects.filter(action="access.denied", object_type="import").exists()
