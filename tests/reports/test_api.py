"""GET /api/v1/metrics: the dashboard's de-identified tables for a token's owner."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from cpnav.audit.models import AuditEvent
from cpnav.reports import services
from tests.api.test_cases_api import token_for
from tests.reports.world import World

pytestmark = pytest.mark.django_db


def get(world_user: Any, **query: str) -> Any:
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token_for(world_user, ('read',))}")
    return client.get("/api/v1/metrics", query)


def cells(body: dict[str, Any]) -> list[Any]:
    return [c for s in body["sections"] for t in s["tables"] for r in t["rows"] for c in r["cells"]]


def test_ccht_gets_every_table_with_small_counts_suppressed(requests_world: World) -> None:
    response = get(requests_world.ccht_user, fiscal_year="2026")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["start"] == "2025-10-01"
    assert body["end"] == "2026-09-30"
    assert body["suppressed_marker"] == "<5"
    slugs = {t["slug"] for s in body["sections"] for t in s["tables"]}
    assert slugs == set(services.SLUGS)
    values = cells(body)
    assert "<5" in values
    assert not [v for v in values if isinstance(v, int) and 0 < v < 5]
    text = json.dumps(body)
    assert "Far County Police" in text
    for secret in ("Synthetic Person", "SYN-"):
        assert secret not in text
    assert AuditEvent.objects.filter(action="report.api").count() == 1


def test_an_agency_user_sees_only_their_agency(requests_world: World) -> None:
    w = requests_world
    text = json.dumps(get(w.county_user, fiscal_year="2026", quarter="1").json())
    assert "Far County Police" not in text
    assert get(w.county_user, fiscal_year="2026", agency=str(w.far.pk)).status_code == 404
    assert get(w.nobody, fiscal_year="2026").status_code == 403


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"quarter": "2"},
        {"fiscal_year": "2026", "start": "2025-10-01", "end": "2025-12-31"},
        {"start": "2025-10-01"},
        {"start": "2025-12-31", "end": "2025-10-01"},
        {"fiscal_year": "1066"},
        {"fiscal_year": "2026", "quarter": "5"},
    ],
)
def test_bad_periods_are_422(requests_world: World, query: dict[str, str]) -> None:
    response = get(requests_world.ccht_user, **query)
    assert response.status_code == 422
    assert response.json()["errors"]


def test_no_token_is_401(requests_world: World) -> None:
    assert Client().get("/api/v1/metrics", {"fiscal_year": "2026"}).status_code == 401
