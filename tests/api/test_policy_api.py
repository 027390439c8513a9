from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from cpnav.core.ratelimit import reset as reset_rate_limits
from cpnav.policy import CONTRACT, determine, parse_facts

pytestmark = pytest.mark.django_db

MINOR_SEX = {
    "as_of": "2026-06-01",
    "requester": {"agency_level": "tribal", "federal_partner_engaged": False},
    "person": {"citizenship": "noncitizen", "date_of_birth": "2010-01-15"},
    "exploitation": {"commercial_sex_act": True, "means": [], "under_18_at_time": True},
    "witness": {"potential_witness": True},
}


def post(client: Client, body: Any, content_type: str = "application/json") -> Any:
    data = body if isinstance(body, str) else json.dumps(body)
    return client.post("/api/v1/determinations", data=data, content_type=content_type)


@pytest.fixture(autouse=True)
def _fresh_rate_limits(db: None) -> None:
    reset_rate_limits()


def test_determination_matches_the_engine_and_the_contract(client: Client) -> None:
    response = post(client, MINOR_SEX)
    assert response.status_code == 200
    body = response.json()
    assert body == determine(parse_facts(MINOR_SEX)).to_json()
    assert body["contract"] == CONTRACT
    assert set(body) == {"contract", "rules_version", "as_of", "outcome", "submission_path",
                         "severe_forms", "criteria", "actions"}  # fmt: skip
    assert body["outcome"] == "likely_eligible"
    assert body["submission_path"] == "through_federal_partner"
    assert "notify_hhs_within_24h" in {a["id"] for a in body["actions"]}


def test_empty_facts_need_information(client: Client) -> None:
    body = post(client, {}).json()
    assert body["outcome"] == "needs_information"
    assert {c["status"] for c in body["criteria"]} == {"unknown"}


def test_every_bad_field_is_named_by_json_path(client: Client) -> None:
    response = post(
        client,
        {
            "person": {"age_estimate": "sixteen", "nickname": "x"},
            "exploitation": {"means": ["magic"]},
        },
    )
    assert response.status_code == 422
    paths = {e["path"] for e in response.json()["errors"]}
    assert paths == {"$.person.age_estimate", "$.person.nickname", "$.exploitation.means[0]"}


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        ("{not json", "application/json", 422),
        ("[1, 2]", "application/json", 422),
        ("x=1", "application/x-www-form-urlencoded", 400),
        ('{"as_of": "1999-01-01"}', "application/json", 422),
        ('{"as_of": "2026-02-30"}', "application/json", 422),
        ("\U0001f600" * 10, "application/json", 422),
    ],
)
def test_bad_bodies_get_clear_errors_never_500(
    client: Client, body: str, content_type: str, status: int
) -> None:
    response = post(client, body, content_type)
    assert response.status_code == status
    assert response.json()["detail"]


def test_rate_limit(client: Client, settings: Any) -> None:
    settings.API_ANONYMOUS_RATE = "3/min"
    assert [post(client, {}).status_code for _ in range(3)] == [200, 200, 200]
    limited = post(client, {})
    assert limited.status_code == 429
    assert int(limited["Retry-After"]) > 0


def test_nothing_is_stored_and_no_sign_in_needed(client: Client) -> None:
    from cpnav.audit.models import AuditEvent

    post(client, MINOR_SEX)
    assert not AuditEvent.objects.exists()


def test_rules_endpoint(client: Client) -> None:
    rules = client.get("/api/v1/rules").json()
    assert [r["id"] for r in rules] == ["cp-2001-08-23-1y", "cp-2021-07-30-2y"]
    assert all(r["citations"] for r in rules)


def test_openapi_documents_the_contract_and_errors(client: Client) -> None:
    spec = client.get("/api/v1/openapi.json").json()
    operation = spec["paths"]["/api/v1/determinations"]["post"]
    assert {"200", "400", "422", "429"} <= set(operation["responses"])
    body_schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert "person" in body_schema["properties"]
    assert body_schema.get("additionalProperties") is False
    assert "/api/v1/rules" in spec["paths"]


def test_other_systems_call_the_api_without_a_csrf_token() -> None:
    client = Client(enforce_csrf_checks=True)
    response = client.post("/api/v1/determinations", data="{}", content_type="application/json")
    assert response.status_code == 200
