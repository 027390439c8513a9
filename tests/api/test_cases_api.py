from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from django.test import Client, RequestFactory

from cpnav.accounts import tokens
from cpnav.accounts.models import User
from cpnav.audit.models import AuditEvent
from cpnav.cases.models import CPRequest, Person, Status
from tests.route import Route

pytestmark = pytest.mark.django_db(transaction=True)


def token_for(user: User, scopes: tuple[str, ...] = ("read", "write")) -> str:
    http = RequestFactory().post("/")
    http.user = user
    return tokens.issue(http, user, "test", list(scopes), 30)[1]


class Api:
    def __init__(self, user: User, scopes: tuple[str, ...] = ("read", "write")) -> None:
        self.client = Client(HTTP_AUTHORIZATION=f"Bearer {token_for(user, scopes)}")

    def call(self, method: str, path: str, body: Any = None) -> Any:
        kwargs: dict[str, Any] = {}
        if body is not None:
            import json

            kwargs = {"data": json.dumps(body, default=str), "content_type": "application/json"}
        return getattr(self.client, method)(f"/api/v1{path}", **kwargs)


def test_tokens_are_required_and_checked(route: Route) -> None:
    assert Client().get("/api/v1/cases").status_code == 401
    bad = Client(HTTP_AUTHORIZATION="Bearer cpnav_000000000000_nope")
    response = bad.get("/api/v1/cases")
    assert response.status_code == 401
    assert response.json()["detail"]
    assert AuditEvent.objects.filter(action="api.auth_failure").exists()


def test_revoked_and_expired_tokens_stop_working(route: Route) -> None:
    from cpnav.accounts.models import APIToken

    api = Api(route.investigator)
    assert api.call("get", "/cases").status_code == 200
    APIToken.objects.update(revoked_at="2026-01-01T00:00:00Z")
    assert api.call("get", "/cases").status_code == 401


def test_read_scope_cannot_write(route: Route) -> None:
    api = Api(route.investigator, ("read",))
    assert api.call("get", "/cases").status_code == 200
    response = api.call("post", f"/persons/{route.person.pk}/requests")
    assert response.status_code == 403


def test_full_route_over_the_api(route: Route) -> None:
    investigator = Api(route.investigator)
    created = investigator.call("post", "/cases", {
        "agency": str(route.county.pk), "case_number": "API-1", "trafficking_forms": ["sex"],
        "federal_partner": str(route.hsi.pk),
    })  # fmt: skip
    assert created.status_code == 201, created.json()
    case_id = created.json()["id"]
    person = investigator.call("post", f"/cases/{case_id}/persons", {
        "full_name": "王 演示", "date_of_birth": "2010-01-02", "citizenship": "noncitizen",
    })  # fmt: skip
    assert person.status_code == 201
    assert person.json()["fields"]["full_name"] == "王 演示"
    cp = investigator.call("post", f"/persons/{person.json()['id']}/requests").json()
    facts = {"exploitation": {"commercial_sex_act": True, "under_18_at_time": True},
             "witness": {"potential_witness": True}}  # fmt: skip
    updated = investigator.call(
        "put", f"/requests/{cp['id']}/facts", {"version": cp["version"], "facts": facts}
    )
    assert updated.status_code == 200
    assert updated.json()["determination"]["outcome"] == "likely_eligible"
    stale = investigator.call(
        "put", f"/requests/{cp['id']}/facts", {"version": cp["version"], "facts": facts}
    )
    assert stale.status_code == 409
    steps = [(route.investigator, "submit_for_approval", {}), (route.supervisor, "approve", {}),
             (route.sponsor, "endorse", {}), (route.reviewer, "grant", {"start_date": "2026-12-01"})]  # fmt: skip
    for user, name, body in steps:
        response = Api(user).call("post", f"/requests/{cp['id']}/transitions/{name}", body)
        assert response.status_code == 200, (name, response.json())
    final = investigator.call("get", f"/requests/{cp['id']}").json()
    assert final["status"] == Status.GRANTED
    assert [e["transition"] for e in final["events"]] == [s[1] for s in steps]


