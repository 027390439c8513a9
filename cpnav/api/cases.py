"""Cases, people and CP requests over the API, with personal tokens.

The same services and access rules as the pages: a record outside the
token owner's need to know is a 404, exactly as on the site.
"""

import threading
from datetime import UTC, date, datetime
from typing import Annotated, Any
from uuid import UUID

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import LimitOffsetPagination, paginate
from ninja.security import HttpBearer
from ninja.throttling import BaseThrottle
from pydantic import AfterValidator

from cpnav.accounts import access, tokens
from cpnav.accounts.models import Agency, User
from cpnav.api.errors import (
    CREATE_ERRORS,
    LIST_ERRORS,
    READ_ERRORS,
    WRITE_ERRORS,
    error,
    responses,
)
from cpnav.cases import services, workflow
from cpnav.cases.models import (
    Citizenship,
    CivilStatus,
    CPRequest,
    CriminalStatus,
    Person,
    RequestKind,
)
from cpnav.cases.models import Form as CaseForm
from cpnav.cases.models import Status as RequestStatus
from cpnav.core.ratelimit import Limit, hit_key, parse_rate, report
from cpnav.policy import FactsError, parse_facts

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class TokenAuth(HttpBearer):
    """A personal token: valid, unrevoked, unexpired, of an account that may sign in.

    Reading needs the token's ``read`` scope (checked here, for every token route);
    writing needs ``write`` (checked by each operation).
    """

    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        found = tokens.authenticate(request, token)
        if found is None:
            return None
        user, api_token = found
        request.user = user
        request.api_scopes = api_token.scopes  # type: ignore[attr-defined]
        request.api_token_prefix = api_token.prefix  # type: ignore[attr-defined]
        if request.method in SAFE_METHODS and "read" not in api_token.scopes:
            raise access.forbidden(request, "api read scope")
        return user


# --- Rate limit per token ----------------------------------------------------------
# A fixed window in the shared counter table, as cpnav.core.ratelimit counts anonymous
# callers, but keyed by the token's public prefix instead of the client address:
# a token's budget follows it across addresses, and one office behind a NAT does
# not share one budget. Only calls with a valid token count (TokenAuth runs first).


def token_rate() -> Limit:
    """Setting API_TOKEN_RATE (env CPNAV_API_TOKEN_RATE), e.g. '600/min'."""
    return parse_rate("CPNAV_API_TOKEN_RATE", settings.API_TOKEN_RATE)


class TokenRateThrottle(BaseThrottle):
    """django-ninja throttle: 429 with Retry-After once a token spends its budget."""

    def __init__(self) -> None:
        self._local = threading.local()

    def allow_request(self, request: HttpRequest) -> bool:
        prefix = getattr(request, "api_token_prefix", None)
        if prefix is None:  # public calls have their own, per-address limit
            return True
        key = f"api-token:{prefix}"
        wait = hit_key(key, token_rate())
        self._local.wait = wait
        if wait is not None:
            report(request, key, wait, {"limit": "api-token", "token": prefix})
        return wait is None

    def wait(self) -> float | None:
        wait: int | None = getattr(self._local, "wait", None)
        return float(wait) if wait is not None else None


# --- Pages of results ------------------------------------------------------------------

MAX_PAGE = 500
MAX_OFFSET = 1_000_000


class PageInput(LimitOffsetPagination.Input):
    limit: int = Field(100, ge=1, le=MAX_PAGE, description="Items per page.")
    offset: int = Field(0, ge=0, le=MAX_OFFSET, description="Items to skip.")


class Pagination(LimitOffsetPagination):
    """limit/offset pages with bounds: an offset past what a database can count is a 422,
    not a server error."""

    Input = PageInput


router = Router(tags=["cases"], auth=TokenAuth(), throttle=TokenRateThrottle())
# Every error a token operation can answer (engagement declares these); the
# operations here declare the narrower sets from cpnav.api.errors.
ERRORS = responses(400, 401, 403, 404, 409, 422, 429)


def _user(request: HttpRequest) -> User:
    user = access.signed_in(request.user)
    if user is None:
        raise PermissionDenied("not signed in")
    return user


def _need_write(request: HttpRequest) -> None:
    if "write" not in getattr(request, "api_scopes", []):
        raise access.forbidden(request, "api write scope")


