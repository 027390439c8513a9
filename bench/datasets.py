"""The national synthetic data sets, built once by `cpnav synth` and reused.

A data set is rebuilt when its size, seed or the synth code changes (a
fingerprint is kept beside it). After loading, the planner statistics are
refreshed (ANALYZE), as a maintained production database would have them.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.system import BIN, ROOT, VAR, Postgres, log


@dataclass(frozen=True)
class Size:
    agencies: int = 18_000
    cases: int = 1_000_000
    audit_events: int = 10_000_000
    seed: int = 1

    def label(self) -> str:
        return (
            f"{self.cases:,} cases, {self.audit_events:,} audit events, {self.agencies:,} agencies"
        )


def _fingerprint(size: Size) -> str:
    digest = hashlib.sha256(json.dumps(asdict(size), sort_keys=True).encode())
    for path in sorted((ROOT / "cpnav" / "synth").glob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def cpnav(database_url: str, *args: str) -> None:
    # A big SQLite page cache while loading: the indexes of a 10-million-row table
    # no longer fit the default and every insert would re-read pages from the file.
    env = {"CPNAV_SQLITE_CACHE_MB": "2048"} if args[0] == "synth" else {}
    subprocess.run(
        [str(BIN / "cpnav"), *args],
        check=True,
        cwd=ROOT,
        env={**os.environ, **env, "DATABASE_URL": database_url},
    )


@dataclass(frozen=True)
class Dataset:
    engine: str  # "sqlite" or "postgresql"
    url: str
    size: Size
    name: str = "national"

    @property
    def marker(self) -> Path:
        return VAR / f"{self.name}-{self.engine}.json"

    @property
    def sqlite_path(self) -> Path:
        return VAR / f"{self.name}.sqlite3"

    @property
    def pg_database(self) -> str:
        return "cpnav_bench" if self.name == "national" else f"cpnav_{self.name}"

    def ready(self) -> bool:
        if not self.marker.exists():
            return False
        built: dict[str, object] = json.loads(self.marker.read_text())
        return built.get("fingerprint") == _fingerprint(self.size)


def sqlite_dataset(size: Size, name: str = "national") -> Dataset:
    return Dataset("sqlite", f"sqlite:///{VAR / f'{name}.sqlite3'}", size, name)


def postgres_dataset(size: Size, pg: Postgres, name: str = "national") -> Dataset:
    database = "cpnav_bench" if name == "national" else f"cpnav_{name}"
    return Dataset("postgresql", pg.url(database), size, name)


def ensure(dataset: Dataset, pg: Postgres | None = None) -> None:
    """Build the data set unless the one on disk was built from the same size and code."""
    VAR.mkdir(parents=True, exist_ok=True)
    if dataset.ready():
        log(f"{dataset.engine}: reusing the data set ({dataset.size.label()})")
        cpnav(dataset.url, "migrate", "--no-input", "-v0")
        return
    log(f"{dataset.engine}: building the data set ({dataset.size.label()})")
    dataset.marker.unlink(missing_ok=True)
    if dataset.engine == "sqlite":
        path = dataset.sqlite_path
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    else:
        assert pg is not None
        pg.psql(f"DROP DATABASE IF EXISTS {dataset.pg_database} WITH (FORCE)")
        pg.psql(f"CREATE DATABASE {dataset.pg_database}")
    cpnav(dataset.url, "migrate", "--no-input", "-v0")
    size = dataset.size
    cpnav(dataset.url, "synth", "--agencies", str(size.agencies), "--cases", str(size.cases),
          "--audit-events", str(size.audit_events), "--seed", str(size.seed))  # fmt: skip
    analyze(dataset, pg)
    dataset.marker.write_text(json.dumps({"fingerprint": _fingerprint(size), **asdict(size)}))


def analyze(dataset: Dataset, pg: Postgres | None) -> None:
    if dataset.engine == "sqlite":
        import sqlite3

        with sqlite3.connect(dataset.sqlite_path) as connection:
            connection.execute("ANALYZE")
    else:
        assert pg is not None
        pg.psql("VACUUM ANALYZE", dataset.pg_database)
