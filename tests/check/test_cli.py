from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cpnav.policy import determine, parse_facts

ROOT = Path(__file__).resolve().parents[2]
FACTS = {
    "as_of": "2026-03-01",
    "requester": {"agency_level": "federal"},
    "person": {"citizenship": "noncitizen", "age_estimate": 30},
    "exploitation": {"labor_or_services": True, "means": ["fraud"], "purpose": ["debt_bondage"]},
    "witness": {"potential_witness": True},
}


def cpnav(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cpnav.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )


def test_check_file_prints_the_determination(tmp_path: Path) -> None:
    path = tmp_path / "facts.json"
    path.write_text(json.dumps(FACTS))
    result = cpnav("check", str(path))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == determine(parse_facts(FACTS)).to_json()


def test_check_reads_standard_input() -> None:
    result = cpnav("check", "-", stdin=json.dumps(FACTS))
    assert json.loads(result.stdout)["outcome"] == "likely_eligible"
    assert json.loads(result.stdout)["submission_path"] == "federal_direct"


def test_invalid_facts_exit_2_naming_every_field() -> None:
    result = cpnav(
        "check", "-", stdin='{"person": {"age_estimate": -1, "x": 1}, "as_of": "2026-13-01"}'
    )
    assert result.returncode == 2
    for path in ("$.person.age_estimate", "$.person.x", "$.as_of"):
        assert path in result.stderr


@pytest.mark.parametrize("stdin", ["", "{", "null"])
def test_broken_input_exits_2(stdin: str) -> None:
    result = cpnav("check", "-", stdin=stdin)
    assert result.returncode == 2
    assert "$" in result.stderr


def test_missing_file_exits_2(tmp_path: Path) -> None:
    result = cpnav("check", str(tmp_path / "nope.json"))
    assert result.returncode == 2
    assert "cannot read" in result.stderr


def test_term_prints_json() -> None:
    result = cpnav("term", "--granted", "2024-02-29")
    term = json.loads(result.stdout)
    assert term["end"] == "2026-02-27"
    assert term["years"] == 2
    assert term["extension_request_from"] == "2025-11-29"
    extension = json.loads(cpnav("term", "--extend-from", term["end"]).stdout)
    assert extension["start"] == "2026-02-28"


@pytest.mark.parametrize(
    "args",
    [("term", "--granted", "2024-99-01"), ("term", "--granted", "1990-01-01"),
     ("term", "--granted", "2024-01-01", "--lead-days", "-3")],
)  # fmt: skip
def test_term_bad_input_exits_2(args: tuple[str, ...]) -> None:
    assert cpnav(*args).returncode == 2


def test_rules_lists_both_rule_sets() -> None:
    result = cpnav("rules")
    assert "cp-2001-08-23-1y" in result.stdout
    assert "cp-2021-07-30-2y" in result.stdout
    assert len(json.loads(cpnav("rules", "--json").stdout)) == 2


def test_plain_check_is_still_djangos_system_check() -> None:
    result = cpnav("check")
    assert result.returncode == 0
    assert "System check identified" in result.stdout
