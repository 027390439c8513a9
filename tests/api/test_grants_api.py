"""Grants, deadlines and decisions over the API; the case and request filters; the token rate."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.test import Client, RequestFactory
from django.utils import timezone

from cpnav.cases import workflow
from cpnav.cases.models import CPRequest, Person
from cpnav.core.ratelimit import reset as reset_rate_limits
from cpnav.grants.models import Grant
from tests.api.test_cases_api import Api
from tests.route import Route

pytestmark = pytest.mark.django_db(transaction=True)

START = date.today() - timedelta(days=30)


@pytest.fixture(autouse=True)
def _fresh_rate_limits(db: None) -> None:
    reset_rate_limits()


def grant_request(route: Route, cp: CPRequest | None = None, start: date = START) -> Grant:
    """Walk the route's request to a grant starting on ``start``, as the pages would."""
    http = RequestFactory().post("/")
    request = cp or route.cp
    for user, name, data in [
        (route.investigator, "submit_for_approval", {}),
        (route.supervisor, "approve", {}),
        (route.sponsor, "endorse", {}),
        (route.reviewer, "record_receipt", {}),
        (route.reviewer, "grant", {"start_date": start}),
    ]:
        http.user = user
        request = workflow.perform(http, request, name, user, **data)
    return Grant.objects.get(person=request.person)


@pytest.fixture
def grant(route: Route) -> Grant:
    return grant_request(route)


def paths(response: Any) -> list[str]:
    return [error["path"] for error in response.json()["errors"]]


# --- Reading grants -------------------------------------------------------------------


def test_the_case_team_reads_its_grants_with_terms_and_status(route: Route, grant: Grant) -> None:
    api = Api(route.investigator)
    page = api.call("get", "/grants").json()
    assert page["count"] == 1
    item = page["items"][0]
    assert item["id"] == str(grant.pk)
    assert item["status"] == "active"
    assert item["reference"].startswith("CP-")
    assert item["person"] == str(route.person.pk)
    assert item["case"] == str(route.case.pk)
    assert item["agency"]["id"] == str(route.county.pk)
    assert item["can_edit"] is True
    assert item["version"] == 1
    assert item["current_term"]["start"] == START.isoformat()
    assert item["current_term"]["request"] == str(route.cp.pk)
    assert item["terms"] == [item["current_term"]]
    assert item["ends"] == []
    assert api.call("get", f"/grants/{grant.pk}").json() == item


def test_grant_filters(route: Route, grant: Grant) -> None:
    api = Api(route.investigator)
    end = date.fromisoformat(api.call("get", f"/grants/{grant.pk}").json()["current_term"]["end"])

    def count(query: str) -> int:
        response = api.call("get", f"/grants?{query}")
        assert response.status_code == 200, response.json()
        number: int = response.json()["count"]
        return number

    assert count("status=active") == 1
    assert count("status=revoked") == 0
    assert count(f"agency={route.county.pk}") == 1
    assert count(f"agency={route.other_county.pk}") == 0
    assert count(f"person={route.person.pk}") == 1
    assert count(f"ending_before={(end + timedelta(days=1)).isoformat()}") == 1
    assert count(f"ending_before={end.isoformat()}") == 0
    assert count("limit=1&offset=1") == 1  # the count is of all, the page is empty
    assert api.call("get", "/grants?limit=1&offset=1").json()["items"] == []
    bad = api.call("get", "/grants?status=paused&ending_before=someday")
    assert bad.status_code == 422
    assert len(bad.json()["errors"]) == 2
    assert api.call("get", "/grants?offset=99999999999999999999").status_code == 422


# --- Who may do what ------------------------------------------------------------------

WRITES = [
    ("put", "work-permit", {"version": 1, "work_permit_received_on": START.isoformat()}),
    ("put", "hhs-letter", {"version": 1, "hhs_letter_on": START.isoformat()}),
    ("put", "t-visa", {"version": 1, "t_visa_status": "referred"}),
    ("post", "ends", {"kind": "revoked", "effective_on": START.isoformat(), "reason": "x"}),
]


