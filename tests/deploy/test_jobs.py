"""Scheduled commands started on every server at once: one run goes on, each item once."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test import RequestFactory

from cpnav.audit.models import AuditEvent
from cpnav.core.jobs import Busy, exclusive, lock_key
from cpnav.grants.models import ReminderSent
from tests.deploy.conftest import ROOT, app_env
from tests.grants.test_reminders import ending_in
from tests.mailserver import Inbox
from tests.route import Route

HOLD = """
import sys
import django
django.setup()
from cpnav.core.jobs import Busy, exclusive
try:
    with exclusive(sys.argv[1]):
        print("held", flush=True)
        sys.stdin.read()
except Busy:
    print("busy", flush=True)
"""


def database_url(tmp_path: Path) -> str:
    """The suite's own database for a subprocess (a file for SQLite: memory is not shared)."""
    if connection.vendor != "postgresql":
        return f"sqlite:///{tmp_path / 'locks.sqlite3'}"
    s = connection.settings_dict
    return f"postgres://{s['USER']}:{s['PASSWORD']}@{s['HOST']}:{s['PORT']}/{s['NAME']}"


def holder(tmp_path: Path, name: str) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD, name],
        env=app_env(DATABASE_URL=database_url(tmp_path), CPNAV_VAR_DIR=str(tmp_path),
                    DJANGO_SETTINGS_MODULE="cpnav.settings"),
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    return process


def first_line(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    return process.stdout.readline().strip()


def test_a_second_process_is_refused_until_the_first_ends(db: None, tmp_path: Path) -> None:
    first = holder(tmp_path, "nightly")
    try:
        assert first_line(first) == "held"
        second = holder(tmp_path, "nightly")
        assert first_line(second) == "busy"
        second.wait(timeout=60)
        other = holder(tmp_path, "another-job")  # other names are not held
        assert first_line(other) == "held"
        other.kill()
        other.wait(timeout=60)
        # A run that dies (killed, no clean-up) frees the lock at once.
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=60)
        deadline = time.monotonic() + 10
        while True:
            third = holder(tmp_path, "nightly")
            answer = first_line(third)
            third.kill()
            third.wait(timeout=60)
            if answer == "held" or time.monotonic() > deadline:
                break
            time.sleep(0.2)  # PostgreSQL notices the closed connection within moments
        assert answer == "held"
    finally:
        first.kill()
        first.wait(timeout=60)


def test_in_one_process_the_lock_is_exclusive_too(db: None) -> None:
    with exclusive("same-process"), pytest.raises(Busy), exclusive("same-process"):
        pass
    with exclusive("same-process"):
        pass  # released
    assert lock_key("a") != lock_key("b")


def test_a_refused_run_says_so_and_is_audited(db: None, capsys: pytest.CaptureFixture[str]) -> None:
    from django.core.management import call_command

    with exclusive("send-reminders"):
        call_command("send_reminders")
    out = capsys.readouterr().out
    assert "another run is in progress" in out
    event = AuditEvent.objects.get(action="job.skipped")
    assert event.details == {"reason": "another run is in progress"}
    assert event.object_id == "send-reminders"


@pytest.mark.django_db(transaction=True)
def test_two_reminder_runs_started_together_send_each_reminder_once(
    rf: RequestFactory, route: Route, smtp: Inbox, settings: Any, tmp_path: Path
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the suite's SQLite test database is in memory: other processes cannot see it")
    ending_in(rf, route, 80)
    smtp.messages.clear()
    env = app_env(
        DATABASE_URL=database_url(tmp_path),
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(settings.EMAIL_PORT),
    )
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "cpnav.cli", "send-reminders"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=300) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    pairs = [(m["To"], m["Subject"]) for m in smtp.messages]
    assert pairs
    assert len(pairs) == len(set(pairs))  # nothing sent twice
    expected = {
        (email, key.rsplit("|", 1)[0])
        for email, key in ReminderSent.objects.values_list("user__email", "key")
    }
    assert len(pairs) == len(expected)  # and nothing missed
    said = "".join(out for out, _ in outputs)
    # The second run either found the first one going or came after it: never both sending.
    assert "another run is in progress" in said or "reminders sent: 0," in said
