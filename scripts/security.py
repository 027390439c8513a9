"""Two of `make security`'s gates - committed secrets and vulnerable pinned packages -
and the software bill of materials.

    python scripts/security.py secrets   # detect-secrets over the repository's files
    python scripts/security.py audit     # pip-audit over every pin in constraints.txt
    python scripts/security.py sbom [OUT] # CycloneDX JSON of every pin (var/sbom.cdx.json)
    python scripts/security.py review "why these are not secrets" FILE...

secrets: every file git tracks or would add (not ignored) is scanned with the
plugins and filters recorded in .secrets.baseline. A finding not in the baseline
fails. The baseline lists only reviewed false positives: each entry must say
"is_secret": false and carry a "justification"; an entry without both fails too.
Line numbers are not compared, so moving a reviewed line never breaks the build.
`review` records the findings in the named files, after you have read them,
with the reason you give.

audit: pip-audit asks the package index's vulnerability data about each exact
pin. A known vulnerability always fails. A package it could not ask about
(service unreachable, or the index answering 404 for it) also fails - a gate
that cannot look must not pass - unless CPNAV_AUDIT_OFFLINE=1 states that this
machine cannot reach the service; then it says loudly that nothing was audited.
The variable never excuses a finding.

sbom: every Python pin in constraints.txt and every package in package-lock.json (the
front end's), with versions, package URLs, licences where declared and hashes npm
recorded, as one CycloneDX 1.6 document (ASVS V15.1.2). Keep it with each release.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ".secrets.baseline"
CONSTRAINTS = "constraints.txt"
OFFLINE = "CPNAV_AUDIT_OFFLINE"


def repository_files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],  # noqa: S607
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    names = sorted({name for name in listed.split("\0") if name})
    return [name for name in names if name != BASELINE and (ROOT / name).is_file()]


def secrets() -> int:
    from detect_secrets.core import baseline
    from detect_secrets.core.secrets_collection import SecretsCollection

    os.chdir(ROOT)
    recorded = baseline.load_from_file(BASELINE)
    unreviewed = [
        f"{entry['filename']}:{entry.get('line_number', '?')} {entry['type']}"
        for entries in recorded["results"].values()
        for entry in entries
        if entry.get("is_secret") is not False or not str(entry.get("justification", "")).strip()
    ]
    known = baseline.load(recorded, filename=BASELINE)  # also applies its plugins and filters
    found = SecretsCollection()
    files = repository_files()
    found.scan_files(*files)  # one process per core
    new = found - known
    for _, secret in new:
        print(f"possible secret: {secret.filename}:{secret.line_number} {secret.type}")
    for entry in unreviewed:
        print(f'{BASELINE}: {entry} needs "is_secret": false and a "justification"')
    if new or unreviewed:
        print(
            "secrets gate FAILED. Remove the secret (and rotate it if it was ever real), "
            f"or - if it is a synthetic value - add it to {BASELINE} with a justification.",
            file=sys.stderr,
        )
        return 1
    print(f"secrets: {len(files)} files scanned, no secret outside the reviewed baseline")
    return 0


def review(reason: str, files: list[str]) -> int:
    from detect_secrets.core import baseline
    from detect_secrets.core.secrets_collection import SecretsCollection

    os.chdir(ROOT)
    recorded = baseline.load_from_file(BASELINE)
    known = baseline.load(recorded, filename=BASELINE)
    found = SecretsCollection()
    for name in files:
        found.scan_file(name)
    added = 0
    for filename, secret in found - known:
        entry = {**secret.json(), "is_secret": False, "justification": reason}
        recorded["results"].setdefault(filename, []).append(entry)
        added += 1
    recorded["results"] = dict(sorted(recorded["results"].items()))
    Path(BASELINE).write_text(json.dumps(recorded, indent=2) + "\n")
    print(f"{BASELINE}: {added} finding(s) recorded as reviewed: {reason}")
    return 0


def audit() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "audit.json"
        argv = [
            sys.executable, "-m", "pip_audit", "--disable-pip", "--no-deps",
            "--requirement", str(ROOT / CONSTRAINTS), "--vulnerability-service", "pypi",
            "--format", "json", "--output", str(report), "--progress-spinner", "off",
        ]  # fmt: skip
        # Our own interpreter and a fixed argv.
        run = subprocess.run(argv, capture_output=True, text=True, check=False)  # noqa: S603
        data: dict[str, Any] | None = None
        if report.is_file() and report.stat().st_size:
            data = json.loads(report.read_text())
    if data is None:
        # No report at all: pip-audit stopped before auditing (e.g. no connection).
        problem = (run.stderr.strip().splitlines() or [f"pip-audit exited {run.returncode}"])[-1]
        return not_audited(f"pip-audit could not run its audit: {problem}")
    packages: list[dict[str, Any]] = data["dependencies"]
    vulnerable = [p for p in packages if p.get("vulns")]
    for package in vulnerable:
        for vuln in package["vulns"]:
            fixed = ", ".join(vuln.get("fix_versions") or []) or "no fixed release"
            print(f"VULNERABLE {package['name']}=={package['version']}: {vuln['id']} ({fixed})")
    if vulnerable:
        print(f"audit FAILED: upgrade the pins above in {CONSTRAINTS}", file=sys.stderr)
        return 1
    skipped = [p for p in packages if "skip_reason" in p]
    if skipped:
        return not_audited(
            f"{len(skipped)} of {len(packages)} pinned packages could not be audited; "
            f"first: {skipped[0]['skip_reason']}"
        )
    print(f"audit: {len(packages)} pinned packages, no known vulnerabilities")
    return 0


def sbom(out: Path) -> int:
    from importlib import metadata

    from cyclonedx.model import HashAlgorithm, HashType
    from cyclonedx.model.bom import Bom
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.model.license import DisjunctiveLicense
    from cyclonedx.output.json import JsonV1Dot6
    from packageurl import PackageURL

    bom = Bom()
    bom.metadata.component = Component(
        name="cpnav", version=_project_version(), type=ComponentType.APPLICATION
    )
    for line in (ROOT / CONSTRAINTS).read_text().splitlines():
        name, _, version = line.partition("#")[0].strip().partition("==")
        if not version:
            continue
        declared = ""
        # (A pin for another platform or an extra not installed here has no metadata.)
        with contextlib.suppress(metadata.PackageNotFoundError):
            declared = metadata.metadata(name)["License-Expression"] or ""
        purl = PackageURL("pypi", name=name.lower(), version=version)
        bom.components.add(
            Component(
                name=name, version=version, type=ComponentType.LIBRARY, purl=purl,
                bom_ref=purl.to_string(),
                licenses=[DisjunctiveLicense(name=declared)] if declared else [],
            )
        )  # fmt: skip
    lock = json.loads((ROOT / "package-lock.json").read_text())
    for where, package in lock.get("packages", {}).items():
        if not where:
            continue  # the project itself
        name = where.rsplit("node_modules/", 1)[-1]
        namespace, _, short = name.rpartition("/")
        hashes = []
        if str(package.get("integrity", "")).startswith("sha512-"):
            digest = base64.b64decode(package["integrity"][7:]).hex()
            hashes.append(HashType(alg=HashAlgorithm.SHA_512, content=digest))
        purl = PackageURL("npm", namespace=namespace or None, name=short,
                          version=package.get("version"))  # fmt: skip
        bom.components.add(
            Component(
                name=name, version=package.get("version", ""), type=ComponentType.LIBRARY,
                purl=purl, bom_ref=purl.to_string(),
                licenses=[DisjunctiveLicense(name=package["license"])]
                if package.get("license") else [],
                hashes=hashes,
            )
        )  # fmt: skip
    # Flat: what is shipped, not who pulls in whom (pip and npm resolved that).
    bom.register_dependency(bom.metadata.component, list(bom.components))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(JsonV1Dot6(bom).output_as_string(indent=1) + "\n")
    print(f"sbom: {len(bom.components)} components -> {out}")
    return 0


def _project_version() -> str:
    for line in (ROOT / "pyproject.toml").read_text().splitlines():
        if line.startswith("version"):
            return line.split("=", 1)[1].strip().strip('"')
    return "0"


def not_audited(reason: str) -> int:
    if os.environ.get(OFFLINE) == "1":
        print(
            f"!! DEPENDENCY AUDIT NOT DONE ({OFFLINE}=1: this machine cannot reach the "
            f"vulnerability service). {reason}",
            file=sys.stderr,
        )
        return 0
    print(
        f"audit FAILED: {reason}\nOn a machine that cannot reach the vulnerability service, "
        f"set {OFFLINE}=1 to go on without the audit (it still fails on any finding).",
        file=sys.stderr,
    )
    return 1


def main(argv: list[str]) -> int:
    if argv == ["secrets"]:
        return secrets()
    if argv == ["audit"]:
        return audit()
    if argv[:1] == ["sbom"] and len(argv) <= 2:
        return sbom(Path(argv[1]) if len(argv) == 2 else ROOT / "var" / "sbom.cdx.json")
    if len(argv) > 2 and argv[0] == "review" and argv[1].strip():
        return review(argv[1], argv[2:])
    print("usage: security.py secrets | audit | sbom [OUT] | review REASON FILE...",
          file=sys.stderr)  # fmt: skip
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
