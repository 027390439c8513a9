"""Reading an uploaded CSV or XLSX file as a header and rows of cells.

Nothing here knows about cases or the database: a file becomes a ``Table``
whose rows can be read again (the dry run and the import each read once), and
anything wrong with the file itself is a ``TableError`` naming line and column.

Why the XLSX rules differ from openpyxl's usual recipe: the workbook is read
with ``data_only=False``. With ``data_only=True`` openpyxl hides formulas and
returns the value Excel last cached - or nothing at all when the file was
written by a program that does not calculate - so a formula cell would
silently become another value or an empty one. Reading the formulas lets the
importer refuse them by name, as it refuses formula-looking text in a CSV.
"""

from __future__ import annotations

import csv
import io
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any, Final, Literal
from xml.etree.ElementTree import ParseError

from django.utils.translation import gettext as _

from cpnav.core import csvtext
from cpnav.core.csvtext import Problem

MAX_BYTES: Final = 32 * 1024 * 1024
MAX_ROWS: Final = 100_000
# An XLSX is a ZIP of XML; a real sheet of MAX_ROWS rows unpacks to a few hundred MB
# at most, and XML compresses well under 100:1. Beyond either, it is a zip bomb.
ZIP_MAX_UNPACKED: Final = 768 * 1024 * 1024
ZIP_MAX_RATIO: Final = 100
ZIP_MAX_ENTRIES: Final = 5_000
XLSX_MAGIC: Final = b"PK\x03\x04"
OLE_MAGIC: Final = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

Format = Literal["csv", "xlsx"]


class Formula(str):
    """An Excel cell holding a formula; its text is the formula (``=HYPERLINK(...)``)."""

    __slots__ = ()


# What a cell can be once read: text (CSV, and most XLSX cells), a date or
# date-time (an XLSX date cell), or a formula to refuse.
Cell = str | date | Formula


