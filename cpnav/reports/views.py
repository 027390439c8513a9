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
from cpnav.core.routers import replica_view
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
    chosen = None
    if wanted:
        try:
            pk = UUID(wanted)
        except ValueError:
            raise access.not_found(request, "agency", wanted[:64]) from None
        chosen = services.report_agencies(user).filter(pk=pk).first()
        if chosen is None:
            raise access.not_found(request, "agency", pk)
    today = timezone.now().astimezone(services.reporting_zone()).date()
    data = {"fiscal_year": str(fiscal_year(today)), "period": "year", **request.GET.dict()}
    return ReportFilterForm(
        data,
        agencies=services.agency_choices(user),
        every_agency=services.is_ccht_member(user),
        today=today,
        chosen=chosen,
        find=lambda text: services.find_agencies(user, text),
    )


def _url(query: dict[str, str]) -> str:
    return f"{reverse('reports:dashboard')}?{urlencode(query)}"


@login_required
@replica_view
def dashboard(request: HttpRequest) -> HttpResponse:
    user = _member(request)
    form = _form(request, user)
    context: dict[str, object] = {"form": form, "sections": None}
    if form.is_valid() and form.choose_one():
        assert form.matches is not None
        context.update(
            matches=[(agency, _url(form.query(agency))) for agency in form.matches.agencies],
            match_count=form.matches.count,
            more_matches=form.matches.count - len(form.matches.agencies),
            searched=form.cleaned_data["find"],
        )
    elif form.is_valid():
        if form.finder and "find" in request.GET:
            # Found by name or ORI: the address names the agency by id, as links do.
            return redirect(_url(form.query()))
        scope = services.scope_for(user, form.chosen_agency())
        period = form.chosen_period()
        threshold = services.threshold()
        found = services.figures(scope, period)
        zone = services.reporting_zone()
        context.update(
            sections=found.sections,
            freshness=services.freshness(found.computed_at),
            scope=scope,
            period_label=services.describe(period),
            query=urlencode(form.query()),
            marker=privacy.marker(threshold),
            threshold=threshold,
            below=threshold - 1,
            zone=getattr(zone, "key", DEFAULT_ZONE),
        )
    return render(request, "reports/dashboard.html", context)


@login_required
@replica_view
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
