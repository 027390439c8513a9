"""`cpnav providers import FILE.csv`: every row checked, all or nothing, exit code 2."""

from __future__ import annotations

import time
from io import StringIO
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from cpnav.accounts.models import Agency, User
from cpnav.audit.models import AuditEvent
from cpnav.referrals import importer
from cpnav.referrals.models import Kind, Provider
from tests.conftest import MakeUser, signed_in

pytestmark = pytest.mark.django_db

HEADER = "name,jurisdiction,state,services,languages,hours,phone,email,website,notes,source,active"
GOOD = [
    'Marlow Safe House,"Marlow County, TX",TX,shelter; case_management,English; Spanish,'
    "Mon-Fri 9am-5pm,(555) 010-0100,intake@safehouse.example,https://safehouse.example/,"
    "Call ahead,,yes",
    'Cascade Legal Aid,"Portland, OR",or,Legal;Immigration Counsel,Vietnamese,,'
    "+1 555 010 0200,,,,County resource list 2026,",
]


def csv_bytes(*rows: str, header: str = HEADER) -> bytes:
    return ("\r\n".join([header, *rows]) + "\r\n").encode()


def run(tmp_path: Path, data: bytes, *args: str) -> tuple[int, str, str]:
    path = tmp_path / "providers.csv"
    path.write_bytes(data)
    out, err = StringIO(), StringIO()
    code: int | str | None = 0
    try:
        call_command("providers", "import", str(path), *args, stdout=out, stderr=err)
    except SystemExit as exit_:
        code = exit_.code
    return int(code or 0), out.getvalue(), err.getvalue()


def local() -> list[Provider]:
    return list(Provider.objects.filter(kind=Kind.LOCAL).order_by("name"))


def test_happy_path(tmp_path: Path) -> None:
    code, out, err = run(tmp_path, csv_bytes(*GOOD))
    assert (code, err) == (0, "")
    assert "2 added, 0 updated" in out
    legal, shelter = local()
    assert shelter.services == ["shelter", "case_management"]
    assert shelter.languages == ["English", "Spanish"]
    assert shelter.phone == "5550100100"
    assert shelter.phone_href == "tel:+15550100100"
    assert shelter.website == "https://safehouse.example/"
    assert shelter.source.startswith("CSV import of providers.csv on ")  # empty source cell
    assert shelter.agency is None
    assert legal.state == "OR"
    assert legal.services == ["legal", "immigration_counsel"]
    assert legal.phone == "15550100200"
    assert legal.source == "County resource list 2026"
    assert legal.active
    event = AuditEvent.objects.get(action="providers.imported")
    assert event.details["created"] == 2
    assert event.actor_label == "cpnav providers import"


def test_importing_again_updates_instead_of_duplicating(tmp_path: Path) -> None:
    run(tmp_path, csv_bytes(*GOOD))
    changed = GOOD[0].replace("Call ahead", "Walk-ins welcome").replace(",yes", ",no")
    code, out, _ = run(
        tmp_path, csv_bytes(changed.replace("Marlow Safe House", "MARLOW SAFE HOUSE"))
    )
    assert code == 0
    assert "0 added, 1 updated" in out
    assert len(local()) == 2
    shelter = Provider.objects.get(name="MARLOW SAFE HOUSE")
    assert shelter.notes == "Walk-ins welcome"
    assert not shelter.active


def test_a_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    code, _, err = run(tmp_path, b"\xef\xbb\xbf" + csv_bytes(*GOOD))
    assert (code, err) == (0, "")
    assert len(local()) == 2


