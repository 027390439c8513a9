"""`make soak`: a bounded soak on loopback, on demand (not in CI).

    .venv/bin/python -m bench.soak [--minutes 30] [--engine postgresql|sqlite] [--quick]

The benchmark's load (100 connections, the mixed workload of signed-in people
and the API, bench/run.py) against gunicorn for ``--minutes``, while beside it,
as a deployment runs them:

* ``cpnav send-reminders`` every minute, mailing a loopback SMTP server;
* ``cpnav reports refresh`` every 4 minutes (ADR 18);
* ``cpnav import`` of a file of synthetic cases into the busiest agency every
  5 minutes;
* each worker's resident memory sampled every 30 seconds.

It runs on a copy of the benchmark's data set (those jobs write), made afresh
each time.

At the end ``cpnav audit verify`` walks the audit chain. The run passes when the
load saw no error, every background run succeeded, the chain is intact and no
worker's memory grew by more than 10% between the end of the first third and
the end. Figures: bench/soak-results.json and bench/soak-results.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bench.datasets import Dataset, Size, ensure, postgres_dataset, sqlite_dataset
from bench.run import APP_ENV, LOAD_USERS, QUICK, load_mix, scheduled_refresh, sessions
from bench.system import BIN, ROOT, VAR, Postgres, ensure_packages, gunicorn, log, status_mb
from bench.wrk import measure

REMINDERS_EVERY = 60
IMPORT_EVERY = 300
IMPORT_ROWS = 100
MEMORY_EVERY = 30
MEMORY_GROWTH_LIMIT = 0.10
# The PostgreSQL data set with its reminder backlog sent (made by the first run;
# the small data set's is cpnav_soak_base_quick).
SOAK_BASE = "cpnav_soak_base"


@dataclass
class JobRun:
    job: str
    at: float  # seconds since the soak began
    seconds: float
    returncode: int
    output: str


@dataclass
class Background:
    """Commands run on a schedule beside the load, each run recorded."""

    env: dict[str, str]
    began: float = field(default_factory=time.monotonic)
    runs: list[JobRun] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, job: str, argv: list[str]) -> None:
        started = time.monotonic()
        done = subprocess.run(argv, cwd=ROOT, env=self.env, capture_output=True, text=True,
                              check=False)  # fmt: skip
        output = (done.stdout + done.stderr).strip()
        with self.lock:
            self.runs.append(JobRun(job, round(started - self.began, 1),
                                    round(time.monotonic() - started, 2), done.returncode,
                                    output[-2000:]))  # fmt: skip
        if done.returncode:
            log(f"  {job} failed ({done.returncode}): {output[-500:]}")

    def every(self, seconds: int, job: str, argv: Any) -> threading.Thread:
        """``argv`` is a list, or a function of the run's number giving one."""

        def loop() -> None:
            number = 0
            while not self.stop.wait(seconds):
                number += 1
                self.run(job, argv(number) if callable(argv) else argv)

        thread = threading.Thread(target=loop, daemon=True)
        thread.start()
        return thread


@contextmanager
def smtp_sink() -> Iterator[tuple[int, list[int]]]:
    """A loopback SMTP server that counts the messages it is given."""
    import socket

    from aiosmtpd.controller import Controller

    received: list[int] = []

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            received.append(len(envelope.content))
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, received
    finally:
        controller.stop()


def import_file(number: int, stamp: str) -> Path:
    """A CSV of synthetic cases, one person each, with case numbers of their own."""
    rng = random.Random(f"{stamp}-{number}")
    path = VAR / "soak" / f"import-{number:03d}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    given = ["Ana", "Luis", "Mei", "Omar", "Ivana", "Tomas", "Nia", "Rafael"]
    family = ["Example", "Sample", "Placeholder", "Testperson", "Fictional"]
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["case_number", "trafficking_forms", "full_name", "date_of_birth",
                         "citizenship", "country", "languages"])  # fmt: skip
        for row in range(IMPORT_ROWS):
            writer.writerow([
                f"SOAK-{stamp}-{number:03d}-{row:04d}",
                rng.choice(["labor", "sex", "labor;sex"]),
                f"{rng.choice(given)} {rng.choice(family)}-{number}-{row}",
                f"{rng.randint(1970, 2005)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                "noncitizen",
                rng.choice(["Guatemala", "Honduras", "Philippines", "Mexico"]),
                rng.choice(["Spanish", "Tagalog", "English"]),
            ])  # fmt: skip
    return path


def prepare(dataset: Dataset) -> dict[str, str]:
    """The busiest agency and one of its investigators (the lead of imported cases)."""
    out = VAR / "soak" / "target.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [str(BIN / "python"), "-m", "bench.soak", "--prepare", str(out)],
        check=True, cwd=ROOT, env={**os.environ, "DATABASE_URL": dataset.url},
    )  # fmt: skip
    found: dict[str, str] = json.loads(out.read_text())
    return found


