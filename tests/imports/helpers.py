"""Building synthetic import files in memory. Every name and number here is invented."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from openpyxl import Workbook

from cpnav.imports import fields as F

HEADER = (
    "Case #", "Victim name", "DOB", "A-Number", "Citizenship", "Country", "Languages",
    "Trafficking type", "CP start", "CP end",
)  # fmt: skip


def person(n: int, **overrides: str) -> dict[str, str]:
    """A valid row for the HEADER above; n makes the case number, name and A-number unique."""
    values = {
        "Case #": f"2026-{n:06d}",
        "Victim name": f"Synthetic Person {n}",
        "DOB": "1990-01-02",
        "A-Number": f"A{n:09d}",
        "Citizenship": "noncitizen",
        "Country": "Examplestan",
        "Languages": "Spanish; English",
        "Trafficking type": "labor",
        "CP start": "2025-01-06",
        "CP end": "2027-01-05",
    }
    values.update(overrides)
    return values


def csv_text(rows: Iterable[dict[str, str]], header: Sequence[str] = HEADER) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(header), extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def csv_bytes(
    rows: Iterable[dict[str, str]], header: Sequence[str] = HEADER, *, bom: bool = False
) -> bytes:
    return (b"\xef\xbb\xbf" if bom else b"") + csv_text(rows, header).encode("utf-8")


def xlsx_bytes(rows: Iterable[Sequence[Any]], header: Sequence[Any] = HEADER) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def xlsx_from_dicts(rows: Iterable[dict[str, Any]], header: Sequence[str] = HEADER) -> bytes:
    return xlsx_bytes(([row.get(name, None) for name in header] for row in rows), header)


def template_rows(*values: dict[str, str]) -> bytes:
    """A file in the template's own layout (field names as the header)."""
    return csv_bytes(values, F.NAMES)


AUTO_MAPPING = {
    "case_number": "Case #",
    "full_name": "Victim name",
    "date_of_birth": "DOB",
    "a_number": "A-Number",
    "citizenship": "Citizenship",
    "country": "Country",
    "languages": "Languages",
    "trafficking_forms": "Trafficking type",
    "grant_start": "CP start",
    "grant_end": "CP end",
}