# --- Dates the record can hold ---------------------------------------------------------
# Dates far outside any real case (year 1, year 9999) are refused: the deadline
# arithmetic adds days to them and would overflow.

EARLIEST = date(1900, 1, 1)
LATEST = date(2199, 12, 31)
DAY_RULE = f"A calendar date from {EARLIEST} to {LATEST}."


def _moment(value: datetime) -> datetime:
    if not EARLIEST.year < value.year < LATEST.year:
        raise ValueError(f"must be between {EARLIEST.year + 1} and {LATEST.year - 1}")
    return value if timezone.is_aware(value) else value.replace(tzinfo=UTC)


Day = Annotated[date, Field(ge=EARLIEST, le=LATEST, description=DAY_RULE)]
Moment = Annotated[
    datetime,
    AfterValidator(_moment),
    Field(description="A date and time (ISO 8601); without an offset it is UTC."),
]


# Free text may not carry NUL characters, which PostgreSQL cannot store.
NO_NUL = r"^[^\x00]*$"


def text(max_length: int, *, min_length: int = 0, default: str = "") -> Any:
    """A free-text field: bounded, and refused if it holds a NUL character."""
    if min_length:
        return Field(min_length=min_length, max_length=max_length, pattern=NO_NUL)
    return Field(default, max_length=max_length, pattern=NO_NUL)


Label = Annotated[str, Field(max_length=100, pattern=NO_NUL)]


class AgencyOut(Schema):
    id: UUID
    name: str
    level: str


class CaseIn(Schema):
    agency: UUID
    case_number: str = text(60, min_length=1)
    trafficking_forms: list[CaseForm] = Field([], max_length=2)
    federal_partner: UUID | None = None
    criminal_status: CriminalStatus = CriminalStatus.INVESTIGATING
    civil_status: CivilStatus = CivilStatus.NONE
    civil_court: str = text(200)
    civil_number: str = text(80)
    civil_filed_on: Day | None = None


class CaseOut(Schema):
    id: UUID
    case_number: str
    agency: AgencyOut
    trafficking_forms: list[str]
    federal_partner: AgencyOut | None
    criminal_status: str
    civil_status: str
    version: int
    updated_at: datetime


class PersonIn(Schema):
    full_name: str = text(300, min_length=1)
    aliases: list[Annotated[str, Field(max_length=300, pattern=NO_NUL)]] = Field([], max_length=20)
    date_of_birth: Day | None = None
    age_estimate: int | None = Field(None, ge=0, le=120)
    citizenship: Citizenship = Citizenship.UNKNOWN
    country: str = text(80)
    languages: list[Label] = Field([], max_length=20)
    interpreter_needed: bool = False
    a_number: str = Field("", pattern=r"^$|^[Aa]?-?\d{8,9}$")
    contact: str = text(1000)
    do_not_contact: bool = False
    safe_contact: str = text(1000)


class PersonOut(Schema):
    id: UUID
    case: UUID
    fields: dict[str, Any]
    citizenship: str
    age_estimate: int | None
    version: int


class FactsIn(Schema):
    version: int = Field(ge=1)
    facts: dict[str, Any]
    narrative: str = text(4000)


class TransitionIn(Schema):
    comment: str = text(4000)
    information: str = text(4000)
    due_date: Day | None = None
    start_date: Day | None = None
    end_date: Day | None = None


class EventOut(Schema):
    transition: str
    from_status: str
    to_status: str
    comment: str
    at: datetime


class RequestOut(Schema):
    id: UUID
    reference: str
    case: UUID
    person: UUID
    kind: str
    status: str
    facts: dict[str, Any]
    determination: dict[str, Any]
    rules_version: str
    version: int
    available_transitions: list[str]
    events: list[EventOut]


class DecisionOut(Schema):
    id: UUID
    kind: str
    information_requested: str
    due_date: date | None
    start_date: date | None
    end_date: date | None
    reason: str
    recorded_at: datetime


def _case_out(case: Any) -> dict[str, Any]:
    return {
        "id": case.pk, "case_number": case.case_number, "agency": case.agency,
        "trafficking_forms": case.trafficking_forms, "federal_partner": case.federal_partner,
        "criminal_status": case.criminal_status, "civil_status": case.civil_status,
        "version": case.version, "updated_at": case.updated_at,
    }  # fmt: skip


