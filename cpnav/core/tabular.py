"""Tables leaving the system as CSV or XLSX: streamed, in constant memory, and
safe to open in a spreadsheet.

A cell whose text starts with =, +, - or @ (or a tab or carriage return, which
some programs skip before looking) would run as a formula when the file is
opened: it is written with a leading apostrophe, which spreadsheet programs
show as plain text (OWASP's advice on CSV injection). Numbers, dates and
booleans are written as themselves.
"""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from typing import Any, Final

from django.http import FileResponse, StreamingHttpResponse
from openpyxl import Workbook

FORMULA_TRIGGERS: Final = ("=", "+", "-", "@", "\t", "\r")
CSV_TYPE: Final = "text/csv; charset=utf-8"
XLSX_TYPE: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def neutralise(value: Any) -> Any:
    """The cell as it should be written: text that could run as a formula made inert."""
    if value is None:
        return ""
    if isinstance(value, bool | int | float | date | datetime):
        return value
    text = str(value)
    if text.startswith(FORMULA_TRIGGERS):
        return "'" + text
    return text


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_lines(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """The CSV text line by line (UTF-8 with a byte-order mark, so Excel reads it as UTF-8)."""
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow([neutralise(h) for h in header])
    for row in rows:
        yield writer.writerow([_csv_cell(neutralise(v)) for v in row])


def _csv_cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def xlsx_file(header: Sequence[str], rows: Iterable[Sequence[Any]], title: str) -> Any:
    """A temporary XLSX file (deleted when closed), written row by row in write-only mode."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=title[:31] or "Sheet1")
    sheet.append([neutralise(h) for h in header])
    for row in rows:
        sheet.append([_xlsx_cell(neutralise(v)) for v in row])
    handle = tempfile.TemporaryFile(suffix=".xlsx")  # noqa: SIM115 - FileResponse closes it
    book.save(handle)
    handle.seek(0)
    return handle


def _xlsx_cell(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.replace(tzinfo=None)  # Excel has no time zones; callers pass UTC or local
    return value


def download(
    fmt: str, filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]]
) -> StreamingHttpResponse | FileResponse:
    """A CSV (streamed as it is produced) or XLSX download of the rows. fmt: "csv" or "xlsx"."""
    if fmt == "xlsx":
        return FileResponse(
            xlsx_file(header, rows, filename.rsplit(".", 1)[0]),
            as_attachment=True,
            filename=f"{filename}.xlsx",
            content_type=XLSX_TYPE,
        )
    response = StreamingHttpResponse(csv_lines(header, rows), content_type=CSV_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    return response
