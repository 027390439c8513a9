from __future__ import annotations

from datetime import UTC, datetime, time

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from cpnav.accounts.access import require_audit_access, visible_audit_events
from cpnav.audit.forms import AuditFilterForm
from cpnav.audit.services import record
from cpnav.core.paging import CappedPaginator

PAGE_SIZE = 50


@login_required
def log(request: HttpRequest) -> HttpResponse:
    """Browse the audit log; reading it is itself an audited event."""
    require_audit_access(request)
    form = AuditFilterForm(request.GET or None)
    events = visible_audit_events(request.user)
    filters: dict[str, str] = {}
    if form.is_valid():
        data = form.cleaned_data
        if data["action"]:
            events = events.filter(action__startswith=data["action"])
        if data["actor"]:
            events = events.filter(actor_label__iexact=data["actor"])
        if data["outcome"]:
            events = events.filter(outcome=data["outcome"])
        if data["object_id"]:
            events = events.filter(object_id=data["object_id"])
        if data["since"]:
            events = events.filter(at__gte=datetime.combine(data["since"], time.min, UTC))
        if data["until"]:
            events = events.filter(at__lte=datetime.combine(data["until"], time.max, UTC))
        filters = {key: str(value) for key, value in data.items() if value}
    page = CappedPaginator(events.order_by("-seq"), PAGE_SIZE).get_page(request.GET.get("page"))
    record("audit.view", request=request, details={"filters": filters, "page": page.number})
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request, "audit/log.html", {"form": form, "page": page, "query": query.urlencode()}
    )
