"""Checking every row of a table against the import fields: every problem named.

Pure: no database, no settings beyond translations. ``check`` returns the
valid rows and every problem with its line and the file's column name, so
the page, the job and the command line show the same report, and the caller
writes only when the list is empty. Duplicates *within* the file are found
here with the same normalisation as the person blind indexes
(``cpnav.core.crypto.normalize``); duplicates of people already recorded are
the service's to find, since they need the database.

Why each rule exists:

* Dates are YYYY-MM-DD or MM/DD/YYYY and nothing else. "03/04/2024" is March
  4th in the United States and April 3rd almost everywhere else; a file from
  a partner abroad would be imported with every day and month swapped, so
  day-first dates, two-digit years and every other spelling are refused and
  the accepted forms are named.
* A text cell may not start with =, +, - or @, and an Excel cell may not be a
  formula: spreadsheet programs run such cells when the data is opened again
  (CSV or formula injection, e.g. ``=HYPERLINK(...)`` sending data away).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Final

from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from cpnav.core.crypto import normalize
from cpnav.core.csvtext import FORMULA_STARTS, Problem
from cpnav.imports import fields as F
from cpnav.imports.tables import Cell, Formula, Table, TableError

_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_US = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")
_SHORT_YEAR = re.compile(r"\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2}")
_DAY_FIRST = re.compile(r"(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})")
_A_NUMBER = re.compile(r"[Aa]?-?(\d{8,9})")
_INTEGER = re.compile(r"\d{1,3}")
_LIST_SPLIT: Final = {
    "aliases": re.compile(r"[;\n]"),
    "languages": re.compile(r"[;,\n]"),
    "trafficking_forms": re.compile(r"[;,/|&\n]|\band\b"),
}
TRUE_WORDS: Final = frozenset({"yes", "y", "true", "1"})
FALSE_WORDS: Final = frozenset({"no", "n", "false", "0"})
EARLIEST_BIRTH_YEAR: Final = 1900
# Continued Presence began with the Trafficking Victims Protection Act of 2000.
EARLIEST_GRANT_YEAR: Final = 2000
SHOWN_CHARS: Final = 40
PROGRESS_EVERY: Final = 500


@dataclass(frozen=True, slots=True)
class Row:
    """One row's values: a case (shared by rows with the same number), a person, maybe a grant.

    Valid only when checking it found no problem; a refused value is left empty.
    """

    line: int
    case_number: str
    trafficking_forms: tuple[str, ...]
    criminal_status: str
    civil_status: str
    full_name: str
    aliases: tuple[str, ...]
    date_of_birth: date | None
    age_estimate: int | None
    a_number: str  # "A" and nine digits, or ""
    citizenship: str
    country: str
    languages: tuple[str, ...]
    interpreter_needed: bool
    contact: str
    do_not_contact: bool
    safe_contact: str
    grant_start: date | None
    grant_end: date | None
    work_permit_received: date | None
    work_permit_expires: date | None

    @property
    def has_grant(self) -> bool:
        return self.grant_start is not None


@dataclass
class Checked:
    rows: list[Row] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    row_count: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def case_count(self) -> int:
        return len({row.case_number for row in self.rows})

    @property
    def grant_count(self) -> int:
        return sum(1 for row in self.rows if row.has_grant)

    @property
    def rows_with_problems(self) -> int:
        return len({problem.line for problem in self.problems})


Progress = Callable[[int], None]


def mapping_problems(columns: tuple[str, ...], mapping: Mapping[str, str]) -> list[Problem]:
    """What is wrong with a {field: column} mapping for a file with these columns."""
    problems: list[Problem] = []
    used: dict[str, str] = {}
    for name, column in mapping.items():
        if name not in F.BY_NAME:
            problems.append(
                Problem(0, name, _("there is no import field with this name; the fields are %(names)s")
                        % {"names": ", ".join(F.NAMES)})
            )  # fmt: skip
        elif column not in columns:
            problems.append(
                Problem(
                    0,
                    column,
                    _(
                        "the file has no column with this name (for %(field)s); its columns are %(columns)s"
                    )
                    % {"field": name, "columns": ", ".join(columns)},
                )
            )
        elif column in used:
            problems.append(
                Problem(
                    0,
                    column,
                    _("this column is chosen for both %(first)s and %(second)s; choose it once")
                    % {"first": used[column], "second": name},
                )
            )
        else:
            used[column] = name
    for name in F.REQUIRED:
        if not mapping.get(name):
            field_ = F.BY_NAME[name]
            problems.append(
                Problem(
                    0,
                    name,
                    _(
                        "required column missing: %(label)s. Choose the column that holds it, or add one named %(name)s."
                    )
                    % {"label": str(field_.label).lower(), "name": name},
                )
            )
    return problems


def shown(value: str) -> str:
    """A cell's text as quoted in a message: short, on one line."""
    flat = " ".join(value.split())
    return flat if len(flat) <= SHOWN_CHARS else flat[: SHOWN_CHARS - 1] + "…"


