"""A database error in the middle of a write: nothing half-written, a clear answer, a retry works.

Each test fails one chosen statement part-way through a unit of work (see FailOn),
compares what is stored with what was stored before, checks that the audit chain
still verifies, and then does the same thing again without the fault.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import date, timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.test import Client, RequestFactory
from django.urls import reverse

from cpnav.accounts.models import Agency, Role, User
from cpnav.audit.models import AuditEvent
from cpnav.cases import workflow
from cpnav.cases.models import Case, CaseMember, CPRequest, Notification, Person, RequestEvent
from cpnav.documents.models import GeneratedDocument
from cpnav.engagement import reminders as session_reminders
from cpnav.engagement.models import SessionReminder
from cpnav.grants import reminders
from cpnav.grants.models import Grant, GrantTerm, ReminderSent
from cpnav.imports import jobs, services
from cpnav.imports.models import ImportJob, JobStatus
from tests.conftest import MakeUser, signed_in
from tests.engagement.test_reminders import build
from tests.faults.conftest import (
    FailOn,
    assert_chain_intact,
    files_under,
    photo,
    server_page,
)
from tests.grants.test_reminders import ending_in
from tests.imports.conftest import http_as
from tests.imports.helpers import csv_bytes, person
from tests.route import Route

FailOnFactory = Callable[..., FailOn]
UNAVAILABLE = "The database could not finish this request"


def go(route: Route, who: str, name: str, **data: str) -> Any:
    client = server_page(signed_in(Client(), getattr(route, who)))
    return client.post(reverse("cases:request_transition", args=[route.cp.pk, name]), data)


def act(rf: RequestFactory, route: Route, name: str, who: User, **data: Any) -> None:
    http = rf.post("/")
    http.user = who
    route.cp = workflow.perform(http, route.cp, name, who, **data)


def assert_unavailable_page(response: Any) -> None:
    """The page a browser shows: plain words, a way back, no traceback."""
    assert response.status_code == 503
    assert response["Retry-After"]
    page = response.content.decode()
    assert UNAVAILABLE in page
    assert "Nothing from this request was saved" in page
    assert "Traceback" not in page
    assert "simulated" not in page  # the database's own words stay in the log


# --- A request transition ------------------------------------------------------------

# Every write "approve" makes, in order; the last is the audit chain's head, just
# before the commit.
TRANSITION_WRITES = [
    'UPDATE "cases_cprequest"',
    'INSERT INTO "cases_requestevent"',
    'INSERT INTO "audit_auditevent"',
    'UPDATE "audit_chainhead"',
]


@pytest.mark.django_db(transaction=True)  # the notices go out at a real commit
@pytest.mark.parametrize("statement", TRANSITION_WRITES)
def test_a_transition_that_fails_part_way_changes_nothing_and_can_be_retried(
    rf: RequestFactory, route: Route, fail_on: FailOnFactory, statement: str
) -> None:
    act(rf, route, "submit_for_approval", route.investigator)
    mail.outbox.clear()
    before = photo(route.cp)
    notices = Notification.objects.count()

    fault = fail_on(statement)
    assert_unavailable_page(go(route, "supervisor", "approve"))

    assert fault.hits == 1
    assert photo(route.cp) == before
    assert Notification.objects.count() == notices
    assert mail.outbox == []
    assert_chain_intact()

    retried = go(route, "supervisor", "approve")
    assert retried.status_code == 302
    after = photo(route.cp)
    assert (after.status, after.version) == ("awaiting_sponsor", before.version + 1)
    assert after.events == [*before.events, ("approve", "awaiting_supervisor", "awaiting_sponsor")]
    assert [a for _, a, _ in after.audit].count("request.approve") == 1
    assert Notification.objects.filter(user=route.sponsor).count() == 1
    assert [m.to for m in mail.outbox] == [[route.sponsor.email]]
    assert_chain_intact()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "statement",
    ['INSERT INTO "cases_decision"', 'INSERT INTO "grants_grantterm"', 'UPDATE "audit_chainhead"'],
)
def test_a_grant_that_fails_part_way_records_no_decision_and_no_grant(
    rf: RequestFactory, route: Route, fail_on: FailOnFactory, statement: str
) -> None:
    for name, who in [("submit_for_approval", route.investigator), ("approve", route.supervisor),
                      ("endorse", route.sponsor)]:  # fmt: skip
        act(rf, route, name, who)
    before = photo(route.cp)
    start = date.today() - timedelta(days=3)

    fail_on(statement)
    response = go(route, "reviewer", "grant", start_date=start.isoformat())
    assert_unavailable_page(response)
    assert photo(route.cp) == before
    assert not Grant.objects.exists()
    assert not GrantTerm.objects.exists()
    assert_chain_intact()

    assert go(route, "reviewer", "grant", start_date=start.isoformat()).status_code == 302
    assert CPRequest.objects.get(pk=route.cp.pk).status == "granted"
    assert GrantTerm.objects.get().start == start
    assert_chain_intact()


@pytest.mark.django_db  # the trigger is created in the test's transaction and goes with it
def test_a_transition_the_database_itself_refuses_changes_nothing(
    rf: RequestFactory, route: Route
) -> None:
    """A real refusal from inside the database: a trigger, which aborts a PostgreSQL
    transaction outright (every later statement in it would fail too)."""
    act(rf, route, "submit_for_approval", route.investigator)
    before = photo(route.cp)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "CREATE FUNCTION faults_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                "RAISE EXCEPTION 'could not extend file (simulated)' USING ERRCODE = 'disk_full'; "
                "END $$"
            )
            cursor.execute(
                "CREATE TRIGGER faults_refuse BEFORE INSERT ON cases_requestevent "
                "FOR EACH ROW EXECUTE FUNCTION faults_refuse()"
            )
        else:
            cursor.execute(
                "CREATE TRIGGER faults_refuse BEFORE INSERT ON cases_requestevent BEGIN "
                "SELECT RAISE(ABORT, 'database or disk is full (simulated)'); END"
            )

    response = go(route, "supervisor", "approve")

    if connection.vendor == "postgresql":
        assert_unavailable_page(response)  # SQLSTATE 53100 disk_full: an OperationalError
    else:
        # SQLite reports RAISE() as a constraint failure: the general error page.
        assert response.status_code == 500
        assert "Nothing you entered was saved" in response.content.decode()
    assert photo(route.cp) == before
    assert_chain_intact()
    with connection.cursor() as cursor:
        cursor.execute(
            "DROP TRIGGER faults_refuse ON cases_requestevent"
            if connection.vendor == "postgresql"
            else "DROP TRIGGER faults_refuse"
        )
    assert go(route, "supervisor", "approve").status_code == 302
    assert CPRequest.objects.get(pk=route.cp.pk).status == "awaiting_sponsor"
    assert_chain_intact()


@pytest.mark.django_db
def test_an_error_that_is_not_the_database_is_still_a_server_error(
    route: Route, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("a bug (simulated)")

    monkeypatch.setattr(workflow, "perform", broken)
    response = go(route, "investigator", "submit_for_approval")
    assert response.status_code == 500
    assert "Something went wrong on our side" in response.content.decode()
    assert "Traceback" not in response.content.decode()


# --- Package generation --------------------------------------------------------------


def ready_for_package(route: Route) -> None:
    cp = CPRequest.objects.get(pk=route.cp.pk)
    cp.answers = {"official_name": "Det. Synthetic Officer", "official_title": "Detective",
                  "official_phone": "+1 555 0100"}  # fmt: skip
    cp.narrative = "Found working without pay after a tip (synthetic)."
    workflow.refresh_determination(cp)
    cp.save()
    route.cp = cp


def assert_only_whole_files(root: Path) -> None:
    """Whatever is stored is a whole file under its own hash; no temporary file is left."""
    assert not [p for p in files_under(root) if "tmp" in p.relative_to(root).parts]
    for path in files_under(root):
        assert hashlib.sha256(path.read_bytes()).hexdigest() == path.name


@pytest.mark.django_db
@pytest.mark.parametrize(
    "fault",
    [
        {"fragment": 'INSERT INTO "documents_generateddocument"', "skip": 1},  # the DOCX row
        {"fragment": 'INSERT INTO "audit_auditevent"', "containing": "package.generated"},  # last
    ],
    ids=["docx-row", "audit-event"],
)
def test_package_generation_that_fails_part_way_keeps_no_version(
    route: Route, attachments_root: Path, fail_on: FailOnFactory, fault: dict[str, Any]
) -> None:
    ready_for_package(route)
    before = photo(route.cp)
    client = server_page(signed_in(Client(), route.investigator))
    url = reverse("documents:generate", args=[route.cp.pk])

    injected = fail_on(**fault)
    assert_unavailable_page(client.post(url))

    assert injected.hits == 1
    assert not GeneratedDocument.objects.exists()
    assert photo(route.cp) == before
    assert_chain_intact()
    assert_only_whole_files(attachments_root)

    assert client.post(url).status_code == 302
    made = {g.format: g for g in GeneratedDocument.objects.all()}
    assert set(made) == {"pdf", "docx"}
    assert {g.version for g in made.values()} == {1}  # the failed run used up no version
    for generated in made.values():
        stored = attachments_root / generated.relative_path
        assert hashlib.sha256(stored.read_bytes()).hexdigest() == generated.sha256
    assert AuditEvent.objects.filter(action="package.generated").count() == 1
    assert_chain_intact()


# --- An import's write phase ---------------------------------------------------------


@pytest.mark.django_db(transaction=True)  # the job's thread sees only what is committed
@pytest.mark.parametrize(
    "fault",
    [
        {"fragment": 'INSERT INTO "cases_person"', "skip": 1},  # the second batch of people
        {"fragment": 'INSERT INTO "audit_auditevent"', "containing": "import.completed"},  # last
    ],
    ids=["second-batch", "audit-event"],
)
def test_an_import_that_fails_while_writing_keeps_no_row_and_can_be_run_again(
    rf: RequestFactory,
    make_user: MakeUser,
    agency_a: Agency,
    monkeypatch: pytest.MonkeyPatch,
    fault: dict[str, Any],
) -> None:
    importer = make_user("importer@a.example", agency_a, (Role.INVESTIGATOR,))
    monkeypatch.setattr(services, "BATCH", 2)
    rows = [person(n) for n in range(1, 6)]
    job = services.upload(http_as(rf, importer), importer, agency_a, csv_bytes(rows), "c.csv", "en")
    jobs.start(job, "check")
    audit_before = AuditEvent.objects.count()
    real_run = jobs.run
    faults: list[FailOn] = []

    def run_with_fault(job_id: Any, kind: jobs.Kind) -> None:
        # The job runs in its own thread, on that thread's own connection.
        injected = FailOn(**fault)
        faults.append(injected)
        with connection.execute_wrapper(injected):
            real_run(job_id, kind)

    monkeypatch.setattr(jobs, "run", run_with_fault)
    jobs.start(ImportJob.objects.get(pk=job.pk), "import", wait=30)
    monkeypatch.setattr(jobs, "run", real_run)

    assert faults[0].hits == 1
    failed = ImportJob.objects.get(pk=job.pk)
    assert failed.status == JobStatus.FAILED
    assert failed.error.startswith("the database refused the records")
    assert failed.has_file  # kept, so the import can be run again
    assert not Case.objects.exists()
    assert not Person.objects.exists()
    assert not RequestEvent.objects.exists()
    assert AuditEvent.objects.count() == audit_before
    assert_chain_intact()
    page = signed_in(Client(), importer).get(reverse("imports:job", args=[job.pk]))
    assert "The run failed; nothing was written" in page.content.decode()

    jobs.start(ImportJob.objects.get(pk=job.pk), "check", wait=30)
    jobs.start(ImportJob.objects.get(pk=job.pk), "import", wait=30)
    done = ImportJob.objects.get(pk=job.pk)
    assert done.status == JobStatus.DONE, done.error
    assert Person.objects.filter(case__agency=agency_a).count() == 5
    assert AuditEvent.objects.filter(action="import.completed").count() == 1
    assert_chain_intact()


# --- Reminder runs -------------------------------------------------------------------


@pytest.mark.django_db
def test_a_reminder_the_database_refuses_is_not_recorded_and_the_run_goes_on(
    rf: RequestFactory, route: Route, make_user: MakeUser, fail_on: FailOnFactory
) -> None:
    ending_in(rf, route, 80)  # the 90-day extension window is open
    CaseMember.objects.create(case=route.case, user=make_user("second@a.example"))
    mail.outbox.clear()
    before = set(ReminderSent.objects.values_list("user", "key"))

    fault = fail_on('INSERT INTO "cases_notification"')
    out = StringIO()
    call_command("send_reminders", stdout=out)

    assert fault.hits == 1
    assert "failed (will retry): 1" in out.getvalue()
    claimed = set(ReminderSent.objects.values_list("user", "key")) - before
    notices = Notification.objects.filter(link__startswith="/grants/").count()
    assert notices == len(mail.outbox)  # nothing mailed without its notice, and the reverse
    assert len({(m.to[0], m.subject) for m in mail.outbox}) == len(mail.outbox)
    assert_chain_intact()

    retry = reminders.send_due()
    assert (retry.sent, retry.failed) == (1, 0)  # only the one that failed
    assert len(set(ReminderSent.objects.values_list("user", "key")) - before) > len(claimed)
    pairs = [(m.to[0], m.subject) for m in mail.outbox]
    assert len(pairs) == len(set(pairs))  # nobody reminded twice
    assert {to for to, _ in pairs} == {route.investigator.email, "second@a.example"}
    assert reminders.send_due().sent == 0


@pytest.mark.django_db
def test_a_session_reminder_the_database_refuses_is_sent_by_the_next_run(
    make_user: MakeUser, ccht: Agency, fail_on: FailOnFactory
) -> None:
    coordinator = make_user("coordinator@ccht.example", ccht, (Role.ENGAGEMENT_COORDINATOR,))
    session = build(coordinator)
    now = session.starts_at - timedelta(days=1)

    fault = fail_on('INSERT INTO "engagement_sessionreminder"')
    report = session_reminders.send_due(now=now)

    assert fault.hits == 1
    assert (report.sent, report.failed) == (1, 1)
    assert len(mail.outbox) == 1
    assert SessionReminder.objects.count() == 1
    retry = session_reminders.send_due(now=now + timedelta(minutes=5))
    assert (retry.sent, retry.skipped, retry.failed) == (1, 1, 0)
    assert sorted(m.to[0] for m in mail.outbox) == ["ana@agency.example", "ben@agency.example"]
    assert session_reminders.send_due(now=now + timedelta(minutes=10)).sent == 0
