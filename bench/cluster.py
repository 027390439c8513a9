"""`make cluster-test`: the deployment of docs/deploy.md on one machine, loopback only.

    .venv/bin/python -m bench.cluster [--seconds 180] [--connections 50]

nginx (Debian's) balances two gunicorn app servers, which write to a PostgreSQL
primary and read their read-only pages from a streaming replica made with
`pg_basebackup -R`; all of them started here on free loopback ports. The
benchmark's signed-in load (bench/run.py) runs through nginx while app server 1
is stopped (SIGTERM: it finishes what it is serving) a third of the way in and
started again at two thirds. Then a write on the primary is timed until the
replica shows it, against CPNAV_REPLICA_MAX_LAG_SECONDS.

Passes when no idempotent request failed (nginx's log: no answer of 500 or more
to a GET; POSTs caught by the stopping server are counted apart), wrk saw no socket
error, and the replica caught up within the bound. Figures:
bench/cluster-results.json and bench/cluster-results.md. The data set is the
benchmark's small one (5,000 cases), kept in var/bench/cluster/ between runs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from bench.datasets import ensure, postgres_dataset
from bench.run import APP_ENV, QUICK, load_mix, sessions
from bench.system import (
    BIN,
    ROOT,
    VAR,
    BenchError,
    Postgres,
    Server,
    ensure_packages,
    free_port,
    gunicorn,
    log,
    wait_for_port,
)  # fmt: skip
from bench.wrk import measure

HOME = VAR / "cluster"
MAX_LAG_SECONDS = 5


class Node(Postgres):
    """A PostgreSQL server of the cluster: its own data directory and port."""

    def __init__(self, name: str, port: int) -> None:
        super().__init__(port)
        self.data = HOME / name

    def options(self) -> str:
        return (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.data} "
                "-c wal_level=replica -c max_wal_senders=5 -c hot_standby=on "
                "-c shared_buffers=256MB -c max_connections=200")  # fmt: skip

    def start_node(self) -> None:
        log(f"starting PostgreSQL {self.data.name} on 127.0.0.1:{self.port}")
        subprocess.run(
            self._as_owner(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l",
                           str(self.data / "server.log"), "-w", "-o", self.options(), "start"),
            check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip


def primary() -> tuple[Node, bool]:
    """The primary, made once (initdb allows replication from loopback); True if new."""
    node = Node("primary", free_port())
    made = not (node.data / "PG_VERSION").exists()
    if made:
        node.data.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(node.data, "postgres", "postgres")
        subprocess.run(
            node._as_owner(str(node.bin / "initdb"), "-D", str(node.data), "-U", "postgres",
                           "-A", "trust"),
            check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
    node.stop()  # a run that was interrupted
    node.start_node()
    return node, made


def replica(source: Node) -> Node:
    """A fresh streaming replica of ``source`` (pg_basebackup -R writes standby.signal)."""
    node = Node("replica", free_port())
    node.stop()
    shutil.rmtree(node.data, ignore_errors=True)
    node.data.mkdir(parents=True)
    if os.geteuid() == 0:
        shutil.chown(node.data, "postgres", "postgres")
    node.data.chmod(0o700)
    log("pg_basebackup: the replica")
    subprocess.run(
        node._as_owner(str(node.bin / "pg_basebackup"), "-h", "127.0.0.1", "-p",
                       str(source.port), "-U", "postgres", "-D", str(node.data), "-R",
                       "-X", "stream", "-c", "fast"),
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    node.start_node()
    deadline = time.monotonic() + 60
    while node.psql("SELECT pg_is_in_recovery()") != "t" or not source.psql(
        "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'"
    ).strip("0"):
        if time.monotonic() > deadline:
            raise BenchError("the replica did not start streaming in 60 s")
        time.sleep(0.5)
    return node


NGINX_CONF = """
daemon off;
worker_processes 1;
pid {home}/nginx.pid;
error_log {home}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log {home}/nginx-access.log;
    client_body_temp_path {home}/nginx-body;
    proxy_temp_path {home}/nginx-proxy;
    fastcgi_temp_path {home}/nginx-fastcgi;
    uwsgi_temp_path {home}/nginx-uwsgi;
    scgi_temp_path {home}/nginx-scgi;
    upstream cpnav_app {{
        server 127.0.0.1:{app1} max_fails=2 fail_timeout=5s;
        server 127.0.0.1:{app2} max_fails=2 fail_timeout=5s;
        keepalive 32;
    }}
    server {{
        listen 127.0.0.1:{port};
        server_tokens off;
        client_max_body_size 110m;
        location / {{
            proxy_pass http://cpnav_app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_connect_timeout 2s;
            proxy_read_timeout 60s;
            proxy_next_upstream error timeout http_502 http_503;
            proxy_next_upstream_tries 2;
        }}
    }}
}}
"""


@contextmanager
def nginx(app_ports: tuple[int, int]) -> Iterator[str]:
    """Debian's nginx in the foreground with a configuration of our own (deploy/nginx is
    the production one: TLS, static files)."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    port = free_port()
    conf = HOME / "nginx.conf"
    conf.write_text(NGINX_CONF.format(home=HOME, app1=app_ports[0], app2=app_ports[1], port=port))
    (HOME / "nginx-access.log").unlink(missing_ok=True)  # this run's answers only
    checked = subprocess.run([binary, "-t", "-c", str(conf), "-p", str(HOME)],
                             capture_output=True, text=True, check=False)  # fmt: skip
    if checked.returncode:
        raise BenchError(f"nginx refused its configuration: {checked.stderr}")
    process = subprocess.Popen([binary, "-c", str(conf), "-p", str(HOME)])
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.send_signal(signal.SIGQUIT)  # graceful
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def _port(server: Server) -> int:
    return int(server.url.rsplit(":", 1)[1])