def date_problem(value: str) -> str:
    """The message for text that is not an accepted date."""
    accepted = _("write YYYY-MM-DD (2024-03-15) or MM/DD/YYYY (03/15/2024)")
    values = {"value": shown(value), "accepted": accepted}
    if _SHORT_YEAR.fullmatch(value):
        return _('"%(value)s" has a two-digit year, which is ambiguous; %(accepted)s') % values
    day_first = _DAY_FIRST.fullmatch(value)
    if day_first and int(day_first.group(1)) > 12 and int(day_first.group(2)) <= 12:
        return _('"%(value)s" looks like day/month/year, which is refused; %(accepted)s') % values
    if day_first and "/" not in value:
        return (
            _('"%(value)s" uses dots or dashes; whether the day or the month comes first is '
              "ambiguous; %(accepted)s") % values
        )  # fmt: skip
    return _('"%(value)s" is not a date in an accepted format; %(accepted)s') % values


def parse_date(value: str) -> date | str:
    """The date, or the message saying why the text is refused."""
    iso = _ISO.fullmatch(value)
    us = _US.fullmatch(value)
    if iso:
        year, month, day = (int(part) for part in iso.groups())
    elif us:
        month, day, year = (int(part) for part in us.groups())
        if month > 12 and day <= 12:
            return date_problem(value)
    else:
        return date_problem(value)
    try:
        return date(year, month, day)
    except ValueError:
        return _('"%(value)s" is not a real date (check the month and the day)') % {
            "value": shown(value)
        }


class _Choices:
    """Accepted spellings of each choice: its code, its English and current-language labels."""

    def __init__(self) -> None:
        self.by_field: dict[str, dict[str, str]] = {}
        for field_ in F.FIELDS:
            if not field_.choices:
                continue
            known: dict[str, str] = {}
            for value, label in field_.choices:
                known[_key(value)] = value
                known[_key(str(label))] = value
                with translation.override("en"):
                    known[_key(str(label))] = value
            for alias, value in (field_.aliases or {}).items():
                known[_key(alias)] = value
            self.by_field[field_.name] = known
        self.seen: dict[tuple[str, str], str | None] = {}  # the same few words, row after row

    def codes(self, name: str, text: str) -> str | None:
        try:
            return self.seen[name, text]
        except KeyError:
            code = self.seen[name, text] = self.by_field[name].get(_key(text))
            return code


def _key(text: str) -> str:
    return re.sub(r"[\s_\-]+", "_", text.casefold().replace(".", "")).strip("_")


