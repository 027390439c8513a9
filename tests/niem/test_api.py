"""The NIEM endpoints of the API: tokens, scopes, need to know, the one error shape."""

from __future__ import annotations

import pytest
from django.test import Client

from cpnav.audit.models import AuditEvent
from cpnav.cases.models import Case, CPRequest
from cpnav.core.ratelimit import reset as reset_rate_limits
from cpnav.niem import schema
from tests.api.test_cases_api import Api
from tests.niem.conftest import Records
from tests.niem.helpers import jsonld, valid
from tests.route import Route


@pytest.fixture(autouse=True)
def _fresh_rate_limits(db: None) -> None:
    reset_rate_limits()


def test_request_as_niem_xml_and_jsonld(route: Route) -> None:
    api = Api(route.investigator, ("read",))
    response = api.call("get", f"/requests/{route.cp.pk}/niem.xml?identifying=true")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/xml")
    assert b"Ana Synthetic-Testperson" in response.content
    valid(response.content)
    redacted = api.call("get", f"/requests/{route.cp.pk}/niem.jsonld")
    assert redacted.status_code == 200
    assert "Ana" not in redacted.content.decode()
    assert jsonld(redacted.content)["@context"]["cpnav"] == schema.CPNAV
    events = AuditEvent.objects.filter(action="niem.exported")
    assert [e.details["format"] for e in events.order_by("seq")] == ["xml", "jsonld"]


def test_grant_as_niem(route: Route, records: Records) -> None:
    api = Api(route.supervisor, ("read",))
    response = api.call("get", f"/grants/{records.ended.pk}/niem.xml")
    assert response.status_code == 200
    assert b"no_longer_witness" in response.content


def test_outsider_gets_404_in_the_api_shape(route: Route, records: Records) -> None:
    api = Api(route.outsider)
    for path in (f"/requests/{route.cp.pk}/niem.xml", f"/grants/{records.grant.pk}/niem.jsonld"):
        response = api.call("get", path)
        assert response.status_code == 404
        assert response.json()["detail"]
        assert response.json()["errors"] == []


def test_unknown_format_and_identifying_refusal(route: Route, records: Records) -> None:
    api = Api(route.sponsor)
    assert api.call("get", f"/requests/{records.granted.pk}/niem.csv").status_code == 404
    refused = api.call("get", f"/requests/{records.granted.pk}/niem.xml?identifying=true")
    assert refused.status_code == 403
    assert refused.json()["detail"]


def test_a_token_is_required() -> None:
    assert (
        Client().get("/api/v1/requests/00000000-0000-0000-0000-000000000000/niem.xml").status_code
        == 401
    )


def _post(api: Api, agency: object, content: bytes) -> object:
    return api.client.post(
        f"/api/v1/niem/requests?agency={agency}", data=content, content_type="application/xml"
    )


def test_import_over_the_api(route: Route) -> None:
    api = Api(route.teammate)
    response = _post(api, route.county.pk, schema.SAMPLE.read_bytes())
    assert response.status_code == 201, response.content  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    cp = CPRequest.objects.get(pk=body["request"])
    assert cp.status == "draft"
    assert str(cp.case_id) == body["case"]
    fields = {line["field"]: line for line in body["report"]}
    assert fields["Case number"]["taken"]
    assert fields["Case number"]["value"] == "2026-0077"
    assert fields["Full name"]["value"] == ""


def test_import_refusals(route: Route) -> None:
    before = Case.objects.count()
    reader = Api(route.teammate, ("read",))
    assert _post(reader, route.county.pk, schema.SAMPLE.read_bytes()).status_code == 403  # type: ignore[attr-defined]
    writer = Api(route.teammate)
    invalid = _post(
        writer, route.county.pk, b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>"
    )
    assert invalid.status_code == 422  # type: ignore[attr-defined]
    problems = invalid.json()  # type: ignore[attr-defined]
    assert "nothing was saved" in problems["detail"]
    assert problems["errors"][0]["message"]
    assert _post(writer, route.other_county.pk, schema.SAMPLE.read_bytes()).status_code == 403  # type: ignore[attr-defined]
    huge = _post(writer, route.county.pk, b"<x>" + b" " * (schema.MAX_BYTES + 10) + b"</x>")
    assert huge.status_code == 413  # type: ignore[attr-defined]
    assert Case.objects.count() == before
