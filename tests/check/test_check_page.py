from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

FULL = {
    "agency_level": "local",
    "federal_partner_engaged": "no",
    "citizenship": "noncitizen",
    "date_of_birth": "2010-05-05",
    "commercial_sex_act": "yes",
    "under_18_at_time": "yes",
    "means": ["none"],
    "potential_witness": "yes",
    "as_of": "2026-06-01",
}


def actions(content: bytes) -> list[str]:
    return [m.decode() for m in re.findall(rb'id="action-([a-z_0-9]+)"', content)]


def test_walk_the_four_steps(client: Client) -> None:
    page = client.get("/check/")
    assert b"Step" in page.content
    assert b"Who is asking" in page.content
    data: dict[str, Any] = {"step": "0", "action": "next", "agency_level": "local"}
    page = client.post("/check/", data)
    assert b"The person" in page.content
    assert b'name="agency_level" value="local"' in page.content
    page = client.post("/check/", {**data, "step": "1", "citizenship": "noncitizen"})
    assert b"What happened" in page.content
    page = client.post("/check/", {**data, "step": "2", "citizenship": "noncitizen"})
    assert b"Witness or civil action" in page.content
    page = client.post("/check/", {**data, "step": "3", "citizenship": "noncitizen"})
    assert b"More information is needed" in page.content


def test_result_for_a_minor(client: Client) -> None:
    page = client.post("/check/", {**FULL, "step": "3", "action": "next"})
    assert b"The criteria appear to be met" in page.content
    found = actions(page.content)
    assert found[0] == "notify_hhs_within_24h"
    assert "find_federal_partner" in found
    assert b"cp-2021-07-30-2y" in page.content
    assert b"22 U.S.C." in page.content
    assert b"Not a U.S. citizen or permanent resident" in page.content


def test_citizen_is_not_applicable(client: Client) -> None:
    page = client.post("/check/", {**FULL, "citizenship": "us_citizen", "step": "3"})
    assert b"Continued Presence does not apply" in page.content


def test_back_keeps_answers(client: Client) -> None:
    page = client.post("/check/", {**FULL, "step": "2", "action": "back"})
    assert b"The person" in page.content
    assert b'value="noncitizen" id="id_citizenship_1" checked' in page.content


def test_change_link_from_the_result(client: Client) -> None:
    page = client.post("/check/", {**FULL, "step": "0", "action": "goto-2"})
    assert b"What happened" in page.content


def test_bad_input_is_explained_in_place(client: Client) -> None:
    page = client.post("/check/", {**FULL, "step": "1", "age_estimate": "200"})
    assert b"usa-error-message" in page.content
    assert b"The person" in page.content
    page = client.post("/check/", {**FULL, "step": "2", "means": ["none", "force"]})
    assert b"alone" in page.content
    page = client.post("/check/", {**FULL, "step": "3", "as_of": "2009-01-01"})
    assert b"usa-error-message" in page.content
    assert b"The person" in page.content
    page = client.post("/check/", {**FULL, "step": "3", "as_of": "1990-01-01", "date_of_birth": ""})
    assert b"usa-error-message" in page.content or b"Please correct" in page.content


def test_tampered_step_number_does_not_crash(client: Client) -> None:
    for step in ("-5", "99", "abc"):
        assert client.post("/check/", {"step": step}).status_code == 200
    assert client.post("/check/", {"action": "goto-77"}).status_code == 200