@dataclass
class _RowCheck:
    """Turns one row's cells into values, collecting its problems."""

    line: int
    mapping: Mapping[str, str]
    choices: _Choices
    today: date
    problems: list[Problem] = field(default_factory=list)
    reported: set[str] = field(default_factory=set)  # fields with a problem already

    def problem(self, name: str, message: str) -> None:
        self.problems.append(Problem(self.line, self.mapping.get(name, name), message))
        self.reported.add(name)

    def text(self, name: str, cell: Cell) -> str | None:
        """The cell as text, or None after recording why it cannot be used."""
        if type(cell) is not str:  # a Formula is a str too, and must not pass here
            return self._not_text(name, cell)
        value = cell.strip()
        if value.startswith(FORMULA_STARTS):
            self.problem(
                name,
                _('starts with "%(char)s". Cells starting with =, +, - or @ are refused because '
                  "spreadsheet programs run them as formulas; remove or reword the first character.")
                % {"char": value[0]},
            )  # fmt: skip
            return None
        limit = F.BY_NAME[name].limit
        if limit and len(value) > limit:
            self.problem(
                name,
                _("is %(length)d characters long; at most %(limit)d are allowed")
                % {"length": len(value), "limit": limit},
            )
            return None
        return value

    def _not_text(self, name: str, cell: Cell) -> str | None:
        if isinstance(cell, Formula):
            self.problem(
                name,
                _("the cell holds a formula (%(formula)s); formulas are refused because "
                  "spreadsheet programs run them. Paste the value instead.")
                % {"formula": shown(str(cell))},
            )  # fmt: skip
            return None
        if isinstance(cell, datetime):
            return cell.isoformat(sep=" ")
        if isinstance(cell, date):
            return cell.isoformat()
        return self.text(name, str(cell))

    def date(self, name: str, cell: Cell) -> date | None:
        if isinstance(cell, datetime):
            self.problem(
                name,
                _("holds a date and a time (%(value)s); give the date only")
                % {"value": cell.isoformat(sep=" ")},
            )
            return None
        if isinstance(cell, date):
            return cell
        value = self.text(name, cell)
        if not value:
            return None
        parsed = parse_date(value)
        if isinstance(parsed, str):
            self.problem(name, parsed)
            return None
        return parsed

    def choice(self, name: str, value: str, default: str) -> str:
        if not value:
            return default
        code = self.choices.codes(name, value)
        if code is None:
            self.problem(name, self._unknown(name, value))
            return default
        return code

    def choices_list(self, name: str, value: str) -> tuple[str, ...]:
        found: list[str] = []
        for part in _LIST_SPLIT[name].split(value):
            if not part.strip():
                continue
            code = self.choices.codes(name, part.strip().removesuffix(" trafficking"))
            if code is None:
                code = self.choices.codes(name, part.strip())
            if code is None:
                self.problem(name, self._unknown(name, part.strip()))
                continue
            for one in code.split(";"):
                if one not in found:
                    found.append(one)
        return tuple(found)

    def _unknown(self, name: str, value: str) -> str:
        codes = ", ".join(code for code, _label in F.BY_NAME[name].choices)
        return _('"%(value)s" is not one of: %(codes)s') % {"value": shown(value), "codes": codes}

    def items(self, name: str, value: str) -> tuple[str, ...]:
        found: list[str] = []
        limit = F.BY_NAME[name].item_limit
        for part in _LIST_SPLIT[name].split(value):
            item = part.strip()
            if not item:
                continue
            if item.startswith(FORMULA_STARTS):
                self.problem(
                    name,
                    _('an item starts with "%(char)s"; items may not start with =, +, - or @')
                    % {"char": item[0]},
                )
            elif len(item) > limit:
                self.problem(
                    name,
                    _("an item is %(length)d characters long; at most %(limit)d are allowed")
                    % {"length": len(item), "limit": limit},
                )
            elif item.casefold() not in {f.casefold() for f in found}:
                found.append(item)
        return tuple(found)

    def yes_no(self, name: str, value: str) -> bool:
        word = value.casefold()
        if word and word not in TRUE_WORDS | FALSE_WORDS:
            self.problem(name, _('write "yes" or "no", not "%(value)s"') % {"value": shown(value)})
        return word in TRUE_WORDS

    def integer(self, name: str, value: str) -> int | None:
        if not value:
            return None
        if not _INTEGER.fullmatch(value) or int(value) > 120:
            self.problem(
                name,
                _('"%(value)s" is not a whole number from 0 to 120') % {"value": shown(value)},
            )
            return None
        return int(value)

    def a_number(self, value: str) -> str:
        if not value:
            return ""
        found = _A_NUMBER.fullmatch(value.replace(" ", ""))
        if found is None:
            self.problem(
                "a_number",
                _('"%(value)s" is not an A-number; write the letter A and 8 or 9 digits, '
                  "for example A012345678") % {"value": shown(value)},
            )  # fmt: skip
            return ""
        return "A" + found.group(1).zfill(9)


