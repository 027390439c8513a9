"""The import pages: upload, choose the columns, read the dry-run report, import.

Views parse input, call a service or start a job, render. A job is seen only
by the person who uploaded its file; anyone else gets a 404.
"""

from __future__ import annotations

from typing import Any, NoReturn
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.files.uploadhandler import MemoryFileUploadHandler, StopUpload
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.formats import number_format
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_POST

from cpnav.accounts import access
from cpnav.accounts.models import User
from cpnav.audit.services import record
from cpnav.core import tabular
from cpnav.imports import checks, jobs, services
from cpnav.imports import fields as F
from cpnav.imports.forms import MappingForm, UploadForm
from cpnav.imports.models import FILE_HOURS, ImportJob, JobStatus, Phase
from cpnav.imports.tables import MAX_BYTES

UPLOAD_REFUSED_ATTR = "import_upload_refused"
TEMPLATE_NAME = "cases-template.csv"


def _user(request: HttpRequest) -> User:
    user = access.signed_in(request.user)
    assert user is not None  # login_required ran first
    return user


def _require_importer(request: HttpRequest) -> User:
    user = _user(request)
    if not services.importable_agencies(user):
        raise access.forbidden(request, "import")
    return user


def _get_job(request: HttpRequest, job_id: UUID, *, light: bool = False) -> ImportJob:
    found = ImportJob.objects.filter(pk=job_id, created_by=_user(request)).select_related("agency")
    job = (found.defer("problems") if light else found).first()
    if job is None:
        raise access.not_found(request, "import", job_id)
    return jobs.refresh(job)


def _require_may_import(request: HttpRequest, job: ImportJob) -> None:
    if not services.may_import(_user(request), job.agency):
        raise access.forbidden(request, "import")


