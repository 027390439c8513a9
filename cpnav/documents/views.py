from __future__ import annotations

from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cpnav.accounts import access
from cpnav.cases.attachments import serve
from cpnav.documents import services
from cpnav.documents.models import GeneratedDocument
from cpnav.documents.package import PackageIncompleteError

CONTENT_TYPES = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}


@require_POST
@login_required
def generate(request: HttpRequest, request_id: UUID) -> HttpResponse:
    cp = access.get_cp_request(request, request_id)
    user = access.signed_in(request.user)
    assert user is not None
    try:
        made = services.generate(
            request, cp, user, supplement_b=bool(request.POST.get("supplement_b"))
        )
    except PackageIncompleteError as error:
        for item in error.missing:
            messages.error(request, item)
    else:
        messages.success(request, _("Package version %(v)d generated.") % {"v": made[0].version})
    return redirect("cases:request", request_id=cp.pk)


@login_required
def download(request: HttpRequest, document_id: UUID) -> FileResponse:
    found = GeneratedDocument.objects.filter(
        pk=document_id, request__in=access.visible_requests(request.user)
    ).first()
    if found is None:
        raise access.not_found(request, "package", document_id)
    from cpnav.cases.workflow import reference

    return serve(
        request,
        relative_path=found.relative_path,
        sha256=found.sha256,
        filename=f"{reference(found.request)}-package-v{found.version}.{found.format}",
        content_type=CONTENT_TYPES[found.format],
        object_type="package",
        object_id=found.pk,
        agency_id=found.request.case.agency_id,
    )
