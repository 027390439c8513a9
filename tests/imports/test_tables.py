"""Reading CSV and XLSX files: encodings, damaged files, formulas, limits. No database."""

from __future__ import annotations

import io
import zipfile
from datetime import date, datetime

import pytest

from cpnav.imports import tables
from cpnav.imports.tables import Formula, TableError, _xlsx_records, open_table
from tests.imports.helpers import HEADER, csv_bytes, person, xlsx_bytes


def problem_of(data: bytes) -> str:
    with pytest.raises(TableError) as caught:
        open_table(data)
    return str(caught.value.problem)


def test_csv_header_and_rows() -> None:
    table = open_table(csv_bytes([person(1), person(2)]))
    assert table.format == "csv"
    assert table.columns == HEADER
    assert table.header_line == 1
    assert table.row_estimate == 2
    assert [line for line, _cells in table.rows()] == [2, 3]


def test_a_byte_order_mark_is_accepted_and_not_part_of_the_first_name() -> None:
    table = open_table(csv_bytes([person(1)], bom=True))
    assert table.columns[0] == "Case #"


def test_windows_1252_is_refused_with_the_line_and_the_fix() -> None:
    text = "Case #,Victim name\r\n1,Jos\u00e9 Example\r\n"
    message = problem_of(text.encode("cp1252"))
    assert message.startswith("line 2: the file is not UTF-8 text (byte 0xE9)")
    assert "CSV UTF-8" in message


def test_blank_lines_are_skipped_and_lines_counted_physically() -> None:
    data = b'Case #,Victim name\r\n\r\n1,"Two\r\nlines"\r\n,\r\n2,Other\r\n'
    table = open_table(data)
    assert [line for line, _cells in table.rows()] == [3, 6]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "the file is empty"),
        (b"\r\n,,\r\n", "the file is empty"),
        (b"Case #;Victim name\r\n1;A\r\n", "separated by commas, not semicolons"),
        (b"Case #\tVictim name\r\n1\tA\r\n", "separated by commas, not tabs"),
        (b"Name,DOB,Name\r\n", 'column "Name": two columns have this name (columns 1 and 3)'),
        (b'Case #,Victim name\r\n1,"open quote\r\n', "not valid CSV here"),
        (b"Case\x00,x\r\n", "binary data"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "old-format Excel file (.xls)"),
    ],
)
def test_unreadable_files_are_refused_with_a_reason(data: bytes, expected: str) -> None:
    assert expected in problem_of(data)


def test_an_empty_header_cell_gets_a_placeholder_and_trailing_ones_are_dropped() -> None:
    table = open_table(b"Case #,,Victim name,,\r\n1,x,A,,\r\n")
    assert table.columns == ("Case #", "(column 2)", "Victim name")


def test_too_large_a_file_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tables, "MAX_BYTES", 100)
    assert "larger than" in problem_of(csv_bytes([person(n) for n in range(5)]))


def test_more_rows_than_the_limit_are_refused_at_upload(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tables, "MAX_ROWS", 3)
    message = problem_of(csv_bytes([person(n) for n in range(4)]))
    assert message == "line 5: the file has more than 3 rows; split it into several files"


# --- XLSX ----------------------------------------------------------------------


def test_xlsx_cells_become_text_dates_and_formulas() -> None:
    data = xlsx_bytes(
        [
            ["2026-1", "Synthetic One", datetime(1990, 1, 2), 12345678, True, date(2025, 1, 6)],
            ["2026-2", '=HYPERLINK("https://example.invalid/?q="&B2,"open")', None, 12.0, None],
            [],
            ["2026-3", "Synthetic Three", datetime(1990, 1, 2, 9, 30)],
        ],
        header=["Case #", "Victim name", "DOB", "A-Number", "Interpreter", "CP start"],
    )
    table = open_table(data)
    assert table.format == "xlsx"
    assert table.columns == ("Case #", "Victim name", "DOB", "A-Number", "Interpreter", "CP start")
    assert table.row_estimate == 4  # as the workbook declares it, blank row included
    rows = dict(table.rows())
    assert sorted(rows) == [2, 3, 5]  # spreadsheet row numbers; the blank row is skipped
    assert rows[2] == ("2026-1", "Synthetic One", date(1990, 1, 2), "12345678", "yes",
                       date(2025, 1, 6))  # fmt: skip
    assert isinstance(rows[3][1], Formula)
    assert rows[3][1].startswith("=HYPERLINK(")
    assert rows[3][3] == "12"
    assert rows[5][2] == datetime(1990, 1, 2, 9, 30)


def test_a_damaged_workbook_is_refused() -> None:
    data = xlsx_bytes([["1", "A"]])
    assert "cannot be read" in problem_of(data[: len(data) // 2])


def _zip(entries: dict[str, bytes], *, level: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=level) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return out.getvalue()


def test_a_zip_that_is_not_a_workbook_is_refused() -> None:
    assert "not an Excel workbook" in problem_of(_zip({"notes.txt": b"hello"}))


def test_a_workbook_with_macros_is_refused() -> None:
    data = _zip({"xl/workbook.xml": b"<workbook/>", "xl/vbaProject.bin": b"\x00" * 10})
    assert "contains macros" in problem_of(data)


def _with_entities(data: bytes, part: str) -> bytes:
    """The workbook with a DOCTYPE declaring entities (billion laughs, and an external one
    naming a local file) put into one of its XML parts, and used there."""
    doctype = (
        b'<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
        b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY ext SYSTEM "file:///etc/passwd">]>'
    )
    with zipfile.ZipFile(io.BytesIO(data)) as source:
        entries = {name: source.read(name) for name in source.namelist()}
    xml = entries[part]
    head = xml[: xml.index(b"?>") + 2] if xml.startswith(b"<?xml") else b""
    body = xml[len(head) :].replace(b"Synthetic", b"&c;&ext;", 1)
    entries[part] = head + doctype + body
    return _zip(entries)


def test_a_worksheet_declaring_xml_entities_is_refused() -> None:
    import openpyxl.xml

    assert openpyxl.xml.DEFUSEDXML  # a runtime dependency (pyproject.toml), so always on
    data = _with_entities(xlsx_bytes([["1", "Synthetic"]]), "xl/worksheets/sheet1.xml")
    assert "cannot be read" in problem_of(data)


def test_entities_elsewhere_in_a_workbook_are_never_expanded() -> None:
    # openpyxl reads the workbook part with lxml and resolve_entities=False.
    data = _with_entities(xlsx_bytes([["1", "Synthetic"]]), "xl/workbook.xml")
    read = list(_xlsx_records(data))
    assert read[1][1][:2] == ("1", "Synthetic")
    assert "aaaaaaaaaa" not in repr(read)
    assert "root:" not in repr(read)


def test_a_zip_bomb_is_refused_before_it_is_unpacked() -> None:
    data = _zip({"xl/workbook.xml": b"<workbook/>", "xl/worksheets/sheet1.xml": b"0" * 5_000_000})
    assert len(data) < 50_000
    assert "zip bomb" in problem_of(data)
