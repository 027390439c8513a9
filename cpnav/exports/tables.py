"""The parts every export is made of: columns, filters, datasets, and the
queries that keep rows to what the user may see and in constant memory.

Rows come from ``.values()`` querysets read with ``.iterator(chunk_size=CHUNK)``
and become cells one at a time; related names come from joins and counts from
subqueries, so there is no query per row.

Identifying fields (``Person.IDENTIFYING``) are fetched as ciphertext and
decrypted row by row, only for rows of cases the user may name people in
(``identifiable_cases``); every other row says "[redacted]".
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Final

from django.db import connection
from django.db.models import Count, Exists, F, Model, OuterRef, Q, QuerySet, Subquery, TextField
from django.db.models.functions import Cast, Coalesce
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy

from cpnav.accounts import access
from cpnav.accounts.models import Agency, Role, User
from cpnav.cases.models import Case, Person
from cpnav.core.crypto import EncryptedJSONField, EncryptedTextField

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

CHUNK = 2000  # rows per database fetch
REDACTED: Final = access.REDACTED

Row = Mapping[str, Any]


@dataclass(frozen=True)
class Column:
    """A header and the cell of each row. With ``choices``, ``value`` gives a code (or a
    list of codes) and the cell shows its label."""

    header: StrOrPromise
    value: Callable[[Row], Any]
    choices: Mapping[str, StrOrPromise] | None = None

    def cell(self) -> Callable[[Row], Any]:
        """The cell function for one export: labels translated once, in the current language."""
        if self.choices is None:
            return self.value
        labels = {code: str(label) for code, label in self.choices.items()}
        value = self.value

        def cell(row: Row) -> Any:
            code = value(row)
            if code is None:
                return None
            if isinstance(code, list):
                return "; ".join(str(labels.get(item, item)) for item in code)
            return labels.get(code, code)

        return cell


@dataclass(frozen=True)
class Filters:
    agency: Agency | None = None
    date_field: str = ""  # "created", "updated" or "due"; "" = the dataset's first
    date_from: date | None = None
    date_to: date | None = None
    status: str = ""

    def details(self) -> dict[str, Any]:
        return {
            "agency": str(self.agency.pk) if self.agency else None,
            "date_field": self.date_field or None,
            "date_from": self.date_from.isoformat() if self.date_from else None,
            "date_to": self.date_to.isoformat() if self.date_to else None,
            "status": self.status or None,
        }


RowSource = Callable[[User, Filters, bool], Iterator[Row]]


@dataclass(frozen=True)
class Dataset:
    name: str
    label: StrOrPromise
    description: StrOrPromise
    columns: tuple[Column, ...]
    statuses: tuple[tuple[str, StrOrPromise], ...]
    date_fields: tuple[str, ...]
    rows: RowSource
    person: bool = True  # rows concern one person: identifying columns may be added

    def date_field(self, chosen: str) -> str:
        return chosen or self.date_fields[0]


DATE_FIELDS: Final[dict[str, StrOrPromise]] = {
    "created": gettext_lazy("Created"),
    "updated": gettext_lazy("Last updated"),
    "due": gettext_lazy("Due"),
}

# --- Who may see identifying fields ------------------------------------------------


def identifiable_cases(user: User) -> QuerySet[Case]:
    """Cases whose people ``user`` may export by name: ``access.can_edit_case`` as one query.

    The case team and the owning agency's supervisors; never a share, a sponsor or
    CCHT (they see the request, not the person's identity, in a file).
    """
    return Case.objects.filter(
        Q(members__user=user) | Q(agency__in=access.agencies_where(user, Role.SUPERVISOR))
    )


def may_export_identifying(user: User) -> bool:
    """Whether to offer the option at all: the user may name someone in some case."""
    return identifiable_cases(user).exists()


# --- Cell helpers ------------------------------------------------------------------


def text(key: str) -> Callable[[Row], Any]:
    return lambda row: str(row[key]) if row[key] is not None else None


def reference(prefix: str, key: str) -> Callable[[Row], str]:
    return lambda row: f"{prefix}-{str(row[key])[:8].upper()}"


def field(key: str) -> Callable[[Row], Any]:
    getter: Callable[[Row], Any] = itemgetter(key)
    return getter


def person_ref(key: str = "person_id") -> Column:
    return Column(gettext_lazy("Person reference"), text(key))


def created(key: str = "created_at") -> Column:
    return Column(gettext_lazy("Created (UTC)"), field(key))


def updated(key: str = "updated_at") -> Column:
    return Column(gettext_lazy("Last updated (UTC)"), field(key))


def _person_field(name: str) -> EncryptedTextField | EncryptedJSONField:
    found = Person._meta.get_field(name)
    assert isinstance(found, EncryptedTextField | EncryptedJSONField)
    return found


def _identifying_value(name: str) -> Callable[[Row], Any]:
    person_field = _person_field(name)
    key = f"id_{name}"

    def value(row: Row) -> Any:
        if not row["may_identify"]:
            return REDACTED
        token = row[key]
        if token is None:
            return None
        # The field's own converter: the same context and key rules as the model.
        plain = person_field.from_db_value(token, None, connection)
        if isinstance(plain, list):
            return "; ".join(str(item) for item in plain)
        return plain

    return value


IDENTIFYING_COLUMNS: Final = tuple(
    Column(capfirst(_person_field(name).verbose_name), _identifying_value(name))
    for name in Person.IDENTIFYING
)


def with_identity(
    rows: QuerySet[Any, Any], user: User, person: str, identifying: bool
) -> tuple[QuerySet[Any, Any], list[str]]:
    """Annotate ``may_identify`` and the raw ciphertext of each identifying field.

    Cast to text keeps the field's decrypting converter out of the query, so
    nothing is decrypted for a row that will show "[redacted]".
    """
    if not identifying:
        return rows, []
    case = f"{person}__case_id" if person else "case_id"
    prefix = f"{person}__" if person else ""
    annotations: dict[str, Any] = {
        "may_identify": Exists(identifiable_cases(user).filter(pk=OuterRef(case))),
        **{f"id_{n}": Cast(F(f"{prefix}{n}"), TextField()) for n in Person.IDENTIFYING},
    }
    return rows.annotate(**annotations), list(annotations)


def narrow(
    rows: QuerySet[Any, Any],
    filters: Filters,
    *,
    agency: str,
    status: str | None,
    dates: Mapping[str, str],
) -> QuerySet[Any, Any]:
    if filters.agency is not None:
        rows = rows.filter(**{agency: filters.agency})
    if filters.status and status is not None:
        rows = rows.filter(**{status: filters.status})
    column = dates.get(filters.date_field or next(iter(dates)))
    if column is not None:
        # Calendar days in settings.TIME_ZONE (UTC), like the dates in the file.
        if filters.date_from is not None:
            rows = rows.filter(**{f"{column}__date__gte": filters.date_from})
        if filters.date_to is not None:
            rows = rows.filter(**{f"{column}__date__lte": filters.date_to})
    return rows


def stream(rows: QuerySet[Any, Any], fields: Sequence[str]) -> Iterator[Row]:
    return rows.values(*fields).iterator(chunk_size=CHUNK)


def count(model: type[Model], to: str, among: QuerySet[Any, Any] | None = None) -> Coalesce:
    """How many ``model`` rows point ``to`` the row; only those ``among`` when given (the
    ones the user may see: a count must not reveal the others)."""
    rows = model._default_manager.all() if among is None else among
    counted = (
        rows.filter(**{to: OuterRef("pk")})
        .order_by()
        .values(to)
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counted), 0)