def replica_catch_up(env: dict[str, str]) -> dict[str, Any]:
    """Write through the app's own primary connection, then time until the replica's
    connection reads it (as the router would), polling every 10 ms."""
    code = (
        "import time, uuid, django; django.setup()\n"
        "from django.db import connections\n"
        "marker = 'cluster-' + uuid.uuid4().hex\n"
        "with connections['default'].cursor() as c:\n"
        "    c.execute('INSERT INTO cpnav_cache (cache_key, value, expires) "
        "VALUES (%s, %s, now() + interval \\'1 hour\\')', [marker, 'x'])\n"
        "began = time.monotonic()\n"
        "while True:\n"
        "    with connections['replica'].cursor() as c:\n"
        "        c.execute('SELECT 1 FROM cpnav_cache WHERE cache_key = %s', [marker])\n"
        "        if c.fetchone():\n"
        "            break\n"
        "    if time.monotonic() - began > 60:\n"
        "        raise SystemExit('not replicated in 60 s')\n"
        "    time.sleep(0.01)\n"
        "print(round(time.monotonic() - began, 3))\n"
    )
    done = subprocess.run([str(BIN / "python"), "-c", code], cwd=ROOT, capture_output=True,
                          text=True, check=False,
                          env={**os.environ, **env, "DJANGO_SETTINGS_MODULE": "cpnav.settings"})  # fmt: skip
    if done.returncode:
        return {"seconds": None, "within_bound": False, "error": done.stderr[-500:]}
    seconds = float(done.stdout.strip().splitlines()[-1])
    return {
        "seconds": seconds,
        "bound": MAX_LAG_SECONDS,
        "within_bound": seconds <= MAX_LAG_SECONDS,
    }


IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS"})


def failures(access_log: Path) -> dict[str, int]:
    """Answers of 500 or more in nginx's log, for idempotent requests and for the others.

    nginx moves an idempotent request to the other app server when the first one
    drops it; a POST already sent is not sent twice (it might write twice), so a
    POST caught by a stopping server fails. 499 (the client left: wrk stopping at
    the end of the run) is not a failure."""
    found = {"idempotent": 0, "other": 0}
    for line in access_log.read_text().splitlines():
        parts = line.split('"')
        if len(parts) < 3:
            continue
        method = parts[1].split(" ", 1)[0]
        status = parts[2].split()[0] if parts[2].split() else ""
        if status.isdigit() and int(status) >= 500:
            found["idempotent" if method in IDEMPOTENT else "other"] += 1
    return found


