"""Reading a CSV file of local providers: every row checked, every problem named.

Parsing writes nothing. It returns the rows and a list of problems, each with
the line and column to fix, so the command line and the upload page can show
the same report, and the caller writes only when the list is empty.

Why each rule exists:

* The file must be UTF-8 (a byte-order mark is fine). A Windows-1252 file is
  refused, not guessed at: any byte sequence "decodes" as Windows-1252, so a
  guess would turn a wrong encoding into silently garbled names and numbers.
* A text cell may not start with ``=``, ``+``, ``-`` or ``@``. Spreadsheet
  programs run such cells as formulas when the data is opened again (CSV or
  formula injection). The phone column is the one exception for ``+``: it is
  reduced to digits before it is stored.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from typing import Final

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.utils.translation import gettext as _

from cpnav.core import csvtext
from cpnav.core.csvtext import FORMULA_STARTS, Problem
from cpnav.referrals.models import US_STATES, Service, https_only

COLUMNS: Final = (
    "name",
    "jurisdiction",
    "state",
    "services",
    "languages",
    "hours",
    "phone",
    "email",
    "website",
    "notes",
    "source",
    "active",
)
REQUIRED_COLUMNS: Final = ("name", "jurisdiction", "services")
LIMITS: Final = {
    "name": 200,
    "jurisdiction": 200,
    "hours": 200,
    "email": 254,
    "website": 300,
    "notes": 2000,
    "source": 500,
    "languages": 500,
}
LANGUAGE_LIMIT: Final = 40
MAX_ROWS: Final = 5000
MAX_BYTES: Final = 2 * 1024 * 1024
SHORT_CODES: Final = frozenset({"211", "311", "511", "711", "811", "988"})
TRUE_WORDS: Final = frozenset({"yes", "y", "true", "1"})
FALSE_WORDS: Final = frozenset({"no", "n", "false", "0"})
_LIST_SPLIT = re.compile(r"[;,]")
_PHONE_CHARS = re.compile(r"\+?[0-9 ().\-]+")

HELP: Final = """\
Columns (a header row with these names, in any order; the first three are required):
  name          the provider's name (up to 200 characters)
  jurisdiction  the area served, e.g. "Marlow County, TX" (up to 200 characters)
  services      one or more of: {services}; separate with ";"
  state         two-letter code such as TX (optional)
  languages     e.g. "English; Spanish" (optional)
  hours         e.g. "Mon-Fri 9am-5pm" (optional)
  phone         a U.S. number, 10 digits, e.g. 555-010-0100 (optional)
  email         (optional)
  website       must start with https:// (optional)
  notes         (optional, up to 2000 characters)
  source        where the facts come from (optional; defaults to the file name and date)
  active        yes or no (optional; yes when empty)
