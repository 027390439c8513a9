"""Reading an uploaded CSV file as text, and naming each problem by line and column.

A Windows-1252 file is refused, not guessed at: any byte sequence "decodes" as
Windows-1252, so a guess would turn a wrong encoding into silently garbled text.
A cell starting with =, +, - or @ is refused by the importers: spreadsheet
programs run such cells as formulas when the data is opened again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from django.utils.translation import gettext as _

FORMULA_STARTS: Final = ("=", "+", "-", "@")


@dataclass(frozen=True)
class Problem:
    line: int
    column: str
    message: str

    def __str__(self) -> str:
        if self.column:
            return _('line %(line)d, column "%(column)s": %(message)s') % {
                "line": self.line,
                "column": self.column,
                "message": self.message,
            }
        return _("line %(line)d: %(message)s") % {"line": self.line, "message": self.message}


def decode(data: bytes, max_bytes: int) -> tuple[str, Problem | None]:
    """The file's text, or a problem saying why it is not UTF-8 text."""
    if len(data) > max_bytes:
        return "", Problem(
            1, "", _("the file is larger than %(mb)d MB; split it") % {"mb": max_bytes // 2**20}
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        byte = data[error.start]
        return "", Problem(
            line,
            "",
            _(
                "the file is not UTF-8 text (byte 0x%(byte)02X). It was probably saved as "
                'Windows or "CSV (Comma delimited)" text. In Excel, save it again as '
                '"CSV UTF-8 (Comma delimited)" and import that file.'
            )
            % {"byte": byte},
        )
    if "\x00" in text:
        return "", Problem(1, "", _("the file holds binary data; it is not a CSV text file"))
    return text, None