@pytest.mark.parametrize("persona", ["outsider", "teammate", "other_sponsor", "specialist"])
def test_outsiders_get_404(route: Route, grant: Grant, persona: str) -> None:
    api = Api(getattr(route, persona))
    assert api.call("get", "/grants").json()["count"] == 0
    assert api.call("get", f"/grants/{grant.pk}").status_code == 404
    assert api.call("get", f"/grants/{grant.pk}/deadlines").status_code == 404
    for method, name, body in WRITES:
        assert api.call(method, f"/grants/{grant.pk}/{name}", body).status_code == 404, name
    assert Grant.objects.get().version == 1
    assert not grant.ends.exists()


def test_tokens_and_roles_limit_what_changes(route: Route, grant: Grant) -> None:
    assert Client().get(f"/api/v1/grants/{grant.pk}").status_code == 401
    anonymous = Client().put(
        f"/api/v1/grants/{grant.pk}/t-visa", {"version": 1}, content_type="application/json"
    )
    assert anonymous.status_code == 401
    read_only = Api(route.investigator, ("read",))
    assert read_only.call("get", f"/grants/{grant.pk}").status_code == 200
    write_only = Api(route.investigator, ("write",))
    assert write_only.call("get", f"/grants/{grant.pk}").status_code == 403
    sponsor = Api(route.sponsor)  # sees the routed case, is not on its team
    seen = sponsor.call("get", f"/grants/{grant.pk}")
    assert seen.status_code == 200
    assert seen.json()["can_edit"] is False
    for method, name, body in WRITES:
        assert read_only.call(method, f"/grants/{grant.pk}/{name}", body).status_code == 403
        response = sponsor.call(method, f"/grants/{grant.pk}/{name}", body)
        assert response.status_code == 403, name
        assert response.json()["detail"]
    assert Grant.objects.get().version == 1
    assert Api(route.supervisor).call("put", f"/grants/{grant.pk}/t-visa", {
        "version": 1, "t_visa_status": "referred"}).status_code == 200  # fmt: skip


# --- The grant page's operations ----------------------------------------------------------


def test_work_permit_dates_are_versioned(route: Route, grant: Grant) -> None:
    api = Api(route.investigator)
    url = f"/grants/{grant.pk}/work-permit"
    received, expires = START + timedelta(days=3), START + timedelta(days=400)
    body = {"work_permit_received_on": received.isoformat(),
            "work_permit_expires_on": expires.isoformat()}  # fmt: skip
    saved = api.call("put", url, {"version": 1, **body})
    assert saved.status_code == 200, saved.json()
    assert saved.json()["version"] == 2
    assert saved.json()["work_permit_expires_on"] == expires.isoformat()
    stale = api.call("put", url, {"version": 1, **body})
    assert stale.status_code == 409
    assert paths(stale) == ["$.version"]
    assert "version 2" in stale.json()["detail"]
    backwards = api.call("put", url, {"version": 2, "work_permit_received_on": received.isoformat(),
                                      "work_permit_expires_on": START.isoformat()})  # fmt: skip
    assert backwards.status_code == 422
    assert paths(backwards) == ["$.work_permit_expires_on"]
    future = api.call("put", url, {"version": 2, "work_permit_received_on":
                                   (date.today() + timedelta(days=2)).isoformat()})  # fmt: skip
    assert future.status_code == 422
    assert paths(future) == ["$.work_permit_received_on"]
    nonsense = api.call("put", url, {"version": 2, "work_permit_expires_on": "0001-01-01"})
    assert nonsense.status_code == 422
    assert paths(nonsense) == ["$.work_permit_expires_on"]
    assert Grant.objects.get().version == 2
    deadlines = api.call("get", f"/grants/{grant.pk}/deadlines").json()
    permit = [d for d in deadlines if d["kind"] == "work_permit_expiry"]
    assert [d["due"][:10] for d in permit] == [expires.isoformat()]