The file must be UTF-8 (Excel: "CSV UTF-8"). A cell may not start with =, +, - or @
(spreadsheet formulas); only the phone column may start with +. A row that names a
provider already imported for the same agency (same name and jurisdiction) updates it.
Nothing is written unless every row is valid."""


def help_text() -> str:
    return HELP.format(services=", ".join(Service.values))


@dataclass(frozen=True)
class ProviderRow:
    line: int
    name: str
    jurisdiction: str
    state: str
    services: tuple[str, ...]
    languages: tuple[str, ...]
    hours: str
    phone: str
    email: str
    website: str
    notes: str
    source: str
    active: bool

    @property
    def match_key(self) -> tuple[str, str]:
        return (self.name.casefold(), self.jurisdiction.casefold())


@dataclass(frozen=True)
class Parsed:
    rows: tuple[ProviderRow, ...]
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def decode(data: bytes) -> tuple[str, Problem | None]:
    return csvtext.decode(data, MAX_BYTES)


def _formula(value: str) -> str | None:
    if value.startswith(FORMULA_STARTS):
        return _(
            'starts with "%(char)s". Cells starting with =, +, - or @ are refused because '
            "spreadsheet programs run them as formulas; remove or reword the first character."
        ) % {"char": value[0]}
    return None


def _split(value: str) -> list[str]:
    return [part.strip() for part in _LIST_SPLIT.split(value) if part.strip()]


def _services(value: str) -> tuple[tuple[str, ...], list[str]]:
    found: list[str] = []
    errors: list[str] = []
    for part in _split(value):
        code = re.sub(r"[\s\-]+", "_", part.lower())
        if code not in Service.values:
            errors.append(
                _('unknown service "%(value)s"; use %(known)s')
                % {"value": part, "known": ", ".join(Service.values)}
            )
        elif code not in found:
            found.append(code)
    return tuple(found), errors


def _languages(value: str) -> tuple[tuple[str, ...], list[str]]:
    found: list[str] = []
    errors: list[str] = []
    for part in _split(value):
        if len(part) > LANGUAGE_LIMIT:
            errors.append(_('"%(value)s" is too long for a language name') % {"value": part[:50]})
        elif part.casefold() not in {f.casefold() for f in found}:
            found.append(part)
    return tuple(found), errors


def phone_digits(value: str) -> str | None:
    """The number's digits (10, or 11 starting with 1, or a 3-digit service code), or None."""
    if not _PHONE_CHARS.fullmatch(value):
        return None
    digits = "".join(ch for ch in value if ch.isdigit())
    if value.startswith("+") and not digits.startswith("1"):
        return None  # only U.S. numbers (+1)
    if len(digits) == 11 and digits.startswith("1"):
        return digits if digits[1] in "23456789" else None
    if len(digits) == 10:
        return digits if digits[0] in "23456789" else None
    if digits in SHORT_CODES and not value.startswith("+"):
        return digits
    return None


def _website(value: str) -> str | None:
    if not value.lower().startswith("https://"):
        return _("must start with https://")
    try:
        https_only(value)
    except ValidationError:
        return _("is not a valid web address")
    return None


def _header(record: list[str], line: int) -> tuple[list[str], list[Problem]]:
    problems: list[Problem] = []
    names = [re.sub(r"\s+", "_", cell.strip().lower()) for cell in record]
    if len(names) == 1 and ";" in names[0]:
        problems.append(
            Problem(line, "", _("the columns must be separated by commas, not semicolons"))
        )
        return names, problems
    seen: set[str] = set()
    for position, name in enumerate(names, start=1):
        if not name:
            continue
        if name not in COLUMNS:
            problems.append(
                Problem(
                    line,
                    record[position - 1].strip()[:40],
                    _("unknown column; the columns are %(columns)s")
                    % {"columns": ", ".join(COLUMNS)},
                )
            )
        elif name in seen:
            problems.append(Problem(line, name, _("this column appears twice")))
        seen.add(name)
    for name in REQUIRED_COLUMNS:
        if name not in seen:
            problems.append(Problem(line, name, _("this required column is missing")))
    return names, problems


