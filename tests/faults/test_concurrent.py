"""Two people at once: a stale save is refused with its input kept; one transition wins."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from html import unescape
from typing import Any

import pytest
from django.db import connection, connections
from django.test import Client, RequestFactory
from django.urls import reverse

from cpnav.accounts.models import Membership, Role, User
from cpnav.cases import services, workflow
from cpnav.cases.models import Case, CPRequest, Person, RequestEvent, Status
from tests.conftest import signed_in
from tests.faults.conftest import assert_chain_intact
from tests.route import Route

STALE = "Someone else saved this record while you were editing"
KEPT = "Your changes are still in the form below"
PG_ONLY = "an in-memory SQLite test database is not shared between threads"


def page(response: Any) -> str:
    assert response.status_code == 200
    return unescape(str(response.content.decode()))


# --- Versioned saves through the pages ----------------------------------------------


def case_form(route: Route, **changes: str) -> dict[str, Any]:
    return {
        "version": "1", "agency": route.county.pk, "case_number": route.case.case_number,
        "trafficking_forms": ["labor"], "federal_partner": route.hsi.pk,
        "criminal_status": "investigating", "civil_status": "none", **changes,
    }  # fmt: skip


@pytest.mark.django_db
def test_the_second_case_save_is_refused_and_keeps_what_was_typed(route: Route) -> None:
    CaseMember = route.case.members.model
    CaseMember.objects.create(case=route.case, user=route.teammate)
    first = signed_in(Client(), route.investigator)
    second = signed_in(Client(), route.teammate)
    url = reverse("cases:case_edit", args=[route.case.pk])
    first.get(url)
    second.get(url)  # both opened version 1

    assert (
        first.post(url, case_form(route, civil_court="Synthetic District Court")).status_code == 302
    )
    refused = page(second.post(url, case_form(route, civil_court="Court typed by the teammate")))

    assert STALE in refused
    assert KEPT in refused
    assert 'value="Court typed by the teammate"' in refused  # still in the form
    assert "Synthetic District Court" in refused  # the saved version, beside it
    assert 'name="version" value="2"' in refused  # saving again is a conscious overwrite
    case = Case.objects.get(pk=route.case.pk)
    assert (case.civil_court, case.version) == ("Synthetic District Court", 2)
    assert_chain_intact()


@pytest.mark.django_db
def test_the_second_facts_save_is_refused_and_keeps_the_narrative(route: Route) -> None:
    CaseMember = route.case.members.model
    CaseMember.objects.create(case=route.case, user=route.teammate)
    url = reverse("cases:request_facts", args=[route.cp.pk])
    facts = {"labor_or_services": "yes", "means": ["fraud"], "purpose": ["debt_bondage"],
             "potential_witness": "yes"}  # fmt: skip
    saved = signed_in(Client(), route.investigator).post(
        url, {**facts, "version": "1", "narrative": "First account (synthetic)."}
    )
    assert saved.status_code == 302

    typed = "Second account, typed for twenty minutes (synthetic)."
    refused = page(
        signed_in(Client(), route.teammate).post(url, {**facts, "version": "1", "narrative": typed})
    )

    assert STALE in refused
    assert typed in refused
    cp = CPRequest.objects.get(pk=route.cp.pk)
    assert (cp.narrative, cp.version) == ("First account (synthetic).", 2)
    assert_chain_intact()


# --- At the same moment, on PostgreSQL -------------------------------------------------


def together(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls in threads released at once; return their results (or exceptions)."""
    results: list[Any] = [None] * len(calls)
    barrier = threading.Barrier(len(calls))

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait()
            results[index] = call()
        except BaseException as error:  # returned to the test, which asserts on it
            results[index] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.mark.django_db(transaction=True)
def test_two_saves_of_the_same_person_at_once_cannot_both_win(
    rf: RequestFactory, route: Route
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip(PG_ONLY)

    def save(user: User, contact: str) -> Callable[[], Any]:
        def call() -> Any:
            http = rf.post("/")
            http.user = user
            person = Person.objects.get(pk=route.person.pk)
            return services.save_versioned(http, person, 1, {"contact": contact}, "person.changed")

        return call

    results = together(
        save(route.investigator, "+1 555 0101"), save(route.supervisor, "+1 555 0102")
    )

    won = [r for r in results if isinstance(r, Person)]
    refused = [r for r in results if isinstance(r, services.StaleVersion)]
    assert (len(won), len(refused)) == (1, 1), results
    stored = Person.objects.get(pk=route.person.pk)
    assert (stored.contact, stored.version) == (won[0].contact, 2)
    assert refused[0].current.version == 2  # the merge page shows the winner's version
    assert_chain_intact()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("first", "second"), [("approve", "approve"), ("approve", "return")])
def test_two_transitions_at_once_one_wins_and_the_other_is_told(
    route: Route, rf: RequestFactory, monkeypatch: pytest.MonkeyPatch, first: str, second: str
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip(PG_ONLY)
    http = rf.post("/")
    http.user = route.investigator
    workflow.perform(http, route.cp, "submit_for_approval", route.investigator)
    other = User.objects.create_user("sup2@a.example", "x" * 20, full_name="Second Supervisor")
    Membership.objects.create(user=other, agency=route.county, role=Role.SUPERVISOR)
    real_apply = workflow._apply
    entered: list[str] = []

    def slow_apply(*args: Any, **kwargs: Any) -> Any:
        # The first one in holds the request's row lock a while, so the other
        # really waits on it rather than arriving after the commit.
        entered.append(args[1])
        if len(entered) == 1:
            time.sleep(0.5)
        return real_apply(*args, **kwargs)

    monkeypatch.setattr(workflow, "_apply", slow_apply)

    def press(user: User, name: str) -> Callable[[], Any]:
        client = signed_in(Client(), user)
        url = reverse("cases:request_transition", args=[route.cp.pk, name])
        return lambda: client.post(url, {"comment": "Synthetic comment."})

    results = together(press(route.supervisor, first), press(other, second))

    codes = sorted(r.status_code for r in results)
    assert codes == [200, 302], results
    told = next(page(r) for r in results if r.status_code == 200)
    assert "it cannot be changed with" in told
    events = RequestEvent.objects.filter(request=route.cp).exclude(transition="submit_for_approval")
    assert events.count() == 1
    winner = events.get().transition
    cp = CPRequest.objects.get(pk=route.cp.pk)
    expected = Status.AWAITING_SPONSOR if winner == "approve" else Status.DRAFT
    assert (cp.status, cp.version) == (expected, 3)
    assert_chain_intact()
