"""`cpnav check-deploy`: Django's deployment checks plus ours, non-zero on any problem."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from cpnav.core.management.commands.check_deploy import shared_state_problems
from cpnav.core.routers import ReplicaState, replica_reads, replica_state
from tests.core.test_settings import KEY, PRODUCTION
from tests.deploy.conftest import ROOT

DEPLOYMENT = {
    **PRODUCTION,
    "CPNAV_BACKUP_KEY": KEY,
    "CPNAV_BASE_URL": "https://cpnav.example.gov",
}


def check_deploy(var: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`cpnav check-deploy` with only the deployment's own variables (SQLite in var/)."""
    skip = ("CPNAV_", "DATABASE_URL", "DATABASE_REPLICA_URL", "DJANGO_ALLOW_ASYNC_UNSAFE")
    base = {k: v for k, v in os.environ.items() if not k.startswith(skip)}
    return subprocess.run(
        [sys.executable, "-m", "cpnav.cli", "check-deploy"],
        env={**base, "CPNAV_VAR_DIR": str(var), **DEPLOYMENT, **env},
        cwd=ROOT, capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip


def test_production_settings_pass(deploy_var: Path) -> None:
    result = check_deploy(deploy_var)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout
    assert "check-deploy: ready (no replica configured)" in result.stdout


def test_each_missing_piece_is_named(deploy_var: Path, tmp_path: Path) -> None:
    result = check_deploy(deploy_var, CPNAV_BACKUP_KEY="")
    assert result.returncode != 0
    assert "CPNAV_BACKUP_KEY" in result.stderr
    # A fresh server: nothing collected, nothing migrated.
    bare = check_deploy(tmp_path)
    assert bare.returncode != 0
    assert "run `cpnav collectstatic`" in bare.stderr
    assert "run `cpnav migrate`" in bare.stderr
    # Django's own deployment warnings count too (here: HSTS switched off).
    weak = check_deploy(deploy_var, CPNAV_HSTS_SECONDS="0")
    assert weak.returncode != 0
    assert "security.W004" in weak.stderr


def test_a_bad_replica_url_is_named(deploy_var: Path) -> None:
    for url, message in [
        ("mysql://db.example.gov/cpnav", "DATABASE_REPLICA_URL: unsupported scheme"),
        ("sqlite:///replica.sqlite3", "DATABASE_REPLICA_URL: a replica must be postgres://"),
        # The deployment's primary is SQLite here: a replica needs PostgreSQL on both.
        ("postgres://cpnav@127.0.0.1:9/cpnav", "DATABASE_REPLICA_URL: needs a PostgreSQL"),
    ]:
        result = check_deploy(deploy_var, DATABASE_REPLICA_URL=url)
        assert result.returncode != 0
        assert message in result.stderr


def test_state_kept_in_one_process_is_refused(settings: Any) -> None:
    assert shared_state_problems() == []
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cache"
    problems = shared_state_problems()
    assert any("LocMemCache" in p for p in problems)
    assert any("server-local cache 'default'" in p for p in problems)


def test_without_a_replica_everything_reads_the_primary(db: None) -> None:
    from cpnav.accounts.models import Agency

    assert replica_state() == ReplicaState(
        False, "no replica is configured (DATABASE_REPLICA_URL)", kind="none"
    )
    with replica_reads() as reads:
        assert not Agency.objects.exists()
    assert reads.alias is None
