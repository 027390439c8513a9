"""`make security`'s audit gate: it never passes without having looked (scripts/security.py)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "security.py"


@pytest.fixture
def gates() -> ModuleType:
    spec = importlib.util.spec_from_file_location("security_gates", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fake_audit(
    monkeypatch: pytest.MonkeyPatch, report: dict[str, Any] | None, stderr: str = ""
) -> None:
    """pip-audit as run by the gate, answering with this JSON report (None: no report)."""

    def run(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        if report is not None:
            Path(argv[argv.index("--output") + 1]).write_text(json.dumps(report))
        return subprocess.CompletedProcess(argv, 1 if report is None else 0, "", stderr)

    monkeypatch.setattr(subprocess, "run", run)


CLEAN = {"name": "django", "version": "5.2.19", "vulns": []}
SKIPPED = {"name": "django", "skip_reason": "Dependency not found on PyPI and could not be audited"}
VULNERABLE = {
    "name": "django",
    "version": "5.2.19",
    "vulns": [{"id": "PYSEC-0000-1", "fix_versions": ["5.2.20"]}],
}


@pytest.mark.parametrize("offline", ["", "1"])
def test_a_finding_fails_even_offline(
    gates: ModuleType, monkeypatch: pytest.MonkeyPatch, offline: str, capsys: Any
) -> None:
    monkeypatch.setenv("CPNAV_AUDIT_OFFLINE", offline)
    fake_audit(monkeypatch, {"dependencies": [CLEAN, VULNERABLE], "fixes": []})
    assert gates.audit() == 1
    assert "VULNERABLE django==5.2.19: PYSEC-0000-1 (5.2.20)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("report", "stderr"),
    [
        ({"dependencies": [CLEAN, SKIPPED], "fixes": []}, ""),
        (None, "requests.exceptions.ConnectionError: Failed to resolve"),
    ],
)
def test_not_looking_fails_unless_declared_offline(
    gates: ModuleType,
    monkeypatch: pytest.MonkeyPatch,
    capsys: Any,
    report: dict[str, Any] | None,
    stderr: str,
) -> None:
    monkeypatch.delenv("CPNAV_AUDIT_OFFLINE", raising=False)
    fake_audit(monkeypatch, report, stderr)
    assert gates.audit() == 1
    assert "audit FAILED" in capsys.readouterr().err
    monkeypatch.setenv("CPNAV_AUDIT_OFFLINE", "1")
    assert gates.audit() == 0
    assert "DEPENDENCY AUDIT NOT DONE" in capsys.readouterr().err


def test_a_clean_audit_passes(gates: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CPNAV_AUDIT_OFFLINE", raising=False)
    fake_audit(monkeypatch, {"dependencies": [CLEAN], "fixes": []})
    assert gates.audit() == 0


def test_every_baseline_entry_is_reviewed_and_justified() -> None:
    baseline = json.loads((SCRIPT.parents[1] / ".secrets.baseline").read_text())
    entries = [entry for found in baseline["results"].values() for entry in found]
    assert entries
    for entry in entries:
        assert entry["is_secret"] is False, entry["filename"]
        assert len(entry["justification"]) > 20, entry["filename"]


def test_the_sbom_lists_every_pin_and_front_end_package(gates: ModuleType, tmp_path: Path) -> None:
    out = tmp_path / "sbom.json"
    assert gates.main(["sbom", str(out)]) == 0
    bom = json.loads(out.read_text())
    assert (bom["bomFormat"], bom["specVersion"]) == ("CycloneDX", "1.6")
    purls = {c["purl"] for c in bom["components"]}
    root = SCRIPT.parents[1]
    pins = [
        line.split("==")
        for line in (root / "constraints.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    ]
    for name, version in pins:
        normalised = name.lower().replace("_", "-")  # as the purl spec names PyPI packages
        assert f"pkg:pypi/{normalised}@{version}" in purls
    lock = json.loads((root / "package-lock.json").read_text())["packages"]
    axe = lock["node_modules/axe-core"]["version"]
    assert f"pkg:npm/axe-core@{axe}" in purls
    assert len(purls) == len(pins) + len(lock) - 1
    assert all(c["hashes"] for c in bom["components"] if c["purl"].startswith("pkg:npm/"))