def test_hhs_letter_and_t_visa(route: Route, grant: Grant) -> None:
    api = Api(route.investigator)
    letter = api.call("put", f"/grants/{grant.pk}/hhs-letter", {
        "version": 1, "dhs_notified_hhs_on": START.isoformat(),
        "hhs_letter_on": (START + timedelta(days=5)).isoformat()})  # fmt: skip
    assert letter.status_code == 200, letter.json()
    assert letter.json()["hhs_letter_on"] == (START + timedelta(days=5)).isoformat()
    visa = api.call("put", f"/grants/{grant.pk}/t-visa", {
        "version": 2, "t_visa_status": "filed", "t_visa_referred_on": START.isoformat(),
        "t_visa_filed_on": date.today().isoformat()})  # fmt: skip
    assert visa.status_code == 200, visa.json()
    assert visa.json()["t_visa_status"] == "filed"
    assert visa.json()["version"] == 3
    unknown = api.call(
        "put", f"/grants/{grant.pk}/t-visa", {"version": 3, "t_visa_status": "maybe"}
    )
    assert unknown.status_code == 422
    assert paths(unknown) == ["$.t_visa_status"]
    missing = api.call("put", f"/grants/{grant.pk}/t-visa", {"t_visa_status": "filed"})
    assert missing.status_code == 422
    assert paths(missing) == ["$.version"]


def test_recording_an_end_and_a_revocation(route: Route, grant: Grant) -> None:
    api = Api(route.investigator)
    url = f"/grants/{grant.pk}/ends"
    early = api.call("post", url, {"kind": "revoked", "reason": "x",
                                   "effective_on": (START - timedelta(days=1)).isoformat()})  # fmt: skip
    assert early.status_code == 422
    assert paths(early) == ["$.effective_on"]
    blank = api.call("post", url, {"kind": "revoked", "reason": "   ",
                                   "effective_on": date.today().isoformat()})  # fmt: skip
    assert blank.status_code == 422
    assert paths(blank) == ["$.reason"]
    wrong_kind = api.call("post", url, {"kind": "paused", "reason": "x",
                                        "effective_on": date.today().isoformat()})  # fmt: skip
    assert wrong_kind.status_code == 422
    later = api.call("post", url, {"kind": "civil_action_ended", "reason": "Settled.",
                                   "effective_on": (date.today() + timedelta(days=10)).isoformat()})  # fmt: skip
    assert later.status_code == 201, later.json()
    assert later.json()["status"] == "active"  # not yet in effect
    assert [e["kind"] for e in later.json()["ends"]] == ["civil_action_ended"]


def test_a_revocation_in_effect(route: Route, grant: Grant) -> None:
    api = Api(route.investigator)
    revoked = api.call("post", f"/grants/{grant.pk}/ends", {"kind": "revoked",
                       "reason": "Revoked by CCHT.", "effective_on": date.today().isoformat()})  # fmt: skip
    assert revoked.status_code == 201
    body = revoked.json()
    assert body["status"] == "revoked"
    assert body["ends"][0]["reason"] == "Revoked by CCHT."
    assert api.call("get", "/grants?status=revoked").json()["count"] == 1
    assert api.call("get", "/grants?status=active").json()["count"] == 0


def test_a_later_scheduled_end_does_not_hide_a_revocation(route: Route, grant: Grant) -> None:
    api = Api(route.investigator)
    url = f"/grants/{grant.pk}/ends"
    api.call("post", url, {"kind": "civil_action_ended", "reason": "Settled.",
                           "effective_on": (date.today() + timedelta(days=10)).isoformat()})  # fmt: skip
    revoked = api.call("post", url, {"kind": "revoked", "reason": "Revoked by CCHT.",
                                     "effective_on": date.today().isoformat()})  # fmt: skip
    assert revoked.json()["status"] == "revoked"


# --- Deadlines ------------------------------------------------------------------------


def test_deadlines_as_the_dashboard_computes_them(route: Route, grant: Grant) -> None:
    minor = Person(case=route.case, full_name="Synthetic Minor", citizenship="noncitizen",
                   minor_identified_at=timezone.now() - timedelta(hours=2))  # fmt: skip
    minor.refresh_indexes()
    minor.save()
    api = Api(route.investigator)
    page = api.call("get", "/deadlines").json()
    kinds = {d["kind"] for d in page["items"]}
    assert {"term_end", "extension_window_opens", "hhs_notification"} <= kinds
    term = next(d for d in page["items"] if d["kind"] == "term_end")
    assert term["grant"] == str(grant.pk)
    assert term["person"] == str(route.person.pk)
    assert term["link"] == f"/grants/{grant.pk}/"
    assert term["source"]
    hhs = next(d for d in page["items"] if d["kind"] == "hhs_notification")
    assert hhs["grant"] is None
    assert hhs["person"] == str(minor.pk)
    assert hhs["all_day"] is False
    dues = [d["due"] for d in page["items"]]
    assert dues == sorted(dues)
    only = api.call("get", "/deadlines?kind=term_end").json()
    assert [d["kind"] for d in only["items"]] == ["term_end"]
    soon = api.call("get", "/deadlines?days=2").json()
    assert [d["kind"] for d in soon["items"]] == ["hhs_notification"]
    assert api.call("get", "/deadlines?limit=1").json()["count"] == page["count"]
    bad = api.call("get", "/deadlines?kind=birthday&days=-1&scope=everyone")
    assert bad.status_code == 422
    assert len(bad.json()["errors"]) == 3
    supervisor = Api(route.supervisor)  # not on the team: "mine" is empty, "all" is not
    assert supervisor.call("get", "/deadlines").json()["count"] == 0
    assert supervisor.call("get", "/deadlines?scope=all").json()["count"] == page["count"]
    assert Api(route.outsider).call("get", "/deadlines?scope=all").json()["count"] == 0


