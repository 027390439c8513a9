"""NIEM pages: download a request or grant as NIEM, and import a NIEM document as a draft."""

from __future__ import annotations

from uuid import UUID

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from cpnav.accounts import access
from cpnav.accounts.models import Agency, User
from cpnav.grants.services import get_grant
from cpnav.niem import services
from cpnav.niem.schema import MAX_BYTES, InvalidDocument, Problem


def _user(request: HttpRequest) -> User:
    user = access.signed_in(request.user)
    assert user is not None  # login_required ran first
    return user


def _identifying(request: HttpRequest) -> bool:
    return request.GET.get("identifying") == "1"


def _download(download: services.Download) -> HttpResponse:
    response = HttpResponse(
        download.content, content_type=f"{download.content_type}; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{download.filename}"'
    return response


@require_GET
@login_required
def request_export(request: HttpRequest, request_id: UUID, fmt: str) -> HttpResponse:
    cp = access.get_cp_request(request, request_id)
    return _download(
        services.export_request(request, _user(request), cp, fmt, identifying=_identifying(request))
    )


@require_GET
@login_required
def grant_export(request: HttpRequest, grant_id: UUID, fmt: str) -> HttpResponse:
    grant = get_grant(request, grant_id)
    return _download(
        services.export_grant(
            request, _user(request), grant, fmt, identifying=_identifying(request)
        )
    )


class ImportForm(forms.Form):
    document = forms.FileField(
        label=gettext_lazy("NIEM XML document"),
        help_text=gettext_lazy("A Continued Presence exchange document, at most 1 MB."),
    )
    agency = forms.ModelChoiceField(
        queryset=Agency.objects.none(),
        label=gettext_lazy("Agency that will own the new case"),
        empty_label=None,
    )

    def __init__(self, *args: object, agencies: list[Agency], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        field = self.fields["agency"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = Agency.objects.filter(pk__in=[a.pk for a in agencies])


@require_http_methods(["GET", "POST"])
@login_required
def import_document(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    agencies = services.import_agencies(user)
    if not agencies:
        raise access.forbidden(request, "niem import")
    problems: list[Problem] = []
    if (
        request.method == "POST"
        and int(request.META.get("CONTENT_LENGTH") or 0) > MAX_BYTES + 64_000
    ):
        # Refused before Django reads the body into memory or a temporary file.
        form = ImportForm(agencies=agencies)
        problems = [Problem("", _("The file is larger than 1 MB; no exchange is that large."))]
        return _page(request, form, problems, status=413)
    form = ImportForm(request.POST or None, request.FILES or None, agencies=agencies)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["document"]
        if upload.size > MAX_BYTES:
            problems = [Problem("", _("The file is larger than 1 MB; no exchange is that large."))]
        else:
            try:
                imported = services.import_document(
                    request, user, upload.read(), form.cleaned_data["agency"]
                )
            except InvalidDocument as refused:
                problems = refused.problems
            else:
                return render(
                    request,
                    "niem/import_done.html",
                    {"cp": imported.request, "report": imported.report},
                    status=201,
                )
        return _page(request, form, problems, status=400)
    return _page(request, form, problems, status=400 if form.errors else 200)


def _page(
    request: HttpRequest, form: ImportForm, problems: list[Problem], *, status: int
) -> HttpResponse:
    return render(request, "niem/import.html", {"form": form, "problems": problems}, status=status)
