"""`cpnav export-niem` and `cpnav import-niem`."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from cpnav.audit.models import AuditEvent
from cpnav.cases.models import Case, CPRequest
from cpnav.niem import schema
from tests.niem.helpers import valid
from tests.route import Route


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_export_request_to_a_private_file(route: Route, tmp_path: Path) -> None:
    target = tmp_path / "cp.xml"
    _out, err = run(
        "export_niem", "request", str(route.cp.pk), "--user", route.investigator.email,
        "--out", str(target), "--include-identifying",
    )  # fmt: skip
    assert "exported cpnav-CP-" in err
    assert os.stat(target).st_mode & 0o777 == 0o600
    assert b"Ana Synthetic-Testperson" in target.read_bytes()
    valid(target.read_bytes())
    event = AuditEvent.objects.get(action="niem.exported")
    assert event.details["identifying"] is True


def test_export_to_stdout(route: Route, capfdbinary: pytest.CaptureFixture[bytes]) -> None:
    run(
        "export_niem",
        "request",
        str(route.cp.pk),
        "--user",
        route.supervisor.email,
        "--format",
        "jsonld",
    )
    assert b'"@context"' in capfdbinary.readouterr().out


@pytest.mark.parametrize(
    ("who", "extra", "code"),
    [
        ("outsider", [], 3),  # not theirs to see: 404 inside, exit 3
        ("sponsor", ["--include-identifying"], 3),  # sees it once routed, may not identify
        ("nobody", [], 2),
    ],
)
def test_export_refusals(route: Route, who: str, extra: list[str], code: int) -> None:
    if who == "sponsor":
        route.cp.routed_to_sponsor_at = route.cp.created_at
        route.cp.save()
    email = "nobody@x.example" if who == "nobody" else getattr(route, who).email
    with pytest.raises(CommandError) as refused:
        run("export_niem", "request", str(route.cp.pk), "--user", email, *extra)
    assert refused.value.returncode == code
    assert not AuditEvent.objects.filter(action="niem.exported").exists()


def test_export_grant_not_found(route: Route) -> None:
    with pytest.raises(CommandError) as refused:
        run("export_niem", "grant", str(route.cp.pk), "--user", route.investigator.email)
    assert refused.value.returncode == 3
    with pytest.raises(CommandError):
        run("export_niem", "grant", "not-a-uuid", "--user", route.investigator.email)


def test_import_from_the_command_line(route: Route, tmp_path: Path) -> None:
    source = tmp_path / "in.xml"
    source.write_bytes(schema.SAMPLE.read_bytes())
    out, err = run("import_niem", str(source), "--user", route.teammate.email)
    assert "taken\tCase number\t2026-0077" in out
    assert "imported as draft request" in err
    assert CPRequest.objects.filter(case__case_number="2026-0077", status="draft").exists()


def test_import_refused_writes_nothing(route: Route, tmp_path: Path) -> None:
    source = tmp_path / "bad.xml"
    source.write_bytes(schema.SAMPLE.read_bytes().replace(b"2026-0077", b"9" * 70))
    before = Case.objects.count()
    with pytest.raises(CommandError) as refused:
        run(
            "import_niem",
            str(source),
            "--user",
            route.teammate.email,
            "--agency",
            str(route.county.pk),
        )
    assert refused.value.returncode == 1
    assert Case.objects.count() == before


def test_import_bad_input(route: Route, tmp_path: Path) -> None:
    with pytest.raises(CommandError) as missing:
        run("import_niem", str(tmp_path / "none.xml"), "--user", route.teammate.email)
    assert missing.value.returncode == 2
    with pytest.raises(CommandError) as wrong_agency:
        run("import_niem", "x.xml", "--user", route.teammate.email, "--agency", str(route.hsi.pk))
    assert wrong_agency.value.returncode == 2
    with pytest.raises(CommandError) as no_agency:
        run("import_niem", "x.xml", "--user", route.supervisor.email)
    assert no_agency.value.returncode == 2
