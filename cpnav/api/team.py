"""The case team, shares of a person's record, and a request's attachments, over the API.

The same services, access checks and upload path as the pages: a record outside
the token owner's need to know is a 404; one they know but may not change is a 403.
"""

from datetime import datetime
from typing import Any, Literal, get_args
from uuid import UUID

from django.core.exceptions import SuspiciousOperation
from django.db import transaction
from django.http import HttpRequest
from django.http.multipartparser import MultiPartParserError
from django.utils import timezone
from ninja import Field, File, Form, Router, Schema, Status
from ninja.errors import HttpError, ValidationError
from ninja.files import UploadedFile
from ninja.pagination import paginate

from cpnav.accounts import access
from cpnav.accounts.models import User
from cpnav.api.cases import (
    NO_NUL,
    Moment,
    Pagination,
    TokenAuth,
    TokenRateThrottle,
    _need_write,
    _user,
    text,
)
from cpnav.api.errors import (
    CREATE_ERRORS,
    LIST_ERRORS,
    READ_ERRORS,
    WRITE_ERRORS,
    error,
)
from cpnav.audit.services import record
from cpnav.cases import services
from cpnav.cases.attachments import (
    AttachmentError,
    LimitedUploadHandler,
    store,
    upload_refusal,
)
from cpnav.cases.models import Attachment, Case, CaseMember, Person, Share

router = Router(tags=["case team"], auth=TokenAuth(), throttle=TokenRateThrottle())

# Removals answer 204; a refused one is a 403/404, or a 409 when the record's state
# does not allow it (the lead investigator stays on the team).
DELETE_ERRORS = WRITE_ERRORS


# --- The case team -----------------------------------------------------------


class MemberIn(Schema):
    user: UUID = Field(description="A member of the case's agency.")


class MemberOut(Schema):
    id: UUID
    full_name: str
    email: str
    lead: bool


def _member_out(case: Case, user: User) -> dict[str, Any]:
    return {
        "id": user.pk,
        "full_name": user.full_name,
        "email": user.email,
        "lead": user.pk == case.lead_investigator_id,
    }


@router.get("/cases/{case_id}/members", response={200: list[MemberOut], **LIST_ERRORS},
            summary="The case team")  # fmt: skip
@paginate(Pagination)
def list_members(request: HttpRequest, case_id: UUID) -> Any:
    case = access.get_case(request, case_id)
    team = CaseMember.objects.filter(case=case).select_related("user").order_by("added_at", "pk")
    return [_member_out(case, m.user) for m in team]


@router.post("/cases/{case_id}/members", response={201: MemberOut, **CREATE_ERRORS},
             summary="Put a member of the agency on the case team")  # fmt: skip
def add_member(request: HttpRequest, case_id: UUID, payload: MemberIn) -> Any:
    _need_write(request)
    case = access.get_case(request, case_id)
    member = User.objects.filter(pk=payload.user).first()
    if member is None:
        if not access.can_edit_case(request.user, case):
            raise access.forbidden(request, "case team")
        return error(422, "Choose a member of the agency.", {"user": "no such user"})
    try:
        services.add_member(request, case, member)
    except services.CaseError as failure:
        return error(422, str(failure), failure.fields or {"user": str(failure)})
    return Status(201, _member_out(case, member))


@router.delete("/cases/{case_id}/members/{user_id}", response={204: None, **DELETE_ERRORS},
               summary="Take someone off the case team")  # fmt: skip
def remove_member(request: HttpRequest, case_id: UUID, user_id: UUID) -> Any:
    _need_write(request)
    case = access.get_case(request, case_id)
    found = CaseMember.objects.filter(case=case, user_id=user_id).select_related("user").first()
    if found is None:
        raise access.not_found(request, "case member", user_id)
    try:
        services.remove_member(request, case, found.user)
    except services.CaseError as failure:
        return error(409, str(failure), failure.fields)
    return Status(204, None)


# --- Shares of a person's record ---------------------------------------------

ShareableField = Literal[
    "full_name", "aliases", "date_of_birth", "a_number", "contact", "safe_contact"
]
assert get_args(ShareableField) == Person.IDENTIFYING, "keep in step with Person.IDENTIFYING"


class ShareIn(Schema):
    grantee: UUID = Field(description="A victim specialist's account.")
    fields: list[ShareableField] = Field(
        min_length=1,
        max_length=len(Person.IDENTIFYING),
        description="The identifying fields they may see; the rest is redacted.",
    )
    reason: str = text(200, min_length=1)
    expires_at: Moment = Field(
        description=f"In the future, at most {services.SHARE_MAX_DAYS} days ahead."
    )


class GranteeOut(Schema):
    id: UUID
    full_name: str
    email: str


class ShareOut(Schema):
    id: UUID
    person: UUID
    grantee: GranteeOut
    fields: list[str]
    reason: str
    granted_by: UUID
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    active: bool


def _share_out(share: Share) -> dict[str, Any]:
    return {
        "id": share.pk, "person": share.person_id, "grantee": share.grantee,
        "fields": share.fields, "reason": share.reason, "granted_by": share.granted_by_id,
        "created_at": share.created_at, "expires_at": share.expires_at,
        "revoked_at": share.revoked_at,
        "active": share.revoked_at is None and share.expires_at > timezone.now(),
    }  # fmt: skip


def _person_to_share(request: HttpRequest, person_id: UUID) -> Person:
    """As the share page: the case's own people (not seen through a share), for its editors."""
    person, share = access.get_person(request, person_id)
    if share is not None or not access.can_edit_case(request.user, person.case):
        raise access.forbidden(request, "share person")
    return person


