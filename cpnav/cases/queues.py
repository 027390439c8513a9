"""Work queues: awaiting my approval, awaiting my endorsement, and CCHT's inbox."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db.models import F, QuerySet
from django.db.models.expressions import OrderBy
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from cpnav.accounts import access
from cpnav.accounts.models import Level, Role
from cpnav.cases.models import OPEN_AT_CCHT_SQL, CPRequest, Form, Status
from cpnav.core.paging import CappedPaginator
from cpnav.core.routers import replica_view

PAGE_SIZE = 25
SORTS: dict[str, str | OrderBy] = {
    "waiting": "waiting_since",
    "-waiting": F("waiting_since").desc(),
    "updated": "-updated_at",
}


def _page(request: HttpRequest, queryset: QuerySet[CPRequest], title: str, waiting_field: str,
          filters: bool = False) -> HttpResponse:  # fmt: skip
    queryset = queryset.annotate(waiting_since=F(waiting_field))
    sort = request.GET.get("sort", "waiting")
    order = SORTS.get(sort, "waiting_since")
    page = CappedPaginator(queryset.order_by(order, "pk"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    now = timezone.now()
    rows = [
        {"cp": cp, "days": (now - cp.waiting_since).days if cp.waiting_since else 0} for cp in page
    ]
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "cases/queue.html",
        {
            "title": title, "rows": rows, "page": page, "sort": sort, "filters": filters,
            "query": query.urlencode(), "sla_days": settings.CCHT_SLA_DAYS,
            "levels": Level.choices, "forms": Form.choices, "params": request.GET,
        },
    )  # fmt: skip


@login_required
@replica_view
def approval(request: HttpRequest) -> HttpResponse:
    queryset = access.visible_requests(request.user).filter(
        status=Status.AWAITING_SUPERVISOR,
        case__agency__in=access.agencies_where(request.user, Role.SUPERVISOR),
    )
    return _page(request, queryset, "approval", "updated_at")


@login_required
@replica_view
def endorsement(request: HttpRequest) -> HttpResponse:
    queryset = access.visible_requests(request.user).filter(
        status=Status.AWAITING_SPONSOR,
        sponsor_office__in=access.agencies_where(request.user, Role.FEDERAL_SPONSOR),
    )
    return _page(request, queryset, "endorsement", "routed_to_sponsor_at")


@login_required
@replica_view
def ccht_inbox(request: HttpRequest) -> HttpResponse:
    if Role.CCHT_REVIEWER not in access.all_roles(request.user):
        raise access.forbidden(request, "CCHT inbox")
    # The open requests in the words of the partial index request_ccht_open:
    # SQLite uses a partial index only when the query repeats its condition with
    # the same constants - as bound parameters it sorted every open request.
    queryset = access.visible_requests(request.user).extra(where=[OPEN_AT_CCHT_SQL])  # noqa: S610  (a constant)
    level = request.GET.get("level", "")
    if level in Level.values:
        queryset = queryset.filter(case__agency__level=level)
    form = request.GET.get("form", "")
    if form in Form.values:
        # The forms are a JSON list of fixed words; a text match on the quoted
        # word works the same on SQLite and PostgreSQL.
        queryset = queryset.filter(case__trafficking_forms__icontains=f'"{form}"')
    age = request.GET.get("age", "")
    if age in {"minor", "adult", "unknown"}:
        queryset = queryset.filter(age_group=age)
    days = request.GET.get("min_days", "")
    # isdecimal, not isdigit ("²" is a digit int() refuses); five digits keep the date real.
    if days.isdecimal() and len(days) <= 5:
        queryset = queryset.filter(submitted_at__lte=timezone.now() - timedelta(days=int(days)))
    return _page(request, queryset, "ccht", "submitted_at", filters=True)
