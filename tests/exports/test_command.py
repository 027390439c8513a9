"""`cpnav export`: the same services and audit as the pages, to a file or stdout."""

from __future__ import annotations

import csv
import io
import stat
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from openpyxl import load_workbook

from cpnav.audit.models import AuditEvent
from cpnav.cli import main
from tests.exports.helpers import NAME
from tests.route import Route

pytestmark = pytest.mark.django_db


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("export", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_csv_to_stdout(route: Route) -> None:
    out, err = run("requests", "--user", "INV@a.example", "--format", "csv")
    assert out.startswith("\ufeff")
    (row,) = csv.DictReader(io.StringIO(out[1:], newline=""))
    assert row["Person reference"] == str(route.person.pk)
    assert NAME not in out
    assert "exported 1 rows" in err
    started = AuditEvent.objects.get(action="export.requests")
    assert started.actor_id == route.investigator.pk
    assert started.source_ip == ""
    assert AuditEvent.objects.get(action="export.completed").details["rows"] == 1


def test_xlsx_to_a_private_file_with_identifying_fields(route: Route, tmp_path: Path) -> None:
    target = tmp_path / "requests.xlsx"
    run("requests", "--user", route.supervisor.email, "--format", "xlsx", "--out", str(target),
        "--include-identifying", "--agency", str(route.county.pk), "--status", "draft")  # fmt: skip
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    book = load_workbook(target, read_only=True)
    sheet = book.active
    assert sheet is not None
    header, row = list(sheet.iter_rows(values_only=True))
    book.close()
    assert dict(zip(header, row, strict=True))["Full name"] == NAME
    started = AuditEvent.objects.get(action="export.requests")
    assert started.details["identifying"] is True
    assert started.details["filters"]["agency"] == str(route.county.pk)


def test_csv_to_a_file_with_dates(route: Route, tmp_path: Path) -> None:
    target = tmp_path / "cases.csv"
    run("cases", "--user", route.investigator.email, "--out", str(target), "--dates", "updated",
        "--from", "2000-01-01", "--to", "2000-12-31")  # fmt: skip
    assert target.read_text(encoding="utf-8").count("\n") == 1  # the header only


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["cases", "--user", "nobody@x.example"], "no active account"),
        (["cases", "--user", "inv@b.example", "--agency", "not-a-uuid"], "one of the user's"),
        (["requests", "--user", "mate@a.example", "--include-identifying"], "case team"),
        (["grants", "--user", "inv@a.example", "--dates", "updated"], "do not apply"),
        (["cases", "--user", "inv@a.example", "--from", "yesterday"], "not a date"),
        (["cases", "--user", "inv@a.example", "--format", "xlsx"], "--out"),
    ],
)
def test_bad_input_exits_2(route: Route, args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message) as error:
        run(*args)
    assert error.value.returncode == 2
    assert not AuditEvent.objects.filter(action__startswith="export.").exists()


def test_the_cpnav_entry_point(route: Route, capsys: pytest.CaptureFixture[str]) -> None:
    main(["export", "cases", "--user", route.supervisor.email])
    captured = capsys.readouterr()
    assert "2026-0042" in captured.out
    assert "exported 1 rows" in captured.err
