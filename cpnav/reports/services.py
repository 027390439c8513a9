"""The program-metrics report: who sees which agencies, and the report itself.

Access: a CCHT member (any role at a CCHT office) sees every agency; anyone
else sees only the agencies they belong to; a user with no membership sees
nothing. Numbers leave this module only as ``tables.Table`` s, whose counts
went through ``privacy`` - raw counts never reach a template or a file.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Final
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.cache import cache
from django.db.models import Q, QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from cpnav.accounts import access
from cpnav.accounts.models import Agency, User
from cpnav.reports import privacy
from cpnav.reports.fiscal import DEFAULT_ZONE, Period, fiscal_year
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
CACHE_SETTING: Final = "REPORT_CACHE_SECONDS"
# Raise when what is kept changes shape, so an older release's figures are not read.
CACHE_VERSION: Final = "v1"
# The by-agency table on the page: the agencies with the most requests (downloads: all).
PAGE_AGENCY_ROWS: Final = 25
# Up to this many agencies the filter is a list; beyond, a search by name or ORI.
AGENCY_LIST_LIMIT: Final = 50
# `cpnav reports refresh --fiscal-years N`: at most this many.
MAX_REFRESH_YEARS: Final = 10
# What `cpnav reports refresh` computes is kept this many times REPORT_CACHE_SECONDS.
REFRESH_KEEP_FACTOR: Final = 2
# Agencies listed when a search finds several.
AGENCY_MATCHES_SHOWN: Final = 10


# --- Who sees what ------------------------------------------------------------


def is_ccht_member(user: User | AnonymousUser) -> bool:
    return access.memberships(user).filter(agency__is_ccht=True).exists()


def report_agencies(user: User | AnonymousUser) -> QuerySet[Agency]:
    """The agencies whose numbers the user may see: all for CCHT, else their own."""
    if is_ccht_member(user):
        return Agency.objects.all()
    return access.user_agencies(user)


def agency_choices(user: User | AnonymousUser) -> list[Agency] | None:
    """The agencies offered as a list in the filter, or None when the user may report
    on too many to list (CCHT: every agency) and finds one by name or ORI instead."""
    if is_ccht_member(user):
        return None
    agencies = list(access.user_agencies(user).order_by("name", "pk")[: AGENCY_LIST_LIMIT + 1])
    return agencies if len(agencies) <= AGENCY_LIST_LIMIT else None


@dataclass(frozen=True)
class Matches:
    """The agencies a search found (at most ``AGENCY_MATCHES_SHOWN``) and how many matched."""

    agencies: list[Agency]
    count: int


def find_agencies(user: User | AnonymousUser, text: str) -> Matches:
    """Agencies the user may report on whose name contains ``text`` (any case) or whose
    ORI is ``text``. An exact name or ORI wins over names that merely contain it."""
    text = " ".join(text.split())
    if not text:
        return Matches([], 0)
    allowed = report_agencies(user).order_by("name", "pk")
    exact = list(allowed.filter(Q(name__iexact=text) | Q(ori__iexact=text))[:2])
    if len(exact) == 1:
        return Matches(exact, 1)
    found = allowed.filter(Q(name__icontains=text) | Q(ori__iexact=text))
    count = found.count()
    return Matches(list(found[:AGENCY_MATCHES_SHOWN]) if count else [], count)


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
        return national_scope()
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


def report(scope: Scope, window: Window, *, agency_rows: int | None = None) -> list[Section]:
    """Every section of the report; ``agency_rows`` cuts the by-agency table for a page."""
    t = threshold()
    agencies = scope.agencies
    requests = request_tables(agencies, window, t, agency_rows=agency_rows)
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


# --- The page's figures, kept a few minutes --------------------------------------


@dataclass(frozen=True)
class Figures:
    """The sections a page shows, and when they were computed."""

    sections: list[Section]
    computed_at: datetime


def cache_seconds() -> int:
    seconds = getattr(settings, CACHE_SETTING, 0)
    if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 0:
        raise ValueError(f"{CACHE_SETTING} must be a whole number 0 or more, got {seconds!r}")
    return seconds


def scope_key(scope: Scope) -> str:
    """Whose numbers: "all", or the agencies' ids (sorted, hashed to keep keys short)."""
    if scope.agencies is None:
        return "all"
    ids = sorted(str(pk) for pk in scope.agencies.order_by().values_list("pk", flat=True))
    return hashlib.sha256(",".join(ids).encode()).hexdigest()