def test_done_deadlines_show_only_when_asked(route: Route, grant: Grant) -> None:
    api = Api(route.investigator)
    api.call("post", f"/grants/{grant.pk}/ends", {"kind": "civil_action_ended", "reason": "Over.",
                                                   "effective_on": date.today().isoformat()})  # fmt: skip
    open_kinds = [d["kind"] for d in api.call("get", "/deadlines").json()["items"]]
    assert "t_visa_referral" in open_kinds
    api.call("put", f"/grants/{grant.pk}/t-visa", {"version": 1, "t_visa_status": "referred"})
    assert "t_visa_referral" not in [
        d["kind"] for d in api.call("get", "/deadlines").json()["items"]
    ]
    done = api.call("get", "/deadlines?show=all&kind=t_visa_referral").json()["items"]
    assert [d["status"] for d in done] == ["done"]


# --- Decisions ------------------------------------------------------------------------


def test_decisions_of_a_request(route: Route, grant: Grant) -> None:
    response = Api(route.investigator).call("get", f"/requests/{route.cp.pk}/decisions")
    assert response.status_code == 200
    decisions = response.json()
    assert [d["kind"] for d in decisions] == ["received", "granted"]
    assert decisions[1]["start_date"] == START.isoformat()
    assert decisions[1]["end_date"] == grant.terms.get().end.isoformat()
    assert Api(route.reviewer).call("get", f"/requests/{route.cp.pk}/decisions").status_code == 200
    assert Api(route.outsider).call("get", f"/requests/{route.cp.pk}/decisions").status_code == 404


def test_a_ccht_information_request_is_a_decision_with_a_due_date(route: Route) -> None:
    http = RequestFactory().post("/")
    cp = route.cp
    for user, name in [(route.investigator, "submit_for_approval"),
                       (route.supervisor, "approve"), (route.sponsor, "endorse")]:  # fmt: skip
        http.user = user
        cp = workflow.perform(http, cp, name, user)
    reviewer = Api(route.reviewer)
    due = (date.today() + timedelta(days=14)).isoformat()
    past = reviewer.call("post", f"/requests/{cp.pk}/transitions/request_information",
                         {"information": "Court dates.", "due_date": "2000-01-01"})  # fmt: skip
    assert past.status_code == 422
    assert paths(past) == ["$.due_date"]
    asked = reviewer.call("post", f"/requests/{cp.pk}/transitions/request_information",
                          {"information": "Court dates.", "due_date": due})  # fmt: skip
    assert asked.status_code == 200, asked.json()
    decisions = reviewer.call("get", f"/requests/{cp.pk}/decisions").json()
    assert [(d["kind"], d["due_date"]) for d in decisions] == [("information_requested", due)]


def test_an_information_request_before_any_grant_is_a_deadline(route: Route) -> None:
    http = RequestFactory().post("/")
    cp = route.cp
    for user, name, data in [
        (route.investigator, "submit_for_approval", {}), (route.supervisor, "approve", {}),
        (route.sponsor, "endorse", {}),
        (route.reviewer, "request_information",
         {"information": "Court dates.", "due_date": date.today() + timedelta(days=14)}),
    ]:  # fmt: skip
        http.user = user
        cp = workflow.perform(http, cp, name, user, **data)
    deadlines = Api(route.investigator).call("get", "/deadlines?kind=information_request_due")
    assert deadlines.json()["count"] == 1


