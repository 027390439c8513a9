"""The program-metrics report: who sees which agencies, and the report itself.

Access: a CCHT member (any role at a CCHT office) sees every agency; anyone
else sees only the agencies they belong to; a user with no membership sees
nothing. Numbers leave this module only as ``tables.Table`` s, whose counts
went through ``privacy`` - raw counts never reach a template or a file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from cpnav.accounts import access
from cpnav.accounts.models import Agency, User
from cpnav.cases.models import Case
from cpnav.reports import privacy
from cpnav.reports.fiscal import DEFAULT_ZONE, Period
from cpnav.reports.metrics import Agencies, Window
from cpnav.reports.tables import (
    REQUEST_TABLES,
    Section,
    Table,
    engagement_table,
    hhs_table,
    renewals_table,
    request_tables,
    timing_table,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

THRESHOLD_SETTING: Final = "REPORT_SUPPRESS_BELOW"
ZONE_SETTING: Final = "REPORT_TIME_ZONE"


# --- Who sees what ------------------------------------------------------------


def is_ccht_member(user: User | AnonymousUser) -> bool:
    return access.memberships(user).filter(agency__is_ccht=True).exists()


def report_agencies(user: User | AnonymousUser) -> QuerySet[Agency]:
    """The agencies whose numbers the user may see: all for CCHT, else their own."""
    if is_ccht_member(user):
        return Agency.objects.all()
    return access.user_agencies(user)


def agency_choices(user: User | AnonymousUser) -> QuerySet[Agency]:
    """The agencies offered in the filter: CCHT's list is those with a case (the rest
    would show zeros), so it stays short enough to choose from."""
    if is_ccht_member(user):
        return Agency.objects.filter(Exists(Case.objects.filter(agency=OuterRef("pk"))))
    return access.user_agencies(user)


def may_view(user: User | AnonymousUser) -> bool:
    return access.memberships(user).exists()


@dataclass(frozen=True)
class Scope:
    """Whose numbers a report counts. ``agencies=None`` means every agency."""

    agencies: QuerySet[Agency] | None
    agency: Agency | None
    label: str


def scope_for(user: User, agency: Agency | None) -> Scope:
    """The scope for one agency the user may see, or for all of them.

    The caller has checked ``agency`` is in ``report_agencies(user)``; this
    checks again, because a scope is what keeps other agencies' numbers out.
    """
    allowed = report_agencies(user)
    if agency is not None:
        if not allowed.filter(pk=agency.pk).exists():
            raise PermissionError("agency outside the user's report scope")
        return Scope(Agency.objects.filter(pk=agency.pk), agency, agency.name)
    if is_ccht_member(user):
        return Scope(None, None, _("All agencies"))
    return Scope(access.user_agencies(user), None, _("All my agencies"))


# --- Settings -------------------------------------------------------------------


def threshold() -> int:
    return privacy.check_threshold(getattr(settings, THRESHOLD_SETTING, privacy.DEFAULT_THRESHOLD))


def reporting_zone() -> ZoneInfo:
    return ZoneInfo(getattr(settings, ZONE_SETTING, DEFAULT_ZONE))


def window(period: Period, now: datetime | None = None) -> Window:
    return Window(period=period, zone=reporting_zone(), now=now or timezone.now())


# --- The report ---------------------------------------------------------------

SINGLE: Final[dict[str, Callable[[Agencies, Window, int], Table]]] = {
    "timing": timing_table,
    "renewals": renewals_table,
    "hhs-notice": hhs_table,
    "engagement": engagement_table,
}
SLUGS: Final = frozenset({"requests-outcome", *(slug for slug, _d in REQUEST_TABLES), *SINGLE})


def table(scope: Scope, window: Window, slug: str) -> Table:
    """One table for a download (the request tables are protected as a family)."""
    t = threshold()
    if slug in SINGLE:
        return SINGLE[slug](scope.agencies, window, t)
    if slug in SLUGS:
        return request_tables(scope.agencies, window, t)[slug]
    raise KeyError(slug)


def report(scope: Scope, window: Window) -> list[Section]:
    t = threshold()
    agencies = scope.agencies
    requests = request_tables(agencies, window, t)
    return [
        Section(
            _("Requests submitted to CCHT"),
            _("Requests submitted in the period, by their outcome today."),
            [requests["requests-outcome"], *(requests[slug] for slug, _d in REQUEST_TABLES)],
        ),
        Section(_("Time to submission and decision"), "", [timing_table(agencies, window, t)]),
        Section(_("Renewals"), "", [renewals_table(agencies, window, t)]),
        Section(_("24-hour HHS notice"), "", [hhs_table(agencies, window, t)]),
        Section(_("Engagement"), "", [engagement_table(agencies, window, t)]),
    ]


def describe(period: Period) -> str:
    dates = _("%(start)s to %(end)s") % {
        "start": f"{period.start:%Y-%m-%d}",
        "end": f"{period.end:%Y-%m-%d}",
    }
    if period.fiscal_year is not None and period.quarter is not None:
        return _("FY%(year)d, quarter %(quarter)d (%(dates)s)") % {
            "year": period.fiscal_year, "quarter": period.quarter, "dates": dates,
        }  # fmt: skip
    if period.fiscal_year is not None:
        return _("FY%(year)d (%(dates)s)") % {"year": period.fiscal_year, "dates": dates}
    return dates


def download_details(scope: Scope, period: Period, slug: str, fmt: str) -> dict[str, Any]:
    """What the audit trail keeps about a download: never a number from it."""
    return {
        "table": slug,
        "format": fmt,
        "period": [period.start.isoformat(), period.end.isoformat()],
        "agency": str(scope.agency.pk) if scope.agency else "all",
        "threshold": threshold(),
    }