def figures_key(scope: Scope, period: Period) -> str:
    """Everything the figures depend on but the moment: scope, period, threshold,
    reporting zone, language and the number of agencies a page lists."""
    parts = (
        CACHE_VERSION,
        scope_key(scope),
        period.start.isoformat(),
        period.end.isoformat(),
        str(threshold()),
        getattr(reporting_zone(), "key", DEFAULT_ZONE),
        translation.get_language() or settings.LANGUAGE_CODE,
        str(PAGE_AGENCY_ROWS),
    )
    return "cpnav:reports:" + ":".join(parts)


def figures(scope: Scope, period: Period) -> Figures:
    """The page's sections, from the shared cache when computed less than
    ``REPORT_CACHE_SECONDS`` ago for the same key (by a page or by ``cpnav
    reports refresh``), else computed now and kept."""
    seconds = cache_seconds()
    if seconds:
        try:
            kept = cache.get(figures_key(scope, period))
        except Exception:  # a value an older release left: recompute it
            kept = None
        if isinstance(kept, Figures):
            return kept
    return compute(scope, period)


def compute(scope: Scope, period: Period, *, keep: int | None = None) -> Figures:
    """The page's sections computed now, and kept in the shared cache for ``keep``
    seconds (default ``REPORT_CACHE_SECONDS``), replacing what was kept."""
    now = timezone.now()
    found = Figures(report(scope, window(period, now), agency_rows=PAGE_AGENCY_ROWS), now)
    seconds = cache_seconds() if keep is None else keep
    if seconds:
        cache.set(figures_key(scope, period), found, seconds)
    return found


def national_scope() -> Scope:
    return Scope(None, None, _("All agencies"))


def refresh_periods(today: date, years: int, *, quarters: bool = False) -> list[Period]:
    """The periods ``cpnav reports refresh`` computes: the ``years`` latest fiscal
    years (the current one first), and with ``quarters`` their quarters that
    have begun."""
    if isinstance(years, bool) or not isinstance(years, int) or not 1 <= years <= MAX_REFRESH_YEARS:
        raise ValueError(
            f"the number of fiscal years must be 1 to {MAX_REFRESH_YEARS}, got {years!r}"
        )
    current = fiscal_year(today)
    found: list[Period] = []
    for year in range(current, current - years, -1):
        found.append(Period.year(year))
        if quarters:
            found += [
                quarter
                for q in range(1, 5)
                if (quarter := Period.fiscal_quarter(year, q)).start <= today
            ]
    return found


def refresh(periods: Iterable[Period]) -> Iterator[tuple[Period, str, float]]:
    """Compute the national figures of each period in every language the site
    speaks and keep them, so that CCHT's dashboard is read from the cache instead
    of being computed while someone waits. Yields (period, language, seconds)
    as each is kept. Scheduled more often than ``REPORT_CACHE_SECONDS``, the
    page never computes national figures itself: what the job computes is kept
    twice that long, so a run that starts late or takes long under load (minutes
    on SQLite at national scale) does not leave the page to compute them. The
    page says when the figures it shows were computed."""
    if not cache_seconds():
        raise ValueError(
            f"{CACHE_SETTING} is 0: figures are not kept, so refreshing them would change nothing"
        )
    for period in periods:
        for language, _name in settings.LANGUAGES:
            started = time.perf_counter()
            with translation.override(language):
                compute(national_scope(), period, keep=REFRESH_KEEP_FACTOR * cache_seconds())
            yield period, language, time.perf_counter() - started


def freshness(computed_at: datetime) -> str:
    """When the figures were computed, and how long they are kept, in plain words."""
    local = computed_at.astimezone(reporting_zone())
    when = _("%(time)s %(zone)s on %(date)s") % {
        "time": f"{local:%H:%M}", "zone": local.tzname() or "", "date": f"{local:%Y-%m-%d}",
    }  # fmt: skip
    seconds = cache_seconds()
    if not seconds:
        return _("Figures as of %(when)s.") % {"when": when}
    if seconds % 60 == 0:
        every = ngettext("every minute", "every %(n)d minutes", seconds // 60)
        every %= {"n": seconds // 60}
    else:
        every = ngettext("every second", "every %(n)d seconds", seconds) % {"n": seconds}
    return _(
        "Figures as of %(when)s; they are recomputed %(every)s, so a change made since "
        "may not show yet."
    ) % {"when": when, "every": every}


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
