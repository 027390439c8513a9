"""Program metrics over the API: the dashboard's tables, de-identified the same way.

Every number comes from cpnav.reports after small-count and complementary
suppression: a suppressed cell is the marker string (e.g. "<5"), never the count.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field, model_validator

from cpnav.accounts import access
from cpnav.api.cases import TokenAuth, _user
from cpnav.api.errors import ErrorOut
from cpnav.audit.services import record
from cpnav.reports import privacy, services
from cpnav.reports.fiscal import QUARTERS, Period

router = Router(tags=["metrics"], auth=TokenAuth())
ERRORS: dict[int, Any] = {code: ErrorOut for code in (401, 403, 404, 422, 429)}


class MetricsQuery(Schema):
    fiscal_year: int | None = Field(
        None,
        ge=2001,
        le=2199,
        description="Federal fiscal year (FY2026: 1 Oct 2025 - 30 Sep 2026).",
    )
    quarter: int | None = Field(None, ge=1, le=4, description="Fiscal quarter, with fiscal_year.")
    start: date | None = Field(None, description="Custom period: first day (with end).")
    end: date | None = Field(None, description="Custom period: last day (with start).")
    agency: UUID | None = Field(None, description="One agency; all you may see when absent.")

    @model_validator(mode="after")
    def one_period(self) -> MetricsQuery:
        custom = self.start is not None or self.end is not None
        if custom and self.fiscal_year is not None:
            raise ValueError("give either fiscal_year (and quarter) or start and end, not both")
        if custom and (self.start is None or self.end is None):
            raise ValueError("a custom period needs both start and end")
        if self.start and self.end and self.end < self.start:
            raise ValueError("end is before start")
        if self.quarter is not None and self.fiscal_year is None:
            raise ValueError("a quarter needs its fiscal_year")
        if not custom and self.fiscal_year is None:
            raise ValueError("give fiscal_year (and optionally quarter), or start and end")
        return self

    def period(self) -> Period:
        if self.start is not None and self.end is not None:
            return Period.custom(self.start, self.end)
        assert self.fiscal_year is not None
        if self.quarter is not None and self.quarter in QUARTERS:
            return Period.fiscal_quarter(self.fiscal_year, self.quarter)
        return Period.year(self.fiscal_year)


class RowOut(Schema):
    label: str
    cells: list[int | float | str]
    total: bool


class TableOut(Schema):
    slug: str
    title: str
    row_header: str
    columns: list[str]
    rows: list[RowOut]
    notes: list[str]


class SectionOut(Schema):
    title: str
    tables: list[TableOut]


class MetricsOut(Schema):
    period: str
    start: date
    end: date
    scope: str
    suppressed_marker: str = Field(description="What a suppressed cell holds instead of a count.")
    threshold: int = Field(description="Counts from 1 to threshold - 1 are suppressed.")
    sections: list[SectionOut]


@router.get(
    "/metrics",
    response={200: MetricsOut, **ERRORS},
    summary="Program metrics for a period, de-identified (small counts suppressed)",
    description=(
        "The dashboard's tables for a federal fiscal year, a fiscal quarter or a custom "
        "period. Agency users get their agencies; CCHT members get every agency. A count "
        "from 1 to threshold - 1 is replaced by the marker, and enough other cells with it "
        "that no total reveals it. Each call is audited."
    ),
)
def metrics(request: HttpRequest, query: Query[MetricsQuery]) -> Any:
    user = _user(request)
    if not services.may_view(user):
        raise access.forbidden(request, "program metrics")
    agency = None
    if query.agency is not None:
        agency = services.report_agencies(user).filter(pk=query.agency).first()
        if agency is None:
            raise access.not_found(request, "agency", query.agency)
    period = query.period()
    scope = services.scope_for(user, agency)
    sections = services.report(scope, services.window(period))
    threshold = services.threshold()
    record(
        "report.api",
        request=request,
        agency_id=agency.pk if agency else None,
        object_type="report",
        object_id="metrics",
        details={"period": period.slug, "agency": str(agency.pk) if agency else "all"},
    )
    return {
        "period": services.describe(period),
        "start": period.start,
        "end": period.end,
        "scope": str(scope.label),
        "suppressed_marker": privacy.marker(threshold),
        "threshold": threshold,
        "sections": [
            {
                "title": str(section.title),
                "tables": [
                    {
                        "slug": table.slug,
                        "title": str(table.title),
                        "row_header": str(table.row_header),
                        "columns": [str(c) for c in table.columns],
                        "rows": [
                            {"label": str(r.label), "cells": list(r.cells), "total": r.total}
                            for r in table.rows
                        ],
                        "notes": [str(n) for n in table.notes],
                    }
                    for table in section.tables
                ],
            }
            for section in sections
        ],
    }