def _request_out(request: HttpRequest, cp: CPRequest) -> dict[str, Any]:
    return {
        "id": cp.pk, "reference": workflow.reference(cp), "case": cp.case_id, "person": cp.person_id,
        "kind": cp.kind, "status": cp.status, "facts": cp.facts, "determination": cp.determination,
        "rules_version": cp.rules_version, "version": cp.version,
        "available_transitions": [t.name for t in workflow.available(_user(request), cp)],
        "events": list(cp.events.all()),
    }  # fmt: skip


_error = error


class CaseFilters(Schema):
    agency: UUID | None = Field(None, description="Only cases of this agency.")
    criminal_status: CriminalStatus | None = None
    civil_status: CivilStatus | None = None
    updated_since: Moment | None = Field(None, description="Only cases changed at or after this.")


@router.get("/cases", response={200: list[CaseOut], **LIST_ERRORS}, summary="Cases you can see")
@paginate(Pagination)
def list_cases(request: HttpRequest, filters: Query[CaseFilters]) -> Any:
    found = access.visible_cases(request.user)
    if filters.agency:
        found = found.filter(agency_id=filters.agency)
    if filters.criminal_status:
        found = found.filter(criminal_status=filters.criminal_status)
    if filters.civil_status:
        found = found.filter(civil_status=filters.civil_status)
    if filters.updated_since:
        found = found.filter(updated_at__gte=filters.updated_since)
    return [_case_out(c) for c in found.order_by("-updated_at", "pk")]


@router.post("/cases", response={201: CaseOut, **CREATE_ERRORS}, summary="Open a case")
def create_case(request: HttpRequest, payload: CaseIn) -> Any:
    _need_write(request)
    agency = Agency.objects.filter(pk=payload.agency).first()
    if agency is None:
        return _error(422, "Unknown agency.", {"agency": "no such agency"})
    partner = (
        Agency.objects.filter(pk=payload.federal_partner).first()
        if payload.federal_partner
        else None
    )
    if payload.federal_partner and partner is None:
        return _error(422, "Unknown federal partner.", {"federal_partner": "no such agency"})
    fields = payload.dict(exclude={"agency", "federal_partner"})
    try:
        case = services.create_case(
            request, _user(request), agency, federal_partner=partner, **fields
        )
    except services.CaseError as failure:
        return _error(422, str(failure), failure.fields)
    return Status(201, _case_out(case))


@router.get("/cases/{case_id}", response={200: CaseOut, **READ_ERRORS}, summary="One case")
def get_case(request: HttpRequest, case_id: UUID) -> Any:
    return _case_out(access.get_case(request, case_id))


@router.post(
    "/cases/{case_id}/persons", response={201: PersonOut, **CREATE_ERRORS}, summary="Add a person"
)
def add_person(request: HttpRequest, case_id: UUID, payload: PersonIn) -> Any:
    _need_write(request)
    case = access.get_case(request, case_id)
    if payload.date_of_birth and payload.date_of_birth > date.today():
        return _error(
            422, "The date of birth is in the future.", {"date_of_birth": "in the future"}
        )
    data = payload.dict()
    data["date_of_birth"] = payload.date_of_birth.isoformat() if payload.date_of_birth else ""
    digits = "".join(ch for ch in payload.a_number if ch.isdigit())
    data["a_number"] = f"A{digits.zfill(9)}" if digits else ""
    person = services.add_person(request, case, **data)
    return Status(201, _person_out(request, person, None))


def _person_out(request: HttpRequest, person: Person, share: Any) -> dict[str, Any]:
    return {
        "id": person.pk, "case": person.case_id, "fields": access.identifying_view(request, person, share),
        "citizenship": person.citizenship, "age_estimate": person.age_estimate, "version": person.version,
    }  # fmt: skip


@router.get(
    "/persons/{person_id}", response={200: PersonOut, **READ_ERRORS}, summary="One person (audited)"
)
def get_person(request: HttpRequest, person_id: UUID) -> Any:
    person, share = access.get_person(request, person_id)
    return _person_out(request, person, share)