# --- Filters on cases and requests ------------------------------------------------------


def test_case_and_request_filters(route: Route, grant: Grant) -> None:
    api = Api(route.investigator)

    def count(path: str) -> int:
        response = api.call("get", path)
        assert response.status_code == 200, response.json()
        number: int = response.json()["count"]
        return number

    assert count(f"/cases?agency={route.county.pk}") == 1
    assert count(f"/cases?agency={route.other_county.pk}") == 0
    assert count("/cases?criminal_status=investigating&civil_status=none") == 1
    assert count("/cases?criminal_status=convicted") == 0
    since = (timezone.now() - timedelta(hours=1)).isoformat()
    assert count(f"/cases?updated_since={since.replace('+', '%2B')}") == 1
    assert count("/cases?updated_since=2150-01-01T00:00:00") == 0
    assert count("/requests?status=granted&kind=initial") == 1
    assert count("/requests?status=draft") == 0
    assert count("/requests?kind=extension") == 0
    assert count(f"/requests?case={route.case.pk}&person={route.person.pk}") == 1
    for bad in ("/cases?criminal_status=pending", "/cases?updated_since=yesterday",
                "/requests?status=lost", "/requests?kind=renewal", "/cases?limit=0",
                "/cases?limit=501", "/requests?offset=-1"):  # fmt: skip
        response = api.call("get", bad)
        assert response.status_code == 422, bad
        assert response.json()["errors"], bad


def test_an_extension_request_is_filtered_by_kind(route: Route, grant: Grant) -> None:
    api = Api(route.investigator)
    made = api.call("post", f"/persons/{route.person.pk}/requests?kind=extension")
    assert made.status_code == 201
    assert api.call("get", "/requests?kind=extension").json()["count"] == 1
    assert api.call("post", f"/persons/{route.person.pk}/requests?kind=renewal").status_code == 422
    assert api.call("get", "/grants?status=extension_requested").json()["count"] == 0  # a draft


# --- Rate limit per token ---------------------------------------------------------------


def test_each_token_has_its_own_rate_limit(route: Route, grant: Grant, settings: Any) -> None:
    settings.API_TOKEN_RATE = "3/min"
    api, other = Api(route.investigator), Api(route.investigator)
    for _ in range(3):
        assert api.call("get", "/grants").status_code == 200
    limited = api.call("get", f"/grants/{grant.pk}")
    assert limited.status_code == 429
    assert 1 <= int(limited["Retry-After"]) <= 60
    assert limited.json()["detail"]
    assert api.call("put", f"/grants/{grant.pk}/t-visa",
                    {"version": 1, "t_visa_status": "referred"}).status_code == 429  # fmt: skip
    assert Grant.objects.get().version == 1
    assert other.call("get", "/cases").status_code == 200  # another token, another budget
    assert Client().get("/api/v1/grants").status_code == 401  # no token: refused, not counted


def test_invalid_tokens_are_not_counted_against_anyone(route: Route, settings: Any) -> None:
    settings.API_TOKEN_RATE = "2/min"
    bad = Client(HTTP_AUTHORIZATION="Bearer cpnav_000000000000_nope")
    for _ in range(4):
        assert bad.get("/api/v1/grants").status_code == 401
    assert Api(route.investigator).call("get", "/grants").status_code == 200


# --- The OpenAPI document ---------------------------------------------------------------


def test_every_token_operation_declares_its_errors(client: Client) -> None:
    spec = client.get("/api/v1/openapi.json").json()
    checked = 0
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            if operation.get("security") != [{"TokenAuth": []}]:
                continue
            declared = set(operation["responses"])
            assert {"401", "403", "404", "422", "429"} <= declared, (method, path)
            if method in {"post", "put", "delete"}:
                assert "400" in declared, (method, path)
            checked += 1
    assert checked >= 40
    for path in ("/grants/{grant_id}/work-permit", "/grants/{grant_id}/hhs-letter",
                 "/grants/{grant_id}/t-visa", "/referrals/{referral_id}/follow-up"):  # fmt: skip
        assert "409" in spec["paths"][f"/api/v1{path}"]["put"]["responses"], path
    assert "409" in spec["paths"]["/api/v1/referrals/{referral_id}/status"]["post"]["responses"]
    assert "429" in spec["paths"]["/api/v1/rules"]["get"]["responses"]
