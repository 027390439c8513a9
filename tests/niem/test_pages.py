"""The request page's NIEM links, the downloads, and the import page."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from cpnav.audit.models import AuditEvent
from cpnav.cases.models import Case, CPRequest
from cpnav.niem import schema, services
from tests.conftest import MakeUser, signed_in
from tests.niem.conftest import Records, http
from tests.niem.helpers import jsonld, valid
from tests.route import Route


def test_the_request_page_offers_the_downloads(client: Client, route: Route) -> None:
    page = signed_in(client, route.investigator).get(f"/requests/{route.cp.pk}/")
    html = page.content.decode()
    assert f"/requests/{route.cp.pk}/niem.xml" in html
    assert f"/requests/{route.cp.pk}/niem.jsonld?identifying=1" in html


def test_identifying_links_only_for_who_may_have_them(
    client: Client, records: Records, route: Route
) -> None:
    html = signed_in(client, route.sponsor).get(f"/requests/{records.granted.pk}/").content.decode()
    assert f"/requests/{records.granted.pk}/niem.xml" in html
    assert "identifying=1" not in html
    grant_id = records.granted.term.grant_id
    assert f"/grants/{grant_id}/niem.xml" in html


def test_download_xml_and_jsonld(client: Client, route: Route) -> None:
    signed_in(client, route.investigator)
    response = client.get(f"/requests/{route.cp.pk}/niem.xml?identifying=1")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/xml")
    assert "attachment;" in response["Content-Disposition"]
    assert b"Ana Synthetic-Testperson" in response.content
    valid(response.content)
    redacted = client.get(f"/requests/{route.cp.pk}/niem.jsonld")
    assert redacted["Content-Type"].startswith("application/ld+json")
    assert "Ana" not in redacted.content.decode()
    assert "@context" in jsonld(redacted.content)
    assert AuditEvent.objects.filter(action="niem.exported").count() == 2


def test_grant_download(client: Client, records: Records, route: Route) -> None:
    signed_in(client, route.supervisor)
    response = client.get(f"/grants/{records.grant.pk}/niem.xml?identifying=1")
    assert response.status_code == 200
    assert b"Grant Person Synthetic" in response.content


def test_outsider_gets_404_and_it_is_logged(client: Client, records: Records, route: Route) -> None:
    signed_in(client, route.outsider)
    for path in (
        f"/requests/{route.cp.pk}/niem.xml",
        f"/requests/{route.cp.pk}/niem.jsonld?identifying=1",
        f"/grants/{records.grant.pk}/niem.xml",
    ):
        assert client.get(path).status_code == 404
    assert AuditEvent.objects.filter(action="access.denied").count() >= 3
    assert not AuditEvent.objects.filter(action="niem.exported").exists()


def test_identifying_refused_for_the_sponsor(
    client: Client, records: Records, route: Route
) -> None:
    signed_in(client, route.sponsor)
    assert client.get(f"/requests/{records.granted.pk}/niem.xml?identifying=1").status_code == 403
    assert client.get(f"/requests/{records.granted.pk}/niem.xml").status_code == 200


def test_anonymous_is_sent_to_sign_in(client: Client, route: Route) -> None:
    response = client.get(f"/requests/{route.cp.pk}/niem.xml")
    assert response.status_code == 302


@pytest.fixture
def receiver(make_user: MakeUser, route: Route) -> Client:
    return signed_in(Client(), route.teammate)  # an investigator at the county


def _upload(content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile("request.xml", content, content_type="application/xml")


def test_import_page_round_trip(receiver: Client, route: Route) -> None:
    form = receiver.get("/niem/import/")
    assert form.status_code == 200
    assert 'type="file"' in form.content.decode()
    content = schema.SAMPLE.read_bytes()
    response = receiver.post(
        "/niem/import/", {"document": _upload(content), "agency": route.county.pk}
    )
    assert response.status_code == 201
    html = response.content.decode()
    assert "Case number" in html
    assert "2026-0077" in html
    assert "(identifying; not shown)" in html
    cp = CPRequest.objects.get(case__case_number="2026-0077", case__agency=route.county)
    assert cp.status == "draft"
    assert cp.created_by == route.teammate
    assert f"/requests/{cp.pk}/" in html


def test_import_page_refuses_and_writes_nothing(receiver: Client, route: Route) -> None:
    before = Case.objects.count()
    bad = schema.SAMPLE.read_bytes().replace(
        b"<cpnav:RequestStatusCode>draft</cpnav:RequestStatusCode>", b""
    )
    response = receiver.post("/niem/import/", {"document": _upload(bad), "agency": route.county.pk})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Nothing was saved" in html
    assert "RequestStatusCode" in html
    assert Case.objects.count() == before
    missing = receiver.post("/niem/import/", {"agency": route.county.pk})
    assert missing.status_code == 400


def test_import_page_refuses_huge_uploads(receiver: Client, route: Route) -> None:
    huge = b"<x>" + b" " * (schema.MAX_BYTES + 100_000) + b"</x>"
    response = receiver.post(
        "/niem/import/", {"document": _upload(huge), "agency": route.county.pk}
    )
    assert response.status_code == 413


def test_import_page_only_for_investigators(client: Client, route: Route) -> None:
    signed_in(client, route.supervisor)
    assert client.get("/niem/import/").status_code == 403
    signed_in(client, route.outsider)  # investigates at another county: not the county's cases
    response = client.post(
        "/niem/import/",
        {"document": _upload(schema.SAMPLE.read_bytes()), "agency": route.county.pk},
    )
    assert response.status_code == 400  # the county is not one of the choices
    assert not Case.objects.filter(case_number="2026-0077").exists()


def test_the_case_list_links_to_the_import(client: Client, route: Route) -> None:
    html = signed_in(client, route.investigator).get("/cases/").content.decode()
    assert "/niem/import/" in html


def test_service_refuses_an_agency_not_investigated(route: Route) -> None:
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        services.import_document(
            http(route.outsider), route.outsider, schema.SAMPLE.read_bytes(), route.county
        )
