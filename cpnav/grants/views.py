from __future__ import annotations

from datetime import date
from urllib.parse import urlencode
from uuid import UUID

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from cpnav.accounts import access
from cpnav.accounts.models import User
from cpnav.audit.services import record
from cpnav.cases.models import Person
from cpnav.core.routers import replica_view
from cpnav.grants import reminders, services
from cpnav.grants.forms import EndForm, TrackingForm
from cpnav.grants.models import Grant

TRACKED = [name for name in TrackingForm.base_fields if name != "version"]


def _user(request: HttpRequest) -> User:
    user = access.signed_in(request.user)
    assert user is not None
    return user


def _place(form: forms.Form, error: services.GrantError) -> None:
    """The service's refusal on the fields it names, or on the whole form."""
    for name, message in (error.fields or {"": str(error)}).items():
        form.add_error(name if name in form.fields else None, message)


PAGE_SIZE = 50


@login_required
@replica_view
def due_soon(request: HttpRequest) -> HttpResponse:
    """The open deadlines due within a window (overdue ones first) of the user's case teams,
    or of every case at the user's own agencies that they may see."""
    user = _user(request)
    scope = "all" if request.GET.get("scope") == "all" else "mine"
    show = "all" if request.GET.get("show") == "all" else "open"
    within = services.window_days(request.GET.get("within"))
    if scope == "mine":
        grants = services.visible_grants(user).filter(person__case__members__user=user)
        people = Person.objects.filter(
            case__in=access.visible_cases(user), case__members__user=user
        )
    else:
        cases = services.agency_cases(user)
        grants = Grant.objects.filter(person__case__in=cases)
        people = Person.objects.filter(case__in=cases)
    found = services.due_within(
        grants.distinct(), people.distinct(), within, include_done=show == "all"
    )
    page = Paginator(found.rows, PAGE_SIZE).get_page(request.GET.get("page"))
    query = urlencode({"scope": scope, "within": within, "show": show})
    return render(
        request,
        "grants/due_soon.html",
        {"page": page, "overdue": found.overdue, "scope": scope, "show": show, "within": within,
         "windows": services.WINDOWS, "query": query},
    )  # fmt: skip


@login_required
def grant_detail(request: HttpRequest, grant_id: UUID) -> HttpResponse:
    grant = services.get_grant(request, grant_id)
    user = _user(request)
    can_edit = access.can_edit_case(user, grant.person.case)
    tracking = TrackingForm(
        request.POST if request.POST.get("form") == "tracking" else None,
        initial={"version": grant.version, **{name: getattr(grant, name) for name in TRACKED}},
    )
    ending = EndForm(request.POST if request.POST.get("form") == "end" else None)
    if request.method == "POST":
        if not can_edit:
            raise access.forbidden(request, "grant")
        if request.POST.get("form") == "tracking" and tracking.is_valid():
            try:
                services.update_tracking(
                    request, grant, {n: tracking.cleaned_data[n] for n in TRACKED},
                    version=tracking.cleaned_data["version"],
                )  # fmt: skip
            except services.StaleGrant as stale:
                # Keep what was typed; the next save goes against the version now stored.
                tracking.data = {**request.POST.dict(), "version": str(stale.current)}
                tracking.add_error(None, _("Someone saved this grant since you opened it. Check "
                                           "the dates above against the saved ones and save "
                                           "again."))  # fmt: skip
            except services.GrantError as error:
                _place(tracking, error)
            else:
                messages.success(request, _("Saved."))
                return redirect("grants:grant", grant_id=grant.pk)
        if request.POST.get("form") == "end" and ending.is_valid():
            try:
                services.record_end(request, user, grant, ending.cleaned_data["kind"],
                                    ending.cleaned_data["effective_on"], ending.cleaned_data["reason"])  # fmt: skip
            except services.GrantError as error:
                _place(ending, error)
            else:
                messages.warning(
                    request,
                    _("Recorded. Make sure the T visa referral and services are in place before "
                      "protection ends. CP must never be used as leverage."),
                )  # fmt: skip
                return redirect("grants:grant", grant_id=grant.pk)
    today = date.today()
    return render(
        request,
        "grants/grant_detail.html",
        {
            "grant": grant,
            "reference": services.reference(grant),
            "status": grant.status(today),
            "terms": grant.terms.select_related("request"),
            "ends": grant.ends.select_related("recorded_by"),
            "rows": services.deadlines(services.visible_grants(user).filter(pk=grant.pk)),
            "tracking": tracking,
            "ending": ending,
            "can_edit": can_edit,
        },
    )


@csrf_exempt  # calendar programs fetch it with no session and no cookie; the token is the key
def calendar_feed(request: HttpRequest, token: str) -> HttpResponse:
    user = reminders.feed_user(token)
    if user is None:
        raise Http404("No such calendar.")
    response = HttpResponse(
        reminders.user_calendar(user), content_type="text/calendar; charset=utf-8"
    )
    response["Cache-Control"] = "no-store"
    return response


@require_POST
@login_required
def calendar_new(request: HttpRequest) -> HttpResponse:
    token = reminders.new_feed(_user(request))
    record("calendar_feed.created", request=request)
    url = request.build_absolute_uri(reverse("grants:calendar_feed", args=[token]))
    messages.success(
        request,
        _("Your private calendar address (shown once; making a new one cancels it): %(url)s")
        % {"url": url},
    )
    return redirect("grants:due_soon")


@login_required
def deadline_ics(request: HttpRequest, grant_id: UUID, kind: str) -> HttpResponse:
    grant = services.get_grant(request, grant_id)
    rows = [
        row
        for row in services.deadlines(services.visible_grants(_user(request)).filter(pk=grant.pk))
        if row.deadline.kind == kind
    ]
    if not rows:
        raise access.not_found(request, "deadline", kind)
    reference = rows[0].deadline.reference
    response = HttpResponse(
        reminders.calendar(rows, reference), content_type="text/calendar; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{reference}-{kind}.ics"'
    return response