@router.get("/persons/{person_id}/shares", response={200: list[ShareOut], **LIST_ERRORS},
            summary="Who a person's record is shared with, newest first")  # fmt: skip
@paginate(Pagination)
def list_shares(request: HttpRequest, person_id: UUID) -> Any:
    person = _person_to_share(request, person_id)
    found = person.shares.select_related("grantee").order_by("-created_at", "pk")
    return [_share_out(s) for s in found]


@router.post("/persons/{person_id}/shares", response={201: ShareOut, **CREATE_ERRORS},
             summary="Share a person's record with a victim specialist (redacted, expiring)")  # fmt: skip
def share_person(request: HttpRequest, person_id: UUID, payload: ShareIn) -> Any:
    _need_write(request)
    person = _person_to_share(request, person_id)
    grantee = User.objects.filter(pk=payload.grantee, is_active=True).first()
    if grantee is None:
        return error(422, "No active account has this id.", {"grantee": "no such active user"})
    fields: list[str] = sorted(set(payload.fields))
    try:
        share = services.share_person(
            request, _user(request), person, grantee, fields, payload.reason, payload.expires_at
        )
    except services.CaseError as failure:
        return error(422, str(failure), failure.fields or {"fields": str(failure)})
    return Status(201, _share_out(share))


@router.delete("/shares/{share_id}", response={204: None, **DELETE_ERRORS},
               summary="End a share")  # fmt: skip
def revoke_share(request: HttpRequest, share_id: UUID) -> Any:
    _need_write(request)
    share = Share.objects.filter(pk=share_id).select_related("person__case").first()
    user = _user(request)
    if share is None or not (
        share.grantee_id == user.pk
        or access.visible_cases(user).filter(pk=share.person.case_id).exists()
    ):
        raise access.not_found(request, "share", share_id)
    if not access.can_edit_case(user, share.person.case):
        raise access.forbidden(request, "share person")
    if share.revoked_at is None:
        services.revoke_share(request, share)
    return Status(204, None)


# --- Attachments of a CP request ---------------------------------------------


class AttachmentOut(Schema):
    id: UUID
    request: UUID
    original_name: str
    description: str
    content_type: str
    size: int
    sha256: str
    uploaded_by: UUID
    uploaded_at: datetime


def _attachment_out(attachment: Attachment) -> dict[str, Any]:
    return {
        "id": attachment.pk, "request": attachment.request_id,
        "original_name": attachment.original_name, "description": attachment.description,
        "content_type": attachment.content_type, "size": attachment.size,
        "sha256": attachment.sha256, "uploaded_by": attachment.uploaded_by_id,
        "uploaded_at": attachment.uploaded_at,
    }  # fmt: skip


class UploadAuth(TokenAuth):
    """The token check, then the page's size-limited upload handler before the body is read.

    The parameters are read after authentication, so this is the last point at which
    the handler can be installed; an upload it stops is refused here, as 422 at $.file,
    with the page's message (a missing file would otherwise read as "Field required").
    """

    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        user = super().authenticate(request, token)
        if user is None:
            return None
        request.upload_handlers = [LimitedUploadHandler(request)]
        try:
            request.FILES  # noqa: B018 - parse the body now, under the limit
        except (MultiPartParserError, SuspiciousOperation):
            raise HttpError(400, "The upload could not be read as multipart form data.") from None
        refused = upload_refusal(request)
        if refused:
            raise ValidationError([{"loc": ("file", "file"), "msg": refused}])
        return user


# The same bearer scheme in the OpenAPI document (ninja names a scheme after its class).
UploadAuth.__name__ = UploadAuth.__qualname__ = "TokenAuth"


@router.get("/requests/{request_id}/attachments", response={200: list[AttachmentOut], **LIST_ERRORS},
            summary="A request's attachments (metadata only)")  # fmt: skip
@paginate(Pagination)
def list_attachments(request: HttpRequest, request_id: UUID) -> Any:
    cp = access.get_cp_request(request, request_id)
    return [_attachment_out(a) for a in cp.attachments.order_by("uploaded_at", "pk")]


@router.post("/requests/{request_id}/attachments", response={201: AttachmentOut, **CREATE_ERRORS},
             auth=UploadAuth(), summary="Attach a file (PDF, image or Word document)")  # fmt: skip
def upload_attachment(
    request: HttpRequest,
    request_id: UUID,
    file: File[UploadedFile],
    description: str = Form("", max_length=200, pattern=NO_NUL),  # type: ignore[type-arg]
) -> Any:
    _need_write(request)
    cp = access.get_cp_request(request, request_id)
    if not services.may_attach(_user(request), cp):
        raise access.forbidden(request, "attach file")
    try:
        stored = store(file.chunks(), name=file.name or "attachment")
    except AttachmentError as failure:
        services.upload_refused(request, cp, failure)
        return error(422, str(failure), {"file": str(failure)})
    with transaction.atomic():  # no attachment without its audit event
        attachment = Attachment.objects.create(
            request=cp, relative_path=stored.relative_path, sha256=stored.sha256, size=stored.size,
            content_type=stored.content_type, original_name=stored.original_name,
            description=description, uploaded_by=_user(request),
        )  # fmt: skip
        record("attachment.added", request=request, agency_id=cp.case.agency_id, object_type="attachment",
               object_id=attachment.pk, details={"request": str(cp.pk), "sha256": stored.sha256})  # fmt: skip
    return Status(201, _attachment_out(attachment))


@router.get("/attachments/{attachment_id}", response={200: None, **READ_ERRORS},
            summary="Download an attachment (audited)")  # fmt: skip
def download_attachment(request: HttpRequest, attachment_id: UUID) -> Any:
    from cpnav.cases.views import attachment_download

    return attachment_download(request, attachment_id)