def test_errors_are_clear(route: Route) -> None:
    api = Api(route.investigator)
    wrong_state = api.call("post", f"/requests/{route.cp.pk}/transitions/approve", {})
    assert wrong_state.status_code == 409
    assert "cannot be changed" in wrong_state.json()["detail"]
    supervisor = Api(route.supervisor)
    response = supervisor.call(
        "post", f"/requests/{route.cp.pk}/transitions/submit_for_approval", {}
    )
    assert response.status_code == 403
    response = api.call("post", f"/requests/{route.cp.pk}/transitions/withdraw", {})
    assert response.status_code == 422
    assert response.json()["errors"][0]["path"] == "$.comment"
    reviewer = Api(route.reviewer)
    assert reviewer.call("get", f"/requests/{route.cp.pk}").status_code == 404
    response = api.call("post", f"/cases/{route.case.pk}/persons",
                        {"full_name": "X", "date_of_birth": (date.today() + timedelta(days=3)).isoformat()})  # fmt: skip
    assert response.status_code == 422
    response = api.call(
        "post", f"/cases/{route.case.pk}/persons", {"full_name": "X", "a_number": "B1"}
    )
    assert response.status_code == 422
    assert response.json()["errors"]
    response = api.call(
        "put", f"/requests/{route.cp.pk}/facts", {"version": 1, "facts": {"person": {"x": 1}}}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["path"] == "$.person.x"
    assert api.call("post", f"/requests/{route.cp.pk}/transitions/teleport", {}).status_code == 404
    duplicate = api.call(
        "post", "/cases", {"agency": str(route.county.pk), "case_number": route.case.case_number}
    )
    assert duplicate.status_code == 422


ENDPOINTS = [
    ("get", "/cases/{case}"),
    ("post", "/cases/{case}/persons"),
    ("get", "/persons/{person}"),
    ("post", "/persons/{person}/requests"),
    ("get", "/requests/{request}"),
    ("put", "/requests/{request}/facts"),
    ("post", "/requests/{request}/transitions/withdraw"),
]


@pytest.mark.parametrize(
    "persona", ["outsider", "teammate", "other_sponsor", "reviewer", "specialist"]
)
def test_outsiders_get_404_on_every_endpoint(route: Route, persona: str) -> None:
    api = Api(getattr(route, persona))
    ids = {"case": route.case.pk, "person": route.person.pk, "request": route.cp.pk}
    bodies = {"post": {"full_name": "X", "comment": "x"}, "put": {"version": 1, "facts": {}}}
    for method, template in ENDPOINTS:
        response = api.call(method, template.format(**ids), bodies.get(method))
        assert response.status_code == 404, (persona, template, response.status_code)
    assert api.call("get", "/cases").json()["count"] == 0
    assert api.call("get", "/requests").json()["count"] == 0
    assert Person.objects.count() == 1
    assert CPRequest.objects.get().status == Status.DRAFT


def test_unknown_ids_are_404(route: Route) -> None:
    api = Api(route.investigator)
    for path in ("/cases/{}", "/persons/{}", "/requests/{}"):
        assert api.call("get", path.format(uuid.uuid4())).status_code == 404


def test_openapi_declares_the_errors(client: Client) -> None:
    spec = client.get("/api/v1/openapi.json").json()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if path.startswith("/api/v1/cases") or path.startswith("/api/v1/requests"):
                assert {"401", "404"} <= set(operation["responses"]), (method, path)


def test_guided_interview_and_package_over_the_api(
    route: Route, settings: Any, tmp_path: Any
) -> None:
    settings.ATTACHMENTS_DIR = tmp_path
    api = Api(route.investigator)
    early = api.call("post", f"/requests/{route.cp.pk}/package")
    assert early.status_code == 422
    assert any("official" in e["message"] for e in early.json()["errors"])
    state = api.call("get", f"/requests/{route.cp.pk}/interview").json()
    assert state["answers"]["citizenship"] == "noncitizen"  # prefilled from the person
    bad = api.call("post", f"/requests/{route.cp.pk}/interview/{state['next_question']['id']}",
                   {"value": "definitely"})  # fmt: skip
    if state["next_question"]["type"] in {"yes_no_unknown", "choice", "date", "number"}:
        assert bad.status_code == 422
    for _ in range(60):
        question = state["next_question"]
        if question is None:
            break
        kind = question["type"]
        value: Any = {"yes_no_unknown": "yes", "date": "2000-01-01", "number": 30,
                      "text": "Synthetic text"}.get(kind)  # fmt: skip
        if kind in {"choice", "multi_choice"}:
            value = question["choices"][0]["value"]
        if kind == "people":
            value = []
        if question["id"] == "official_email":
            value = "officer@a.example"
        response = api.call(
            "post", f"/requests/{route.cp.pk}/interview/{question['id']}", {"value": value}
        )
        assert response.status_code == 200, (question, response.json())
        state = response.json()
    assert state["complete"]
    assert state["determination"]["outcome"]
    made = api.call("post", f"/requests/{route.cp.pk}/package")
    assert made.status_code == 201, made.json()
    files = {item["format"]: item for item in made.json()}
    download = api.call("get", f"/packages/{files['pdf']['id']}")
    assert download.status_code == 200
    assert b"".join(download.streaming_content).startswith(b"%PDF")
    assert Api(route.outsider).call("get", f"/packages/{files['pdf']['id']}").status_code == 404
    assert Api(route.outsider).call("get", f"/requests/{route.cp.pk}/interview").status_code == 404
    assert (
        api.call(
            "post", f"/requests/{route.cp.pk}/interview/no_such_question", {"value": "x"}
        ).status_code
        == 404
    )


def test_token_calls_need_no_csrf_token_but_sessions_do_not_unlock_the_api(route: Route) -> None:
    token = token_for(route.investigator)
    client = Client(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Bearer {token}")
    response = client.post(f"/api/v1/persons/{route.person.pk}/requests")
    assert response.status_code == 201
    from tests.conftest import signed_in

    session_only = signed_in(Client(enforce_csrf_checks=True), route.investigator)
    assert session_only.get("/api/v1/cases").status_code == 401