class MemoryOnlyUploadHandler(MemoryFileUploadHandler):
    """Keeps the upload in memory, up to the import's size limit.

    Django writes uploads above 2.5 MB to a temporary file; this file holds
    victims' data, so it never touches a disk unencrypted: it stays in memory
    until it is compressed and encrypted into the job, and is refused as soon
    as it passes the limit rather than after the whole body was read.
    """

    def handle_raw_input(
        self,
        input_data: Any,
        META: dict[str, Any],
        content_length: int,
        boundary: str,
        encoding: str | None = None,
    ) -> None:
        self.activated = True

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        self._received = 0
        super().new_file(*args, **kwargs)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self._received += len(raw_data)
        if self._received > MAX_BYTES:
            self._refuse()
        return super().receive_data_chunk(raw_data, start)

    def _refuse(self) -> NoReturn:
        if self.request is not None:
            setattr(
                self.request,
                UPLOAD_REFUSED_ATTR,
                _("The file is larger than %(mb)d MB; split it into several files.")
                % {"mb": MAX_BYTES // 2**20},
            )
        self.file.close()  # drop what was read so far
        raise StopUpload(connection_reset=False)


@csrf_exempt  # CSRF is checked below, once the memory-only upload handler is in place
def index(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        request.upload_handlers = [MemoryOnlyUploadHandler(request)]
    return _index(request)


@csrf_protect
@login_required
def _index(request: HttpRequest) -> HttpResponse:
    user = _require_importer(request)
    jobs.purge_expired()
    agencies = services.importable_agencies(user)
    form = UploadForm(request.POST or None, request.FILES or None, agencies=agencies)
    if request.method == "POST":
        valid = form.is_valid()
        refused = getattr(request, UPLOAD_REFUSED_ATTR, None)
        if refused:
            form.errors["file"] = form.error_class([refused])
        elif valid:
            upload = form.cleaned_data["file"]
            try:
                job = services.upload(
                    request,
                    user,
                    form.cleaned_data["agency"],
                    upload.read(),
                    upload.name or "upload",
                    get_language() or "en",
                )
            except services.ImportRefused as refused_file:
                for problem in refused_file.problems:
                    form.add_error("file", str(problem))
            else:
                return redirect("imports:mapping", job_id=job.pk)
    recent = (
        ImportJob.objects.filter(created_by=user)
        .exclude(status__in=[JobStatus.DONE, JobStatus.DISCARDED])
        .defer("problems")
        .select_related("agency")[:20]
    )
    return render(
        request,
        "imports/index.html",
        {"form": form, "recent": recent, "fields": F.FIELDS, "file_hours": FILE_HOURS},
    )


@login_required
def mapping(request: HttpRequest, job_id: UUID) -> HttpResponse:
    job = _get_job(request, job_id, light=True)
    if job.is_running:
        return redirect("imports:job", job_id=job.pk)
    if not job.has_file or job.status in {JobStatus.DONE, JobStatus.DISCARDED}:
        messages.info(request, _("This import is over; upload the file again to start anew."))
        return redirect("imports:job", job_id=job.pk)
    form = MappingForm(request.POST or None, columns=job.columns, mapping=job.mapping)
    if request.method == "POST":
        _require_may_import(request, job)
        if form.is_valid():
            job.mapping = form.mapping()
            job.save(update_fields=["mapping"])
            try:
                jobs.start(job, "check")
            except jobs.JobConflict:
                messages.info(request, _("This file is being checked or imported already."))
            return redirect("imports:job", job_id=job.pk)
    return render(request, "imports/mapping.html", {"job": job, "form": form, "step": 2})


@login_required
def job_detail(request: HttpRequest, job_id: UUID) -> HttpResponse:
    job = _get_job(request, job_id)
    context: dict[str, Any] = {
        "job": job,
        "progress": _progress_text(job),
        "status": jobs.status_json(job),
    }
    if job.status == JobStatus.REJECTED:
        context["problems"] = jobs.problems_of(job)
        context["by_column"] = sorted(
            (job.summary.get("by_column") or {}).items(), key=lambda item: -item[1]
        )
        context["headline"] = checks.summary(job.problem_count, job.rows_with_problems)
        record("import.report_viewed", request=request, agency_id=job.agency_id,
               object_type="import", object_id=job.pk)  # fmt: skip
    step = {JobStatus.CHECKING: 3, JobStatus.REJECTED: 3, JobStatus.CHECKED: 3,
            JobStatus.FAILED: 4, JobStatus.IMPORTING: 4, JobStatus.DONE: 5}  # fmt: skip
    context["step"] = step.get(JobStatus(job.status), 2)
    return render(request, "imports/job.html", context)


@require_POST
@login_required
def run_import(request: HttpRequest, job_id: UUID) -> HttpResponse:
    job = _get_job(request, job_id, light=True)
    _require_may_import(request, job)
    try:
        jobs.start(job, "import")
    except jobs.JobConflict:
        messages.info(request, _("Only a checked file can be imported, and only once."))
    return redirect("imports:job", job_id=job.pk)


@require_POST
@login_required
def discard(request: HttpRequest, job_id: UUID) -> HttpResponse:
    job = _get_job(request, job_id, light=True)
    try:
        jobs.discard(job, request=request)
    except jobs.JobConflict:
        messages.error(request, _("Wait until the run ends; it cannot be stopped half way."))
        return redirect("imports:job", job_id=job.pk)
    messages.success(request, _("The file was deleted. Nothing was imported from it."))
    return redirect("imports:index")


@require_GET
@login_required
def status(request: HttpRequest, job_id: UUID) -> JsonResponse:
    job = _get_job(request, job_id, light=True)
    return JsonResponse({**jobs.status_json(job), "text": _progress_text(job)})


@require_GET
@login_required
def problems_csv(request: HttpRequest, job_id: UUID) -> StreamingHttpResponse:
    job = _get_job(request, job_id)
    record("import.report_downloaded", request=request, agency_id=job.agency_id,
           object_type="import", object_id=job.pk)  # fmt: skip
    rows = ([p.line, p.column, p.message] for p in jobs.problems_of(job))
    response = tabular.download(
        "csv", f"import-problems-{str(job.pk)[:8]}", [_("Line"), _("Column"), _("Problem")], rows
    )
    assert isinstance(response, StreamingHttpResponse)
    return response


@require_GET
@login_required
def template(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(F.template_csv(), content_type=tabular.CSV_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{TEMPLATE_NAME}"'
    return response


def _progress_text(job: ImportJob) -> str:
    values = {"processed": number_format(job.processed, force_grouping=True),
              "total": number_format(job.total, force_grouping=True)}  # fmt: skip
    if job.phase == Phase.WRITING:
        if not job.processed:
            return _("Writing the records of %(total)s rows") % values
        return _("%(processed)s of %(total)s rows written") % values
    if job.total:
        return _("%(processed)s of %(total)s rows checked") % values
    return _("%(processed)s rows checked") % values