def _prepare(out: Path) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cpnav.settings")
    import django

    django.setup()
    from bench.pages import find_world

    world = find_world()
    investigator = world.users["investigator"]
    agency = investigator.memberships.values_list("agency_id", flat=True).first()
    out.write_text(json.dumps({"agency": str(agency), "user": investigator.email}))


def catch_up_reminders(url: str) -> None:
    """One `cpnav send-reminders` run against ``url``, mail discarded: a deployment has
    sent its reminders all along; a synthetic data set has a backlog of them."""
    done = subprocess.run(
        [str(BIN / "cpnav"), "send-reminders"], cwd=ROOT, capture_output=True, text=True,
        env={**os.environ, **APP_ENV, "DATABASE_URL": url,
             "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend"}, check=False,
    )  # fmt: skip
    if done.returncode:
        raise SystemExit(f"the catch-up reminder run failed: {done.stderr[-500:]}")


def working_copy(dataset: Dataset, pg: Postgres) -> Dataset:
    """A copy of the data set to soak (imports and reminders write to it), so the
    benchmark's data set stays as `cpnav synth` made it.

    On PostgreSQL the copy is made from ``cpnav_soak_base``: the data set once its
    backlog of reminders has been caught up (see ``soak``), kept between runs, so a
    run does not spend most of an hour on it first."""
    log(f"{dataset.engine}: a working copy of the data set for the soak")
    if dataset.engine == "postgresql":
        base = SOAK_BASE if dataset.name == "national" else f"{SOAK_BASE}_{dataset.name}"
        databases = pg.psql("SELECT datname FROM pg_database").split()
        if base not in databases:
            pg.psql(f"DROP DATABASE IF EXISTS {base}_new")
            pg.psql(f"CREATE DATABASE {base}_new TEMPLATE {dataset.pg_database}")
            log(f"cpnav send-reminders: the data set's backlog, once, into {base}")
            catch_up_reminders(pg.url(f"{base}_new"))
            pg.psql(f"ALTER DATABASE {base}_new RENAME TO {base}")
        pg.psql("DROP DATABASE IF EXISTS cpnav_soak")
        pg.psql(f"CREATE DATABASE cpnav_soak TEMPLATE {base}")
        return replace(dataset, url=pg.url("cpnav_soak"))
    copy = VAR / "soak" / "soak.sqlite3"
    copy.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("-wal", "-shm"):
        Path(f"{copy}{suffix}").unlink(missing_ok=True)
    source = sqlite3.connect(dataset.sqlite_path)
    target = sqlite3.connect(copy)
    with target:
        source.backup(target)  # a consistent copy, whatever the WAL holds
    source.close()
    target.close()
    return replace(dataset, url=f"sqlite:///{copy}")