def check_row(
    line: int,
    cells: Mapping[str, Cell],
    mapping: Mapping[str, str],
    *,
    today: date,
    choices: _Choices | None = None,
) -> tuple[Row, list[Problem]]:
    """One row's values by field name, checked; no look at other rows.

    The row comes back even with problems (a refused value left empty or at its
    default), so that later rows can still be compared with it; it is valid
    only when the list of problems is empty.
    """
    c = _RowCheck(line, mapping, choices or _Choices(), today)
    text: dict[str, str] = {}
    dates: dict[str, date | None] = {}
    for field_ in F.FIELDS:
        cell = cells.get(field_.name, "")
        if cell == "":  # most cells of most files: nothing to check
            if field_.kind == "date":
                dates[field_.name] = None
            else:
                text[field_.name] = ""
        elif field_.kind == "date":
            dates[field_.name] = c.date(field_.name, cell)
        else:
            text[field_.name] = c.text(field_.name, cell) or ""
    for name in F.REQUIRED:
        if not text[name] and name not in c.reported:
            c.problem(name, _("is required"))
    case_number = text["case_number"]
    if case_number and case_number == F.EXAMPLE_CASE_NUMBER:
        c.problem("case_number", _("this is the template's synthetic example row; delete it"))
    born = dates["date_of_birth"]
    if born is not None and born > today:
        c.problem("date_of_birth", _("the date of birth is in the future"))
    elif born is not None and born.year < EARLIEST_BIRTH_YEAR:
        c.problem("date_of_birth", _("check the year of birth"))
    start, end = dates["grant_start"], dates["grant_end"]
    if start is not None and end is None and "grant_end" not in c.reported:
        c.problem("grant_end", _("give the end of the term with its start"))
    if end is not None and start is None and "grant_start" not in c.reported:
        c.problem("grant_start", _("give the start of the term with its end"))
    if start is not None and end is not None and end < start:
        c.problem("grant_end", _("the term ends before it starts"))
    for name in ("grant_start", "grant_end"):
        moment = dates[name]
        if moment is not None and not EARLIEST_GRANT_YEAR <= moment.year <= today.year + 5:
            c.problem(name, _("check the year: Continued Presence began in 2000"))
    received, expires = dates["work_permit_received"], dates["work_permit_expires"]
    if (received or expires) and start is None and end is None:
        c.problem(
            "work_permit_received" if received else "work_permit_expires",
            _("work permit dates are recorded with a grant; give its start and end dates"),
        )
    if received and expires and expires < received:
        c.problem("work_permit_expires", _("the work permit expires before it was received"))
    row = Row(
        line=line,
        case_number=case_number,
        trafficking_forms=c.choices_list("trafficking_forms", text["trafficking_forms"]),
        criminal_status=c.choice("criminal_status", text["criminal_status"], "investigating"),
        civil_status=c.choice("civil_status", text["civil_status"], "none"),
        full_name=text["full_name"],
        aliases=c.items("aliases", text["aliases"]),
        date_of_birth=born,
        age_estimate=c.integer("age_estimate", text["age_estimate"]),
        a_number=c.a_number(text["a_number"]),
        citizenship=c.choice("citizenship", text["citizenship"], "unknown"),
        country=text["country"],
        languages=c.items("languages", text["languages"]),
        interpreter_needed=c.yes_no("interpreter_needed", text["interpreter_needed"]),
        contact=text["contact"],
        do_not_contact=c.yes_no("do_not_contact", text["do_not_contact"]),
        safe_contact=text["safe_contact"],
        grant_start=start,
        grant_end=end,
        work_permit_received=received,
        work_permit_expires=expires,
    )
    return row, c.problems


