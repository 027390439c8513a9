"""Settings refuse bad values at start-up, naming the variable."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from cpnav.envconf import database_from_url, env_bool, env_int, parse_field_keys

KEY = base64.b64encode(b"k" * 32).decode()


def test_env_helpers_refuse_bad_values() -> None:
    with pytest.raises(ImproperlyConfigured, match="FLAG"):
        env_bool("FLAG", False, environ={"FLAG": "maybe"})
    with pytest.raises(ImproperlyConfigured, match="COUNT: expected a whole number"):
        env_int("COUNT", 1, environ={"COUNT": "ten"})
    with pytest.raises(ImproperlyConfigured, match="COUNT: must be at most 5"):
        env_int("COUNT", 1, maximum=5, environ={"COUNT": "6"})
    assert env_bool("FLAG", False, environ={"FLAG": "Yes"}) is True
    assert env_int("COUNT", 7, environ={"COUNT": " "}) == 7


def test_database_urls() -> None:
    sqlite = database_from_url("DATABASE_URL", "sqlite:///var/x.sqlite3")
    assert sqlite["NAME"] == "var/x.sqlite3"
    assert sqlite["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    pg = database_from_url("DATABASE_URL", "postgres://u:p%40ss@127.0.0.1:5433/cpnav")
    assert (pg["USER"], pg["PASSWORD"], pg["HOST"], pg["PORT"], pg["NAME"]) == (
        "u",
        "p@ss",
        "127.0.0.1",
        "5433",
        "cpnav",
    )
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL: unsupported scheme"):
        database_from_url("DATABASE_URL", "mysql://x/y")
    with pytest.raises(ImproperlyConfigured, match="port"):
        database_from_url("DATABASE_URL", "postgres://h:port/db")


def test_field_keys() -> None:
    keys = parse_field_keys("K", f"new:{KEY}, old:{KEY}")
    assert [k.key_id for k in keys] == ["new", "old"]
    for bad, message in [
        ("nokey", "keyid:base64key"),
        (f"a:{base64.b64encode(b'short').decode()}", "32 bytes"),
        ("a:!!!", "not valid base64"),
        (f"a:{KEY},a:{KEY}", "appears twice"),
    ]:
        with pytest.raises(ImproperlyConfigured, match=message):
            parse_field_keys("K", bad)


def run_check(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    # The browser tests set DJANGO_ALLOW_ASYNC_UNSAFE in this process; a deployment never does.
    skip = ("CPNAV_", "DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE")
    base = {k: v for k, v in os.environ.items() if not k.startswith(skip)}
    base.update({"CPNAV_VAR_DIR": str(tmp_path), **env})
    return subprocess.run(
        [sys.executable, "-m", "cpnav.cli", "check", "--deploy", "--fail-level", "WARNING"],
        env=base,
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )


PRODUCTION = {
    "CPNAV_PRODUCTION": "true",
    "SECRET_KEY": "x" * 30 + "-Y7q!" + "z" * 30,
    "ALLOWED_HOSTS": "cpnav.example.gov",
    "CPNAV_FIELD_KEYS": f"k1:{KEY}",
    "CPNAV_INDEX_KEY": KEY,
}


@pytest.mark.parametrize(
    ("drop", "variable"),
    [("SECRET_KEY", "SECRET_KEY"), ("ALLOWED_HOSTS", "ALLOWED_HOSTS"),
     ("CPNAV_FIELD_KEYS", "CPNAV_FIELD_KEYS"), ("CPNAV_INDEX_KEY", "CPNAV_INDEX_KEY")],
)  # fmt: skip
def test_production_refuses_to_start_without_required_values(
    drop: str, variable: str, tmp_path: Path
) -> None:
    env = {k: v for k, v in PRODUCTION.items() if k != drop}
    result = run_check(env, tmp_path)
    assert result.returncode != 0
    assert variable in result.stderr


def test_production_settings_pass_deploy_checks(tmp_path: Path) -> None:
    result = run_check(PRODUCTION, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_bad_value_names_the_variable(tmp_path: Path) -> None:
    result = run_check({"CPNAV_SESSION_IDLE_SECONDS": "forever"}, tmp_path)
    assert result.returncode != 0
    assert "CPNAV_SESSION_IDLE_SECONDS" in result.stderr


@pytest.mark.parametrize(
    ("variable", "value", "bound"),
    [
        # CJIS Security Policy values (docs/security.md section 3): a deployment may be
        # stricter, never looser.
        ("CPNAV_LOCKOUT_FAILURES", "6", "must be at most 5"),
        ("CPNAV_SESSION_IDLE_SECONDS", "1801", "must be at most 1800"),
        ("CPNAV_SESSION_MAX_SECONDS", "43201", "must be at most 43200"),
        ("CPNAV_AUDIT_RETENTION_DAYS", "364", "must be at least 365"),
        ("CPNAV_INACTIVE_DAYS", "91", "must be at most 90"),
    ],
)
def test_cjis_bounds_cannot_be_loosened(variable: str, value: str, bound: str) -> None:
    skip = ("CPNAV_", "DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE")
    env = {k: v for k, v in os.environ.items() if not k.startswith(skip)}
    result = subprocess.run(
        [sys.executable, "-c", "import cpnav.settings"],
        env={**env, variable: value},
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert result.returncode != 0
    assert f"{variable}: {bound}" in result.stderr


def test_production_hashes_passwords_with_argon2() -> None:
    # The test run swaps in a fast hasher; the settings module's real choice is Argon2.
    source = (Path(__file__).resolve().parents[2] / "cpnav" / "settings.py").read_text()
    assert '"django.contrib.auth.hashers.Argon2PasswordHasher",' in source.split("if TESTING")[1]
