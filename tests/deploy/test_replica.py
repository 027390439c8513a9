"""The read-replica router against a real streaming replica (tests/deploy/conftest.py).

Pausing the replica's replay makes it a stale copy on purpose: a read that finds a
row written after the pause was served by the primary, one that misses it by the
replica. The lag bound is raised for the tests that need a stale replica to stay
"usable", and lowered for the one that checks it is refused.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import time
import uuid
from typing import Any

import pytest
from django.db import connections
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cpnav.accounts.models import Agency, Level, Membership, Role, User
from cpnav.core.routers import REPLICA, replica_reads, replica_state
from tests.core.test_settings import KEY, PRODUCTION
from tests.deploy.conftest import ROOT, Cluster, app_env

pytestmark = pytest.mark.urls("tests.deploy.urls")


def name() -> str:
    return f"Replica Test {uuid.uuid4().hex[:10]}"


def agency(called: str) -> Agency:
    return Agency.objects.create(name=called, level=Level.LOCAL, state="OH")


def names(*wanted: str) -> set[str]:
    return set(Agency.objects.filter(name__in=wanted).values_list("name", flat=True))


def signed_in_client(cluster: Cluster) -> tuple[Client, User]:
    """A signed-in client whose sign-in is long enough ago not to keep it on the primary."""
    user = User.objects.create_user(f"{uuid.uuid4().hex[:8]}@replica.example", "x" * 20)
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    User.objects.filter(pk=user.pk).update(last_login=None)
    cluster.wait_streaming()
    return client, user


def test_reads_go_to_the_replica_and_writes_to_the_primary(
    on_cluster: Cluster, settings: Any
) -> None:
    settings.CPNAV_REPLICA_MAX_LAG_SECONDS = 3600  # a paused replica stays usable
    before, after, inside = name(), name(), name()
    agency(before)
    on_cluster.wait_streaming()
    on_cluster.pause()
    agency(after)
    with replica_reads() as reads:
        assert names(before, after) == {before}  # the replica has not replayed `after`
        assert reads.alias == REPLICA
        agency(inside)  # a write inside the block...
        assert on_cluster.sql("primary", "SELECT count(*) FROM accounts_agency WHERE name = %s",
                              (inside,)) == 1  # fmt: skip
        # ...goes to the primary, and the block's reads follow it there.
        assert names(before, after, inside) == {before, after, inside}
    assert names(before, after) == {before, after}  # outside the block: the primary


def test_a_write_then_a_read_in_one_request_reads_the_primary(
    on_cluster: Cluster, settings: Any
) -> None:
    settings.CPNAV_REPLICA_MAX_LAG_SECONDS = 3600
    client, _ = signed_in_client(on_cluster)
    on_cluster.pause()
    fresh = name()
    answer = client.post(f"/write-then-read/{fresh}/").json()
    assert answer["found"] is True


def test_the_next_request_within_the_sticky_window_reads_the_primary(
    on_cluster: Cluster, settings: Any
) -> None:
    settings.CPNAV_REPLICA_MAX_LAG_SECONDS = 3600
    settings.CPNAV_REPLICA_STICKY_SECONDS = 3
    writer, _ = signed_in_client(on_cluster)
    reader, _ = signed_in_client(on_cluster)
    on_cluster.pause()
    fresh = name()
    assert writer.post(f"/write/{fresh}/").status_code == 200
    # The writer's next page - on any server: the mark is in the shared cache - sees it.
    assert writer.get(f"/read/{fresh}/").json() == {"found": True, "alias": "default"}
    # Someone else's page reads the (paused, stale) replica.
    assert reader.get(f"/read/{fresh}/").json() == {"found": False, "alias": REPLICA}
    time.sleep(3.5)
    # Past the window the writer reads the replica again.
    assert writer.get(f"/read/{fresh}/").json() == {"found": False, "alias": REPLICA}


def test_replica_down_falls_back_to_the_primary_and_logs_once(
    on_cluster: Cluster, caplog: pytest.LogCaptureFixture
) -> None:
    written = name()
    agency(written)
    on_cluster.pg_ctl("replica", "stop")
    caplog.set_level(logging.WARNING, logger="cpnav.replica")
    for _ in range(3):
        with replica_reads() as reads:
            assert names(written) == {written}
            assert reads.alias == "default"
    warnings = [r for r in caplog.records if r.name == "cpnav.replica"]
    assert len(warnings) == 1
    assert "does not answer" in warnings[0].getMessage()


def test_lag_over_the_bound_falls_back_then_the_replica_catches_up(
    on_cluster: Cluster, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    bound = 2
    settings.CPNAV_REPLICA_MAX_LAG_SECONDS = bound
    on_cluster.pause()
    late = name()
    agency(late)
    time.sleep(bound + 1)
    caplog.set_level(logging.WARNING, logger="cpnav.replica")
    state = replica_state()
    assert not state.usable
    assert state.lag_seconds is not None
    assert state.lag_seconds > bound
    with replica_reads() as reads:
        assert names(late) == {late}
        assert reads.alias == "default"
    assert any("lags" in r.getMessage() for r in caplog.records)

    on_cluster.resume()
    # A write is seen on the replica within the lag bound.
    seen = name()
    agency(seen)
    written_at = time.monotonic()
    while True:
        with replica_reads() as reads:
            found = names(seen)
        if reads.alias == REPLICA and found == {seen}:
            break
        assert time.monotonic() - written_at < bound, "the replica did not catch up in time"
        time.sleep(0.05)


def test_an_app_page_reads_from_the_replica(on_cluster: Cluster, settings: Any) -> None:
    settings.ROOT_URLCONF = "cpnav.urls"
    county = agency(name())
    client, user = signed_in_client(on_cluster)
    Membership.objects.create(user=user, agency=county, role=Role.INVESTIGATOR)
    on_cluster.wait_streaming()
    with CaptureQueriesContext(connections[REPLICA]) as replica_queries:
        response = client.get(reverse("cases:cases"))
    assert response.status_code == 200
    assert any("cases_case" in q["sql"] for q in replica_queries.captured_queries)


def test_an_export_streams_from_the_replica_and_audits_on_the_primary(
    on_cluster: Cluster, settings: Any
) -> None:
    from cpnav.audit.models import AuditEvent
    from cpnav.cases.models import Case, CaseMember

    settings.ROOT_URLCONF = "cpnav.urls"
    settings.CPNAV_REPLICA_MAX_LAG_SECONDS = 3600
    county = agency(name())
    client, user = signed_in_client(on_cluster)
    Membership.objects.create(user=user, agency=county, role=Role.INVESTIGATOR)
    replayed, missing = f"R-{uuid.uuid4().hex[:8]}", f"M-{uuid.uuid4().hex[:8]}"
    CaseMember.objects.create(
        case=Case.objects.create(agency=county, case_number=replayed, lead_investigator=user),
        user=user,
    )
    on_cluster.wait_streaming()
    on_cluster.pause()
    CaseMember.objects.create(
        case=Case.objects.create(agency=county, case_number=missing, lead_investigator=user),
        user=user,
    )
    response = client.post(reverse("exports:export", args=["cases"]), {"format": "csv"})
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode()  # type: ignore[attr-defined]  # streamed
    # The rows came from the paused replica, after the view had returned...
    assert replayed in text
    assert missing not in text
    # ...while both audit events went to the primary, and did not pull the rows there.
    events = AuditEvent.objects.filter(actor_id=user.pk).values_list("action", flat=True)
    assert set(events) >= {"export.cases", "export.completed"}


def _check_deploy(tmp_path: Any, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cpnav.cli", "check-deploy"],
        env=app_env(**PRODUCTION, CPNAV_BACKUP_KEY=KEY, CPNAV_BASE_URL="https://cpnav.example.gov",
                    **env),
        cwd=ROOT, capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip


def test_check_deploy_with_the_replica(cluster: Cluster, deploy_var: Any) -> None:
    cluster.healthy()
    env = {"CPNAV_VAR_DIR": str(deploy_var), "DATABASE_URL": cluster.url()}
    good = _check_deploy(deploy_var, **env, DATABASE_REPLICA_URL=cluster.url("replica"))
    assert good.returncode == 0, good.stderr
    assert "the replica answers" in good.stdout
    for url, problem in [
        (f"postgres://postgres@127.0.0.1:{cluster.replica_port + 1}/cpnav", "does not answer"),
        (cluster.url(), "is not in recovery"),  # the primary given as its own replica
    ]:
        bad = _check_deploy(deploy_var, **env, DATABASE_REPLICA_URL=url)
        assert bad.returncode != 0
        assert f"DATABASE_REPLICA_URL: the replica {problem}" in bad.stderr, bad.stderr
