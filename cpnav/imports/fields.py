"""What an import row may hold: one case, one person and optionally a grant.

The definitions here drive everything else - the mapping page's selects, the
automatic mapping from header names, the checks, the template file and the
column documentation on the page and in ``cpnav import --help`` - so the
documentation cannot drift from what the importer accepts.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal

from django.utils.translation import gettext_lazy as _

from cpnav.cases.models import Citizenship, CivilStatus, CriminalStatus, Form

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

Kind = Literal["text", "list", "choice", "choices", "date", "integer", "yes_no"]
Group = Literal["case", "person", "grant"]


@dataclass(frozen=True)
class Field:
    name: str
    label: StrOrPromise
    kind: Kind
    group: Group
    help: StrOrPromise
    example: str
    required: bool = False
    limit: int = 0  # characters; for lists, of the whole cell
    item_limit: int = 0  # characters of one list item
    choices: tuple[tuple[str, StrOrPromise], ...] = ()
    aliases: Mapping[str, str] | None = None  # extra words accepted for a choice
    synonyms: tuple[str, ...] = ()  # header names that map to this field


def _choices(
    text_choices: Iterable[tuple[str, StrOrPromise]],
) -> tuple[tuple[str, StrOrPromise], ...]:
    return tuple(text_choices)


FIELDS: Final = (
    Field(
        "case_number", _("Case number"), "text", "case", required=True, limit=60,
        help=_("Your agency's case number. Rows with the same case number become one case "
               "with several people; a number your agency already uses is refused."),
        example="2026-EX-0001",
        synonyms=("case number", "case no", "case #", "case", "case id", "case ref",
                  "case reference", "incident number", "report number"),
    ),
    Field(
        "trafficking_forms", _("Trafficking forms"), "choices", "case",
        choices=_choices(Form.choices),
        aliases={"labour": Form.LABOR, "both": "sex;labor"},
        help=_("sex, labor, or both separated by a semicolon."),
        example="labor",
        synonyms=("trafficking forms", "trafficking form", "trafficking type", "type of trafficking",
                  "form of trafficking", "forms", "trafficking"),
    ),
    Field(
        "criminal_status", _("Criminal case status"), "choice", "case",
        choices=_choices(CriminalStatus.choices),
        aliases={"investigation": CriminalStatus.INVESTIGATING},
        help=_("Empty means under investigation."),
        example="investigating",
        synonyms=("criminal status", "criminal case status", "case status", "prosecution status"),
    ),
    Field(
        "civil_status", _("Civil action status"), "choice", "case",
        choices=_choices(CivilStatus.choices),
        help=_("A civil action under 18 U.S.C. 1595. Empty means no civil action."),
        example="none",
        synonyms=("civil status", "civil action", "civil action status", "1595"),
    ),
    Field(
        "full_name", _("Full name"), "text", "person", required=True, limit=300,
        help=_("The person's full name. It is encrypted when stored."),
        example="Ana Example-Person",
        synonyms=("full name", "name", "victim name", "victim", "person name", "person",
                  "client name", "legal name"),
    ),
    Field(
        "aliases", _("Other names"), "list", "person", limit=1000, item_limit=300,
        help=_("Other names or spellings, separated by semicolons."),
        example="Ana E.; Anita",
        synonyms=("aliases", "alias", "aka", "also known as", "other names", "other name",
                  "nicknames"),
    ),
    Field(
        "date_of_birth", _("Date of birth"), "date", "person",
        help=_("YYYY-MM-DD or MM/DD/YYYY."),
        example="1994-07-15",
        synonyms=("date of birth", "dob", "birth date", "birthdate", "born", "birthday",
                  "d o b"),
    ),
    Field(
        "age_estimate", _("Estimated age"), "integer", "person",
        help=_("A whole number from 0 to 120, when the date of birth is not known."),
        example="",
        synonyms=("estimated age", "age estimate", "age", "approximate age", "approx age"),
    ),
    Field(
        "a_number", _("A-number"), "text", "person", limit=12,
        help=_("The letter A and 8 or 9 digits, for example A012345678."),
        example="A012345678",
        synonyms=("a number", "a-number", "a no", "a #", "anumber", "alien number",
                  "alien registration number", "uscis number"),
    ),
    Field(
        "citizenship", _("Citizenship"), "choice", "person",
        choices=_choices(Citizenship.choices),
        aliases={
            "non_citizen": Citizenship.NONCITIZEN, "not_a_citizen": Citizenship.NONCITIZEN,
            "citizen": Citizenship.US_CITIZEN, "lpr": Citizenship.LPR,
            "permanent_resident": Citizenship.LPR, "not_known": Citizenship.UNKNOWN,
        },
        help=_("Empty means not known yet."),
        example="noncitizen",
        synonyms=("citizenship", "citizenship status", "citizen status"),
    ),
    Field(
        "country", _("Country of citizenship"), "text", "person", limit=80,
        help=_("The country's name."),
        example="Guatemala",
        synonyms=("country of citizenship", "country", "nationality", "country of origin",
                  "citizenship country"),
    ),
    Field(
        "languages", _("Languages"), "list", "person", limit=200, item_limit=40,
        help=_("Separated by semicolons or commas."),
        example="Spanish; Kiche",
        synonyms=("languages", "language", "spoken languages", "primary language",
                  "preferred language"),
    ),
    Field(
        "interpreter_needed", _("Needs an interpreter"), "yes_no", "person",
        help=_("yes or no; empty means no."),
        example="yes",
        synonyms=("interpreter needed", "needs interpreter", "needs an interpreter",
                  "interpreter"),
    ),
    Field(
        "contact", _("Contact details"), "text", "person", limit=1000,
        help=_("How to reach the person. Encrypted when stored."),
        example="",
        synonyms=("contact details", "contact", "contact information", "contact info"),
    ),
    Field(
        "do_not_contact", _("Do not contact directly"), "yes_no", "person",
        help=_("yes or no; empty means no."),
        example="no",
        synonyms=("do not contact", "do not contact directly", "dnc", "no contact"),
    ),
    Field(
        "safe_contact", _("Safe contact instructions"), "text", "person", limit=1000,
        help=_("For example: call the advocate first. Encrypted when stored."),
        example="Call the victim advocate first",
        synonyms=("safe contact", "safe contact instructions", "safe contact notes"),
    ),
    Field(
        "grant_start", _("Continued Presence start"), "date", "grant",
        help=_("The first day of the granted term, from CCHT's notice. With the end date, "
               "it records the person's grant."),
        example="2026-01-05",
        synonyms=("grant start", "cp start", "cp start date", "grant start date",
                  "continued presence start", "term start", "granted on", "cp granted"),
    ),
    Field(
        "grant_end", _("Continued Presence end"), "date", "grant",
        help=_("The last day of the granted term. Required with a start date."),
        example="2028-01-04",
        synonyms=("grant end", "cp end", "cp end date", "grant end date", "continued presence end",
                  "term end", "cp expires", "expires on"),
    ),
    Field(
        "work_permit_received", _("Work permit received"), "date", "grant",
        help=_("When the employment authorization document (EAD) arrived. Only with a grant."),
        example="",
        synonyms=("work permit received", "ead received", "ead issued", "ead received on"),
    ),
    Field(
        "work_permit_expires", _("Work permit expires"), "date", "grant",
        help=_("When the EAD expires. Only with a grant."),
        example="",
        synonyms=("work permit expires", "ead expires", "ead expiration", "ead expiry",
                  "work permit expiration"),
    ),
)  # fmt: skip

BY_NAME: Final = {field.name: field for field in FIELDS}
NAMES: Final = tuple(field.name for field in FIELDS)
REQUIRED: Final = tuple(field.name for field in FIELDS if field.required)
CASE_FIELDS: Final = tuple(field.name for field in FIELDS if field.group == "case")
# The template's example row is synthetic; imported by mistake it would become a case.
EXAMPLE_CASE_NUMBER: Final = BY_NAME["case_number"].example


def header_key(name: str) -> str:
    """A header name reduced for matching: case, spaces and punctuation ignored."""
    return re.sub(r"[^0-9a-z#]", "", name.casefold()).replace("#", "number")


def suggest_mapping(
    columns: Iterable[str], chosen: Mapping[str, str] | None = None
) -> dict[str, str]:
    """{field: column} guessed from the header names; each column feeds one field at most.

    ``chosen`` are the user's own choices: kept as they are (an empty column
    means "not in the file"), and their columns are not suggested again. An
    exact field name (as in the template) wins over a synonym, and a field's
    earlier synonyms over its later ones.
    """
    by_key: dict[str, str] = {}
    for column in columns:
        by_key.setdefault(header_key(column), column)
    mapping: dict[str, str] = dict(chosen or {})
    used: set[str] = set(mapping.values())
    for rank in ("name", "synonyms"):
        for field in FIELDS:
            if field.name in mapping:
                continue
            candidates = [field.name, str(field.label)] if rank == "name" else list(field.synonyms)
            for candidate in candidates:
                found = by_key.get(header_key(candidate))
                if found is not None and found not in used:
                    mapping[field.name] = found
                    used.add(found)
                    break
    return {name: column for name, column in mapping.items() if column}


def template_csv() -> str:
    """The template file: a header row of field names and one synthetic example row."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(NAMES)
    writer.writerow([field.example for field in FIELDS])
    return out.getvalue()


def help_text() -> str:
    """The column documentation, as plain text for the command line."""
    lines = [
        "Columns (a header row, then one row per person; the template uses these names, and "
        "other names can be mapped with --map FIELD=COLUMN):"
    ]
    width = max(len(name) for name in NAMES)
    for field in FIELDS:
        need = "required" if field.required else "optional"
        lines.append(f"  {field.name:<{width}}  {field.label} ({need}). {field.help}")
        if field.choices:
            lines.append(f"  {'':<{width}}  One of: {', '.join(v for v, _l in field.choices)}.")
    lines += [
        "",
        "Dates: YYYY-MM-DD or MM/DD/YYYY only; day-first dates and two-digit years are refused.",
        'The file: CSV saved as UTF-8 (Excel: "CSV UTF-8"), or an Excel .xlsx workbook (first '
        "sheet). A cell may not start with =, +, - or @, and an Excel cell may not hold a "
        "formula: spreadsheet programs run such cells.",
        "A person already recorded at the agency (same A-number, or same name and date of "
        "birth), or twice in the file, is refused. Nothing is written unless every row is valid.",
    ]
    return "\n".join(lines)
