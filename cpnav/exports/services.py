"""Exports: cases, requests, grants, deadlines and referrals as CSV or XLSX.

The datasets are defined in ``datasets`` and built from the parts in
``tables``; this module runs and audits one export.

Need to know: every dataset starts from an access helper (``visible_cases``,
``visible_requests``, ``visible_grants``, ``visible_referrals``), so a file never
holds a row its user could not open in the app. A share never reaches an
export: shares open one person's page, not a case, and none of the helpers
follow them.

Redaction: by default no identifying field of a person (``Person.IDENTIFYING``:
names, other names, date of birth, A-number, contact, safe contact) leaves the
system; rows carry the person's opaque reference (their record's UUID)
instead. A user who may see those fields - a case team member or a supervisor
of the owning agency (``access.can_edit_case``) - may ask for them; they are
then filled only in rows of such cases and read "[redacted]" in every other
row. Ciphertext is decrypted row by row, and only for rows that will show it.

Constant memory: rows come from ``.values()`` querysets read with
``.iterator(chunk_size=CHUNK)`` and are turned into cells one at a time;
related names come from joins and counts from subqueries, so there is no
query per row (the deadlines dataset is the exception, see
``datasets._deadline_rows``).

Audit: the row count is known only once the last row has been written, which
for a streamed CSV is after the view has returned. So ``start`` writes
``export.<dataset>`` (dataset, format, filters, identifying fields or not)
before the first byte leaves, and the row generator writes ``export.completed``
with the count when it finishes - or ``export.aborted`` with the rows written so
far when it is closed early (the download was cancelled) or fails. Both events
carry the same export id. An export that never completes therefore shows in
the log as a start without a completion, never as nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any, Final

from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from cpnav.accounts import access
from cpnav.accounts.models import User
from cpnav.audit.models import Outcome
from cpnav.audit.services import record
from cpnav.exports.datasets import DATASETS
from cpnav.exports.tables import (
    IDENTIFYING_COLUMNS,
    Column,
    Dataset,
    Filters,
    may_export_identifying,
)

__all__ = [
    "DATASETS",
    "FORMATS",
    "IDENTIFYING_COLUMNS",
    "Column",
    "Dataset",
    "Export",
    "ExportError",
    "Filters",
    "may_export_identifying",
    "start",
]

FORMATS: Final = ("csv", "xlsx")


class ExportError(ValueError):
    """A refusal to show the user (bad filter, identifying fields not allowed)."""


# --- Running an export --------------------------------------------------------------------


@dataclass
class Export:
    """One audited export. ``rows()`` may be consumed once; its end writes the count."""

    id: uuid.UUID
    user: User
    dataset: Dataset
    fmt: str
    filters: Filters
    identifying: bool
    request: HttpRequest | None = None
    agency_id: uuid.UUID | None = None
    count: int = 0
    started: bool = field(default=False, repr=False)

    @property
    def columns(self) -> tuple[Column, ...]:
        extra = IDENTIFYING_COLUMNS if self.identifying and self.dataset.person else ()
        return self.dataset.columns + extra

    def header(self) -> list[str]:
        return [str(column.header) for column in self.columns]

    @property
    def filename(self) -> str:
        suffix = "-identifying" if self.identifying else ""
        return f"cpnav-{self.dataset.name}-{timezone.localdate().isoformat()}{suffix}"

    def rows(self) -> Generator[list[Any], None, None]:
        if self.started:
            raise RuntimeError("an export's rows can be read once")
        self.started = True
        return self._rows()

    def _rows(self) -> Generator[list[Any], None, None]:
        cells = [column.cell() for column in self.columns]
        finished = False
        try:
            for row in self.dataset.rows(self.user, self.filters, self.identifying):
                self.count += 1
                yield [cell(row) for cell in cells]
            finished = True
        finally:
            # Also on GeneratorExit (a cancelled download) and on errors: the
            # start event must never stand alone without saying what happened.
            self._record("export.completed" if finished else "export.aborted", finished)

    def _record(self, action: str, finished: bool) -> None:
        record(
            action,
            request=self.request,
            actor=self.user,
            agency_id=self.agency_id,
            object_type="export",
            object_id=self.id,
            outcome=Outcome.SUCCESS if finished else Outcome.FAILURE,
            details={
                "dataset": self.dataset.name,
                "format": self.fmt,
                "identifying": self.identifying,
                "rows": self.count,
            },
        )


def _refuse(user: User, request: HttpRequest | None, what: str, message: str) -> ExportError:
    record(
        "access.denied",
        request=request,
        actor=user,
        object_type="export",
        outcome=Outcome.DENIED,
        details={"refused": what},
    )
    return ExportError(message)


def start(
    user: User,
    dataset: str,
    fmt: str,
    filters: Filters | None = None,
    *,
    identifying: bool = False,
    request: HttpRequest | None = None,
) -> Export:
    """Check the choices, write the ``export.<dataset>`` event and return the export to stream."""
    chosen = DATASETS.get(dataset)
    if chosen is None:
        raise ExportError(_("There is no such export."))
    if fmt not in FORMATS:
        raise ExportError(_("Choose CSV or XLSX."))
    filters = filters or Filters()
    if (
        filters.agency is not None
        and not access.user_agencies(user).filter(pk=filters.agency.pk).exists()
    ):
        raise _refuse(user, request, "agency", _("Choose one of your own agencies."))
    if filters.status and filters.status not in dict(chosen.statuses):
        raise ExportError(_("That status does not apply to this export."))
    if filters.date_field and filters.date_field not in chosen.date_fields:
        raise ExportError(_("Those dates do not apply to this export."))
    if filters.date_from and filters.date_to and filters.date_to < filters.date_from:
        raise ExportError(_("The end date is before the start date."))
    identifying = identifying and chosen.person
    if identifying and not may_export_identifying(user):
        raise _refuse(
            user,
            request,
            "identifying fields",
            _(
                "Only a case team member or a supervisor of the agency can export identifying fields."
            ),
        )
    export = Export(
        id=uuid.uuid4(),
        user=user,
        dataset=chosen,
        fmt=fmt,
        filters=filters,
        identifying=identifying,
        request=request,
        agency_id=_audit_agency(user, filters),
    )
    record(
        f"export.{chosen.name}",
        request=request,
        actor=user,
        agency_id=export.agency_id,
        object_type="export",
        object_id=export.id,
        details={
            "dataset": chosen.name,
            "format": fmt,
            "filters": {**filters.details(), "date_field": chosen.date_field(filters.date_field)},
            "identifying": identifying,
        },
    )
    return export


def _audit_agency(user: User, filters: Filters) -> uuid.UUID | None:
    """The agency whose auditors should see the event: the filter's, else the user's only one."""
    if filters.agency is not None:
        return filters.agency.pk
    agencies = list(access.user_agencies(user).values_list("pk", flat=True)[:2])
    return agencies[0] if len(agencies) == 1 else None
