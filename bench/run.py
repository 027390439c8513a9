"""`make bench`: every benchmark in one run on this machine, written to bench/results.*

    .venv/bin/python -m bench.run [--quick] [--skip-peer] [--load-seconds N]

1. Data sets: the national synthetic data (``cpnav synth``) on SQLite and on a
   PostgreSQL cluster of our own on loopback, built once and reused.
2. Engines in-process (bench/engines.py) and the docassemble peer
   (bench/peer/, in its own virtualenv).
3. Server time of each page at national scale on both databases (bench/pages.py).
4. The limit: a bare Django view under gunicorn and wrk; then our endpoints,
   each as a share of it.
5. Load: a mixed workload from 100 concurrent connections for 5 minutes on each
   database; errors, throughput, p95 and the workers' peak memory.

Benchmarks are not tests: figures are written, never asserted. Compare ratios
measured in the same run: wrk and the server share the machine's two cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.datasets import Dataset, Size, ensure, postgres_dataset, sqlite_dataset
from bench.report import Results, render_markdown
from bench.system import BIN, ROOT, VAR, Postgres, ensure_packages, gunicorn, log, peak_rss_mb
from bench.wrk import Measured, Request, measure

QUICK = Size(agencies=300, cases=5_000, audit_events=50_000)
DETERMINATION = json.dumps(
    {
        "exploitation": {
            "labor_or_services": True,
            "means": ["fraud"],
            "purpose": ["debt_bondage"],
        },
        "witness": {"potential_witness": True},
    }
)
APP_ENV = {
    # The public API's per-address budget would answer 429 to a load generator on
    # one address; the limit is raised, the counting (a cache write) still runs.
    "CPNAV_API_ANONYMOUS_RATE": "1000000000/min",
}


def python_step(name: str, argv: list[str], env: dict[str, str] | None = None) -> None:
    log(name)
    subprocess.run(argv, check=True, cwd=ROOT, env={**os.environ, **(env or {})})


def engines(results: Results, quick: bool) -> None:
    out = VAR / "engines.json"
    python_step("engines in-process", [str(BIN / "python"), "bench/engines.py", "--out", str(out),
                                       *(["--quick"] if quick else [])])  # fmt: skip
    data = json.loads(out.read_text())
    for name, metric in data["metrics"].items():
        results.add(name, metric["samples"], metric["unit"], metric.get("note", ""))
    results.extra.update(data.get("extra", {}))


def peer(results: Results, quick: bool) -> None:
    python_step("docassemble peer: setup", ["bash", "bench/peer/setup.sh"])
    out = VAR / "peer.json"
    python_step("docassemble peer: walks", [
        str(VAR / "docassemble-venv" / "bin" / "python"), "bench/peer/run_peer.py",
        "--walks", "5" if quick else "30", "--out", str(out),
    ])  # fmt: skip
    data = json.loads(out.read_text())
    for name, metric in data["metrics"].items():
        results.add(name, metric["samples"], metric["unit"], metric.get("note", data["engine"]))
    results.extra["peer_engine"] = data["engine"]
    results.extra["peer_screens_per_walk"] = data["screens_per_walk"]


def pages(results: Results, dataset: Dataset, quick: bool) -> None:
    out = VAR / f"pages-{dataset.engine}.json"
    python_step(f"{dataset.engine}: server time of each page", [
        str(BIN / "python"), "-m", "bench.pages", "--out", str(out),
        "--samples", "10" if quick else "60",
    ], {"DATABASE_URL": dataset.url})  # fmt: skip
    for name, metric in json.loads(out.read_text()).items():
        results.add(f"{metric['kind']}.{dataset.engine}.{name}", metric["samples"], "ms",
                    f"{metric['note']} ({metric['path']})", queries=metric["queries"])  # fmt: skip


def sessions(dataset: Dataset, worlds: int) -> dict[str, Any]:
    out = VAR / f"sessions-{dataset.engine}.json"
    python_step(f"{dataset.engine}: signed-in sessions of {worlds} agencies for wrk", [
        str(BIN / "python"), "-m", "bench.pages", "--sessions", str(out), "--worlds", str(worlds),
    ], {"DATABASE_URL": dataset.url})  # fmt: skip
    found: dict[str, Any] = json.loads(out.read_text())
    return found


def _as(cookie_name: str, world: dict[str, Any], persona: str) -> dict[str, str]:
    cookie = world["cookies"].get(persona)
    return {"Cookie": f"{cookie_name}={cookie}"} if cookie else {}


def _page(found: dict[str, Any], name: str) -> Request:
    world = found["worlds"][0]
    page = next(p for p in world["pages"] if p["name"] == name)
    return Request(page["path"], headers=_as(found["cookie_name"], world, page["persona"]))


def endpoints(found: dict[str, Any]) -> dict[str, Request]:
    return {
        "determination_api": Request(
            "/api/v1/determinations", "POST", DETERMINATION, {"Content-Type": "application/json"}
        ),
        "case_list": _page(found, "case_list"),
        "deadlines": _page(found, "deadlines"),
        "interview_step": _page(found, "interview_step"),
        "guide_search": _page(found, "guide_search"),
    }


def _best_of(url: str, request: Request, name: str, runs: int, seconds: int) -> Measured:
    """A warm-up, then ``runs`` runs; the run with the median throughput."""
    measure(url, [request], seconds=2, connections=8, name=f"{name}-warmup")
    done = sorted(
        (measure(url, [request], seconds=seconds, connections=8, name=name) for _ in range(runs)),
        key=lambda m: m.requests_per_second,
    )
    return done[len(done) // 2]


def limit(results: Results, datasets: list[Dataset], quick: bool) -> None:
    runs, seconds = (1, 3) if quick else (3, 10)
    log("the limit: a bare Django view")
    with gunicorn("bench.bare:application", {}, log_name="bare") as server:
        bare = _best_of(server.url, Request("/"), "bare", runs, seconds)
    results.throughput["bare_django"] = bare.as_dict()
    for dataset in datasets:
        found = sessions(dataset, 1)
        log(f"{dataset.engine}: our endpoints under wrk")
        env = {**APP_ENV, "DATABASE_URL": dataset.url}
        with gunicorn("cpnav.wsgi:application", env, log_name=f"app-{dataset.engine}") as server:
            for name, request in endpoints(found).items():
                measured = _best_of(server.url, request, f"{dataset.engine}-{name}", runs, seconds)
                results.throughput[f"{dataset.engine}.{name}"] = {
                    **measured.as_dict(),
                    "share_of_limit": measured.requests_per_second / bare.requests_per_second,
                }


# What a day looks like, per agency: mostly agency pages, some CCHT, the guide and the API.
LOAD_WEIGHTS = {"case_list": 20, "case_page": 12, "person_page": 8, "deadlines": 10,
                "interview_step": 10, "guide_search": 10, "ccht_inbox": 8, "metrics": 4,
                "metrics_national": 1}  # fmt: skip
LOAD_USERS = 100  # signed-in people: 25 agencies x (supervisor, investigator, drafter, reviewer)


def load_mix(found: dict[str, Any]) -> list[Request]:
    mix = []
    for world in found["worlds"]:
        for page in world["pages"]:
            if page["name"] in LOAD_WEIGHTS:
                headers = _as(found["cookie_name"], world, page["persona"])
                mix.append(Request(page["path"], headers=headers,
                                   weight=LOAD_WEIGHTS[page["name"]]))  # fmt: skip
        mix.append(Request("/guide/en/", weight=5))
        mix.append(Request("/api/v1/determinations", "POST", DETERMINATION,
                           {"Content-Type": "application/json"}, weight=12))  # fmt: skip
    return mix


# As deployed: `cpnav reports refresh` more often than CPNAV_REPORT_CACHE_SECONDS (300).
REFRESH_EVERY = 240


@contextmanager
def scheduled_refresh(env: dict[str, str]) -> Iterator[None]:
    """``cpnav reports refresh`` now, then every REFRESH_EVERY seconds until the
    block ends, as the deployment's timer would run it beside the app servers."""
    argv = [str(BIN / "cpnav"), "reports", "refresh", "--fiscal-years", "2"]
    failed: list[BaseException] = []

    def once() -> None:
        log("cpnav reports refresh")
        subprocess.run(argv, check=True, cwd=ROOT, env={**os.environ, **env},
                       stdout=subprocess.DEVNULL)  # fmt: skip

    def every() -> None:
        while not stop.wait(REFRESH_EVERY):
            try:
                once()
            except subprocess.CalledProcessError as error:
                failed.append(error)
                return

    once()
    stop = threading.Event()
    thread = threading.Thread(target=every, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
    if failed:
        raise failed[0]


def load(results: Results, datasets: list[Dataset], seconds: int) -> None:
    for dataset in datasets:
        found = sessions(dataset, LOAD_USERS // 4)
        env = {**APP_ENV, "DATABASE_URL": dataset.url}
        log(f"{dataset.engine}: load, 100 connections for {seconds} s")
        with (
            scheduled_refresh(env),
            gunicorn("cpnav.wsgi:application", env, log_name=f"load-{dataset.engine}") as server,
        ):
            measured = measure(server.url, load_mix(found), seconds=seconds, connections=100,
                               name=f"load-{dataset.engine}")  # fmt: skip
            workers = server.worker_pids()
            peak = max(peak_rss_mb(pid) for pid in workers)
        results.load[dataset.engine] = {**measured.as_dict(), "seconds": seconds,
                                        "workers": len(workers),
                                        "worker_peak_rss_mb": peak}  # fmt: skip


def machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                 capture_output=True, text=True, check=False).stdout.strip(),
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a small data set, short runs")
    parser.add_argument("--skip-peer", action="store_true", help="leave out docassemble")
    parser.add_argument("--load-seconds", type=int, default=None, help="default 300 (quick: 20)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench",
                        help="folder for results.json and results.md")  # fmt: skip
    args = parser.parse_args(argv)
    began = time.monotonic()
    ensure_packages()
    size = QUICK if args.quick else Size()
    pg = Postgres()
    started = pg.start()
    try:
        name = "quick" if args.quick else "national"
        datasets = [sqlite_dataset(size, name), postgres_dataset(size, pg, name)]
        for dataset in datasets:
            ensure(dataset, pg)
        if started:  # measure with production durability
            pg.stop()
            pg.start(durable=True)
        results = Results(machine=machine(), size=asdict(size), quick=args.quick)
        engines(results, args.quick)
        if not args.skip_peer:
            peer(results, args.quick)
        for dataset in datasets:
            pages(results, dataset, args.quick)
        limit(results, datasets, args.quick)
        load(results, datasets, args.load_seconds or (20 if args.quick else 300))
    finally:
        if started:  # a cluster someone else started keeps running
            pg.stop()
    results.seconds = time.monotonic() - began
    summary = results.as_dict()
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "results-quick" if args.quick else "results"
    (args.out / f"{stem}.json").write_text(json.dumps(summary, indent=1) + "\n")
    (args.out / f"{stem}.md").write_text(render_markdown(summary))
    print(render_markdown(summary))
    failed = [t for t in summary["targets"] if t["met"] is False]
    log(f"done in {results.seconds / 60:.1f} min; {len(failed)} target(s) not met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
