"""`cpnav demo` also loads synthetic cases: one CP request in every state of the route."""

from __future__ import annotations

import re
from datetime import date
from io import StringIO
from itertools import pairwise

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from cpnav.accounts.models import Level
from cpnav.audit.models import AuditEvent
from cpnav.audit.services import verify_chain
from cpnav.cases.models import (
    Case,
    CPRequest,
    Decision,
    DecisionKind,
    Form,
    Notification,
    Person,
    RequestEvent,
    Status,
)
from cpnav.core.management.commands.demo import GRANT_START

pytestmark = pytest.mark.django_db(transaction=True)


def load() -> str:
    out = StringIO()
    call_command("demo", stdout=out)
    return out.getvalue()


def counts() -> dict[str, int]:
    models = (Case, Person, CPRequest, RequestEvent, Decision, Notification, AuditEvent)
    return {model.__name__: model.objects.count() for model in models}


def test_every_state_of_the_route_is_present() -> None:
    output = load()
    requests = CPRequest.objects.select_related("case__agency", "case__federal_partner", "person")
    assert set(requests.values_list("status", flat=True)) == set(Status.values)
    assert f"Demo cases: {Case.objects.count()} (" in output
    levels = {cp.case.agency.level for cp in requests}
    assert levels == {Level.LOCAL, Level.STATE, Level.TRIBAL, Level.TERRITORIAL, Level.FEDERAL}
    for cp in requests:
        if cp.case.agency.level == Level.FEDERAL:
            assert cp.case.federal_partner is None
            assert cp.sponsor_office is None
        else:
            assert cp.case.federal_partner is not None
            assert cp.case.federal_partner.is_federal
            assert cp.sponsor_office == cp.case.federal_partner
    forms = {form for case in Case.objects.all() for form in case.trafficking_forms}
    assert forms == {Form.SEX, Form.LABOR}
    submitted = requests.filter(status=Status.SUBMITTED)
    assert {cp.received_at is not None for cp in submitted} == {True, False}
    federal = requests.get(case__agency__level=Level.FEDERAL)
    assert federal.status == Status.SUBMITTED
    assert federal.determination["submission_path"] == "federal_direct"


def test_every_request_has_a_consistent_history() -> None:
    load()
    for cp in CPRequest.objects.all():
        events = list(RequestEvent.objects.filter(request=cp).order_by("at", "id"))
        if cp.status != Status.DRAFT:
            assert events, cp.status
        if events:
            assert events[0].from_status == Status.DRAFT
            assert events[-1].to_status == cp.status
            for before, after in pairwise(events):
                assert before.to_status == after.from_status
        if cp.status != Status.DRAFT:
            assert cp.determination["outcome"]
            assert cp.rules_version
    draft = CPRequest.objects.get(status=Status.DRAFT)
    assert draft.determination  # the facts were saved with their determination
    assert RequestEvent.objects.filter(request=draft, transition="return").exclude(comment="")


def test_decisions_match_the_states() -> None:
    load()
    today = timezone.localdate()
    for cp in CPRequest.objects.filter(status=Status.GRANTED):
        grant = Decision.objects.get(request=cp, kind=DecisionKind.GRANTED)
        assert grant.start_date == GRANT_START
        assert grant.end_date is not None
        assert grant.end_date > grant.start_date
        assert cp.decided_at is not None
    for cp in CPRequest.objects.filter(status=Status.INFORMATION_REQUESTED):
        asked = Decision.objects.get(request=cp, kind=DecisionKind.INFORMATION_REQUESTED)
        assert asked.due_date is not None
        assert asked.due_date > today
        assert asked.information_requested
    for status, kind in [(Status.DENIED, DecisionKind.DENIED), (Status.WITHDRAWN, DecisionKind.WITHDRAWN)]:  # fmt: skip
        cp = CPRequest.objects.get(status=status)
        assert Decision.objects.get(request=cp, kind=kind).reason


def test_people_are_varied_and_synthetic() -> None:
    load()
    people = list(Person.objects.all())
    names = [p.full_name for p in people]
    assert any(re.search(r"[\u0600-\u06ff]", n) for n in names)  # Arabic
    assert any(re.search(r"[\u4e00-\u9fff]", n) for n in names)  # Chinese
    assert any(re.search(r"[À-ɏ]", n) for n in names)  # Latin with accents
    today = timezone.localdate()
    minors = [p for p in people if p.birth_date and (today - p.birth_date).days < 18 * 365]
    assert minors
    assert CPRequest.objects.filter(person__in=minors, age_group="minor").exists()
    assert any(not p.date_of_birth and p.age_estimate for p in people)
    a_numbers = [p.a_number for p in people if p.a_number]
    assert len(a_numbers) >= 2
    assert all(re.fullmatch(r"A0000001\d\d", a) for a in a_numbers)
    assert all(p.a_number_index for p in people if p.a_number)
    assert all(p.birth_date is None or p.birth_date < date.today() for p in people)


def test_identifying_fields_are_encrypted_in_the_database() -> None:
    load()
    with connection.cursor() as cursor:
        cursor.execute("SELECT full_name, date_of_birth, a_number FROM cases_person")
        rows = cursor.fetchall()
    assert rows
    plain = {p.full_name for p in Person.objects.all()}
    for row in rows:
        for value in row:
            assert str(value).startswith("v1:")
        assert row[0] not in plain


def test_notices_name_no_one_and_the_chain_verifies() -> None:
    load()
    names = [p.full_name for p in Person.objects.all()]
    assert Notification.objects.exists()
    texts = [n.message for n in Notification.objects.all()]
    texts += [f"{m.subject} {m.body}" for m in mail.outbox]
    assert not [t for t in texts if any(name in t for name in names)]
    assert verify_chain().ok


def test_running_twice_keeps_the_counts() -> None:
    load()
    before = counts()
    output = load()
    assert counts() == before
    assert "(0 new)" in output
    assert verify_chain().ok
