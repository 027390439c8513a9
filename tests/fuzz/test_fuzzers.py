"""Coverage-guided fuzzing (atheris/libFuzzer) of the importers, the interview
definition loader and the expression language, for a bounded time in the suite.

Each target (tests/fuzz/targets.py) runs in its own subprocess for
``CPNAV_FUZZ_SECONDS`` seconds (default 2) from a seed corpus of the project's
own valid inputs, with a fixed libFuzzer seed. A crash is any exception other
than the module's documented validation error; libFuzzer saves the input, and
the failure message names the file. Set CPNAV_FUZZ_SECONDS=600 for a longer
hunt; a crash found that way belongs in tests/fuzz/regressions/TARGET/.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fuzz import targets

ROOT = Path(__file__).resolve().parents[2]
REGRESSIONS_DIR = Path(__file__).resolve().parent / "regressions"
SECONDS = int(os.environ.get("CPNAV_FUZZ_SECONDS", "2"))
NAMES = sorted(targets.TARGETS)


def regressions(name: str) -> list[bytes]:
    saved = sorted((REGRESSIONS_DIR / name).glob("*")) if (REGRESSIONS_DIR / name).is_dir() else []
    return [*targets.REGRESSIONS[name], *(path.read_bytes() for path in saved)]


def test_every_target_has_seeds_and_a_regression_list() -> None:
    assert set(targets.REGRESSIONS) == set(NAMES)
    for name in NAMES:
        assert list(targets.seeds(name)), name


@pytest.mark.parametrize("name", NAMES)
def test_seeds_and_past_crashes_pass_in_process(name: str) -> None:
    target = targets.TARGETS[name]
    for data in [*targets.seeds(name), *regressions(name)]:
        target(data)


@pytest.mark.parametrize("name", NAMES)
def test_atheris_finds_no_crash(name: str, tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for index, data in enumerate([*targets.seeds(name), *regressions(name)]):
        (corpus / f"seed-{index}").write_bytes(data)
    command = [
        sys.executable, "-m", "tests.fuzz.run_atheris", name,
        f"-max_total_time={SECONDS}", "-seed=1", "-timeout=10", "-rss_limit_mb=2048",
        "-max_len=65536", f"-artifact_prefix={tmp_path}/", "-print_final_stats=1", str(corpus),
    ]  # fmt: skip
    run = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=SECONDS + 120, check=False
    )
    output = run.stderr + run.stdout
    crashes = sorted(p.name for p in tmp_path.iterdir() if p.is_file())
    assert run.returncode == 0, (
        f"atheris found a crash in {name} (inputs saved: {crashes}):\n{output[-6000:]}"
    )
    assert "Done " in output, output[-3000:]
    assert "stat::number_of_executed_units" in output
