"""The services directory and referrals over the API."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.test import Client

from cpnav.audit.models import AuditEvent
from cpnav.core.ratelimit import reset as reset_rate_limits
from cpnav.referrals.models import Kind, Provider, Referral
from tests.api.test_cases_api import Api
from tests.route import Route

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _fresh_rate_limits(db: None) -> None:
    reset_rate_limits()


@pytest.fixture
def providers(db: None) -> dict[str, Provider]:
    return {
        "hotline": Provider.objects.create(
            name="Synthetic National Hotline", kind=Kind.NATIONAL, jurisdiction="United States",
            services=["hotline", "case_management"], languages=["English", "Spanish"],
            phone="18883737888", source="test data",
        ),
        "legal": Provider.objects.create(
            name="Synthetic Legal Aid", kind=Kind.LOCAL, jurisdiction="County A", state="OH",
            services=["legal", "immigration_counsel"], languages=["English", "Mandarin"],
            source="test data", website="https://legal.example",
        ),
        "shelter": Provider.objects.create(
            name="Synthetic Shelter West", kind=Kind.LOCAL, jurisdiction="County B", state="OR",
            services=["shelter"], source="test data",
        ),
        "closed": Provider.objects.create(
            name="Synthetic Closed Clinic", kind=Kind.LOCAL, jurisdiction="County A", state="OH",
            services=["medical"], source="test data", active=False,
        ),
    }  # fmt: skip


def paths(response: Any) -> list[str]:
    return [error["path"] for error in response.json()["errors"]]


def in_days(days: int) -> str:
    return (date.today() + timedelta(days=days)).isoformat()


def refer(api: Api, route: Route, to: Provider, **overrides: Any) -> Any:
    body = {"provider": str(to.pk), "services": ["legal"], "consent": True,
            "follow_up_on": in_days(7), "consent_note": "Agreed verbally, with an interpreter."}  # fmt: skip
    body.update(overrides)
    return api.call("post", f"/persons/{route.person.pk}/referrals", body)


# --- The directory --------------------------------------------------------------------


def test_directory_search_filters_as_the_page(route: Route, providers: dict[str, Provider]) -> None:
    api = Api(route.investigator)

    def names(query: str = "") -> list[str]:
        response = api.call("get", f"/providers?{query}")
        assert response.status_code == 200, response.json()
        return [p["name"] for p in response.json()["items"]]

    assert names() == ["Synthetic National Hotline", "Synthetic Legal Aid",
                       "Synthetic Shelter West"]  # fmt: skip
    assert names("state=OH") == ["Synthetic National Hotline", "Synthetic Legal Aid"]
    assert names("service=shelter") == ["Synthetic Shelter West"]
    assert names("language=mandarin") == ["Synthetic Legal Aid"]
    assert names("text=county b") == ["Synthetic Shelter West"]
    assert names("state=OR&service=legal") == []
    assert api.call("get", "/providers?limit=1").json()["count"] == 3
    first = api.call("get", "/providers?limit=1").json()["items"][0]
    assert first["phone"] == "1-888-373-7888"
    assert first["kind"] == "national"
    bad = api.call("get", "/providers?state=ZZ&service=astrology")
    assert bad.status_code == 422
    assert sorted(paths(bad)) == ["$.service", "$.state"]


def test_one_provider(route: Route, providers: dict[str, Provider]) -> None:
    api = Api(route.investigator)
    legal = api.call("get", f"/providers/{providers['legal'].pk}")
    assert legal.status_code == 200
    assert legal.json()["website"] == "https://legal.example"
    assert api.call("get", f"/providers/{route.case.pk}").status_code == 404
    assert api.call("get", "/providers/not-a-uuid").status_code == 422
    assert Client().get("/api/v1/providers").status_code == 401


# --- Making a referral ------------------------------------------------------------------


def test_the_case_team_refers_with_consent(route: Route, providers: dict[str, Provider]) -> None:
    api = Api(route.investigator)
    made = refer(api, route, providers["legal"], services=["legal", "immigration_counsel"])
    assert made.status_code == 201, made.json()
    body = made.json()
    assert body["status"] == "sent"
    assert body["next_statuses"] == ["accepted", "declined"]
    assert body["services"] == ["legal", "immigration_counsel"]
    assert body["consent_recorded"] is True
    assert body["provider"]["id"] == str(providers["legal"].pk)
    assert body["person"] == str(route.person.pk)
    assert body["reference"].startswith("REF-")
    assert body["version"] == 1
    assert [e["status"] for e in body["events"]] == ["sent"]
    listed = api.call("get", f"/persons/{route.person.pk}/referrals").json()
    assert listed["count"] == 1
    assert listed["items"][0]["id"] == body["id"]
    assert api.call("get", f"/referrals/{body['id']}").json() == body
    assert AuditEvent.objects.filter(action="referral.created").exists()
    supervisor = Api(route.supervisor)
    assert refer(supervisor, route, providers["hotline"], services=["hotline"]).status_code == 201


def test_refusals_name_their_fields(route: Route, providers: dict[str, Provider]) -> None:
    api = Api(route.investigator)
    no_consent = refer(api, route, providers["legal"], consent=False)
    assert no_consent.status_code == 422
    assert paths(no_consent) == ["$.consent"]
    assert "agreed" in no_consent.json()["detail"]
    missing_consent = api.call("post", f"/persons/{route.person.pk}/referrals",
                               {"provider": str(providers["legal"].pk), "services": ["legal"]})  # fmt: skip
    assert missing_consent.status_code == 422
    assert paths(missing_consent) == ["$.consent"]
    not_offered = refer(api, route, providers["legal"], services=["shelter"])
    assert not_offered.status_code == 422
    assert paths(not_offered) == ["$.services"]
    unknown = refer(api, route, providers["legal"], provider=str(route.case.pk))
    assert paths(unknown) == ["$.provider"]
    closed = refer(api, route, providers["closed"], services=["medical"])
    assert paths(closed) == ["$.provider"]
    past = refer(api, route, providers["legal"], follow_up_on=in_days(-2))
    assert paths(past) == ["$.follow_up_on"]
    bads: list[tuple[dict[str, Any], str]] = [
        ({"services": []}, "$.services"), ({"services": ["legal", "astrology"]}, "$.services[1]"),
        ({"follow_up_on": "soon"}, "$.follow_up_on"), ({"consent_note": "x" * 2001}, "$.consent_note"),
        ({"consent_note": "nul\x00"}, "$.consent_note"),
    ]  # fmt: skip
    for bad, path in bads:
        response = refer(api, route, providers["legal"], **bad)
        assert response.status_code == 422, bad
        assert paths(response) == [path], bad
    assert not Referral.objects.exists()


# --- Who may see and refer ------------------------------------------------------------


@pytest.mark.parametrize("persona", ["outsider", "teammate", "other_sponsor", "reviewer"])
def test_outsiders_get_404(route: Route, providers: dict[str, Provider], persona: str) -> None:
    referral = refer(Api(route.investigator), route, providers["legal"]).json()
    api = Api(getattr(route, persona))
    assert api.call("get", f"/persons/{route.person.pk}/referrals").status_code == 404
    assert refer(api, route, providers["legal"]).status_code == 404
    assert api.call("get", f"/referrals/{referral['id']}").status_code == 404
    assert api.call("post", f"/referrals/{referral['id']}/status",
                    {"version": 1, "status": "accepted"}).status_code == 404  # fmt: skip
    assert api.call("put", f"/referrals/{referral['id']}/follow-up",
                    {"version": 1, "follow_up_on": None}).status_code == 404  # fmt: skip
    assert Referral.objects.get().version == 1


def test_seeing_is_not_referring(route: Route, providers: dict[str, Provider]) -> None:
    referral = refer(Api(route.investigator), route, providers["legal"]).json()
    route.cp.routed_to_sponsor_at = route.cp.created_at
    route.cp.save()
    sponsor = Api(route.sponsor)  # sees the routed case; is not on its team
    assert sponsor.call("get", f"/persons/{route.person.pk}").status_code == 200
    assert sponsor.call("get", f"/persons/{route.person.pk}/referrals").status_code == 403
    assert refer(sponsor, route, providers["legal"]).status_code == 403
    assert sponsor.call("get", f"/referrals/{referral['id']}").status_code == 403
    read_only = Api(route.investigator, ("read",))
    assert read_only.call("get", f"/referrals/{referral['id']}").status_code == 200
    assert refer(read_only, route, providers["legal"]).status_code == 403
    assert read_only.call("post", f"/referrals/{referral['id']}/status",
                          {"version": 1, "status": "accepted"}).status_code == 403  # fmt: skip
    anonymous = Client().post(f"/api/v1/referrals/{referral['id']}/status",
                              {"version": 1, "status": "accepted"}, content_type="application/json")  # fmt: skip
    assert anonymous.status_code == 401
    assert Referral.objects.count() == 1
    assert Referral.objects.get().status == "sent"


# --- Status and follow-up, versioned --------------------------------------------------------


def test_status_changes_are_versioned(route: Route, providers: dict[str, Provider]) -> None:
    api = Api(route.investigator)
    referral = refer(api, route, providers["legal"]).json()
    url = f"/referrals/{referral['id']}/status"
    skipped = api.call("post", url, {"version": 1, "status": "completed"})
    assert skipped.status_code == 409
    assert paths(skipped) == ["$.status"]
    accepted = api.call("post", url, {"version": 1, "status": "accepted", "note": "Intake booked."})
    assert accepted.status_code == 200, accepted.json()
    assert accepted.json()["status"] == "accepted"
    assert accepted.json()["version"] == 2
    assert accepted.json()["next_statuses"] == ["declined", "completed"]
    assert [e["note"] for e in accepted.json()["events"]] == ["", "Intake booked."]
    stale = api.call("post", url, {"version": 1, "status": "completed"})
    assert stale.status_code == 409
    assert paths(stale) == ["$.version"]
    assert "version 2" in stale.json()["detail"]
    unknown = api.call("post", url, {"version": 2, "status": "lost"})
    assert unknown.status_code == 422
    assert paths(unknown) == ["$.status"]
    done = api.call("post", url, {"version": 2, "status": "completed"})
    assert done.json()["next_statuses"] == []
    assert api.call("post", url, {"version": 3, "status": "declined"}).status_code == 409


def test_follow_up_dates_are_versioned(route: Route, providers: dict[str, Provider]) -> None:
    api = Api(route.investigator)
    referral = refer(api, route, providers["legal"]).json()
    url = f"/referrals/{referral['id']}/follow-up"
    moved = api.call("put", url, {"version": 1, "follow_up_on": in_days(30)})
    assert moved.status_code == 200, moved.json()
    assert moved.json()["follow_up_on"] == in_days(30)
    assert api.call("put", url, {"version": 1, "follow_up_on": in_days(3)}).status_code == 409
    past = api.call("put", url, {"version": 2, "follow_up_on": in_days(-1)})
    assert past.status_code == 422
    assert paths(past) == ["$.follow_up_on"]
    missing = api.call("put", url, {"version": 2})
    assert missing.status_code == 422
    cleared = api.call("put", url, {"version": 2, "follow_up_on": None})
    assert cleared.status_code == 200
    assert cleared.json()["follow_up_on"] is None
    assert cleared.json()["version"] == 3


def test_an_open_follow_up_is_a_deadline_until_the_referral_closes(
    route: Route, providers: dict[str, Provider]
) -> None:
    api = Api(route.investigator)
    referral = refer(api, route, providers["legal"], follow_up_on=in_days(5)).json()
    rows = api.call("get", "/deadlines?kind=referral_follow_up").json()["items"]
    assert [(r["person"], r["due"][:10]) for r in rows] == [(str(route.person.pk), in_days(5))]
    api.call("post", f"/referrals/{referral['id']}/status", {"version": 1, "status": "declined"})
    assert api.call("get", "/deadlines?kind=referral_follow_up").json()["count"] == 0
