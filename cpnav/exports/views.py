"""Export pages: choose a dataset, then its filters and format, then download."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render

from cpnav.accounts import access
from cpnav.accounts.models import User
from cpnav.core.routers import replica_reads
from cpnav.core.tabular import download
from cpnav.exports import services
from cpnav.exports.forms import IDENTIFYING_WARNING, ExportForm


def _user(request: HttpRequest) -> User:
    user = access.signed_in(request.user)
    assert user is not None  # login_required ran first
    return user


@login_required
def index(request: HttpRequest) -> HttpResponse:
    return render(request, "exports/index.html", {"datasets": services.DATASETS.values()})


@login_required
def export(
    request: HttpRequest, dataset: str
) -> HttpResponse | StreamingHttpResponse | FileResponse:
    chosen = services.DATASETS.get(dataset)
    if chosen is None:
        raise Http404("No such export.")
    user = _user(request)
    # Reads on the replica when one is usable; the audit events the export writes go
    # to the primary, like every write, and do not pull the reads back there.
    with replica_reads(request) as reads:
        form = ExportForm(request.POST or None, user=user, dataset=chosen)
        if request.method == "POST" and form.is_valid():
            try:
                job = services.start(
                    user,
                    chosen.name,
                    form.cleaned_data["format"],
                    form.filters(),
                    identifying=bool(form.cleaned_data.get("include_identifying")),
                    request=request,
                )
            except services.ExportError as error:
                form.add_error(None, str(error))
            else:
                # A CSV is streamed after this view returns: its rows keep this choice.
                return download(job.fmt, job.filename, job.header(), reads.stream(job.rows()))
    headers = [str(column.header) for column in chosen.columns]
    return render(
        request,
        "exports/export.html",
        {
            "dataset": chosen,
            "form": form,
            "headers": headers,
            "identifying_headers": [str(c.header) for c in services.IDENTIFYING_COLUMNS],
            "warning": IDENTIFYING_WARNING,
        },
    )
