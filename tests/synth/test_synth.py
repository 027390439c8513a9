"""cpnav synth: counts, reproducibility, encryption, the audit chain and refusals."""

from __future__ import annotations

import hashlib
import itertools
from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from cpnav.accounts.models import Agency, Level, Membership, Role, User
from cpnav.audit.models import GENESIS_HASH, AuditEvent
from cpnav.audit.services import record, verify_chain
from cpnav.cases.models import Case, CPRequest, Decision, Person, Status
from cpnav.cases.services import possible_duplicates
from cpnav.cases.workflow import TRANSITIONS
from cpnav.grants.models import GrantTerm
from cpnav.referrals.models import Referral
from cpnav.synth.plan import (
    FIRST_NAMES,
    LAST_NAMES,
    AuditPlanner,
    CasePlanner,
    NationalProvider,
    plan_directory,
)

pytestmark = pytest.mark.django_db

SMALL = ["--agencies", "12", "--cases", "300", "--audit-events", "3000", "--no-progress"]
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def synth(*args: str) -> str:
    out = StringIO()
    call_command("synth", *SMALL, *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_counts_statuses_and_timestamps() -> None:
    output = synth("--seed", "7", "--batch", "64")
    assert "rows/s" in output
    assert "cases_person" in output
    assert Agency.objects.count() == 12
    assert Case.objects.count() == 300
    assert AuditEvent.objects.count() == 3000
    assert set(CPRequest.objects.values_list("status", flat=True)) == set(Status.values)
    assert set(Membership.objects.values_list("role", flat=True)) == set(Role.values)
    assert set(Agency.objects.values_list("level", flat=True)) == set(Level.values)
    assert Agency.objects.filter(is_ccht=True).count() == 1
    for agency in Agency.objects.all():
        agency.full_clean()  # valid ORI, state, time zone
    assert not any(u.has_usable_password() for u in User.objects.all())
    assert all(u.email.endswith("@synth.example") for u in User.objects.all())
    for cp in CPRequest.objects.all():
        stamps = [cp.created_at, cp.routed_to_sponsor_at, cp.submitted_at, cp.received_at,
                  cp.decided_at]  # fmt: skip
        present = [s for s in stamps if s is not None]
        assert present == sorted(present), cp.status
        # The request's history leads, transition by transition, to its status.
        events = list(cp.events.order_by("at", "id"))
        if cp.status == Status.DRAFT:
            assert events == []
            continue
        assert events[0].from_status == Status.DRAFT
        assert events[-1].to_status == cp.status
        for before, after in itertools.pairwise(events):
            assert before.to_status == after.from_status
            assert before.at <= after.at
        assert all(e.transition in TRANSITIONS for e in events)
        assert events[0].at >= cp.created_at
        if cp.status == Status.GRANTED:
            assert cp.decided_at is not None
            assert cp.received_at is not None
    assert Decision.objects.filter(kind="granted").count() == GrantTerm.objects.count()
    assert GrantTerm.objects.filter(kind="extension").exists()
    assert Referral.objects.exists()
    assert verify_chain().ok


def test_people_decrypt_and_match_blind_indexes() -> None:
    synth()
    people = list(Person.objects.select_related("case__agency"))
    assert people
    for person in people[:50]:
        first, last = person.full_name.split(" ", 1)
        assert first in FIRST_NAMES
        assert last in LAST_NAMES
        stored = (person.a_number_index, person.name_dob_index)
        person.refresh_indexes()
        assert (person.a_number_index, person.name_dob_index) == stored
    person = next(p for p in people if p.date_of_birth)
    supervisor = User.objects.filter(
        memberships__agency=person.case.agency, memberships__role=Role.SUPERVISOR
    ).first()
    assert supervisor is not None
    twin = Person(case=person.case, full_name=person.full_name.upper(),
                  date_of_birth=person.date_of_birth)  # fmt: skip
    assert person.pk in {d.person.pk for d in possible_duplicates(supervisor, twin)}


def digest(seed: int) -> str:
    directory = plan_directory(seed, 12, NOW)
    providers = [NationalProvider(directory.agencies[0].pk, ["hotline"])]
    planner = CasePlanner(seed, directory, NOW, providers)
    parts = [f"{a.pk}|{a.name}|{a.ori}" for a in directory.agencies]
    for batch in planner.batches(300, 64):
        parts += [f"{c.case_number}|{c.created_at}" for c in batch.rows(Case)]
        parts += [f"{p.full_name}|{p.date_of_birth}|{p.a_number}" for p in batch.rows(Person)]
        parts += [
            f"{r.pk}|{r.status}|{r.submitted_at}|{r.decided_at}" for r in batch.rows(CPRequest)
        ]
    audit = AuditPlanner(seed, directory, NOW, 0, GENESIS_HASH)
    parts += [events[-1].hash for events in audit.batches(3000, 500)]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def test_same_seed_same_plan_other_seed_other_plan() -> None:
    assert digest(5) == digest(5)
    assert digest(5) != digest(6)


def test_chain_continues_from_existing_events() -> None:
    record("test.before", actor_label="test")
    synth()
    record("test.after", actor_label="test")
    result = verify_chain()
    assert result.ok
    assert result.checked == 3002


def test_refused_in_production(settings: object) -> None:
    settings.PRODUCTION = True  # type: ignore[attr-defined]
    with pytest.raises(SystemExit) as exit_info:
        synth()
    assert exit_info.value.code == 2
    assert not Agency.objects.exists()


def test_refused_on_database_with_cases_unless_forced() -> None:
    synth("--audit-events", "10")
    with pytest.raises(CommandError, match="already has cases") as error:
        synth()
    assert error.value.returncode == 2
    synth("--force", "--audit-events", "10")  # same seed: new ids, ORIs, emails
    assert Case.objects.count() == 600
    assert verify_chain().ok