class TableError(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


@dataclass(frozen=True)
class Table:
    format: Format
    columns: tuple[str, ...]
    header_line: int
    # Data rows, counted (CSV) or as the workbook declares them (XLSX); None when unknown.
    row_estimate: int | None
    data: bytes

    def rows(self) -> Iterator[tuple[int, tuple[Cell, ...]]]:
        """(line, cells) of each non-empty row after the header, in file order.

        Raises TableError when the file turns out to be damaged part way, or
        holds more than MAX_ROWS rows.
        """
        source = _csv_records(self.data) if self.format == "csv" else _xlsx_records(self.data)
        count = 0
        for line, cells in source:
            if line <= self.header_line or not any(_filled(cell) for cell in cells):
                continue
            count += 1
            if count > MAX_ROWS:
                raise TableError(
                    Problem(
                        line,
                        "",
                        _("the file has more than %(max)s rows; split it into several files")
                        % {"max": f"{MAX_ROWS:,}"},
                    )
                )
            yield line, cells


def _filled(cell: Cell) -> bool:
    return not isinstance(cell, str) or bool(cell.strip())


def open_table(data: bytes) -> Table:
    """Read the header of a CSV or XLSX file, or raise TableError saying what is wrong."""
    if len(data) > MAX_BYTES:
        raise TableError(
            Problem(
                1, "", _("the file is larger than %(mb)d MB; split it") % {"mb": MAX_BYTES // 2**20}
            )
        )
    if data.startswith(OLE_MAGIC):
        raise TableError(
            Problem(
                1,
                "",
                _(
                    "this is an old-format Excel file (.xls) or a password-protected workbook. "
                    'Save it as "Excel Workbook (.xlsx)" or "CSV UTF-8" without a password.'
                ),
            )
        )
    if data.startswith(XLSX_MAGIC):
        _check_zip(data)
        declared: list[int | None] = []
        line, columns = _first_row(_xlsx_records(data, declared))
        estimate = declared[0] - line if declared and declared[0] is not None else None
        return Table("xlsx", columns, line, estimate, data)
    line, columns = _first_row(_csv_records(data))
    # Counting reads the whole file once: a quoting error or too many rows is
    # reported at upload rather than after the columns were chosen.
    count = sum(1 for _row in Table("csv", columns, line, None, data).rows())
    return Table("csv", columns, line, count, data)


def _first_row(records: Iterator[tuple[int, tuple[Cell, ...]]]) -> tuple[int, tuple[str, ...]]:
    for line, cells in records:
        if any(_filled(cell) for cell in cells):
            return line, _header(line, cells)
    raise TableError(Problem(1, "", _("the file is empty; it needs a header row")))


def _header(line: int, cells: tuple[Cell, ...]) -> tuple[str, ...]:
    names = [str(cell).strip() for cell in cells]
    while names and not names[-1]:
        names.pop()  # spreadsheets often carry empty columns after the last one
    if len(names) == 1 and (";" in names[0] or "\t" in names[0]):
        separator = _("semicolons") if ";" in names[0] else _("tabs")
        raise TableError(
            Problem(
                line,
                "",
                _("the columns must be separated by commas, not %(separator)s")
                % {"separator": separator},
            )
        )
    columns: list[str] = []
    for position, name in enumerate(names, start=1):
        if isinstance(cells[position - 1], Formula):
            raise TableError(
                Problem(line, name, _("a header cell holds a formula; type the column's name"))
            )
        if name in columns:
            raise TableError(
                Problem(
                    line,
                    name,
                    _("two columns have this name (columns %(first)d and %(second)d); rename one")
                    % {"first": columns.index(name) + 1, "second": position},
                )
            )
        columns.append(name or _("(column %(number)d)") % {"number": position})
    return tuple(columns)


# --- CSV -----------------------------------------------------------------------


def _csv_records(data: bytes) -> Iterator[tuple[int, tuple[Cell, ...]]]:
    text, failure = csvtext.decode(data, MAX_BYTES)
    if failure is not None:
        raise TableError(failure)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    line_after = 1  # the physical line where the next record starts
    try:
        for record in reader:
            line, line_after = line_after, reader.line_num + 1
            yield line, tuple(record)
    except csv.Error as error:
        raise TableError(
            Problem(
                line_after,
                "",
                _("the file is not valid CSV here (%(error)s); check the quotes")
                % {"error": error},
            )
        ) from None


# --- XLSX ----------------------------------------------------------------------


def _damaged() -> TableError:
    return TableError(
        Problem(
            1,
            "",
            _(
                "the file looks like an Excel workbook but cannot be read; it may be damaged. "
                'Open it in Excel and save it again as "Excel Workbook (.xlsx)" or "CSV UTF-8".'
            ),
        )
    )


def _check_zip(data: bytes) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, EOFError, ValueError, RuntimeError):
        # RuntimeError: zipfile's NotImplementedError for a version or method it cannot read.
        raise _damaged() from None
    # Declared sizes are what matter: nothing is unpacked here, and zipfile stops
    # reading an entry at its declared size.
    unpacked = sum(entry.file_size for entry in entries)
    if len(entries) > ZIP_MAX_ENTRIES or unpacked > min(
        ZIP_MAX_UNPACKED, ZIP_MAX_RATIO * len(data)
    ):
        raise TableError(
            Problem(
                1,
                "",
                _(
                    "the workbook unpacks to far more data than a spreadsheet holds (a possible "
                    "zip bomb); it was not read"
                ),
            )
        )
    names = {entry.filename for entry in entries}
    if "xl/workbook.xml" not in names:
        raise TableError(Problem(1, "", _("this is a ZIP file but not an Excel workbook (.xlsx)")))
    if any(name.lower().endswith("vbaproject.bin") for name in names):
        raise TableError(
            Problem(
                1,
                "",
                _('the workbook contains macros; save it as "Excel Workbook (.xlsx)" and retry'),
            )
        )


# openpyxl raises many unrelated types on a damaged workbook; these are the
# ones seen from truncated, altered or mislabelled files.
_XLSX_ERRORS: Final = (
    zipfile.BadZipFile, KeyError, ValueError, TypeError, IndexError, OSError, EOFError,
    ParseError, SyntaxError, zlib.error,
    RuntimeError,  # zipfile: an encrypted part, or a version or method it cannot read
)  # fmt: skip


def _xlsx_records(
    data: bytes, declared: list[int | None] | None = None
) -> Iterator[tuple[int, tuple[Cell, ...]]]:
    """The first sheet's rows; ``declared`` receives the row count the workbook declares."""
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except _XLSX_ERRORS:
        raise _damaged() from None
    try:
        if not book.worksheets:
            raise TableError(Problem(1, "", _("the workbook has no sheet to read")))
        sheet = book.worksheets[0]
        if declared is not None:
            declared.append(sheet.max_row if isinstance(sheet.max_row, int) else None)
        rows = sheet.iter_rows()
        line = 0
        while True:
            try:
                row = next(rows)
            except StopIteration:
                break
            except _XLSX_ERRORS:
                raise _damaged() from None
            line += 1
            yield line, tuple(_xlsx_cell(cell) for cell in row)
    finally:
        book.close()


def _xlsx_cell(cell: Any) -> Cell:
    value = getattr(cell, "value", None)
    if getattr(cell, "data_type", None) == "f" or (
        value is not None and not isinstance(value, str | int | float | bool | date | time)
    ):
        # Array and data-table formulas come back as objects rather than text.
        return Formula(str(getattr(value, "text", None) or value))
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.date() if value.time() == time(0) else value
    if isinstance(value, date):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, time):
        return value.isoformat()
    return str(value)
