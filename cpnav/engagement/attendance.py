"""Reading an attendance list (CSV) for one session: all rows good, or nothing is saved.

Columns: `email` (required) and `attended` (optional: yes/no, true/false, 1/0;
yes when empty or absent). Video-meeting programs export such lists; any other
columns are ignored.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Final

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.utils.translation import gettext as _

from cpnav.core.csvtext import FORMULA_STARTS, Problem, decode

MAX_BYTES: Final = 1024 * 1024
MAX_ROWS: Final = 5000
YES: Final = frozenset({"yes", "y", "true", "1", "attended", "present"})
NO: Final = frozenset({"no", "n", "false", "0", "absent", "no-show"})


@dataclass(frozen=True)
class Parsed:
    rows: tuple[tuple[str, bool], ...]
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def parse(data: bytes, registered: frozenset[str]) -> Parsed:
    """Rows of (email, attended), checked against the emails registered for the session."""
    text, problem = decode(data, MAX_BYTES)
    if problem is not None:
        return Parsed((), (problem,))
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except (StopIteration, csv.Error):
        return Parsed((), (Problem(1, "", _("the file is empty; it needs a header row")),))
    names = [h.strip().lower() for h in header]
    if "email" not in names:
        return Parsed((), (Problem(1, "", _('the header row needs an "email" column')),))
    email_at = names.index("email")
    attended_at = names.index("attended") if "attended" in names else None
    rows: list[tuple[str, bool]] = []
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    try:
        for record in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in record):
                continue
            if len(rows) + len(problems) >= MAX_ROWS:
                problems.append(Problem(line, "", _("more than %(n)d rows; split the file")
                                        % {"n": MAX_ROWS}))  # fmt: skip
                break
            email = record[email_at].strip().lower() if email_at < len(record) else ""
            mark = record[attended_at].strip().lower() if (
                attended_at is not None and attended_at < len(record)) else ""  # fmt: skip
            found = _row(line, email, mark, registered, seen)
            if isinstance(found, Problem):
                problems.append(found)
            else:
                rows.append(found)
                seen[email] = line
    except csv.Error as error:
        problems.append(Problem(reader.line_num, "", _("not valid CSV: %(e)s") % {"e": error}))
    if not rows and not problems:
        problems.append(Problem(2, "", _("the file has a header but no rows")))
    return Parsed(tuple(rows), tuple(problems))


def _row(
    line: int, email: str, mark: str, registered: frozenset[str], seen: dict[str, int]
) -> tuple[str, bool] | Problem:
    if not email:
        return Problem(line, "email", _("empty"))
    if email.startswith(FORMULA_STARTS):
        return Problem(line, "email", _("starts with a formula character"))
    try:
        EmailValidator()(email)
    except ValidationError:
        return Problem(line, "email", _('"%(value)s" is not an email address') % {
            "value": email[:100]})  # fmt: skip
    if email in seen:
        return Problem(line, "email", _("%(email)s is already on line %(first)d") % {
            "email": email, "first": seen[email]})  # fmt: skip
    if email not in registered:
        return Problem(line, "email", _("%(email)s is not registered for this session") % {
            "email": email})  # fmt: skip
    if mark and mark not in YES | NO:
        return Problem(line, "attended", _('"%(value)s" is not yes or no') % {
            "value": mark[:40]})  # fmt: skip
    return email, mark not in NO
