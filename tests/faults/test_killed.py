"""The process dies inside a transition: afterwards it happened completely or not at all.

A real transition runs in a separate process against a database both processes
can open (a copy of the test database in an SQLite file, or the PostgreSQL test
database itself), stops at a chosen point (tests/faults/transition_child.py) and is
killed with SIGKILL: no handler, no rollback by Python, only what the database
itself guarantees.
"""

from __future__ import annotations

import os
import select
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection
from django.test import RequestFactory

from cpnav.cases import workflow
from cpnav.cases.models import Status
from tests.faults.conftest import assert_chain_intact, photo
from tests.route import Route

pytestmark = pytest.mark.django_db(transaction=True)  # the other process reads what is committed

ROOT = Path(__file__).resolve().parents[2]
START_SECONDS = 60


@contextmanager
def shared_database(tmp_path: Path) -> Iterator[str]:
    """A DATABASE_URL another process can use; afterwards this process sees what it left."""
    if connection.vendor == "postgresql":
        db = connection.settings_dict
        user = quote(db["USER"]) + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
        yield f"postgres://{user}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
        return
    # The SQLite test database lives in this process's memory: hand over a file copy,
    # then read the file back, after the database has recovered from the kill.
    path = tmp_path / "shared.sqlite3"
    connection.ensure_connection()
    memory = connection.connection
    assert isinstance(memory, sqlite3.Connection)
    with sqlite3.connect(path) as copy:
        memory.backup(copy)
    copy.close()
    yield f"sqlite:///{path}"
    source = sqlite3.connect(path)
    try:
        source.backup(memory)
    finally:
        source.close()


def run_and_kill(url: str, route: Route, name: str, pause_at: str) -> None:
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.faults.transition_child",
         str(route.cp.pk), str(route.supervisor.pk), name, pause_at],
        cwd=ROOT, env={**os.environ, "DATABASE_URL": url},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert child.stdout is not None
        ready, _, _ = select.select([child.stdout], [], [], START_SECONDS)
        line = child.stdout.readline() if ready else b""
        assert line.strip() == b"paused", (child.stderr.read() if child.stderr else b"").decode()
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        for stream in (child.stdout, child.stderr):
            if stream is not None:
                stream.close()


def act(rf: RequestFactory, route: Route, name: str) -> None:
    who = route.investigator if name == "submit_for_approval" else route.supervisor
    http = rf.post("/")
    http.user = who
    route.cp = workflow.perform(http, route.cp, name, who)


@pytest.mark.parametrize("pause_at", ["event", "audit"])
def test_killed_before_the_commit_the_transition_never_happened(
    rf: RequestFactory, route: Route, tmp_path: Path, pause_at: str
) -> None:
    act(rf, route, "submit_for_approval")
    before = photo(route.cp)

    with shared_database(tmp_path) as url:
        run_and_kill(url, route, "approve", pause_at)

    assert photo(route.cp) == before
    assert_chain_intact()
    act(rf, route, "approve")  # nothing is left locked or half-done: the retry goes through
    after = photo(route.cp)
    assert (after.status, after.version) == (Status.AWAITING_SPONSOR, before.version + 1)
    assert [t for t, _, _ in after.events].count("approve") == 1
    assert_chain_intact()


def test_killed_after_the_commit_the_transition_happened_completely(
    rf: RequestFactory, route: Route, tmp_path: Path
) -> None:
    act(rf, route, "submit_for_approval")
    before = photo(route.cp)

    with shared_database(tmp_path) as url:
        run_and_kill(url, route, "approve", "committed")

    after = photo(route.cp)
    assert (after.status, after.version) == (Status.AWAITING_SPONSOR, before.version + 1)
    assert after.events == [*before.events, ("approve", "awaiting_supervisor", "awaiting_sponsor")]
    assert [a for _, a, _ in after.audit] == [*(a for _, a, _ in before.audit), "request.approve"]
    assert_chain_intact()
    with pytest.raises(workflow.TransitionError):
        act(rf, route, "approve")  # done once, and only once