def test_a_windows_1252_file_is_refused_with_an_encoding_message(tmp_path: Path) -> None:
    data = "\r\n".join([HEADER, GOOD[0], "Caf\u00e9 Refuge,Nationwide,,shelter"]).encode("cp1252")
    code, _, err = run(tmp_path, data)
    assert code == 2
    assert "line 3: the file is not UTF-8 text (byte 0xE9)" in err
    assert "CSV UTF-8" in err
    assert local() == []


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("name", "", "is required"),
        ("jurisdiction", "", "is required"),
        ("services", "", "is required"),
        ("services", "shelter; massage", 'unknown service "massage"'),
        ("state", "Texas", "not a two-letter state code"),
        ("phone", "555-0100", "not a U.S. phone number"),
        ("phone", "1-800-FLOWERS", "not a U.S. phone number"),
        ("phone", "+44 20 7946 0000", "not a U.S. phone number"),
        ("email", "intake@", "not an email address"),
        ("website", "http://safehouse.example/", "must start with https://"),
        ("website", "https://", "not a valid web address"),
        ("name", "x" * 201, "at most 200 are allowed"),
        ("languages", "English; " + "y" * 41, "too long for a language name"),
        ("active", "maybe", 'write "yes" or "no"'),
    ],
)
def test_each_bad_cell_is_reported_with_line_and_column(
    tmp_path: Path, column: str, value: str, message: str
) -> None:
    cells = dict(
        zip(HEADER.split(","), ["Row Two", "Nationwide", "", "shelter"] + [""] * 8, strict=True)
    )
    cells[column] = value
    bad = ",".join(f'"{v}"' for v in cells.values())
    code, out, err = run(tmp_path, csv_bytes(GOOD[0], bad))
    assert code == 2
    assert f'providers.csv: line 3, column "{column}": ' in err
    assert message in err
    assert "1 problem; nothing was imported" in err
    assert out == ""
    assert local() == []


def test_whole_row_and_header_problems(tmp_path: Path) -> None:
    duplicate = GOOD[0].replace("Call ahead", "Other notes")
    too_many = GOOD[1] + ",extra"
    _, _, err = run(tmp_path, csv_bytes(GOOD[0], duplicate, too_many))
    assert 'line 3, column "name": the same provider and jurisdiction as line 2' in err
    assert "line 4: this row has 13 cells but the header has 12" in err
    _, _, err = run(tmp_path, csv_bytes(GOOD[0], header=HEADER.replace("hours", "opening")))
    assert 'line 1, column "opening": unknown column' in err
    _, _, err = run(tmp_path, csv_bytes("Safe House,Nationwide", header="name,jurisdiction"))
    assert 'line 1, column "services": this required column is missing' in err
    _, _, err = run(tmp_path, b"name;jurisdiction;services\r\nA;B;shelter\r\n")
    assert "separated by commas, not semicolons" in err
    _, _, err = run(tmp_path, b"")
    assert "line 1: the file is empty" in err
    code, _, err = run(tmp_path, csv_bytes())
    assert code == 2
    assert "header but no providers" in err
    _, _, err = run(tmp_path, csv_bytes('"Unclosed,Nationwide,,shelter'))
    assert "not valid CSV" in err
    _, _, err = run(tmp_path, b"name,jurisdiction,services\r\nA\x00,B,shelter\r\n")
    assert "binary data" in err
    assert local() == []


def test_line_numbers_count_physical_lines(tmp_path: Path) -> None:
    multiline = 'Two Line Notes,Nationwide,,shelter,,,,,,"first line\nsecond line",,'
    _, _, err = run(tmp_path, csv_bytes(multiline, "", "Bad Phone,Nationwide,,shelter,,,12,,,,,"))
    assert 'line 5, column "phone"' in err  # 1 header, 2-3 the quoted cell, 4 blank


def test_all_or_nothing(tmp_path: Path) -> None:
    run(tmp_path, csv_bytes(GOOD[0]))
    before = {p.pk: p.updated_at for p in local()}
    updated_first = GOOD[0].replace("Call ahead", "Changed")
    code, _, err = run(tmp_path, csv_bytes(updated_first, GOOD[1], "Bad,Nationwide,,teleportation"))
    assert code == 2
    assert "teleportation" in err
    assert {p.pk: p.updated_at for p in local()} == before
    assert Provider.objects.get(name="Marlow Safe House").notes == "Call ahead"
    assert AuditEvent.objects.filter(action="providers.imported").count() == 1


def test_dry_run_writes_nothing(tmp_path: Path) -> None:
    code, out, _ = run(tmp_path, csv_bytes(*GOOD), "--dry-run")
    assert code == 0
    assert "would add 2 and update 0" in out
    assert "Nothing was written" in out
    assert local() == []
    assert not AuditEvent.objects.filter(action="providers.imported").exists()
    code, _, err = run(tmp_path, csv_bytes("Bad,,,shelter"), "--dry-run")
    assert code == 2
    assert 'column "jurisdiction"' in err


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("name", '=HYPERLINK("https://evil.example","Click")'),
        ("notes", "+cmd|' /C calc'!A0"),
        ("hours", "-2+3"),
        ("languages", "@SUM(1+1)"),
        ("jurisdiction", "  =1+1"),
        ("phone", "=5550100100"),
        ("source", "-"),
    ],
)
def test_formula_injection_is_refused(tmp_path: Path, column: str, value: str) -> None:
    cells = dict(
        zip(HEADER.split(","), ["Safe House", "Nationwide", "", "shelter"] + [""] * 8, strict=True)
    )
    cells[column] = value
    bad = ",".join('"' + v.replace('"', '""') + '"' for v in cells.values())
    code, _, err = run(tmp_path, csv_bytes(bad))
    assert code == 2
    assert f'line 2, column "{column}": starts with "{value.strip()[0]}"' in err
    assert "run them as formulas" in err
    assert local() == []


