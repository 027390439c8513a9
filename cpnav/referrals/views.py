"""The services directory and a person's referrals. Views parse input, call a service, render."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from cpnav.accounts import access
from cpnav.accounts.models import User
from cpnav.cases.models import Person
from cpnav.referrals import services
from cpnav.referrals.forms import (
    DirectorySearchForm,
    FollowUpForm,
    ImportForm,
    ReferralForm,
    StatusForm,
)
from cpnav.referrals.models import Referral, Service

PAGE_SIZE = 25


def _user(request: HttpRequest) -> User:
    user = access.signed_in(request.user)
    assert user is not None  # login_required ran first
    return user


def _place(form: forms.Form, error: services.ReferralError) -> None:
    form.add_error(error.field if error.field in form.fields else None, str(error))


@login_required
def directory(request: HttpRequest) -> HttpResponse:
    search = DirectorySearchForm(request.GET or None)
    filters = search.cleaned_data if search.is_valid() else {}
    found = services.directory(
        text=filters.get("text", ""),
        state=filters.get("state", ""),
        service=filters.get("service", ""),
        language=filters.get("language", ""),
    )
    page = Paginator(found, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "referrals/directory.html",
        {
            "search": search,
            "page": page,
            "count": len(found),
            "query": query.urlencode(),
            "can_import": services.can_import(_user(request)),
        },
    )


@login_required
def provider_detail(request: HttpRequest, provider_id: UUID) -> HttpResponse:
    provider = services.get_provider(request, provider_id)
    return render(request, "referrals/provider_detail.html", {"provider": provider})


def _referral_person(request: HttpRequest, person_id: UUID) -> Person:
    person, share = access.get_person(request, person_id)
    if share is not None or not services.may_refer(_user(request), person):
        raise access.forbidden(request, "referrals")
    return person


@login_required
def person_referrals(request: HttpRequest, person_id: UUID) -> HttpResponse:
    person = _referral_person(request, person_id)
    form = ReferralForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            referral = services.refer(
                request,
                _user(request),
                person,
                data["provider"],
                data["services"],
                data["consent"],
                data["follow_up_on"],
                data["consent_note"],
            )
        except services.ReferralError as error:
            _place(form, error)
        else:
            messages.success(
                request,
                _("Referral %(ref)s recorded. Give the person the provider's contact details.")
                % {"ref": referral.reference},
            )
            return redirect("referrals:person_referrals", person_id=person.pk)
    referrals = Referral.objects.filter(person=person).select_related("provider")
    return render(
        request,
        "referrals/person_referrals.html",
        {
            "person": person,
            "case": person.case,
            "referrals": referrals,
            "form": form,
            "immigration_counsel": Service.IMMIGRATION_COUNSEL,
        },
    )


def _referral_page(request: HttpRequest, referral: Referral, **forms_: Any) -> HttpResponse:
    context = {
        "referral": referral,
        "events": referral.events.select_related("actor"),
        "status_form": StatusForm(
            initial={"version": referral.version}, statuses=referral.next_statuses()
        ),
        "follow_up_form": FollowUpForm(
            initial={"version": referral.version, "follow_up_on": referral.follow_up_on}
        ),
        **forms_,
    }
    return render(request, "referrals/referral_detail.html", context)


@login_required
def referral_detail(request: HttpRequest, referral_id: UUID) -> HttpResponse:
    referral = services.get_referral(request, referral_id)
    if request.method != "POST":
        return _referral_page(request, referral)
    user = _user(request)
    if request.POST.get("form") == "status":
        status_form = StatusForm(request.POST, statuses=referral.next_statuses())
        if status_form.is_valid():
            data = status_form.cleaned_data
            try:
                services.set_status(
                    request, user, referral, data["status"], version=data["version"],
                    note=data["note"],
                )  # fmt: skip
            except services.ReferralError as error:
                _place(status_form, error)
            except services.StaleReferral:
                messages.warning(request, _("Someone changed this referral. Here is the latest."))
                return redirect("referrals:referral", referral_id=referral.pk)
            else:
                messages.success(request, _("Status saved."))
                return redirect("referrals:referral", referral_id=referral.pk)
        return _referral_page(request, referral, status_form=status_form)
    follow_up_form = FollowUpForm(request.POST)
    if follow_up_form.is_valid():
        data = follow_up_form.cleaned_data
        try:
            services.set_follow_up(
                request, user, referral, data["follow_up_on"], version=data["version"]
            )
        except services.ReferralError as error:
            _place(follow_up_form, error)
        except services.StaleReferral:
            messages.warning(request, _("Someone changed this referral. Here is the latest."))
            return redirect("referrals:referral", referral_id=referral.pk)
        else:
            messages.success(request, _("Follow-up date saved."))
            return redirect("referrals:referral", referral_id=referral.pk)
    return _referral_page(request, referral, follow_up_form=follow_up_form)


@login_required
def provider_import(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if not services.can_import(user):
        raise access.forbidden(request, "provider import")
    form = ImportForm(
        request.POST or None,
        request.FILES or None,
        agencies=access.administered_agencies(user),
        system_admin=user.is_system_admin,
    )
    report = None
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        agency = form.cleaned_data["agency"]
        by = agency.name if agency else _("a system administrator")
        report = services.import_providers(
            upload.read(),
            source=f"CSV upload ({by}) on {date.today().isoformat()}",
            agency=agency,
            dry_run=form.cleaned_data["dry_run"],
            http=request,
            actor=user,
        )
        if report.ok and not report.dry_run:
            messages.success(
                request,
                _("Imported: %(created)d added, %(updated)d updated.")
                % {"created": report.created, "updated": report.updated},
            )
            return redirect("referrals:directory")
    return render(request, "referrals/import.html", {"form": form, "report": report})
