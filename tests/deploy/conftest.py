"""A real PostgreSQL primary with a streaming replica on loopback, for the router's tests.

Started once per session on PostgreSQL runs (skipped on SQLite runs): `initdb` a
primary with `wal_level=replica` and a replication user, `pg_basebackup -R` a
replica from it, both on free ports with fsync off; the app's tables are migrated
onto the primary (and so streamed to the replica).

The tests run in this process against the pair: ``on_cluster`` points Django's
``default`` alias at the primary and adds ``replica`` for one test, then puts the
suite's own test database back.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.db import connections

from cpnav.core import routers

ROOT = Path(__file__).resolve().parents[2]
DATABASE = "cpnav"


def on_postgres() -> bool:
    return os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))


def pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[4]))
    return Path(found[-1]) if found else None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def as_postgres(*argv: str) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run it as the postgres user (like .ci/run)."""
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else list(argv)


def app_env(**extra: str) -> dict[str, str]:
    """This process's environment for a `cpnav` subprocess (same keys and var/ folder)."""
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env.update(extra)
    return env


@dataclass
class Cluster:
    root: Path
    bin: Path
    primary_port: int
    replica_port: int

    def url(self, which: str = "primary", database: str = DATABASE) -> str:
        port = self.primary_port if which == "primary" else self.replica_port
        return f"postgres://postgres@127.0.0.1:{port}/{database}"

    def sql(
        self, which: str, statement: str, params: tuple[Any, ...] = (), database: str = DATABASE
    ) -> Any:
        """One statement on the primary or the replica, outside Django; the first value."""
        url = self.url(which, database)
        with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
            cursor = conn.execute(statement, params)
            row = cursor.fetchone() if cursor.description else None
            return row[0] if row else None

    def pg_ctl(self, which: str, action: str) -> None:
        data = self.root / which
        subprocess.run(
            as_postgres(str(self.bin / "pg_ctl"), "-D", str(data), "-l", str(self.root / f"{which}.log"),
                        "-w", "-m", "fast", action),
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip

    def wait_streaming(self, timeout: float = 30.0) -> None:
        """Until the replica is in recovery, streaming, and has replayed all the primary wrote."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                written = self.sql("primary", "SELECT pg_current_wal_flush_lsn()::text")
                ready = self.sql(
                    "replica",
                    "SELECT pg_is_in_recovery() AND pg_last_wal_replay_lsn() >= %s::pg_lsn "
                    "AND EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming')",
                    (written,),
                )
            except psycopg.OperationalError:
                ready = False
            if ready:
                return
            if time.monotonic() > deadline:
                raise TimeoutError("the replica did not catch up with the primary")
            time.sleep(0.1)

    def pause(self) -> None:
        self.sql("replica", "SELECT pg_wal_replay_pause()")

    def resume(self) -> None:
        self.sql("replica", "SELECT pg_wal_replay_resume()")

    def healthy(self) -> None:
        """Replica up, replaying, caught up: what every test starts from."""
        try:
            self.sql("replica", "SELECT 1")
        except psycopg.OperationalError:
            self.pg_ctl("replica", "start")
        self.resume()
        self.wait_streaming()


def _initdb(pg: Path, data: Path) -> None:
    subprocess.run(
        as_postgres(str(pg / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
                    "--no-sync"),
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    if not on_postgres():
        pytest.skip(
            "the replica tests run on PostgreSQL runs only (DATABASE_URL=postgres://...): "
            "SQLite has no streaming replication"
        )
    pg = pg_bin()
    if pg is None:
        pytest.fail("PostgreSQL's server binaries are not installed (/usr/lib/postgresql/*/bin)")
    root = Path(tempfile.mkdtemp(prefix="cpnav-replica-", dir="/tmp"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    found = Cluster(root, pg, free_port(), free_port())
    try:
        _initdb(pg, root / "primary")
        with (root / "primary" / "postgresql.conf").open("a") as conf:
            conf.write(
                f"\nlisten_addresses = '127.0.0.1'\nport = {found.primary_port}\n"
                f"unix_socket_directories = '{root}'\nwal_level = replica\nmax_wal_senders = 5\n"
                "hot_standby = on\nfsync = off\nfull_page_writes = off\n"
                "wal_receiver_status_interval = 1s\n"
            )
        with (root / "primary" / "pg_hba.conf").open("a") as hba:
            hba.write("host replication replicator 127.0.0.1/32 trust\n")
        found.pg_ctl("primary", "start")
        found.sql("primary", "CREATE ROLE replicator WITH REPLICATION LOGIN", database="postgres")
        found.sql("primary", f"CREATE DATABASE {DATABASE}", database="postgres")
        subprocess.run(
            as_postgres(str(pg / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(found.primary_port),
                        "-U", "replicator", "-D", str(root / "replica"), "-R", "-X", "stream",
                        "--checkpoint=fast",
                        "--no-sync"),
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        with (root / "replica" / "postgresql.conf").open("a") as conf:
            conf.write(f"\nport = {found.replica_port}\n")
        found.pg_ctl("replica", "start")
        migrated = subprocess.run(
            [sys.executable, "-m", "cpnav.cli", "migrate", "--no-input", "-v0"],
            env=app_env(DATABASE_URL=found.url()), cwd=ROOT, capture_output=True, text=True,
            check=False, timeout=600,
        )  # fmt: skip
        assert migrated.returncode == 0, migrated.stderr
        found.wait_streaming(timeout=60)
        yield found
    finally:
        for which in ("replica", "primary"):
            subprocess.run(
                as_postgres(str(pg / "pg_ctl"), "-D", str(root / which), "-m", "immediate", "stop"),
                check=False, capture_output=True, timeout=60,
            )  # fmt: skip
        shutil.rmtree(root, ignore_errors=True)


def _configured(url: str, **test: str) -> dict[str, Any]:
    from cpnav.envconf import database_from_url

    settings_dict = database_from_url("DATABASE_URL", url)
    settings_dict["OPTIONS"]["connect_timeout"] = "2"
    settings_dict["TEST"] = dict(test)
    configured: dict[str, dict[str, Any]] = connections.configure_settings(
        {"default": settings_dict}
    )
    return configured["default"]


def _drop(alias: str) -> None:
    with suppress(AttributeError):  # never opened in this thread
        del connections[alias]


@pytest.fixture
def on_cluster(cluster: Cluster, django_db_blocker: Any, settings: Any) -> Iterator[Cluster]:
    """Django's `default` is the cluster's primary and `replica` its replica, for one test."""
    cluster.healthy()
    settings.CPNAV_REPLICA_MAX_LAG_SECONDS = 5
    settings.CPNAV_REPLICA_STICKY_SECONDS = 10
    with django_db_blocker.unblock():
        saved = dict(connections.settings)
        connections.close_all()
        for alias in saved:
            _drop(alias)
        connections.settings["default"] = _configured(cluster.url())
        connections.settings["replica"] = _configured(cluster.url("replica"))
        routers.forget()
        try:
            yield cluster
        finally:
            connections.close_all()
            for alias in ("default", "replica"):
                _drop(alias)
            connections.settings.clear()
            connections.settings.update(saved)
            routers.forget()
            cluster.healthy()


@pytest.fixture(scope="session")
def deploy_var(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A var/ folder as a deployment has it: static files collected, SQLite migrated."""
    var = tmp_path_factory.mktemp("deploy-var")
    env = app_env(CPNAV_VAR_DIR=str(var))
    env.pop("DATABASE_URL", None)
    for command in (["collectstatic", "--no-input", "-v0"], ["migrate", "--no-input", "-v0"]):
        done = subprocess.run(
            [sys.executable, "-m", "cpnav.cli", *command], env=env, cwd=ROOT,
            capture_output=True, text=True, check=False, timeout=600,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
    return var