def memory_verdict(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Growth of each worker from the end of the first third of the run to the end."""
    if len(samples) < 3:
        return {"stable": None, "why": "too few samples (run longer than 2 minutes)"}
    start = samples[len(samples) // 3]["workers"]
    end = samples[-1]["workers"]
    growth = {
        pid: (end[pid] - start[pid]) / start[pid] for pid in start if pid in end and start[pid]
    }
    if not growth:
        return {"stable": False, "why": "the workers were replaced during the run"}
    worst = max(growth.values())
    return {"stable": worst <= MEMORY_GROWTH_LIMIT, "worst_growth": round(worst, 4),
            "limit": MEMORY_GROWTH_LIMIT}  # fmt: skip


def soak(dataset: Dataset, minutes: float, connections: int) -> dict[str, Any]:
    found = sessions(dataset, LOAD_USERS // 4)
    target = prepare(dataset)
    stamp = time.strftime("%Y%m%d%H%M%S")
    cpnav = str(BIN / "cpnav")
    samples: list[dict[str, Any]] = []
    with smtp_sink() as (port, received):
        env = {**os.environ, **APP_ENV, "DATABASE_URL": dataset.url,
               "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
               "EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(port)}  # fmt: skip
        jobs = Background(env)
        # The backlog (about 0.6-1 million reminders at national scale, most of an
        # hour) would turn the soak into a reminder benchmark: caught up first, outside
        # the figures. On PostgreSQL the copy comes from a base already caught up, so
        # this sends only what fell due since.
        log("cpnav send-reminders: catching up the data set's backlog before the soak")
        catch_up_reminders(dataset.url)
        jobs.began = time.monotonic()
        log(f"{dataset.engine}: soak, {connections} connections for {minutes:g} min")
        with (
            scheduled_refresh(env),
            gunicorn("cpnav.wsgi:application", env, log_name=f"soak-{dataset.engine}") as server,
        ):
            threads = [
                jobs.every(REMINDERS_EVERY, "send-reminders", [cpnav, "send-reminders"]),
                jobs.every(IMPORT_EVERY, "import", lambda n: [
                    cpnav, "import", str(import_file(n, stamp)), "--agency", target["agency"],
                    "--user", target["user"], "--no-progress"]),
            ]  # fmt: skip

            def sample() -> None:
                while not jobs.stop.wait(MEMORY_EVERY):
                    rss = {str(pid): status_mb(pid, "VmRSS") for pid in server.worker_pids()}
                    samples.append({"at": round(time.monotonic() - jobs.began),
                                    "workers": {p: round(m, 1) for p, m in rss.items() if m}})  # fmt: skip

            threads.append(threading.Thread(target=sample, daemon=True))
            threads[-1].start()
            try:
                measured = measure(server.url, load_mix(found), seconds=int(minutes * 60),
                                   connections=connections, name=f"soak-{dataset.engine}")  # fmt: skip
            finally:
                jobs.stop.set()
                for thread in threads:
                    thread.join()
        log("cpnav audit verify")
        began = time.monotonic()
        verify = subprocess.run([cpnav, "audit", "verify"], cwd=ROOT, env=env,
                                capture_output=True, text=True, check=False)  # fmt: skip
        verify_seconds = time.monotonic() - began
        mails = len(received)
    failed_runs = [r for r in jobs.runs if r.returncode]
    memory = memory_verdict(samples)
    load = measured.as_dict()
    ok = (load["errors"] + load["bad_status"] == 0 and not failed_runs
          and verify.returncode == 0 and memory["stable"] is True)  # fmt: skip
    return {
        "database": dataset.engine, "data_set": dataset.size.label(), "minutes": minutes,
        "connections": connections, "load": load,
        "jobs": {job: {"runs": sum(1 for r in jobs.runs if r.job == job),
                       "failed": sum(1 for r in jobs.runs if r.job == job and r.returncode),
                       "longest_s": max((r.seconds for r in jobs.runs if r.job == job),
                                        default=None)}
                 for job in ("send-reminders", "import")},
        "failed_runs": [r.__dict__ for r in failed_runs], "mails_received": mails,
        "imported_cases": IMPORT_ROWS * sum(1 for r in jobs.runs
                                            if r.job == "import" and not r.returncode),
        "audit_verify": {"returncode": verify.returncode, "seconds": round(verify_seconds, 1),
                         "output": (verify.stdout + verify.stderr).strip()[-500:]},
        "memory": {**memory, "samples": samples}, "passed": ok,
    }  # fmt: skip


def render(result: dict[str, Any]) -> str:
    load, memory = result["load"], result["memory"]
    last = memory["samples"][-1]["workers"] if memory["samples"] else {}
    lines = [
        "# CP Navigator soak", "",
        f"{result['minutes']:g} minutes, {result['connections']} connections, "
        f"{result['database']}, {result['data_set']}. **{'Passed' if result['passed'] else 'FAILED'}.**",
        "",
        f"- Load: {load['requests']:,} requests, {load['requests_per_second']:,.0f} req/s, "
        f"p95 {load['p95_ms']:.0f} ms, errors {load['errors']}, bad statuses {load['bad_status']}.",
        *(f"- {job}: {j['runs']} runs, {j['failed']} failed, longest {j['longest_s']} s."
          for job, j in result["jobs"].items()),
        f"- Cases imported during the load: {result['imported_cases']:,}; mails received by "
        f"the SMTP server: {result['mails_received']:,}.",
        f"- Audit chain at the end: {result['audit_verify']['output'] or '(no output)'} "
        f"(exit {result['audit_verify']['returncode']}, {result['audit_verify']['seconds']} s).",
        f"- Worker memory (VmRSS): stable={memory['stable']}, worst growth from the end of "
        f"the first third to the end {memory.get('worst_growth', '-')} (limit "
        f"{MEMORY_GROWTH_LIMIT:.0%}); at the end " + ", ".join(f"{mb:.0f} MB" for mb in last.values())
        + ".",
    ]  # fmt: skip
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--engine", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--quick", action="store_true", help="the small data set")
    parser.add_argument("--connections", type=int, default=LOAD_USERS)
    parser.add_argument("--prepare", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=ROOT / "bench")
    args = parser.parse_args(argv)
    if args.prepare:
        _prepare(args.prepare)
        return 0
    if not 0 < args.minutes <= 24 * 60:
        parser.error("--minutes: from more than 0 to 1440")
    ensure_packages()
    size = QUICK if args.quick else Size()
    name = "quick" if args.quick else "national"
    pg = Postgres()
    started = pg.start()
    try:
        dataset = (postgres_dataset(size, pg, name) if args.engine == "postgresql"
                   else sqlite_dataset(size, name))  # fmt: skip
        ensure(dataset, pg)
        if started:  # production durability while soaking
            pg.stop()
            pg.start(durable=True)
        result = soak(working_copy(dataset, pg), args.minutes, args.connections)
    finally:
        if started:
            pg.stop()
    stem = "soak-results-quick" if args.quick else "soak-results"
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{stem}.json").write_text(json.dumps(result, indent=1) + "\n")
    (args.out / f"{stem}.md").write_text(render(result))
    log(f"soak {'passed' if result['passed'] else 'FAILED'}: {args.out / f'{stem}.md'}")
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