def _row(line: int, cells: dict[str, str], source: str) -> tuple[ProviderRow | None, list[Problem]]:
    problems: list[Problem] = []

    def problem(column: str, message: str) -> None:
        problems.append(Problem(line, column, message))

    for column in COLUMNS:
        value = cells.get(column, "")
        if not value:
            continue
        if column == "phone" and value.startswith("+"):
            pass  # "+1 ..." is a phone number; it is stored as digits
        elif (message := _formula(value)) is not None:
            problem(column, message)
            cells[column] = ""
            continue
        limit = LIMITS.get(column)
        if limit is not None and len(value) > limit:
            problem(
                column,
                _("is %(length)d characters long; at most %(limit)d are allowed")
                % {"length": len(value), "limit": limit},
            )
    for column in REQUIRED_COLUMNS:
        if not cells.get(column) and not any(p.column == column for p in problems):
            problem(column, _("is required"))
    state = cells.get("state", "").upper()
    if state and state not in US_STATES:
        problem(
            "state",
            _('"%(value)s" is not a two-letter state code such as TX')
            % {"value": cells["state"][:40]},
        )
    services, errors = _services(cells.get("services", ""))
    for message in errors:
        problem("services", message)
    languages, errors = _languages(cells.get("languages", ""))
    for message in errors:
        problem("languages", message)
    phone = ""
    if cells.get("phone"):
        digits = phone_digits(cells["phone"])
        if digits is None:
            problem(
                "phone",
                _('"%(value)s" is not a U.S. phone number; give 10 digits, e.g. 555-010-0100')
                % {"value": cells["phone"][:40]},
            )
        else:
            phone = digits
    email = cells.get("email", "")
    if email and len(email) <= LIMITS["email"]:
        try:
            EmailValidator()(email)
        except ValidationError:
            problem("email", _('"%(value)s" is not an email address') % {"value": email[:60]})
    website = cells.get("website", "")
    if website and len(website) <= LIMITS["website"]:
        message = _website(website)
        if message is not None:
            problem("website", message)
    active_word = cells.get("active", "").lower()
    if active_word and active_word not in TRUE_WORDS | FALSE_WORDS:
        problem("active", _('write "yes" or "no", not "%(value)s"') % {"value": active_word[:20]})
    if problems:
        return None, problems
    return (
        ProviderRow(
            line=line,
            name=cells["name"],
            jurisdiction=cells["jurisdiction"],
            state=state,
            services=services,
            languages=languages,
            hours=cells.get("hours", ""),
            phone=phone,
            email=email,
            website=website,
            notes=cells.get("notes", ""),
            source=cells.get("source", "") or source,
            active=active_word not in FALSE_WORDS,
        ),
        [],
    )


def parse(data: bytes, *, source: str) -> Parsed:
    """Check every row of a providers CSV. ``source`` fills an empty source cell."""
    text, failure = decode(data)
    if failure is not None:
        return Parsed((), (failure,))
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    problems: list[Problem] = []
    rows: list[ProviderRow] = []
    header: list[str] | None = None
    first_line: dict[tuple[str, str], int] = {}
    line_after = 1  # the physical line where the next record starts
    count = 0
    try:
        for record in reader:
            line, line_after = line_after, reader.line_num + 1
            if not any(cell.strip() for cell in record):
                continue
            if header is None:
                header, found = _header(record, line)
                problems += found
                if found:
                    break
                continue
            count += 1
            if count > MAX_ROWS:
                problems.append(
                    Problem(
                        line,
                        "",
                        _("more than %(max)d providers; split the file") % {"max": MAX_ROWS},
                    )
                )
                break
            if len(record) > len(header):
                problems.append(
                    Problem(
                        line,
                        "",
                        _("this row has %(cells)d cells but the header has %(columns)d")
                        % {"cells": len(record), "columns": len(header)},
                    )
                )
                continue
            cells = {
                name: value.strip() for name, value in zip(header, record, strict=False) if name
            }
            row, found = _row(line, cells, source)
            problems += found
            if row is None:
                continue
            earlier = first_line.setdefault(row.match_key, line)
            if earlier != line:
                problems.append(
                    Problem(
                        line,
                        "name",
                        _("the same provider and jurisdiction as line %(line)d")
                        % {"line": earlier},
                    )
                )
                continue
            rows.append(row)
    except csv.Error as error:
        problems.append(
            Problem(
                reader.line_num or 1,
                "",
                _("the file is not valid CSV here (%(error)s); check the quotes")
                % {"error": error},
            )
        )
    if header is None and not problems:
        problems.append(Problem(1, "", _("the file is empty; it needs a header row")))
    elif not rows and not problems:
        problems.append(Problem(line_after, "", _("the file has a header but no providers")))
    return Parsed(tuple(rows), tuple(sorted(problems, key=_order)))


def _order(problem: Problem) -> tuple[int, int]:
    column = COLUMNS.index(problem.column) if problem.column in COLUMNS else -1
    return (problem.line, column)