@dataclass
class _FileState:
    """What earlier rows said, for the checks that compare rows."""

    a_numbers: dict[str, int] = field(default_factory=dict)
    names: dict[str, int] = field(default_factory=dict)
    cases: dict[str, tuple[int, dict[str, str]]] = field(default_factory=dict)


def _compare(
    line: int,
    cells: Mapping[str, Cell],
    row: Row,
    mapping: Mapping[str, str],
    state: _FileState,
) -> list[Problem]:
    problems: list[Problem] = []
    if row.a_number:
        first = state.a_numbers.setdefault(row.a_number, line)
        if first != line:
            problems.append(
                Problem(line, mapping.get("a_number", "a_number"), _("the same A-number as line %(line)d") % {"line": first})
            )  # fmt: skip
    if row.date_of_birth is not None:
        key = normalize(f"{row.full_name}|{row.date_of_birth.isoformat()}")
        first = state.names.setdefault(key, line)
        if first != line:
            problems.append(
                Problem(
                    line,
                    mapping.get("full_name", "full_name"),
                    _("the same name and date of birth as line %(line)d") % {"line": first},
                )
            )
    # Rows with one case number make one case: its details must agree.
    given = {
        name: str(cells[name]).strip()
        for name in F.CASE_FIELDS
        if name != "case_number" and str(cells.get(name, "")).strip()
    }
    if not row.case_number:
        return problems
    first_line, first_given = state.cases.setdefault(row.case_number, (line, given))
    if first_line != line:
        for name, value in given.items():
            if name in first_given and _key(first_given[name]) != _key(value):
                problems.append(
                    Problem(
                        line,
                        mapping.get(name, name),
                        _("differs from line %(line)d, which has the same case number; rows of "
                          "one case must agree on the case's details (or leave them empty)")
                        % {"line": first_line},
                    )
                )  # fmt: skip
            first_given.setdefault(name, value)
    return problems


def check(
    table: Table,
    mapping: Mapping[str, str],
    *,
    today: date | None = None,
    progress: Progress | None = None,
    every: int = PROGRESS_EVERY,
) -> Checked:
    """Check every row; ``progress`` is told the number of rows read every ``every`` rows."""
    result = Checked()
    result.problems += [
        Problem(table.header_line, p.column, p.message)
        for p in mapping_problems(table.columns, mapping)
    ]
    if result.problems:
        return result
    positions = {name: table.columns.index(column) for name, column in mapping.items() if column}
    choices = _Choices()
    state = _FileState()
    day = today or date.today()
    try:
        for line, cells in table.rows():
            result.row_count += 1
            values = {
                name: cells[position] if position < len(cells) else ""
                for name, position in positions.items()
            }
            row, found = check_row(line, values, mapping, today=day, choices=choices)
            found += _compare(line, values, row, mapping, state)
            result.problems += found
            if not found:
                result.rows.append(row)
            if progress is not None and result.row_count % every == 0:
                progress(result.row_count)
    except TableError as error:
        result.problems.append(error.problem)
    if result.row_count == 0 and not result.problems:
        result.problems.append(
            Problem(table.header_line, "", _("the file has a header but no rows"))
        )
    if progress is not None:
        progress(result.row_count)
    sort_problems(result.problems, mapping)
    return result


def sort_problems(problems: list[Problem], mapping: Mapping[str, str]) -> None:
    """In file order: by line, then in the order of the import fields."""
    column_rank = {
        column: F.NAMES.index(name) for name, column in mapping.items() if name in F.BY_NAME
    }
    problems.sort(key=lambda problem: (problem.line, column_rank.get(problem.column, -1)))


def summary(problem_count: int, row_count: int) -> str:
    """The report's headline, such as '3 problems in 2 rows; nothing was imported.'"""
    problems = ngettext("%(count)d problem", "%(count)d problems", problem_count) % {
        "count": problem_count
    }
    rows = ngettext("%(count)d row", "%(count)d rows", row_count) % {"count": row_count}
    return _("%(problems)s in %(rows)s; nothing was imported.") % {
        "problems": problems,
        "rows": rows,
    }
