"""`cpnav import FILE --agency --user`: exit code 2 and a row-by-row report, or everything."""

from __future__ import annotations

import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from cpnav.accounts.models import Agency, User
from cpnav.cases.models import Case, Person
from cpnav.imports import fields as F
from cpnav.imports.tables import open_table
from tests.imports.helpers import csv_bytes, person, xlsx_from_dicts

pytestmark = pytest.mark.django_db


def run(tmp_path: Path, data: bytes, *args: str, name: str = "cases.csv") -> tuple[int, str, str]:
    path = tmp_path / name
    path.write_bytes(data)
    out, err = StringIO(), StringIO()
    code: int | str | None = 0
    try:
        call_command("import", str(path), *args, stdout=out, stderr=err)
    except SystemExit as exit_:
        code = exit_.code
    return int(code or 0), out.getvalue(), err.getvalue()


@pytest.fixture
def ori_agency(agency_a: Agency) -> Agency:
    agency_a.ori = "OH0000001"
    agency_a.save()
    return agency_a


def test_an_import_writes_everything_and_shows_progress(
    tmp_path: Path, ori_agency: Agency, importer: User
) -> None:
    code, out, err = run(
        tmp_path, csv_bytes([person(1), person(2)]), "--agency", "oh0000001", "--user",
        "IMPORTER@a.example",
    )  # fmt: skip
    assert code == 0, err
    assert out.strip() == "imported 2 rows: 2 cases, 2 people, 2 grants"
    for shown in ("checking", "writing", "2/2"):  # the tqdm bars
        assert shown in err
    assert Person.objects.filter(case__agency=ori_agency).count() == 2


def test_the_agency_can_be_named_by_id_and_xlsx_works(
    tmp_path: Path, agency_a: Agency, importer: User
) -> None:
    code, out, _err = run(
        tmp_path, xlsx_from_dicts([person(1)]), "--agency", str(agency_a.pk), "--user",
        importer.email, "--no-progress", name="cases.xlsx",
    )  # fmt: skip
    assert code == 0
    assert "1 people" in out


def test_bad_rows_exit_2_with_the_report_and_nothing_written(
    tmp_path: Path, agency_a: Agency, importer: User
) -> None:
    rows = [person(1), person(2, DOB="12/31/90"), person(3, **{"A-Number": "A000000001"})]
    code, out, err = run(
        tmp_path, csv_bytes(rows), "--agency", str(agency_a.pk), "--user", importer.email,
        "--no-progress",
    )  # fmt: skip
    assert code == 2
    assert out == ""
    assert err.splitlines() == [
        'cases.csv: line 3, column "DOB": "12/31/90" has a two-digit year, which is ambiguous; '
        "write YYYY-MM-DD (2024-03-15) or MM/DD/YYYY (03/15/2024)",
        'cases.csv: line 4, column "A-Number": the same A-number as line 2',
        "2 problems in 2 rows; nothing was imported.",
        "Fix the file (or --map the columns) and run the import again.",
    ]
    assert not Case.objects.exists()


def test_a_windows_1252_file_exits_2(tmp_path: Path, agency_a: Agency, importer: User) -> None:
    data = "Case #,Victim name\r\n1,Jos\u00e9\r\n".encode("cp1252")
    code, _out, err = run(tmp_path, data, "--agency", str(agency_a.pk), "--user", importer.email)
    assert code == 2
    assert "line 2: the file is not UTF-8 text (byte 0xE9)" in err


def test_missing_required_columns_are_named_and_map_fixes_them(
    tmp_path: Path, agency_a: Agency, importer: User
) -> None:
    rows = [{"Ref": "R-1", "Who": "Synthetic Person", "Born": "1990-01-02"}]
    data = csv_bytes(rows, ("Ref", "Who", "Born"))
    base = ("--agency", str(agency_a.pk), "--user", importer.email, "--no-progress")
    code, _out, err = run(tmp_path, data, *base)
    assert code == 2
    assert 'line 1, column "case_number": required column missing: case number' in err
    assert 'line 1, column "full_name": required column missing: full name' in err
    code, out, err = run(
        tmp_path, data, *base, "--map", "case_number=Ref", "--map", "full_name=Who",
        "--map", "date_of_birth=Born", "--dry-run",
    )  # fmt: skip
    assert (code, err) == (0, "")
    assert out.strip() == (
        "dry run: all 1 rows are valid; the import would create 1 cases, 1 people and 0 grants. "
        "Nothing was written."
    )
    assert not Case.objects.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--agency", "XX9999999", "--user", "importer@a.example"), "no agency with id or ORI"),
        (("--agency", "{a}", "--user", "nobody@a.example"), "no active user"),
        (("--agency", "{a}", "--user", "owner@a.example"), "may not create cases at"),
        (("--agency", "{a}", "--user", "investigator@b.example"), "may not create cases at"),
        (("--agency", "{a}", "--user", "importer@a.example", "--map", "dob=x"), "--map 'dob=x'"),
        (("--agency", "{a}",), "usage: cpnav import FILE"),
    ],
)  # fmt: skip
def test_bad_options_are_refused(
    tmp_path: Path,
    agency_a: Agency,
    importer: User,
    owner: User,
    investigator_b: User,
    args: tuple[str, ...],
    message: str,
) -> None:
    path = tmp_path / "cases.csv"
    path.write_bytes(csv_bytes([person(1)]))
    with pytest.raises(CommandError, match=message.replace("(", r"\(")) as caught:
        call_command("import", str(path), *(a.format(a=agency_a.pk) for a in args))
    assert caught.value.returncode == 2
    assert not Case.objects.exists()


def test_the_template_is_printed_and_imports_once_its_example_is_replaced(
    tmp_path: Path, agency_a: Agency, importer: User
) -> None:
    out = StringIO()
    call_command("import", "--template", stdout=out)
    text = out.getvalue()
    assert text == F.template_csv()
    header, _example = text.splitlines()
    assert header.split(",") == list(F.NAMES)
    assert open_table(text.encode()).row_estimate == 1
    code, _out, err = run(
        tmp_path, text.encode(), "--agency", str(agency_a.pk), "--user", importer.email,
        "--no-progress",
    )  # fmt: skip
    assert code == 2
    assert "template's synthetic example row; delete it" in err
    code, _out, err = run(
        tmp_path, text.replace(F.EXAMPLE_CASE_NUMBER, "2026-0077").encode(), "--agency",
        str(agency_a.pk), "--user", importer.email, "--no-progress",
    )  # fmt: skip
    assert code == 0, err
    assert Person.objects.get().full_name == "Ana Example-Person"


def test_help_documents_every_column() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cpnav.cli", "import", "--help"],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    for field in F.FIELDS:
        assert f"  {field.name} " in result.stdout
    assert "YYYY-MM-DD or MM/DD/YYYY" in result.stdout
    assert "--template" in result.stdout
