"""CSV and XLSX output: formulas made inert, types kept, read back."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from openpyxl import load_workbook

from cpnav.core.tabular import csv_lines, neutralise, xlsx_file


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ('=HYPERLINK("http://x.example","click")', '\'=HYPERLINK("http://x.example","click")'),
        ("+1 555", "'+1 555"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("plain", "plain"),
        (None, ""),
        (-5, -5),
        (date(2026, 2, 28), date(2026, 2, 28)),
    ],
)
def test_neutralise(value: object, written: object) -> None:
    assert neutralise(value) == written


def test_csv_has_a_bom_and_inert_formulas() -> None:
    text = "".join(csv_lines(["name", "when"], [["=1+1", date(2026, 1, 2)], ["Zoë", None]]))
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows == [["name", "when"], ["'=1+1", "2026-01-02"], ["Zoë", ""]]


def test_xlsx_reads_back() -> None:
    handle = xlsx_file(["n", "text"], ([i, f"=A{i}"] for i in range(1, 4)), "Sheet")
    sheet = load_workbook(handle, read_only=True).active
    assert sheet is not None
    values = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert values == [["n", "text"], [1, "'=A1"], [2, "'=A2"], [3, "'=A3"]]
    handle.close()
