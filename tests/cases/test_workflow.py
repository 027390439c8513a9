"""One test per transition, and one per forbidden transition."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied
from django.test import RequestFactory

from cpnav.accounts.models import User
from cpnav.audit.models import AuditEvent
from cpnav.cases import workflow
from cpnav.cases.models import CPRequest, Decision, Notification, RequestEvent, Status
from cpnav.cases.workflow import TransitionError, perform
from tests.route import Route

pytestmark = pytest.mark.django_db(transaction=True)


def act(rf: RequestFactory, route: Route, name: str, who: str, **data: Any) -> CPRequest:
    actor: User = getattr(route, who)
    http = rf.post("/")
    http.user = actor
    route.cp = perform(http, route.cp, name, actor, **data)
    return route.cp


def to_state(rf: RequestFactory, route: Route, status: str) -> None:
    steps: dict[str, list[tuple[str, str, dict[str, Any]]]] = {
        Status.AWAITING_SUPERVISOR: [("submit_for_approval", "investigator", {})],
        Status.AWAITING_SPONSOR: [("submit_for_approval", "investigator", {}), ("approve", "supervisor", {})],
        Status.SUBMITTED: [("submit_for_approval", "investigator", {}), ("approve", "supervisor", {}),
                           ("endorse", "sponsor", {})],
        Status.INFORMATION_REQUESTED: [
            ("submit_for_approval", "investigator", {}), ("approve", "supervisor", {}),
            ("endorse", "sponsor", {}),
            ("request_information", "reviewer",
             {"information": "Interview notes", "due_date": date.today() + timedelta(days=14)}),
        ],
    }  # fmt: skip
    for name, who, data in steps.get(status, []):
        act(rf, route, name, who, **data)


def test_submit_for_approval_snapshots_the_determination(rf: RequestFactory, route: Route) -> None:
    cp = act(rf, route, "submit_for_approval", "investigator")
    assert cp.status == Status.AWAITING_SUPERVISOR
    assert cp.determination["outcome"] == "likely_eligible"
    assert cp.rules_version == "cp-2021-07-30-2y"
    assert cp.age_group == "adult"
    assert cp.determination["submission_path"] == "through_federal_partner"
    event = RequestEvent.objects.get(request=cp)
    assert (event.from_status, event.to_status) == (Status.DRAFT, Status.AWAITING_SUPERVISOR)
    assert AuditEvent.objects.filter(
        action="request.submit_for_approval", object_id=str(cp.pk)
    ).exists()
    notice = Notification.objects.get(user=route.supervisor)
    assert "Ana" not in notice.message
    assert notice.link == f"/requests/{cp.pk}/"
    assert [m.to for m in mail.outbox] == [[route.supervisor.email]]
    assert "Ana" not in f"{mail.outbox[0].subject} {mail.outbox[0].body}"


def test_approve_routes_a_county_request_to_its_federal_sponsor(
    rf: RequestFactory, route: Route
) -> None:
    to_state(rf, route, Status.AWAITING_SUPERVISOR)
    cp = act(rf, route, "approve", "supervisor")
    assert cp.status == Status.AWAITING_SPONSOR
    assert cp.routed_to_sponsor_at is not None
    assert Notification.objects.filter(user=route.sponsor).exists()


def test_approve_submits_a_federal_request_directly(rf: RequestFactory, route: Route) -> None:
    route.case.agency = route.hsi
    route.case.save()
    route.cp.sponsor_office = None
    route.cp.save()
    from cpnav.accounts.models import Membership, Role

    Membership.objects.create(user=route.supervisor, agency=route.hsi, role=Role.SUPERVISOR)
    to_state(rf, route, Status.AWAITING_SUPERVISOR)
    cp = act(rf, route, "approve", "supervisor")
    assert cp.status == Status.SUBMITTED
    assert cp.submitted_at is not None
    assert cp.determination["submission_path"] == "federal_direct"


def test_return_needs_a_comment(rf: RequestFactory, route: Route) -> None:
    to_state(rf, route, Status.AWAITING_SUPERVISOR)
    with pytest.raises(TransitionError) as error:
        act(rf, route, "return", "supervisor")
    assert "comment" in error.value.fields
    cp = act(rf, route, "return", "supervisor", comment="Add the interview date.")
    assert cp.status == Status.DRAFT
    assert RequestEvent.objects.filter(
        transition="return", comment="Add the interview date."
    ).exists()


def test_endorse_submits_to_ccht(rf: RequestFactory, route: Route) -> None:
    to_state(rf, route, Status.AWAITING_SPONSOR)
    cp = act(rf, route, "endorse", "sponsor")
    assert cp.status == Status.SUBMITTED
    assert cp.sponsor == route.sponsor
    assert Notification.objects.filter(user=route.reviewer).exists()


def test_decline_sends_it_back_to_pick_another_partner(rf: RequestFactory, route: Route) -> None:
    to_state(rf, route, Status.AWAITING_SPONSOR)
    cp = act(rf, route, "decline", "sponsor", comment="Not our jurisdiction.")
    assert cp.status == Status.DRAFT
    assert cp.sponsor_office is None
    assert not workflow.is_sponsor(route.sponsor, cp)


def test_record_receipt_once(rf: RequestFactory, route: Route) -> None:
    to_state(rf, route, Status.SUBMITTED)
    cp = act(rf, route, "record_receipt", "reviewer")
    assert cp.received_at is not None
    assert Decision.objects.filter(request=cp, kind="received").count() == 1
    assert "record_receipt" not in {t.name for t in workflow.available(route.reviewer, cp)}
    with pytest.raises(TransitionError):
        act(rf, route, "record_receipt", "reviewer")


def test_request_information_and_respond(rf: RequestFactory, route: Route) -> None:
    to_state(rf, route, Status.SUBMITTED)
    with pytest.raises(TransitionError) as error:
        act(
            rf,
            route,
            "request_information",
            "reviewer",
            information="",
            due_date=date.today() - timedelta(days=1),
        )
    assert set(error.value.fields) == {"information", "due_date"}
    cp = act(rf, route, "request_information", "reviewer", information="Interview notes",
             due_date=date.today() + timedelta(days=10))  # fmt: skip
    assert cp.status == Status.INFORMATION_REQUESTED
    cp = act(rf, route, "respond", "investigator", comment="Notes attached.")
    assert cp.status == Status.SUBMITTED


def test_grant_defaults_the_end_date_from_the_policy_term(rf: RequestFactory, route: Route) -> None:
    to_state(rf, route, Status.SUBMITTED)
    cp = act(rf, route, "grant", "reviewer", start_date=date(2026, 3, 1))
    decision = Decision.objects.get(request=cp, kind="granted")
    assert (decision.start_date, decision.end_date) == (date(2026, 3, 1), date(2028, 2, 29))
    assert cp.status == Status.GRANTED


def test_grant_refuses_an_end_before_the_start(rf: RequestFactory, route: Route) -> None:
    to_state(rf, route, Status.SUBMITTED)
    with pytest.raises(TransitionError) as error:
        act(rf, route, "grant", "reviewer", start_date=date(2026, 3, 1), end_date=date(2026, 2, 1))
    assert "end_date" in error.value.fields
    assert CPRequest.objects.get(pk=route.cp.pk).status == Status.SUBMITTED


def test_grant_refuses_a_start_before_cp_existed(rf: RequestFactory, route: Route) -> None:
    to_state(rf, route, Status.SUBMITTED)
    with pytest.raises(TransitionError) as error:
        act(rf, route, "grant", "reviewer", start_date=date(1999, 1, 4))
    assert "start_date" in error.value.fields
    assert CPRequest.objects.get(pk=route.cp.pk).status == Status.SUBMITTED
    assert not Decision.objects.filter(request=route.cp).exists()


def test_deny_needs_a_reason(rf: RequestFactory, route: Route) -> None:
    to_state(rf, route, Status.SUBMITTED)
    cp = act(rf, route, "deny", "reviewer", comment="Not a severe form.")
    assert cp.status == Status.DENIED
    assert Decision.objects.get(request=cp, kind="denied").reason == "Not a severe form."


@pytest.mark.parametrize("status", [Status.DRAFT, Status.AWAITING_SUPERVISOR, Status.AWAITING_SPONSOR,
                                    Status.SUBMITTED, Status.INFORMATION_REQUESTED])  # fmt: skip
def test_withdraw_from_any_open_state(rf: RequestFactory, route: Route, status: str) -> None:
    to_state(rf, route, status)
    cp = act(rf, route, "withdraw", "investigator", comment="The person left the country.")
    assert cp.status == Status.WITHDRAWN


FORBIDDEN = [
    # (state, transition, persona): wrong actor for the state's transition
    (Status.DRAFT, "submit_for_approval", "teammate"),
    (Status.DRAFT, "submit_for_approval", "supervisor"),
    (Status.AWAITING_SUPERVISOR, "approve", "investigator"),
    (Status.AWAITING_SUPERVISOR, "approve", "outsider"),
    (Status.AWAITING_SPONSOR, "endorse", "other_sponsor"),
    (Status.AWAITING_SPONSOR, "endorse", "supervisor"),
    (Status.SUBMITTED, "grant", "sponsor"),
    (Status.SUBMITTED, "request_information", "investigator"),
    (Status.INFORMATION_REQUESTED, "respond", "reviewer"),
    (Status.DRAFT, "withdraw", "outsider"),
]


@pytest.mark.parametrize(("status", "name", "who"), FORBIDDEN)
def test_forbidden_actor(
    rf: RequestFactory, route: Route, status: str, name: str, who: str
) -> None:
    to_state(rf, route, status)
    with pytest.raises(PermissionDenied):
        act(rf, route, name, who, comment="x", start_date=date.today())
    assert CPRequest.objects.get(pk=route.cp.pk).status == status
    assert AuditEvent.objects.filter(action="access.denied").exists()


WRONG_STATE = [
    (Status.DRAFT, "approve", "supervisor"),
    (Status.DRAFT, "endorse", "sponsor"),
    (Status.DRAFT, "grant", "reviewer"),
    (Status.AWAITING_SUPERVISOR, "submit_for_approval", "investigator"),
    (Status.AWAITING_SPONSOR, "approve", "supervisor"),
    (Status.SUBMITTED, "respond", "investigator"),
    (Status.INFORMATION_REQUESTED, "grant", "reviewer"),
]


@pytest.mark.parametrize(("status", "name", "who"), WRONG_STATE)
def test_transition_from_the_wrong_state(rf: RequestFactory, route: Route, status: str, name: str,
                                         who: str) -> None:  # fmt: skip
    to_state(rf, route, status)
    with pytest.raises(TransitionError, match="cannot be changed"):
        act(rf, route, name, who, comment="x", start_date=date.today())
    assert CPRequest.objects.get(pk=route.cp.pk).status == status


def test_closed_requests_cannot_be_withdrawn(rf: RequestFactory, route: Route) -> None:
    to_state(rf, route, Status.SUBMITTED)
    act(rf, route, "deny", "reviewer", comment="No.")
    with pytest.raises(TransitionError):
        act(rf, route, "withdraw", "investigator", comment="x")


def test_non_federal_request_needs_a_partner(rf: RequestFactory, route: Route) -> None:
    route.case.federal_partner = None
    route.case.save()
    route.cp.sponsor_office = None
    route.cp.save()
    with pytest.raises(TransitionError) as error:
        act(rf, route, "submit_for_approval", "investigator")
    assert "sponsor_office" in error.value.fields


def test_invalid_facts_block_submission(rf: RequestFactory, route: Route) -> None:
    route.cp.facts = {"exploitation": {"means": ["magic"]}}
    route.cp.save()
    with pytest.raises(TransitionError, match="not valid"):
        act(rf, route, "submit_for_approval", "investigator")
    assert CPRequest.objects.get(pk=route.cp.pk).status == Status.DRAFT


def test_unknown_transition(rf: RequestFactory, route: Route) -> None:
    with pytest.raises(TransitionError):
        act(rf, route, "teleport", "investigator")


def test_two_supervisors_approving_at_once_cannot_both_win(
    rf: RequestFactory, route: Route
) -> None:
    import threading

    from django.db import connection, connections

    if connection.vendor != "postgresql":
        pytest.skip("an in-memory SQLite test database is not shared between threads")
    from cpnav.accounts.models import Membership, Role

    to_state(rf, route, Status.AWAITING_SUPERVISOR)
    second = User.objects.create_user("sup2@a.example", "x" * 20, full_name="Second Supervisor")
    Membership.objects.create(user=second, agency=route.county, role=Role.SUPERVISOR)
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def approve(user: User) -> None:
        http = rf.post("/")
        http.user = user
        barrier.wait()
        try:
            perform(http, route.cp, "approve", user)
            outcomes.append("approved")
        except TransitionError:
            outcomes.append("refused")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=approve, args=(u,)) for u in (route.supervisor, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["approved", "refused"]
    assert RequestEvent.objects.filter(request=route.cp, transition="approve").count() == 1
