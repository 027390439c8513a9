from __future__ import annotations

import itertools
import json
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cpnav.accounts.models import Agency, Role, User
from cpnav.audit.models import AppendOnlyError, AuditEvent, ChainHead
from cpnav.audit.services import record, verify_chain
from tests.conftest import MakeUser, signed_in

pytestmark = pytest.mark.django_db


def make_events(count: int) -> list[AuditEvent]:
    return [record("test.event", actor_label="tester", details={"n": i}) for i in range(count)]


def test_events_are_chained_and_verify(db: None) -> None:
    events = make_events(5)
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(events))
    assert events[0].at.microsecond % 10000 == 0
    result = verify_chain()
    assert result.ok
    assert result.checked == 5


def test_altered_row_is_named(db: None) -> None:
    make_events(5)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditevent SET actor_label = 'someone else' WHERE seq = 3")
    result = verify_chain()
    assert not result.ok
    assert result.first_bad_seq == 3
    assert "#3 was altered" in result.message


def test_removed_row_is_named(db: None) -> None:
    make_events(5)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE seq = 2")
    result = verify_chain()
    assert not result.ok
    assert "#2 is missing" in result.message


def test_removed_newest_rows_are_noticed(db: None) -> None:
    make_events(5)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE seq >= 4")
    result = verify_chain()
    assert not result.ok
    assert "after #3" in result.message


def test_command_exit_codes(db: None) -> None:
    make_events(3)
    out = StringIO()
    call_command("audit", "verify", stdout=out)
    assert "3 events verified" in out.getvalue()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditevent SET action = 'x' WHERE seq = 1")
    err = StringIO()
    with pytest.raises(SystemExit) as exit_info:
        call_command("audit", "verify", stderr=err)
    assert exit_info.value.code == 1
    assert "#1 was altered" in err.getvalue()


def test_an_exported_head_catches_a_rebuilt_chain(db: None, tmp_path: Path) -> None:
    make_events(3)
    exported = StringIO()
    call_command("audit", "head", stdout=exported)
    heads = tmp_path / "heads.jsonl"
    heads.write_text("\n" + exported.getvalue())
    assert json.loads(exported.getvalue())["seq"] == 3
    out = StringIO()
    call_command("audit", "verify", "--heads", str(heads), stdout=out)
    assert "3 events verified; 1 exported heads match" in out.getvalue()

    # Someone who can write the database rebuilds the chain from event #2 on, hashes
    # and head included: the chain alone verifies, the exported head does not.
    with connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditevent SET actor_label = 'someone else' WHERE seq >= 2")
    previous = AuditEvent.objects.get(seq=1).hash
    for event in AuditEvent.objects.filter(seq__gte=2).order_by("seq"):
        event.prev_hash = previous
        previous = event.compute_hash()
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE audit_auditevent SET prev_hash = %s, hash = %s WHERE seq = %s",
                [event.prev_hash, previous, event.seq],
            )
    ChainHead.objects.filter(pk=1).update(hash=previous)
    assert verify_chain().ok
    err = StringIO()
    with pytest.raises(SystemExit):
        call_command("audit", "verify", "--heads", str(heads), stderr=err)
    assert "line 2: event #3 has another hash than the one exported" in err.getvalue()

    heads.write_text('{"seq": 99, "hash": "x"}\nnot json\n')
    with pytest.raises(SystemExit):
        call_command("audit", "verify", "--heads", str(heads), stderr=err)
    assert "line 1: event #99 is no longer in the chain" in err.getvalue()
    assert "line 2: not a head written by `cpnav audit head`" in err.getvalue()
    with pytest.raises(CommandError, match="cannot be read"):
        call_command("audit", "verify", "--heads", str(tmp_path / "absent"))


def test_the_application_cannot_update_or_delete_events(db: None) -> None:
    event = make_events(1)[0]
    event.action = "changed"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().update(action="x")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()


def test_purge_keeps_the_chain_verifiable(db: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from cpnav.audit import services

    real_now = timezone.now
    # Events written "400 days ago", then two recent ones.
    monkeypatch.setattr(
        "cpnav.audit.services.timezone.now", lambda: real_now() - timedelta(days=400)
    )
    make_events(3)
    monkeypatch.setattr("cpnav.audit.services.timezone.now", real_now)
    make_events(2)
    assert services.purge_expired() == 3
    result = verify_chain()
    assert result.ok, result.message
    assert result.checked == 3  # two recent events and the purge event itself
    assert ChainHead.objects.get().anchor_seq == 3


def test_auditor_reads_own_agency_events_and_reading_is_audited(
    client: Client, make_user: MakeUser, agency_a: Agency, agency_b: Agency
) -> None:
    auditor = make_user("auditor@a.example", agency_a, (Role.AUDITOR,))
    record("case.viewed", actor_label="x", agency_id=agency_a.pk, object_id="case-in-a")
    record("case.viewed", actor_label="x", agency_id=agency_b.pk, object_id="case-in-b")
    signed_in(client, auditor)
    page = client.get(reverse("audit:log"), {"action": "case."})
    assert page.status_code == 200
    assert b"case-in-a" in page.content
    assert b"case-in-b" not in page.content
    view = AuditEvent.objects.filter(action="audit.view").get()
    assert view.actor_id == auditor.pk
    assert view.details["filters"] == {"action": "case."}


def test_audit_filters_validate_dates(
    client: Client, make_user: MakeUser, agency_a: Agency
) -> None:
    auditor = make_user("auditor@a.example", agency_a, (Role.AUDITOR,))
    signed_in(client, auditor)
    page = client.get(reverse("audit:log"), {"since": "2026-05-01", "until": "2026-04-01"})
    assert b"before the start date" in page.content
    page = client.get(reverse("audit:log"), {"since": "not-a-date"})
    assert page.status_code == 200
    assert b"valid date" in page.content


def test_non_auditors_are_refused_and_logged(client: Client, teammate: User) -> None:
    signed_in(client, teammate)
    assert client.get(reverse("audit:log")).status_code == 403
    assert AuditEvent.objects.filter(action="access.denied", object_type="audit log").exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_never_fork_the_chain() -> None:
    """Several app servers writing at once: the locked head hands out each number once."""
    import threading

    if connection.vendor != "postgresql":
        pytest.skip("an in-memory SQLite test database is not shared between threads")
    from django.db import connections

    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(15):
                record("test.concurrent", actor_label=f"writer {n}", details={"i": i})
        except BaseException as error:  # reported to the main thread, which asserts on it
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert AuditEvent.objects.count() == 60
    result = verify_chain()
    assert result.ok, result.message
