"""The program-metrics dashboard and its downloads. Views parse input, call a service, render."""

from __future__ import annotations

from urllib.parse import urlencode
from uuid import UUID

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from cpnav.accounts import access
from cpnav.accounts.models import User
from cpnav.audit.services import record
from cpnav.core.tabular import download
from cpnav.reports import privacy, services
from cpnav.reports.fiscal import DEFAULT_ZONE, fiscal_year
from cpnav.reports.forms import ReportFilterForm

FORMATS = ("csv", "xlsx")


def _member(request: HttpRequest) -> User:
    """The signed-in user, if they belong to an agency; 403 (audited) otherwise."""
    user = access.signed_in(request.user)
    assert user is not None  # login_required ran first
    if not services.may_view(user):
        raise access.forbidden(request, "reports")
    return user


def _form(request: HttpRequest, user: User) -> ReportFilterForm:
    wanted = request.GET.get("agency", "")
    if wanted:
        try:
            pk = UUID(wanted)
        except ValueError:
            raise access.not_found(request, "agency", wanted[:64]) from None
        if not services.report_agencies(user).filter(pk=pk).exists():
            raise access.not_found(request, "agency", pk)
    agencies = list(services.agency_choices(user))
    today = timezone.now().astimezone(services.reporting_zone()).date()
    data = {"fiscal_year": str(fiscal_year(today)), "period": "year", **request.GET.dict()}
    return ReportFilterForm(
        data, agencies=agencies, every_agency=services.is_ccht_member(user), today=today
    )


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    user = _member(request)
    form = _form(request, user)
    context: dict[str, object] = {"form": form, "sections": None}
    if form.is_valid():
        scope = services.scope_for(user, form.chosen_agency())
        period = form.chosen_period()
        threshold = services.threshold()
        context.update(
            sections=services.report(scope, services.window(period)),
            scope=scope,
            period_label=services.describe(period),
            query=urlencode({k: v for k, v in form.data.items() if v}),
            marker=privacy.marker(threshold),
            threshold=threshold,
            below=threshold - 1,
            zone=getattr(services.reporting_zone(), "key", DEFAULT_ZONE),
        )
    return render(request, "reports/dashboard.html", context)


@login_required
def download_table(
    request: HttpRequest, table: str, fmt: str
) -> StreamingHttpResponse | FileResponse | HttpResponse:
    if table not in services.SLUGS or fmt not in FORMATS:
        raise Http404("No such table.")
    user = _member(request)
    form = _form(request, user)
    if not form.is_valid():
        # The dashboard shows what is wrong with the filters.
        return redirect(f"{reverse('reports:dashboard')}?{request.GET.urlencode()}")
    scope = services.scope_for(user, form.chosen_agency())
    period = form.chosen_period()
    published = services.table(scope, services.window(period), table)
    record(
        "report.downloaded",
        request=request,
        agency_id=scope.agency.pk if scope.agency else None,
        object_type="report",
        object_id=table,
        details=services.download_details(scope, period, table, fmt),
    )
    return download(fmt, f"cpnav-{table}-{period.slug}", published.header, published.export_rows())