def run(seconds: int, connections: int) -> dict[str, Any]:
    HOME.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        main, made = primary()
        stack.callback(main.stop)
        dataset = postgres_dataset(QUICK, main, "cluster")
        if made:
            dataset.marker.unlink(missing_ok=True)
        ensure(dataset, main)
        standby = replica(main)
        stack.callback(standby.stop)
        env = {
            **APP_ENV, "DATABASE_URL": dataset.url,
            "DATABASE_REPLICA_URL": standby.url(dataset.pg_database),
            "CPNAV_REPLICA_MAX_LAG_SECONDS": str(MAX_LAG_SECONDS),
            "CPNAV_TRUSTED_PROXIES": "127.0.0.1",
        }  # fmt: skip
        found = sessions(dataset, connections // 4)
        app1 = stack.enter_context(gunicorn("cpnav.wsgi:application", env, log_name="cluster-1"))
        app2 = stack.enter_context(gunicorn("cpnav.wsgi:application", env, log_name="cluster-2"))
        front = stack.enter_context(nginx((_port(app1), _port(app2))))
        events: list[dict[str, Any]] = []

        def outage() -> None:
            time.sleep(seconds / 3)
            log("stopping app server 1 (SIGTERM: finishes what it serves)")
            events.append({"at_s": round(seconds / 3), "event": "app server 1 stopped"})
            app1.process.send_signal(signal.SIGTERM)
            app1.process.wait(timeout=60)
            time.sleep(seconds / 3)
            log("starting app server 1 again")
            argv = [str(BIN / "python"), "-m", "gunicorn", "cpnav.wsgi:application", "--bind",
                    f"127.0.0.1:{_port(app1)}", "--workers", "2", "--forwarded-allow-ips",
                    "127.0.0.1", "--error-logfile", str(VAR / "logs" / "cluster-1b.error.log")]  # fmt: skip
            restarted = subprocess.Popen(argv, cwd=ROOT, env={**os.environ, **env})
            stack.callback(restarted.wait, 30)
            stack.callback(restarted.send_signal, signal.SIGTERM)
            wait_for_port(_port(app1))
            events.append({"at_s": round(2 * seconds / 3), "event": "app server 1 started"})

        thread = threading.Thread(target=outage, daemon=True)
        log(f"load through nginx: {connections} connections for {seconds} s")
        thread.start()
        measured = measure(front, load_mix(found), seconds=seconds, connections=connections,
                           name="cluster")  # fmt: skip
        thread.join()
        lag = replica_catch_up(env)
    load = measured.as_dict()
    failed = failures(HOME / "nginx-access.log")
    # The goal (issue #14): no error for idempotent requests while a server restarts.
    passed = load["errors"] == 0 and failed["idempotent"] == 0 and lag["within_bound"]
    return {"seconds": seconds, "connections": connections, "data_set": QUICK.label(),
            "load": load, "failed_answers": failed, "events": events, "replica": lag,
            "passed": passed}  # fmt: skip


def render(result: dict[str, Any]) -> str:
    load, lag = result["load"], result["replica"]
    lines = [
        "# CP Navigator on a cluster of one machine", "",
        f"nginx, two gunicorn app servers (2 workers each), PostgreSQL primary and streaming "
        f"replica, all on loopback; {result['data_set']}. **{'Passed' if result['passed'] else 'FAILED'}.**",
        "",
        f"- Load through nginx, {result['connections']} connections for {result['seconds']} s: "
        f"{load['requests']:,} requests, {load['requests_per_second']:,.0f} req/s, p95 "
        f"{load['p95_ms']:.0f} ms, socket errors {load['errors']}, answers of 500 or more: "
        f"{result['failed_answers']['idempotent']} to idempotent requests (GET), "
        f"{result['failed_answers']['other']} to others (POST: nginx does not send a request "
        f"twice when it may have been received).",
        *(f"- {e['at_s']} s: {e['event']}." for e in result["events"]),
        f"- A write on the primary was read on the replica after {lag['seconds']} s "
        f"(bound {MAX_LAG_SECONDS} s): {'within' if lag['within_bound'] else 'NOT within'} the bound.",
    ]  # fmt: skip
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=int, default=180)
    parser.add_argument("--connections", type=int, default=40)
    parser.add_argument("--out", type=Path, default=ROOT / "bench")
    args = parser.parse_args(argv)
    if not 30 <= args.seconds <= 3600:
        parser.error("--seconds: from 30 to 3600")
    if not 4 <= args.connections <= 400:
        parser.error("--connections: from 4 to 400")
    ensure_packages(("wrk", "postgresql", "nginx"))
    result = run(args.seconds, args.connections)
    (args.out / "cluster-results.json").write_text(json.dumps(result, indent=1) + "\n")
    (args.out / "cluster-results.md").write_text(render(result))
    log(f"cluster test {'passed' if result['passed'] else 'FAILED'}: bench/cluster-results.md")
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