def test_a_thousand_rows_import(tmp_path: Path) -> None:
    rows = [
        f"Provider {n:04},County {n % 50},TX,shelter;medical,English,,555-010-{n:04},,,,,"
        for n in range(1000)
    ]
    started = time.monotonic()
    code, out, err = run(tmp_path, csv_bytes(*rows))
    assert (code, err) == (0, "")
    assert "1000 added" in out
    assert Provider.objects.filter(kind=Kind.LOCAL).count() == 1000
    code, out, _ = run(tmp_path, csv_bytes(*rows))
    assert "0 added, 1000 updated" in out
    assert time.monotonic() - started < 30


def test_too_many_rows_are_refused() -> None:
    rows = [f"P{n},Nationwide,,shelter" for n in range(importer.MAX_ROWS + 1)]
    parsed = importer.parse(csv_bytes(*rows), source="test")
    assert [str(p) for p in parsed.problems] == [
        f"line {importer.MAX_ROWS + 2}: more than {importer.MAX_ROWS} providers; split the file"
    ]


def test_command_help_template_and_missing_file(tmp_path: Path) -> None:
    template = Path(importer.__file__).with_name("providers-template.csv")
    assert template.read_text(encoding="utf-8").strip() == ",".join(importer.COLUMNS) == HEADER
    out = StringIO()
    call_command("providers", "template", stdout=out)
    assert out.getvalue().strip() == HEADER
    for column in importer.COLUMNS:
        assert f"  {column} " in importer.help_text()
    assert "immigration_counsel" in importer.help_text()
    err = StringIO()
    with pytest.raises(SystemExit) as exit_:
        call_command("providers", "import", str(tmp_path / "missing.csv"), stderr=err)
    assert exit_.value.code == 2
    assert "cannot read" in err.getvalue()


# --- The upload page -----------------------------------------------------------


def upload(client: Client, data: bytes, **extra: str) -> str:
    file = SimpleUploadedFile("providers.csv", data, content_type="text/csv")
    response = client.post(reverse("referrals:import"), {"file": file, **extra}, follow=True)
    assert response.status_code == 200
    return response.content.decode()


def test_an_agency_admin_uploads_the_same_csv(owner: User, agency_a: Agency) -> None:
    client = signed_in(Client(), owner)
    assert "Import local providers" in client.get(reverse("referrals:directory")).content.decode()
    page = upload(client, csv_bytes(*GOOD), agency=str(agency_a.pk), dry_run="on")
    assert "Importing would add 2 and update 0" in page
    assert local() == []
    page = upload(client, csv_bytes(GOOD[0], "=cmd,Nationwide,,shelter"), agency=str(agency_a.pk))
    assert "line 3, column &quot;name&quot;: starts with &quot;=&quot;" in page
    assert "1 problem; nothing was imported" in page
    assert local() == []
    page = upload(client, csv_bytes(*GOOD), agency=str(agency_a.pk))
    assert "Imported: 2 added, 0 updated." in page
    assert {p.agency_id for p in local()} == {agency_a.pk}
    assert "Agency A County Sheriff" in Provider.objects.get(name="Marlow Safe House").source
    event = AuditEvent.objects.get(action="providers.imported")
    assert (event.actor_id, event.agency_id) == (owner.pk, agency_a.pk)


def test_only_admins_upload(teammate: User, make_user: MakeUser, agency_b: Agency) -> None:
    client = signed_in(Client(), teammate)
    assert client.get(reverse("referrals:import")).status_code == 403
    file = SimpleUploadedFile("providers.csv", csv_bytes(*GOOD), content_type="text/csv")
    assert client.post(reverse("referrals:import"), {"file": file}).status_code == 403
    assert local() == []
    root = make_user("root@x.example", is_staff=True, is_superuser=True)
    page = upload(signed_in(Client(), root), csv_bytes(*GOOD))  # no agency: the shared list
    assert "Imported: 2 added" in page
    assert {p.agency_id for p in local()} == {None}
