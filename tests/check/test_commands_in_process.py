"""The command-line tools run in this process too (test_cli.py runs them as a user would,
in a subprocess, where coverage does not follow): same answers; a refusal is the
CommandError with exit code 2 that the command line turns into its exit status."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from cpnav.policy import determine, parse_facts
from tests.check.test_cli import FACTS


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_policy_check_from_a_file_and_from_standard_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "facts.json"
    path.write_text(json.dumps(FACTS))
    out, _err = run("policy_check", str(path))
    assert json.loads(out) == determine(parse_facts(FACTS)).to_json()
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(FACTS)))
    out, _err = run("policy_check", "-")
    assert json.loads(out)["outcome"] == "likely_eligible"


@pytest.mark.parametrize("text", ["", "{", '{"person": {"age_estimate": -1}}'])
def test_policy_check_refuses_bad_facts_with_exit_2(tmp_path: Path, text: str) -> None:
    path = tmp_path / "facts.json"
    path.write_text(text)
    with pytest.raises(CommandError) as stopped:
        run("policy_check", str(path))
    assert stopped.value.returncode == 2


def test_policy_check_names_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CommandError) as stopped:
        run("policy_check", str(tmp_path / "nope.json"))
    assert stopped.value.returncode == 2


def test_term_and_extension() -> None:
    term = json.loads(run("term", "--granted", "2024-02-29")[0])
    assert (term["end"], term["years"]) == ("2026-02-27", 2)
    assert json.loads(run("term", "--extend-from", term["end"])[0])["start"] == "2026-02-28"


@pytest.mark.parametrize(
    "args",
    [("--granted", "2024-99-01"), ("--granted", "1990-01-01"),
     ("--granted", "2024-01-01", "--lead-days", "-3")],
)  # fmt: skip
def test_term_refuses_bad_dates_with_exit_2(args: tuple[str, ...]) -> None:
    with pytest.raises(CommandError) as stopped:
        run("term", *args)
    assert stopped.value.returncode == 2


def test_rules_list_and_json() -> None:
    out, _err = run("rules")
    assert "cp-2001-08-23-1y" in out
    assert "cp-2021-07-30-2y" in out
    assert len(json.loads(run("rules", "--json")[0])) == 2


@pytest.mark.django_db
def test_guide_check_and_index() -> None:
    out, _err = run("guide", "check")
    assert "guide content valid" in out
    out, _err = run("guide", "index")
    assert "search index" in out
