"""The NIEM exchange over the API: a request or grant as NIEM XML or JSON-LD, and import.

Same services and rules as the pages (cpnav.niem.services): a record outside
the token owner's need to know is a 404; identifying fields only with
``identifying=true`` and only for the case team and the agency's supervisors
(403 otherwise); every export and import is audited. Import needs the token's
``write`` scope and takes the XML document itself as the request body.
"""

from typing import Any
from uuid import UUID

from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema, Status

from cpnav.accounts import access
from cpnav.accounts.models import Agency
from cpnav.api.cases import TokenAuth, TokenRateThrottle, _need_write, _user
from cpnav.api.errors import CREATE_ERRORS, READ_ERRORS, responses
from cpnav.grants.services import get_grant
from cpnav.niem import services
from cpnav.niem.schema import MAX_BYTES, InvalidDocument

router = Router(tags=["niem"], auth=TokenAuth(), throttle=TokenRateThrottle())

DOCUMENT = {
    200: None,
    **READ_ERRORS,
}
XML_BODY = {
    "requestBody": {
        "required": True,
        "description": "A NIEM 6.0 Continued Presence exchange document (at most 1 MB).",
        "content": {"application/xml": {"schema": {"type": "string"}}},
    }
}


class ExportQuery(Schema):
    identifying: bool = Field(
        False,
        description="Include the person's identifying fields (case team and supervisors only).",
    )


class ImportQuery(Schema):
    agency: UUID = Field(
        description="One of your agencies, as an investigator: it owns the new case."
    )


class ReportLine(Schema):
    field: str
    taken: bool
    value: str = Field("", description="What was taken (empty for identifying fields).")
    note: str = Field("", description="Why it was not taken.")


class ImportOut(Schema):
    request: UUID = Field(description="The new draft request.")
    case: UUID
    person: UUID
    report: list[ReportLine]


def _response(download: services.Download) -> HttpResponse:
    response = HttpResponse(
        download.content, content_type=f"{download.content_type}; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{download.filename}"'
    return response


# One operation per format (niem.xml, niem.jsonld): the path names the format, as files do.


def _request_niem(fmt: str, request: HttpRequest, request_id: UUID, identifying: bool) -> Any:
    cp = access.get_cp_request(request, request_id)
    return _response(
        services.export_request(request, _user(request), cp, fmt, identifying=identifying)
    )


def _grant_niem(fmt: str, request: HttpRequest, grant_id: UUID, identifying: bool) -> Any:
    grant = get_grant(request, grant_id)
    return _response(
        services.export_grant(request, _user(request), grant, fmt, identifying=identifying)
    )


@router.get("/requests/{request_id}/niem.xml", response=DOCUMENT, summary="A request as NIEM XML")
def request_niem_xml(request: HttpRequest, request_id: UUID, query: Query[ExportQuery]) -> Any:
    return _request_niem("xml", request, request_id, query.identifying)


@router.get(
    "/requests/{request_id}/niem.jsonld", response=DOCUMENT, summary="A request as NIEM JSON-LD"
)
def request_niem_jsonld(request: HttpRequest, request_id: UUID, query: Query[ExportQuery]) -> Any:
    return _request_niem("jsonld", request, request_id, query.identifying)


@router.get("/grants/{grant_id}/niem.xml", response=DOCUMENT, summary="A grant as NIEM XML")
def grant_niem_xml(request: HttpRequest, grant_id: UUID, query: Query[ExportQuery]) -> Any:
    return _grant_niem("xml", request, grant_id, query.identifying)


@router.get("/grants/{grant_id}/niem.jsonld", response=DOCUMENT, summary="A grant as NIEM JSON-LD")
def grant_niem_jsonld(request: HttpRequest, grant_id: UUID, query: Query[ExportQuery]) -> Any:
    return _grant_niem("jsonld", request, grant_id, query.identifying)


@router.post(
    "/niem/requests",
    response={201: ImportOut, 413: responses(413)[413], **CREATE_ERRORS},
    summary="Import a NIEM document as a new draft request",
    openapi_extra=XML_BODY,
)
def import_niem(request: HttpRequest, query: Query[ImportQuery]) -> Any:
    _need_write(request)
    user = _user(request)
    agency = Agency.objects.filter(pk=query.agency).first()
    if agency is None or agency not in services.import_agencies(user):
        raise access.forbidden(request, "niem import")
    if int(request.META.get("CONTENT_LENGTH") or 0) > MAX_BYTES:
        return Status(413, {"detail": "The document is larger than 1 MB.", "errors": []})
    try:
        imported = services.import_document(request, user, request.body, agency)
    except InvalidDocument as refused:
        return Status(
            422,
            {
                "detail": "The document was refused; nothing was saved.",
                "errors": [
                    {"path": p.where or "$", "message": p.message} for p in refused.problems
                ],
            },
        )
    cp = imported.request
    return Status(
        201,
        {
            "request": cp.pk,
            "case": cp.case_id,
            "person": cp.person_id,
            "report": [line.__dict__ for line in imported.report],
        },
    )
