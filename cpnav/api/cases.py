"""Cases, people and CP requests over the API, with personal tokens.

The same services and access rules as the pages: a record outside the
token owner's need to know is a 404, exactly as on the site.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from ninja import Field, Router, Schema, Status
from ninja.pagination import LimitOffsetPagination, paginate
from ninja.security import HttpBearer

from cpnav.accounts import access, tokens
from cpnav.accounts.models import Agency, User
from cpnav.api.errors import ErrorOut
from cpnav.cases import services, workflow
from cpnav.cases.models import CPRequest, Person
from cpnav.policy import FactsError, parse_facts


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        found = tokens.authenticate(request, token)
        if found is None:
            return None
        user, api_token = found
        request.user = user
        request.api_scopes = api_token.scopes  # type: ignore[attr-defined]
        return user


router = Router(tags=["cases"], auth=TokenAuth())
ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


def _user(request: HttpRequest) -> User:
    user = access.signed_in(request.user)
    if user is None:
        raise PermissionDenied("not signed in")
    return user


def _need_write(request: HttpRequest) -> None:
    if "write" not in getattr(request, "api_scopes", []):
        raise access.forbidden(request, "api write scope")


class AgencyOut(Schema):
    id: UUID
    name: str
    level: str


class CaseIn(Schema):
    agency: UUID
    case_number: str = Field(min_length=1, max_length=60)
    trafficking_forms: list[str] = []
    federal_partner: UUID | None = None
    criminal_status: str = "investigating"
    civil_status: str = "none"
    civil_court: str = Field("", max_length=200)
    civil_number: str = Field("", max_length=80)
    civil_filed_on: date | None = None


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
    full_name: str = Field(min_length=1, max_length=300)
    aliases: list[str] = []
    date_of_birth: date | None = None
    age_estimate: int | None = Field(None, ge=0, le=120)
    citizenship: str = "unknown"
    country: str = Field("", max_length=80)
    languages: list[str] = []
    interpreter_needed: bool = False
    a_number: str = Field("", pattern=r"^$|^[Aa]?-?\d{8,9}$")
    contact: str = Field("", max_length=1000)
    do_not_contact: bool = False
    safe_contact: str = Field("", max_length=1000)


class PersonOut(Schema):
    id: UUID
    case: UUID
    fields: dict[str, Any]
    citizenship: str
    age_estimate: int | None
    version: int


class FactsIn(Schema):
    version: int
    facts: dict[str, Any]
    narrative: str = Field("", max_length=4000)


class TransitionIn(Schema):
    comment: str = Field("", max_length=4000)
    information: str = Field("", max_length=4000)
    due_date: date | None = None
    start_date: date | None = None
    end_date: date | None = None


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


def _error(
    status: int, detail: str, fields: dict[str, str] | None = None
) -> Status[dict[str, Any]]:
    return Status(status, {"detail": detail,
                           "errors": [{"path": f"$.{k}", "message": v} for k, v in (fields or {}).items()]})  # fmt: skip


@router.get("/cases", response={200: list[CaseOut], **ERRORS}, summary="Cases you can see")
@paginate(LimitOffsetPagination)
def list_cases(request: HttpRequest) -> Any:
    return [_case_out(c) for c in access.visible_cases(request.user).order_by("-updated_at", "pk")]


@router.post("/cases", response={201: CaseOut, **ERRORS}, summary="Open a case")
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
    except services.CaseError as error:
        return _error(422, str(error), error.fields)
    return Status(201, _case_out(case))


@router.get("/cases/{case_id}", response={200: CaseOut, **ERRORS}, summary="One case")
def get_case(request: HttpRequest, case_id: UUID) -> Any:
    return _case_out(access.get_case(request, case_id))


@router.post(
    "/cases/{case_id}/persons", response={201: PersonOut, **ERRORS}, summary="Add a person"
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
    "/persons/{person_id}", response={200: PersonOut, **ERRORS}, summary="One person (audited)"
)
def get_person(request: HttpRequest, person_id: UUID) -> Any:
    person, share = access.get_person(request, person_id)
    return _person_out(request, person, share)


@router.post("/persons/{person_id}/requests", response={201: RequestOut, **ERRORS},
             summary="Start a CP request")  # fmt: skip
def start_request(request: HttpRequest, person_id: UUID, kind: str = "initial") -> Any:
    _need_write(request)
    person, share = access.get_person(request, person_id)
    if share is not None:
        raise access.forbidden(request, "start request")
    if kind not in {"initial", "extension"}:
        return _error(422, "kind is initial or extension", {"kind": "unknown kind"})
    cp = services.start_request(request, _user(request), person, kind)
    return Status(201, _request_out(request, cp))


@router.get(
    "/requests", response={200: list[RequestOut], **ERRORS}, summary="CP requests you can see"
)
@paginate(LimitOffsetPagination)
def list_requests(request: HttpRequest, status: str | None = None) -> Any:
    found = access.visible_requests(request.user).order_by("-updated_at", "pk")
    if status:
        found = found.filter(status=status)
    return [_request_out(request, cp) for cp in found]


@router.get(
    "/requests/{request_id}", response={200: RequestOut, **ERRORS}, summary="One CP request"
)
def get_request(request: HttpRequest, request_id: UUID) -> Any:
    return _request_out(request, access.get_cp_request(request, request_id))


@router.put("/requests/{request_id}/facts", response={200: RequestOut, **ERRORS},
            summary="Replace a draft's facts (versioned)")  # fmt: skip
def put_facts(request: HttpRequest, request_id: UUID, payload: FactsIn) -> Any:
    _need_write(request)
    cp = access.get_cp_request(request, request_id)
    if not services.editable(_user(request), cp):
        raise access.forbidden(request, "edit request")
    try:
        parse_facts(payload.facts)
    except FactsError as error:
        return _error(
            422, "Some facts are not valid.", {p.removeprefix("$."): m for p, m in error.errors}
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
    except workflow.TransitionError as error:
        return _error(422, str(error), error.fields)
    except services.StaleVersion as error:
        return _error(
            409, f"Someone saved version {error.current.version} first; fetch it and merge."
        )
    return _request_out(request, cp)


@router.post("/requests/{request_id}/transitions/{name}", response={200: RequestOut, **ERRORS},
             summary="Move a request along its route")  # fmt: skip
def transition(request: HttpRequest, request_id: UUID, name: str, payload: TransitionIn) -> Any:
    _need_write(request)
    cp = access.get_cp_request(request, request_id)
    if name not in workflow.TRANSITIONS:
        raise Http404("No such transition.")
    try:
        cp = workflow.perform(request, cp, name, _user(request), **payload.dict())
    except workflow.TransitionError as error:
        return _error(422 if error.fields else 409, str(error), error.fields)
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


@router.get("/requests/{request_id}/interview", response={200: InterviewOut, **ERRORS},
            summary="The next question of the guided request")  # fmt: skip
def get_interview(request: HttpRequest, request_id: UUID) -> Any:
    return _interview_out(request, _draft_for_team(request, request_id))


@router.post("/requests/{request_id}/interview/{question_id}", response={200: InterviewOut, **ERRORS},
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
    except AnswerError as error:
        return _error(422, str(error), {"value": str(error)})
    cp = save_answers(request, cp, interview, updated, today=today)
    return _interview_out(request, cp)


@router.post("/requests/{request_id}/package", response={201: list[PackageOut], **ERRORS},
             summary="Generate the request package (tagged PDF and DOCX)")  # fmt: skip
def post_package(request: HttpRequest, request_id: UUID, supplement_b: bool = False) -> Any:
    from cpnav.documents import services as documents
    from cpnav.documents.package import PackageIncompleteError

    _need_write(request)
    cp = access.get_cp_request(request, request_id)
    try:
        made = documents.generate(request, cp, _user(request), supplement_b=supplement_b)
    except PackageIncompleteError as error:
        return Status(422, {"detail": str(error),
                            "errors": [{"path": "$", "message": m} for m in error.missing]})  # fmt: skip
    return Status(201, made)


@router.get("/packages/{document_id}", response={200: None, **ERRORS},
            summary="Download a generated package file")  # fmt: skip
def get_package(request: HttpRequest, document_id: UUID) -> Any:
    from cpnav.documents.views import download

    return download(request, document_id)
