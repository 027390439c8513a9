"""What the benchmarks run on: Debian packages, a PostgreSQL cluster, gunicorn and wrk.

Everything is started here and stopped again; data sets and the cluster live
under ``var/bench/`` so a second run reuses them.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var" / "bench"
BIN = Path(sys.executable).parent

# What the bench itself uses from Debian (the peer's own are in bench/peer/setup.sh).
PACKAGES = ("wrk", "postgresql")


class BenchError(RuntimeError):
    """Something the bench needs is missing or failed; the message says what."""


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def ensure_packages(names: Sequence[str] = PACKAGES) -> None:
    missing = [
        n
        for n in names
        if subprocess.run(["dpkg", "-s", n], capture_output=True, check=False).returncode != 0
    ]
    if not missing:
        return
    if os.geteuid() != 0:
        raise BenchError(f"install these Debian packages first (as root): {' '.join(missing)}")
    log(f"installing {' '.join(missing)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_for_port(port: int, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise BenchError(f"nothing answered on 127.0.0.1:{port} within {seconds:.0f} s")


class Postgres:
    """A cluster of our own on loopback, kept in var/bench/pg between runs."""

    def __init__(self, port: int = 54330) -> None:
        self.port = port
        self.data = VAR / "pg"
        versions = sorted(
            Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name)
        )
        if not versions:
            raise BenchError("PostgreSQL is not installed (Debian package postgresql)")
        self.bin = versions[-1]

    def _as_owner(self, *argv: str) -> list[str]:
        if os.geteuid() == 0:
            return ["runuser", "-u", "postgres", "--", *argv]
        return list(argv)

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def start(self, *, durable: bool = False) -> bool:
        """Start the cluster unless it runs; True when this call started it.

        Loading runs without durability (the data can be rebuilt); measuring runs
        with PostgreSQL's defaults (fsync, synchronous commit), as in production.
        """
        if not (self.data / "PG_VERSION").exists():
            self.data.mkdir(parents=True, exist_ok=True)
            if os.geteuid() == 0:
                shutil.chown(self.data, "postgres", "postgres")
            subprocess.run(
                self._as_owner(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres",
                               "-A", "trust"),
                check=True, stdout=subprocess.DEVNULL,
            )  # fmt: skip
        status = subprocess.run(
            self._as_owner(str(self.bin / "pg_ctl"), "-D", str(self.data), "status"),
            capture_output=True, check=False,
        )  # fmt: skip
        if status.returncode == 0:
            return False
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.data} "
            "-c shared_buffers=1GB -c max_connections=200 -c maintenance_work_mem=512MB "
            "-c max_wal_size=8GB"
        )
        if not durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        log(f"starting PostgreSQL on 127.0.0.1:{self.port} ({'durable' if durable else 'loading'})")
        subprocess.run(
            self._as_owner(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l",
                           str(self.data / "server.log"), "-w", "-o", options, "start"),
            check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        return True

    def stop(self) -> None:
        subprocess.run(
            self._as_owner(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "stop"),
            capture_output=True, check=False,
        )  # fmt: skip

    def psql(self, sql: str, database: str = "postgres") -> str:
        done = subprocess.run(
            [str(self.bin / "psql"), "-X", "-q", "-t", "-A", "-h", "127.0.0.1", "-p",
             str(self.port), "-U", "postgres", "-d", database, "-c", sql],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        return done.stdout.strip()


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(p) for p in children.read_text().split()] if children.exists() else []


def status_mb(pid: int, field: str) -> float | None:
    """A memory figure of /proc/<pid>/status (VmHWM, VmRSS...) in MiB; None when the
    process is gone or has no such line."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except FileNotFoundError:
        return None
    for line in lines:
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return None


def peak_rss_mb(pid: int) -> float:
    """The process's high-water resident set (VmHWM), in MiB."""
    found = status_mb(pid, "VmHWM")
    if found is None:
        raise BenchError(f"no VmHWM for process {pid}")
    return found


@contextlib.contextmanager
def gunicorn(app: str, env: Mapping[str, str], *, workers: int = 2,
             log_name: str = "gunicorn") -> Iterator[Server]:  # fmt: skip
    """gunicorn on a free loopback port with sync workers, as `cpnav serve` runs it."""
    port = free_port()
    logs = VAR / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    argv = [
        str(BIN / "python"), "-m", "gunicorn", app, "--bind", f"127.0.0.1:{port}",
        "--workers", str(workers), "--access-logfile", str(logs / f"{log_name}.access.log"),
        "--error-logfile", str(logs / f"{log_name}.error.log"), "--forwarded-allow-ips",
        "127.0.0.1", "--backlog", "2048",
    ]  # fmt: skip
    process = subprocess.Popen(argv, cwd=ROOT, env={**os.environ, **env})
    try:
        wait_for_port(port)
        server = Server(f"http://127.0.0.1:{port}", process)
        deadline = time.monotonic() + 30
        while len(server.worker_pids()) < workers and time.monotonic() < deadline:
            time.sleep(0.05)
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


_LATENCY = re.compile(r"^\s+(\d+(?:\.\d+)?)%\s+(\d+(?:\.\d+)?)(us|ms|s)\s*$")
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


@dataclass
class WrkResult:
    requests_per_second: float
    requests: int
    errors: int
    non_2xx_3xx: int
    latency_ms: dict[str, float]


def parse_wrk(text: str) -> WrkResult:
    """Figures from wrk's --latency report."""
    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    total = re.search(r"(\d+) requests in", text)
    if rps is None or total is None:
        raise BenchError(f"wrk printed no result:\n{text}")
    errors = 0
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text
    )
    if socket_errors:
        errors = sum(int(n) for n in socket_errors.groups())
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    latency = {}
    for line in text.splitlines():
        match = _LATENCY.match(line)
        if match:
            latency[f"p{float(match.group(1)):g}"] = float(match.group(2)) * _UNITS[match.group(3)]
    return WrkResult(float(rps.group(1)), int(total.group(1)), errors,
                     int(bad.group(1)) if bad else 0, latency)  # fmt: skip


def run_wrk(url: str, *, seconds: int, connections: int, script: Path, threads: int = 2) -> str:
    """wrk's output for a run with a Lua script (which reports the percentiles)."""
    argv = ["wrk", f"-t{min(threads, connections)}", f"-c{connections}", f"-d{seconds}s",
            "--latency", "--timeout", "10s", "-s", str(script), url]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    # A script error leaves wrk running plain GETs of the URL: never a result.
    if done.returncode != 0 or done.stderr.strip():
        raise BenchError(f"wrk failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout
