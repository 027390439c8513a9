"""CCHT engagement over the API: meeting requests, sessions and registrations.

Every rule lives in `cpnav.engagement.services`; this module only turns JSON
into the services' inputs and their refusals into the API's error shape:
`EngagementError` is 422 with one entry per field, `Stale` (someone saved
first) is 409. Upcoming public sessions are readable without a token; the
meeting link is shown only to a coordinator or to someone holding a place.
"""

import csv
import datetime as dt
import io
from collections.abc import Callable
from functools import wraps
from typing import Any
from uuid import UUID

from django.db.models import F
from django.http import Http404, HttpRequest, HttpResponse
from ninja import Field, Router, Schema, Status
from ninja.errors import AuthenticationError
from ninja.pagination import paginate

from cpnav.accounts import access, tokens
from cpnav.accounts.models import Agency, User
from cpnav.api.cases import ERRORS, Pagination, TokenAuth
from cpnav.api.errors import ErrorOut, anonymous_limit
from cpnav.api.errors import error as error_out
from cpnav.engagement import attendance, services
from cpnav.engagement.models import (
    MeetingRequest,
    Registration,
    RegistrationStatus,
    RequestStatus,
    Session,
)
from cpnav.engagement.services import EngagementError, Stale

router = Router(tags=["engagement"], auth=TokenAuth())
PUBLIC_ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut, 429: ErrorOut}

# The services name some fields after their forms; the API's names for them.
SESSION_FIELDS = {"day": "date", "at": "time"}
CHOICE_FIELDS = {"choice": "index"}
# A registration's name, email and agency name come from the account, not the body.
REGISTRANT_FIELDS = {"full_name": "", "email": ""}


# --- Helpers -------------------------------------------------------------------------


def _user(request: HttpRequest) -> User:
    user = access.signed_in(request.user)
    if user is None:
        raise access.forbidden(request, "not signed in")
    return user


def _need_read(request: HttpRequest) -> None:
    if "read" not in getattr(request, "api_scopes", []):
        raise access.forbidden(request, "api read scope")


def _need_write(request: HttpRequest) -> None:
    if "write" not in getattr(request, "api_scopes", []):
        raise access.forbidden(request, "api write scope")


def _coordinator(request: HttpRequest) -> User:
    user = _user(request)
    if not access.is_engagement_coordinator(user):
        raise access.forbidden(request, "engagement coordination")
    return user


def _refused(
    error: EngagementError, rename: dict[str, str] | None = None
) -> Status[dict[str, Any]]:
    """The service's refusal as 422, each message at the API's name for its field."""
    names = rename or {}
    return error_out(
        422, str(error), {names.get(name, name): message for name, message in error.errors.items()}
    )


def _stale(what: str, sent: int, current: int | None) -> Status[dict[str, Any]]:
    now = f" (it is now version {current})" if current is not None else ""
    message = (
        f"Someone changed this {what} after version {sent}{now}. "
        "Fetch it again, check the change and retry with the new version."
    )
    return error_out(409, message, {"version": message})


def _public(func: Callable[..., Any]) -> Callable[..., Any]:
    """No token needed; one that is sent must be valid and may read. Calls without a valid
    token count against the public rate, checked before anything else runs."""

    @wraps(func)
    def view(request: HttpRequest, **kwargs: Any) -> Any:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        found = tokens.authenticate(request, token.strip()) if scheme.lower() == "bearer" else None
        if found is None:
            limited = anonymous_limit(request, "engagement")
            if limited is not None:
                return limited
            if header:
                raise AuthenticationError()
        else:
            request.user, scopes = found[0], found[1].scopes
            request.api_scopes = scopes  # type: ignore[attr-defined]
            _need_read(request)
        return func(request, **kwargs)

    return view


# --- Schemas -------------------------------------------------------------------------


class AgencyRef(Schema):
    id: UUID
    name: str


class MeetingEventOut(Schema):
    status: str
    note: str
    actor: str = Field(..., alias="actor_label")
    at: dt.datetime


class MeetingRequestOut(Schema):
    id: UUID
    reference: str
    status: str
    contact_name: str
    contact_email: str
    contact_phone: str
    agency: AgencyRef | None
    agency_name: str
    jurisdiction: str
    jurisdiction_detail: str
    audience: list[str]
    audience_size: int
    topics: list[str]
    topics_other: str
    preferred_dates: list[dt.date]
    preferred_time: str
    time_zone: str
    accessibility_needs: str
    language_needs: str
    proposed_times: list[dt.datetime]
    agreed_start: dt.datetime | None
    decline_reason: str
    session: UUID | None
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int
    events: list[MeetingEventOut]

    @staticmethod
    def resolve_session(obj: MeetingRequest) -> UUID | None:
        return obj.session_id

    @staticmethod
    def resolve_events(obj: MeetingRequest) -> list[Any]:
        return list(obj.events.all())


class MeetingRequestIn(Schema):
    agency: UUID | None = Field(None, description="One of your agencies; its name is used.")
    agency_name: str = Field("", description="Needed when `agency` is not given.")
    contact_name: str = Field("", description="Defaults to the token owner's name.")
    contact_email: str = Field("", description="Defaults to the token owner's email.")
    contact_phone: str = ""
    jurisdiction: str = Field(..., description="Two-letter state or territory code.")
    jurisdiction_detail: str
    audience: list[str]
    audience_size: int
    topics: list[str] = []
    topics_other: str = ""
    preferred_dates: list[dt.date]
    preferred_time: str = Field(..., description="morning, afternoon or any")
    time_zone: str = Field(..., description="IANA time zone, e.g. America/Chicago")
    accessibility_needs: str = ""
    language_needs: str = ""


class VersionIn(Schema):
    version: int


class NoteIn(VersionIn):
    note: str = ""


class DeclineIn(VersionIn):
    reason: str


class LocalTimeIn(Schema):
    date: dt.date
    time: dt.time


class ProposeIn(VersionIn):
    times: list[LocalTimeIn]
    time_zone: str = Field("", description="IANA time zone; the request's own when empty.")
    note: str = ""


class ChooseIn(VersionIn):
    index: int = Field(..., description="Position (from 0) in the request's `proposed_times`.")


class LinkIn(VersionIn):
    session: UUID


class SessionSummaryOut(Schema):
    """A session as listed publicly: never with the meeting link."""

    id: UUID
    title: str
    description: str
    topics: list[str]
    starts_at: dt.datetime
    date: dt.date
    time: dt.time
    time_zone: str
    duration_minutes: int
    capacity: int
    places_left: int
    presenters: str
    materials: list[str]
    status: str

    @staticmethod
    def resolve_starts_at(obj: Session) -> dt.datetime:
        return services.local_start(obj)

    @staticmethod
    def resolve_date(obj: Session) -> dt.date:
        return services.local_start(obj).date()

    @staticmethod
    def resolve_time(obj: Session) -> dt.time:
        return services.local_start(obj).time().replace(tzinfo=None)

    @staticmethod
    def resolve_places_left(obj: Session) -> int:
        return services.places_left(obj)


class SessionOut(SessionSummaryOut):
    meeting_link: str | None = Field(
        None, description="Only for a coordinator or someone holding a place; otherwise null."
    )
    is_public: bool
    cancel_reason: str
    version: int


class SessionIn(Schema):
    title: str
    date: dt.date = Field(..., description="Local date in `time_zone`.")
    time: dt.time = Field(..., description="Local start time in `time_zone`.")
    time_zone: str = Field(..., description="IANA time zone, e.g. America/New_York")
    duration_minutes: int = 60
    capacity: int
    meeting_link: str = Field(..., description="The meeting's https:// address.")
    topics: list[str]
    description: str = ""
    materials: list[str] = Field([], description="Slugs of resource guide pages.")
    presenters: str = ""
    is_public: bool = True


class SessionCreateIn(SessionIn):
    meeting_request: UUID | None = Field(None, description="Schedule this meeting request.")
    meeting_request_version: int | None = None


class SessionUpdateIn(SessionIn):
    version: int


class CancelIn(VersionIn):
    reason: str


class RegistrationOut(Schema):
    id: UUID
    session: UUID
    full_name: str
    email: str
    agency: UUID | None
    agency_name: str
    status: str
    waiting_position: int | None
    queued_at: dt.datetime
    cancelled_at: dt.datetime | None
    attended: bool | None
    follow_up_sent_at: dt.datetime | None

    @staticmethod
    def resolve_session(obj: Registration) -> UUID:
        return obj.session_id

    @staticmethod
    def resolve_agency(obj: Registration) -> UUID | None:
        return obj.agency_id

    @staticmethod
    def resolve_waiting_position(obj: Registration) -> int | None:
        return services.waiting_position(obj)


class RegisterIn(Schema):
    agency: UUID | None = Field(
        None, description="One of your agencies; your only one is used when not given."
    )
    agency_name: str = Field("", description="Needed when you are in no agency or several.")


class AttendanceIn(Schema):
    email: str
    attended: bool = True


class AttendanceOut(Schema):
    changed: int


class FollowUpIn(Schema):
    include_absent: bool = False
    note: str = ""


class FollowUpOut(Schema):
    sent: int


class AgencyEngagementOut(Schema):
    key: str
    name: str
    agency: UUID | None
    meeting_requests: int
    registrations: int
    attended: int
    last: dt.datetime | None

    @staticmethod
    def resolve_agency(obj: services.AgencyEngagement) -> UUID | None:
        return obj.agency.pk if obj.agency is not None else None


# --- Meeting requests ------------------------------------------------------------------


def _meeting(request: HttpRequest, request_id: UUID) -> MeetingRequest:
    return services.get_request(request, request_id)


def _meeting_out(meeting: MeetingRequest) -> MeetingRequest:
    """Reload with its agency and history for the answer."""
    return (
        MeetingRequest.objects.select_related("agency")
        .prefetch_related("events")
        .get(pk=meeting.pk)
    )


def _meeting_version(meeting: MeetingRequest) -> int | None:
    return MeetingRequest.objects.filter(pk=meeting.pk).values_list("version", flat=True).first()


@router.post(
    "/engagement/meeting-requests",
    response={201: MeetingRequestOut, **ERRORS},
    summary="Ask CCHT for an informational meeting",
)
def create_meeting_request(request: HttpRequest, payload: MeetingRequestIn) -> Any:
    _need_write(request)
    user = _user(request)
    agency: Agency | None = None
    agency_name = payload.agency_name
    if payload.agency is not None:
        # An agency that is not the user's (or does not exist) is refused by the service.
        agency = Agency.objects.filter(pk=payload.agency).first() or Agency(pk=payload.agency)
        agency_name = agency.name or agency_name
    data = services.MeetingInput(
        contact_name=payload.contact_name or user.full_name,
        contact_email=payload.contact_email or user.email,
        contact_phone=payload.contact_phone,
        agency=agency,
        agency_name=agency_name,
        jurisdiction=payload.jurisdiction,
        jurisdiction_detail=payload.jurisdiction_detail,
        audience=payload.audience,
        audience_size=payload.audience_size,
        topics=payload.topics,
        topics_other=payload.topics_other,
        preferred_dates=payload.preferred_dates,
        preferred_time=payload.preferred_time,
        time_zone=payload.time_zone,
        accessibility_needs=payload.accessibility_needs,
        language_needs=payload.language_needs,
    )
    try:
        meeting, _token = services.submit_request(request, user, data)
    except EngagementError as error:
        return _refused(error)
    return Status(201, _meeting_out(meeting))


@router.get(
    "/engagement/meeting-requests",
    response={200: list[MeetingRequestOut], **ERRORS},
    summary="Meeting requests: all for a coordinator, your own otherwise",
)
@paginate(Pagination)
def list_meeting_requests(request: HttpRequest, status: RequestStatus | None = None) -> Any:
    _need_read(request)
    found = (
        services.visible_requests(_user(request))
        .select_related("agency")
        .prefetch_related("events")
        .order_by("-created_at", "pk")
    )
    if status is not None:
        found = found.filter(status=status)
    return found


@router.get(
    "/engagement/meeting-requests/{request_id}",
    response={200: MeetingRequestOut, **ERRORS},
    summary="One meeting request, with its history",
)
def get_meeting_request(request: HttpRequest, request_id: UUID) -> Any:
    _need_read(request)
    return _meeting_out(_meeting(request, request_id))


def _moved(
    meeting: MeetingRequest,
    version: int,
    move: Callable[[], MeetingRequest],
    aliases: dict[str, str] | None = None,
) -> Any:
    """Run one move of a meeting request and answer it: the request, 422 or 409."""
    try:
        return _meeting_out(move())
    except EngagementError as error:
        return _refused(error, aliases)
    except Stale:
        return _stale("meeting request", version, _meeting_version(meeting))


def _coordinator_meeting(request: HttpRequest, request_id: UUID) -> tuple[User, MeetingRequest]:
    """A write by a coordinator: 404 for what the caller cannot see, then 403."""
    _need_write(request)
    meeting = _meeting(request, request_id)
    return _coordinator(request), meeting


@router.post(
    "/engagement/meeting-requests/{request_id}/accept",
    response={200: MeetingRequestOut, **ERRORS},
    summary="Accept a meeting request (coordinator)",
)
def accept_meeting_request(request: HttpRequest, request_id: UUID, payload: NoteIn) -> Any:
    user, meeting = _coordinator_meeting(request, request_id)
    return _moved(
        meeting,
        payload.version,
        lambda: services.accept(request, user, meeting, version=payload.version, note=payload.note),
    )


@router.post(
    "/engagement/meeting-requests/{request_id}/propose",
    response={200: MeetingRequestOut, **ERRORS},
    summary="Offer other times (coordinator)",
)
def propose_meeting_times(request: HttpRequest, request_id: UUID, payload: ProposeIn) -> Any:
    user, meeting = _coordinator_meeting(request, request_id)
    times = [services.LocalTime(day=item.date, at=item.time) for item in payload.times]
    zone = payload.time_zone or meeting.time_zone
    return _moved(
        meeting,
        payload.version,
        lambda: services.propose(
            request, user, meeting, version=payload.version, times=times, time_zone=zone,
            note=payload.note,
        ),
    )  # fmt: skip


@router.post(
    "/engagement/meeting-requests/{request_id}/decline",
    response={200: MeetingRequestOut, **ERRORS},
    summary="Decline a meeting request, saying why (coordinator)",
)
def decline_meeting_request(request: HttpRequest, request_id: UUID, payload: DeclineIn) -> Any:
    user, meeting = _coordinator_meeting(request, request_id)
    return _moved(
        meeting,
        payload.version,
        lambda: services.decline(
            request, user, meeting, version=payload.version, reason=payload.reason
        ),
    )


@router.post(
    "/engagement/meeting-requests/{request_id}/choose",
    response={200: MeetingRequestOut, **ERRORS},
    summary="Take one of the times offered",
)
def choose_meeting_time(request: HttpRequest, request_id: UUID, payload: ChooseIn) -> Any:
    _need_write(request)
    meeting = _meeting(request, request_id)
    return _moved(
        meeting,
        payload.version,
        lambda: services.choose_time(
            request, _user(request), meeting, version=payload.version, index=payload.index
        ),
        CHOICE_FIELDS,
    )


@router.post(
    "/engagement/meeting-requests/{request_id}/withdraw",
    response={200: MeetingRequestOut, **ERRORS},
    summary="Withdraw your meeting request",
)
def withdraw_meeting_request(request: HttpRequest, request_id: UUID, payload: NoteIn) -> Any:
    _need_write(request)
    meeting = _meeting(request, request_id)
    return _moved(
        meeting,
        payload.version,
        lambda: services.withdraw(
            request, _user(request), meeting, version=payload.version, note=payload.note
        ),
    )


@router.post(
    "/engagement/meeting-requests/{request_id}/link",
    response={200: MeetingRequestOut, **ERRORS},
    summary="Schedule a meeting request as an existing session (coordinator)",
)
def link_meeting_session(request: HttpRequest, request_id: UUID, payload: LinkIn) -> Any:
    user, meeting = _coordinator_meeting(request, request_id)
    session = Session.objects.filter(pk=payload.session).first()
    if session is None:
        return error_out(422, "No such session.", {"session": "No such session."})
    return _moved(
        meeting,
        payload.version,
        lambda: services.link_session(request, user, meeting, session, version=payload.version),
    )


@router.post(
    "/engagement/meeting-requests/{request_id}/{action}",
    response={200: MeetingRequestOut, **ERRORS},
    include_in_schema=False,
)
def unknown_meeting_action(request: HttpRequest, request_id: UUID, action: str) -> Any:
    """Any other action: the API's 404, not the site's page."""
    raise Http404("No such action.")


# --- Sessions ----------------------------------------------------------------------------


def _session_input(payload: SessionIn) -> services.SessionInput:
    return services.SessionInput(
        title=payload.title, day=payload.date, at=payload.time, time_zone=payload.time_zone,
        duration_minutes=payload.duration_minutes, capacity=payload.capacity,
        meeting_link=payload.meeting_link, topics=payload.topics, description=payload.description,
        materials=payload.materials, presenters=payload.presenters, is_public=payload.is_public,
    )  # fmt: skip


def _holds_place(user: User | None, session: Session) -> bool:
    return (
        user is not None
        and services.own_registrations(user)
        .filter(session=session, status=RegistrationStatus.REGISTERED)
        .exists()
    )


def _session_out(session: Session, user: User | None) -> SessionOut:
    shown = user is not None and (
        access.is_engagement_coordinator(user) or _holds_place(user, session)
    )
    out = SessionOut.model_validate(session)
    return out.model_copy(update={"meeting_link": session.meeting_link if shown else None})


def _session_version(session: Session) -> int | None:
    return Session.objects.filter(pk=session.pk).values_list("version", flat=True).first()


@router.get(
    "/engagement/sessions",
    auth=None,
    response={200: list[SessionSummaryOut], **PUBLIC_ERRORS},
    summary="Upcoming public sessions (no token needed)",
)
@_public
@paginate(Pagination)
def list_sessions(request: HttpRequest) -> Any:
    return services.upcoming_public().order_by("starts_at", "pk")


@router.get(
    "/engagement/sessions/{session_id}",
    auth=None,
    response={200: SessionOut, **PUBLIC_ERRORS},
    summary="One session (no token needed; the meeting link needs a place)",
    openapi_extra={"security": [{}, {"TokenAuth": []}]},
    description=(
        "Private sessions are shared by their address. `meeting_link` is null unless a "
        "valid token is sent whose owner holds a place or coordinates engagement."
    ),
)
@_public
def get_session(request: HttpRequest, session_id: UUID) -> Any:
    user = access.signed_in(request.user)
    return _session_out(services.get_session(request, session_id), user)


@router.post(
    "/engagement/sessions",
    response={201: SessionOut, **ERRORS},
    summary="Schedule a session, optionally for a meeting request (coordinator)",
)
def create_session(request: HttpRequest, payload: SessionCreateIn) -> Any:
    _need_write(request)
    user = _coordinator(request)
    meeting: MeetingRequest | None = None
    if payload.meeting_request is not None:
        meeting = services.visible_requests(user).filter(pk=payload.meeting_request).first()
        if meeting is None:
            return error_out(
                422, "No such meeting request.", {"meeting_request": "No such meeting request."}
            )
        if payload.meeting_request_version is None:
            message = "Send the meeting request's version with it."
            return error_out(422, message, {"meeting_request_version": message})
    try:
        session = services.create_session(
            request, user, _session_input(payload), meeting,
            payload.meeting_request_version or 0,
        )  # fmt: skip
    except EngagementError as error:
        return _refused(error, SESSION_FIELDS)
    except Stale:
        assert meeting is not None
        assert payload.meeting_request_version is not None
        return _stale("meeting request", payload.meeting_request_version, _meeting_version(meeting))
    return Status(201, _session_out(session, user))


@router.put(
    "/engagement/sessions/{session_id}",
    response={200: SessionOut, **ERRORS},
    summary="Change a session; everyone registered gets an updated invitation (coordinator)",
)
def update_session(request: HttpRequest, session_id: UUID, payload: SessionUpdateIn) -> Any:
    _need_write(request)
    session = services.get_managed_session(request, session_id)
    user = _user(request)
    try:
        session = services.update_session(
            request, user, session, _session_input(payload), version=payload.version
        )
    except EngagementError as error:
        return _refused(error, SESSION_FIELDS)
    except Stale:
        return _stale("session", payload.version, _session_version(session))
    return _session_out(session, user)


@router.post(
    "/engagement/sessions/{session_id}/cancel",
    response={200: SessionOut, **ERRORS},
    summary="Cancel a session; everyone registered is told (coordinator)",
)
def cancel_session(request: HttpRequest, session_id: UUID, payload: CancelIn) -> Any:
    _need_write(request)
    session = services.get_managed_session(request, session_id)
    user = _user(request)
    try:
        session = services.cancel_session(
            request, user, session, version=payload.version, reason=payload.reason
        )
    except EngagementError as error:
        return _refused(error)
    except Stale:
        return _stale("session", payload.version, _session_version(session))
    return _session_out(session, user)


# --- Registrations ---------------------------------------------------------------------


@router.get(
    "/engagement/sessions/{session_id}/registrations",
    response={200: list[RegistrationOut], **ERRORS},
    summary="Who registered, in waiting order (coordinator)",
)
@paginate(Pagination)
def list_registrations(
    request: HttpRequest, session_id: UUID, status: RegistrationStatus | None = None
) -> Any:
    _need_read(request)
    session = services.get_managed_session(request, session_id)
    found = session.registrations.select_related("session").order_by("queued_at", "pk")
    if status is not None:
        found = found.filter(status=status)
    return found


def _registrant(user: User, payload: RegisterIn) -> services.Registrant | Status[dict[str, Any]]:
    if payload.agency is not None:
        agency = services.member_agency(user, payload.agency)
        if agency is None:
            message = "Choose one of your own agencies."
            return error_out(422, message, {"agency": message})
    else:
        theirs = list(services.requester_agencies(user)[:2])
        agency = theirs[0] if len(theirs) == 1 else None
    return services.Registrant(
        full_name=user.full_name, email=user.email,
        agency_name=agency.name if agency is not None else payload.agency_name, agency=agency,
    )  # fmt: skip


@router.post(
    "/engagement/sessions/{session_id}/registrations",
    response={201: RegistrationOut, **ERRORS},
    summary="Take a place (or a place in line) for yourself",
    description=(
        "Your name and email come from your account. The answer's `status` is `registered` "
        "or `waitlisted`; the confirmation (with the invitation) is emailed."
    ),
)
def register(request: HttpRequest, session_id: UUID, payload: RegisterIn) -> Any:
    _need_write(request)
    user = _user(request)
    session = services.get_session(request, session_id)
    who = _registrant(user, payload)
    if isinstance(who, Status):
        return who
    try:
        registration, _token = services.register(request, session, who, user)
    except EngagementError as error:
        return _refused(error, REGISTRANT_FIELDS)
    return Status(201, registration)


def _own_registration(request: HttpRequest, session_id: UUID) -> Registration:
    """The caller's registration for the session: a live one first, else the last cancelled."""
    user = _user(request)
    session = services.get_session(request, session_id)
    found = (
        services.own_registrations(user)
        .filter(session=session)
        .order_by(F("cancelled_at").desc(nulls_first=True), "-created_at")
        .first()
    )
    if found is None:
        raise access.not_found(request, "registration", session_id)
    return found


@router.delete(
    "/engagement/sessions/{session_id}/registration",
    response={200: RegistrationOut, **ERRORS},
    summary="Give up your place; the next in line gets it",
)
def cancel_registration(request: HttpRequest, session_id: UUID) -> Any:
    _need_write(request)
    registration = _own_registration(request, session_id)
    try:
        registration = services.cancel_registration(request, registration, _user(request))
    except EngagementError as error:
        return _refused(error)
    return registration


@router.get(
    "/engagement/sessions/{session_id}/invite.ics",
    response={200: None, **ERRORS},
    summary="Your calendar invitation for the session (text/calendar)",
    openapi_extra={
        "responses": {
            200: {
                "description": "An iCalendar file with one event; the UID never changes.",
                "content": {"text/calendar": {"schema": {"type": "string"}}},
            }
        }
    },
)
def invitation(request: HttpRequest, session_id: UUID) -> Any:
    _need_read(request)
    registration = _own_registration(request, session_id)
    response = HttpResponse(
        services.attendee_calendar(registration), content_type="text/calendar; charset=utf-8"
    )
    response["Content-Disposition"] = 'attachment; filename="invite.ics"'
    return response


# --- Attendance, follow-up and history -------------------------------------------------


def _attendance_csv(items: list[AttendanceIn]) -> tuple[bytes, dict[int, int]]:
    """The list as the CSV the attendance reader takes, and each row's last line -> index."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["email", "attended"])
    lines = {}
    line = 1
    for index, item in enumerate(items):
        row = io.StringIO()
        csv.writer(row, lineterminator="\r\n").writerow(
            [item.email, "yes" if item.attended else "no"]
        )
        text = row.getvalue()
        buffer.write(text)
        line += len(io.StringIO(text, newline="").readlines())
        lines[line] = index
    return buffer.getvalue().encode(), lines


@router.post(
    "/engagement/sessions/{session_id}/attendance",
    response={200: AttendanceOut, **ERRORS},
    summary="Record who attended (coordinator); all items are saved or none",
    description=(
        "A list of `{email, attended}` for people registered for the session. If any item "
        "is refused nothing is saved, and each refusal names its item (`$[i].email`)."
    ),
)
def record_attendance(request: HttpRequest, session_id: UUID, payload: list[AttendanceIn]) -> Any:
    _need_write(request)
    session = services.get_managed_session(request, session_id)
    data, lines = _attendance_csv(payload)
    parsed = attendance.parse(data, services.attendance_emails(session))
    if not parsed.ok:
        errors = []
        for problem in parsed.problems:
            index = lines.get(problem.line)
            where = "$" if index is None else f"$[{index}]"
            path = f"{where}.{problem.column}" if index is not None and problem.column else where
            errors.append({"path": path, "message": problem.message})
        return Status(422, {"detail": "Nothing was saved: some items are not valid.",
                            "errors": errors})  # fmt: skip
    try:
        changed = services.record_attendance(
            request, _user(request), session, services.attendance_marks(session, parsed.rows)
        )
    except EngagementError as error:
        return _refused(error)
    return {"changed": changed}


@router.post(
    "/engagement/sessions/{session_id}/follow-up",
    response={200: FollowUpOut, **ERRORS},
    summary="Email the follow-up with the materials, once per person (coordinator)",
)
def follow_up(request: HttpRequest, session_id: UUID, payload: FollowUpIn) -> Any:
    _need_write(request)
    session = services.get_managed_session(request, session_id)
    try:
        sent = services.send_follow_up(
            request, _user(request), session, include_absent=payload.include_absent,
            note=payload.note,
        )  # fmt: skip
    except EngagementError as error:
        return _refused(error)
    return {"sent": sent}


@router.get(
    "/engagement/agencies",
    response={200: list[AgencyEngagementOut], **ERRORS},
    summary="Engagement history by agency (coordinator)",
)
@paginate(Pagination)
def engagement_by_agency(request: HttpRequest) -> Any:
    _need_read(request)
    _coordinator(request)
    return services.engagement_by_agency()