@router.post("/persons/{person_id}/requests", response={201: RequestOut, **CREATE_ERRORS},
             summary="Start a CP request")  # fmt: skip
def start_request(
    request: HttpRequest, person_id: UUID, kind: RequestKind = RequestKind.INITIAL
) -> Any:
    _need_write(request)
    person, share = access.get_person(request, person_id)
    if share is not None:
        raise access.forbidden(request, "start request")
    cp = services.start_request(request, _user(request), person, kind)
    return Status(201, _request_out(request, cp))


class RequestFilters(Schema):
    status: RequestStatus | None = None
    kind: RequestKind | None = None
    case: UUID | None = Field(None, description="Only requests of this case.")
    person: UUID | None = Field(None, description="Only requests for this person.")
    updated_since: Moment | None = Field(
        None, description="Only requests changed at or after this."
    )


@router.get(
    "/requests", response={200: list[RequestOut], **LIST_ERRORS}, summary="CP requests you can see"
)
@paginate(Pagination)
def list_requests(request: HttpRequest, filters: Query[RequestFilters]) -> Any:
    found = access.visible_requests(request.user).order_by("-updated_at", "pk")
    if filters.status:
        found = found.filter(status=filters.status)
    if filters.kind:
        found = found.filter(kind=filters.kind)
    if filters.case:
        found = found.filter(case_id=filters.case)
    if filters.person:
        found = found.filter(person_id=filters.person)
    if filters.updated_since:
        found = found.filter(updated_at__gte=filters.updated_since)
    return [_request_out(request, cp) for cp in found]


@router.get(
    "/requests/{request_id}", response={200: RequestOut, **READ_ERRORS}, summary="One CP request"
)
def get_request(request: HttpRequest, request_id: UUID) -> Any:
    return _request_out(request, access.get_cp_request(request, request_id))


@router.get(
    "/requests/{request_id}/decisions",
    response={200: list[DecisionOut], **READ_ERRORS},
    summary="What CCHT recorded on a request (and withdrawals), oldest first",
    description=(
        "Decisions are made with transitions: `record_receipt`, `request_information` "
        "(information, due_date), `grant` (start_date, end_date) and `deny` (comment)."
    ),
)
def list_decisions(request: HttpRequest, request_id: UUID) -> Any:
    cp = access.get_cp_request(request, request_id)
    return list(cp.decisions.order_by("recorded_at", "pk"))


@router.put("/requests/{request_id}/facts", response={200: RequestOut, **WRITE_ERRORS},
            summary="Replace a draft's facts (versioned)")  # fmt: skip
def put_facts(request: HttpRequest, request_id: UUID, payload: FactsIn) -> Any:
    _need_write(request)
    cp = access.get_cp_request(request, request_id)
    if not services.editable(_user(request), cp):
        raise access.forbidden(request, "edit request")
    try:
        parse_facts(payload.facts)
    except FactsError as failure:
        return _error(
            422, "Some facts are not valid.", {p.removeprefix("$."): m for p, m in failure.errors}
        )
    candidate = CPRequest(
        case=cp.case, person=cp.person, facts=payload.facts, sponsor_office=cp.sponsor_office
    )
    try:
        workflow.refresh_determination(candidate)
        cp = services.save_versioned(
            request, cp, payload.version,
            {"facts": payload.facts, "narrative": payload.narrative,
             "determination": candidate.determination, "rules_version": candidate.rules_version},
            "request.changed",
        )  # fmt: skip
    except workflow.TransitionError as failure:
        return _error(422, str(failure), failure.fields)
    except services.StaleVersion as failure:
        return _error(
            409, f"Someone saved version {failure.current.version} first; fetch it and merge."
        )
    return _request_out(request, cp)


@router.post("/requests/{request_id}/transitions/{name}", response={200: RequestOut, **WRITE_ERRORS},
             summary="Move a request along its route")  # fmt: skip
def transition(request: HttpRequest, request_id: UUID, name: str, payload: TransitionIn) -> Any:
    _need_write(request)
    cp = access.get_cp_request(request, request_id)
    if name not in workflow.TRANSITIONS:
        raise Http404("No such transition.")
    try:
        cp = workflow.perform(request, cp, name, _user(request), **payload.dict())
    except workflow.TransitionError as failure:
        return _error(422 if failure.fields else 409, str(failure), failure.fields)
    return _request_out(request, cp)


