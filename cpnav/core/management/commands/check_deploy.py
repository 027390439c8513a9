"""`cpnav check-deploy`: Django's deployment checks plus ours; non-zero on any warning.

Run it on every app server before it takes traffic (and after a configuration
change): it answers "can this server join the others?" - settings, keys, shared
state, static files, migrations and the replica it would read from.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.migrations.executor import MigrationExecutor

from cpnav.core import routers

# Backends that keep their data in the process or on this machine's disk: another
# app server would not see it.
LOCAL_CACHES = {
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.filebased.FileBasedCache",
}
LOCAL_SESSIONS = {"django.contrib.sessions.backends.file"}
CACHE_SESSIONS = {
    "django.contrib.sessions.backends.cache",
    "django.contrib.sessions.backends.cached_db",
}
MANIFEST_STORAGE = "whitenoise.storage.CompressedManifestStaticFilesStorage"


def shared_state_problems() -> list[str]:
    problems = []
    for alias, cache in settings.CACHES.items():
        if cache["BACKEND"] in LOCAL_CACHES:
            problems.append(
                f"CACHES[{alias!r}] uses {cache['BACKEND']}: each app server would keep its own"
            )
    if settings.SESSION_ENGINE in LOCAL_SESSIONS:
        problems.append("SESSION_ENGINE keeps sessions in files on one server")
    if settings.SESSION_ENGINE in CACHE_SESSIONS:
        alias = getattr(settings, "SESSION_CACHE_ALIAS", "default")
        if settings.CACHES[alias]["BACKEND"] in LOCAL_CACHES:
            problems.append(f"SESSION_ENGINE keeps sessions in the server-local cache {alias!r}")
    return problems


def secret_problems() -> list[str]:
    problems = []
    if not settings.PRODUCTION:
        problems.append("CPNAV_PRODUCTION is not true: keys and hosts are not enforced")
    if len(settings.SECRET_KEY) < 50:
        problems.append("SECRET_KEY: shorter than 50 characters")
    if any(key.key_id.startswith("local") for key in settings.FIELD_ENCRYPTION_KEYS):
        problems.append("CPNAV_FIELD_KEYS: a key generated for local use is configured")
    if settings.BACKUP_KEY is None:
        problems.append("CPNAV_BACKUP_KEY: not set, so `cpnav backup` refuses to run")
    return problems


def static_problems() -> list[str]:
    problems = []
    if "whitenoise.middleware.WhiteNoiseMiddleware" not in settings.MIDDLEWARE:
        problems.append("WhiteNoiseMiddleware is not installed: nothing serves /static/")
    if settings.STORAGES["staticfiles"]["BACKEND"] == MANIFEST_STORAGE:
        manifest = Path(settings.STATIC_ROOT) / "staticfiles.json"
        if not manifest.is_file():
            problems.append(f"no static files at {settings.STATIC_ROOT}: run `cpnav collectstatic`")
    return problems


def migration_problems() -> list[str]:
    try:
        executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError as error:
        return [f"the database does not answer: {error}".strip()]
    if plan:
        names = ", ".join(f"{m.app_label}.{m.name}" for m, _ in plan[:5])
        return [f"{len(plan)} migrations not applied ({names}): run `cpnav migrate`"]
    return []


def replica_problems() -> list[str]:
    if not routers.configured():
        return []
    routers.forget()
    state = routers.replica_state(patience=3.0)  # a page waits 0.1 s; here we can wait
    if not state.usable:
        return [f"DATABASE_REPLICA_URL: {state.problem}"]
    try:
        same = []
        for alias in (DEFAULT_DB_ALIAS, routers.REPLICA):
            with connections[alias].cursor() as cursor:
                cursor.execute("SELECT system_identifier FROM pg_control_system()")
                same.append(cursor.fetchone()[0])
    except DatabaseError as error:
        return [f"DATABASE_REPLICA_URL: could not compare it with the primary: {error}".strip()]
    if same[0] != same[1]:
        return ["DATABASE_REPLICA_URL: the replica copies another PostgreSQL cluster"]
    return []


class Command(BaseCommand):
    help = (
        "Deployment checks: Django's `check --deploy` plus CP Navigator's (production mode, "
        "keys, state shared by every app server, static files, migrations, the replica). "
        "Exits non-zero on any warning."
    )
    requires_system_checks: list[str] = []  # run below, with the deployment checks

    def handle(self, *args: Any, **options: Any) -> None:
        failed = False
        try:
            call_command("check", deploy=True, fail_level="WARNING", stdout=self.stdout)
        except CommandError as error:
            self.stderr.write(str(error))
            failed = True
        ours = [
            *secret_problems(),
            *shared_state_problems(),
            *static_problems(),
            *migration_problems(),
            *replica_problems(),
        ]
        for problem in ours:
            self.stderr.write(f"cpnav.deploy: {problem}")
        if ours or failed:
            self.stderr.write(f"check-deploy: {len(ours) + failed} problem(s); fix them first.")
            sys.exit(1)
        replica = "the replica answers" if routers.configured() else "no replica configured"
        self.stdout.write(f"check-deploy: ready ({replica}).")