# --- The guided interview and the package ------------------------------------


class ChoiceOut(Schema):
    value: str
    label: str


class QuestionOut(Schema):
    id: str
    type: str
    label: str
    help: str | None
    required: bool
    choices: list[ChoiceOut]


class InterviewOut(Schema):
    interview: str
    complete: bool
    next_question: QuestionOut | None
    answers: dict[str, Any]
    determination: dict[str, Any]


class AnswerIn(Schema):
    value: Any = None


class PackageOut(Schema):
    id: UUID
    version: int
    format: str
    sha256: str
    size: int
    generated_at: datetime


def _interview_out(request: HttpRequest, cp: CPRequest) -> dict[str, Any]:
    from cpnav.cases.interview_views import answers_with_prefill, interview_id
    from cpnav.interview import interview_by_id, state

    interview = interview_by_id(interview_id(cp))
    answers = answers_with_prefill(cp, _user(request), interview, date.today())
    current = state(interview, answers, today=date.today())
    question = current.next_question
    return {
        "interview": interview.id,
        "complete": current.complete,
        "next_question": None
        if question is None
        else {
            "id": question.id,
            "type": question.type,
            "label": question.label,
            "help": question.help,
            "required": question.required,
            "choices": [{"value": str(c.value), "label": c.label} for c in question.choices or ()],
        },
        "answers": answers,
        "determination": cp.determination,
    }


def _draft_for_team(request: HttpRequest, request_id: UUID) -> CPRequest:
    cp = access.get_cp_request(request, request_id)
    if not services.editable(_user(request), cp):
        raise access.forbidden(request, "request interview")
    return cp


@router.get("/requests/{request_id}/interview", response={200: InterviewOut, **READ_ERRORS},
            summary="The next question of the guided request")  # fmt: skip
def get_interview(request: HttpRequest, request_id: UUID) -> Any:
    return _interview_out(request, _draft_for_team(request, request_id))


@router.post("/requests/{request_id}/interview/{question_id}", response={200: InterviewOut, **CREATE_ERRORS},
             summary="Answer one question (saved at once)")  # fmt: skip
def post_answer(request: HttpRequest, request_id: UUID, question_id: str, payload: AnswerIn) -> Any:
    from cpnav.cases.interview_views import answers_with_prefill, interview_id, save_answers
    from cpnav.interview import AnswerError, answer, interview_by_id

    _need_write(request)
    cp = _draft_for_team(request, request_id)
    interview = interview_by_id(interview_id(cp))
    today = date.today()
    answers = answers_with_prefill(cp, _user(request), interview, today)
    raw = payload.value
    if raw is None:
        raw = ""
    elif isinstance(raw, bool | int | float):
        raw = str(raw).lower() if isinstance(raw, bool) else str(raw)
    try:
        updated = answer(interview, answers, question_id, raw, today=today)
    except KeyError:
        raise Http404("No such question.") from None
    except AnswerError as failure:
        return _error(422, str(failure), {"value": str(failure)})
    cp = save_answers(request, cp, interview, updated, today=today)
    return _interview_out(request, cp)


@router.post("/requests/{request_id}/package", response={201: list[PackageOut], **CREATE_ERRORS},
             summary="Generate the request package (tagged PDF and DOCX)")  # fmt: skip
def post_package(request: HttpRequest, request_id: UUID, supplement_b: bool = False) -> Any:
    from cpnav.documents import services as documents
    from cpnav.documents.package import PackageIncompleteError

    _need_write(request)
    cp = access.get_cp_request(request, request_id)
    try:
        made = documents.generate(request, cp, _user(request), supplement_b=supplement_b)
    except PackageIncompleteError as failure:
        return Status(422, {"detail": str(failure),
                            "errors": [{"path": "$", "message": m} for m in failure.missing]})  # fmt: skip
    return Status(201, made)


@router.get("/packages/{document_id}", response={200: None, **READ_ERRORS},
            summary="Download a generated package file")  # fmt: skip
def get_package(request: HttpRequest, document_id: UUID) -> Any:
    from cpnav.documents.views import download

    return download(request, document_id)
