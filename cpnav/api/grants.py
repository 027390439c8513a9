"""Grants and deadlines over the API: what the grant pages and the deadlines page do.

CCHT's decisions themselves are request transitions (see cases.py: `grant` with
its dates, `deny`, `request_information`, `record_receipt`); a grant is what a
`grant` transition leaves on the person. Everything here goes through
`cpnav.grants.services`, with the pages' access rules: a grant outside the
caller's cases is a 404; one the caller sees but may not change is a 403.
"""

import datetime as dt
from typing import Any, Literal
from uuid import UUID

from django.db.models import F, Max, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate

from cpnav.accounts import access
from cpnav.accounts.models import User
from cpnav.api.cases import (
    AgencyOut,
    Day,
    Pagination,
    TokenAuth,
    TokenRateThrottle,
    _need_write,
    _user,
    text,
)
from cpnav.api.errors import CREATE_ERRORS, LIST_ERRORS, READ_ERRORS, WRITE_ERRORS, error
from cpnav.cases.models import Person
from cpnav.grants import services
from cpnav.grants.deadlines import Kind
from cpnav.grants.models import EndKind, Grant, TVisaStatus

router = Router(tags=["grants"], auth=TokenAuth(), throttle=TokenRateThrottle())

GrantStatus = Literal["active", "extension_requested", "expired", "ended", "revoked"]
DeadlineStatus = Literal["upcoming", "due_soon", "overdue", "done"]
# Dates that record something that already happened (the grant page refuses future ones).


# --- Schemas -------------------------------------------------------------------------


class TermOut(Schema):
    kind: str
    start: dt.date
    end: dt.date
    request: UUID = Field(description="The CP request whose grant made this term.")


class EndOut(Schema):
    kind: str
    effective_on: dt.date
    reason: str
    recorded_at: dt.datetime


class GrantOut(Schema):
    id: UUID
    reference: str
    person: UUID
    case: UUID
    agency: AgencyOut
    status: GrantStatus = Field(description="Derived from the terms and end events, today.")
    current_term: TermOut | None
    terms: list[TermOut]
    ends: list[EndOut]
    work_permit_received_on: dt.date | None
    work_permit_expires_on: dt.date | None
    dhs_notified_hhs_on: dt.date | None
    hhs_letter_on: dt.date | None
    t_visa_status: str
    t_visa_referred_on: dt.date | None
    t_visa_filed_on: dt.date | None
    can_edit: bool = Field(description="Whether the caller may record papers and ends.")
    version: int


class WorkPermitIn(Schema):
    version: int = Field(ge=1, description="The grant's version this change starts from.")
    work_permit_received_on: Day | None = None
    work_permit_expires_on: Day | None = None


class HHSLetterIn(Schema):
    version: int = Field(ge=1, description="The grant's version this change starts from.")
    dhs_notified_hhs_on: Day | None = None
    hhs_letter_on: Day | None = None


class TVisaIn(Schema):
    version: int = Field(ge=1, description="The grant's version this change starts from.")
    t_visa_status: TVisaStatus
    t_visa_referred_on: Day | None = None
    t_visa_filed_on: Day | None = None


class EndIn(Schema):
    kind: EndKind
    effective_on: Day
    reason: str = text(2000, min_length=1)


class GrantFilters(Schema):
    status: GrantStatus | None = None
    agency: UUID | None = Field(None, description="Only grants of cases of this agency.")
    person: UUID | None = Field(None, description="Only this person's grant.")
    ending_before: Day | None = Field(
        None, description="Only grants whose current term ends before this date."
    )


class DeadlineOut(Schema):
    kind: Kind
    title: str
    due: dt.datetime = Field(description="In the agency's time zone.")
    all_day: bool
    on_time_until: dt.datetime
    source: str = Field(description="Where the date comes from: a statute, a rule, a record.")
    status: DeadlineStatus
    reference: str
    grant: UUID | None
    person: UUID
    link: str = Field(description="The page that shows it.")


class DeadlineFilters(Schema):
    scope: Literal["mine", "all"] = Field(
        "mine", description="mine: your case teams' deadlines; all: every case you can see."
    )
    show: Literal["open", "all"] = Field("open", description="open leaves out what is done.")
    kind: Kind | None = None
    days: int | None = Field(
        None, ge=0, le=3650, description="Only what is due within this many days (and overdue)."
    )


# --- Helpers -------------------------------------------------------------------------


def _term_out(term: Any) -> dict[str, Any]:
    return {"kind": term.kind, "start": term.start, "end": term.end, "request": term.request_id}


def _grant_out(user: User, grant: Grant, today: dt.date) -> dict[str, Any]:
    terms = list(grant.terms.order_by("start"))
    current = max(terms, key=lambda term: term.end, default=None)
    return {
        "id": grant.pk, "reference": services.reference(grant), "person": grant.person_id,
        "case": grant.person.case_id, "agency": grant.person.case.agency,
        "status": grant.status(today), "current_term": _term_out(current) if current else None,
        "terms": [_term_out(term) for term in terms],
        "ends": list(grant.ends.order_by("-effective_on", "-recorded_at")),
        "work_permit_received_on": grant.work_permit_received_on,
        "work_permit_expires_on": grant.work_permit_expires_on,
        "dhs_notified_hhs_on": grant.dhs_notified_hhs_on, "hhs_letter_on": grant.hhs_letter_on,
        "t_visa_status": grant.t_visa_status, "t_visa_referred_on": grant.t_visa_referred_on,
        "t_visa_filed_on": grant.t_visa_filed_on,
        "can_edit": access.can_edit_case(user, grant.person.case), "version": grant.version,
    }  # fmt: skip


def _deadline_rows(
    rows: list[services.Row], grants: QuerySet[Grant], people: QuerySet[Person] | None
) -> list[dict[str, Any]]:
    """The service's rows, each with the grant and person its page link points to."""
    owners: dict[str, tuple[UUID | None, UUID]] = {
        reverse("grants:grant", args=[pk]): (pk, person) for pk, person in grants.values_list("pk", "person_id")
    }  # fmt: skip
    if people is not None:
        owners |= {reverse("cases:person", args=[pk]): (None, pk)
                   for pk in people.values_list("pk", flat=True)}  # fmt: skip
    out = []
    for row in rows:
        grant, person = owners[row.link]
        deadline = row.deadline
        out.append({
            "kind": deadline.kind, "title": deadline.title, "due": deadline.due,
            "all_day": deadline.all_day, "on_time_until": deadline.on_time_until,
            "source": deadline.source, "status": deadline.status, "reference": deadline.reference,
            "grant": grant, "person": person, "link": row.link,
        })  # fmt: skip
    return out


def _editable_grant(request: HttpRequest, grant_id: UUID) -> tuple[User, Grant]:
    _need_write(request)
    grant = services.get_grant(request, grant_id)
    user = _user(request)
    if not access.can_edit_case(user, grant.person.case):
        raise access.forbidden(request, "grant")
    return user, grant


def _track(request: HttpRequest, grant_id: UUID, version: int, changes: dict[str, Any]) -> Any:
    """Record papers on the grant, the way the grant page's tracking form does, if nobody
    saved the grant since ``version``."""
    user, grant = _editable_grant(request, grant_id)
    try:
        locked = services.update_tracking(request, grant, changes, version=version)
    except services.StaleGrant as stale:
        message = (
            f"Someone saved version {stale.current} of this grant first; "
            "fetch it, check the change and retry with its version."
        )
        return error(409, message, {"version": message})
    except services.GrantError as failure:
        return error(422, str(failure), failure.fields or {"": str(failure)})
    return _grant_out(user, locked, dt.date.today())


# --- Grants --------------------------------------------------------------------------


@router.get(
    "/grants",
    response={200: list[GrantOut], **LIST_ERRORS},
    summary="Grants you can see, soonest-ending first",
)
@paginate(Pagination)
def list_grants(request: HttpRequest, filters: Query[GrantFilters]) -> Any:
    user = _user(request)
    found = services.visible_grants(user).annotate(term_end=Max("terms__end"))
    if filters.agency:
        found = found.filter(person__case__agency_id=filters.agency)
    if filters.person:
        found = found.filter(person_id=filters.person)
    if filters.ending_before:
        found = found.filter(term_end__lt=filters.ending_before)
    today = dt.date.today()
    grants = found.order_by(F("term_end").asc(nulls_last=True), "pk")
    out = [_grant_out(user, grant, today) for grant in grants]
    return [g for g in out if filters.status is None or g["status"] == filters.status]


@router.get("/grants/{grant_id}", response={200: GrantOut, **READ_ERRORS}, summary="One grant")
def get_grant(request: HttpRequest, grant_id: UUID) -> Any:
    return _grant_out(_user(request), services.get_grant(request, grant_id), dt.date.today())


@router.get(
    "/grants/{grant_id}/deadlines",
    response={200: list[DeadlineOut], **READ_ERRORS},
    summary="Every deadline of one grant, done ones too",
)
def grant_deadlines(request: HttpRequest, grant_id: UUID) -> Any:
    grant = services.get_grant(request, grant_id)
    grants = services.visible_grants(_user(request)).filter(pk=grant.pk)
    return _deadline_rows(services.deadlines(grants), grants, None)


@router.put(
    "/grants/{grant_id}/work-permit",
    response={200: GrantOut, **WRITE_ERRORS},
    summary="Record the work permit (EAD) dates (versioned)",
    description="Both dates are replaced; null clears one. It cannot expire before it was received.",
)
def put_work_permit(request: HttpRequest, grant_id: UUID, payload: WorkPermitIn) -> Any:
    return _track(request, grant_id, payload.version, payload.dict(exclude={"version"}))


@router.put(
    "/grants/{grant_id}/hhs-letter",
    response={200: GrantOut, **WRITE_ERRORS},
    summary="Record DHS's notice to HHS and the HHS certification letter (versioned)",
)
def put_hhs_letter(request: HttpRequest, grant_id: UUID, payload: HHSLetterIn) -> Any:
    return _track(request, grant_id, payload.version, payload.dict(exclude={"version"}))


@router.put(
    "/grants/{grant_id}/t-visa",
    response={200: GrantOut, **WRITE_ERRORS},
    summary="Record the T visa referral and application (versioned)",
)
def put_t_visa(request: HttpRequest, grant_id: UUID, payload: TVisaIn) -> Any:
    return _track(request, grant_id, payload.version, payload.dict(exclude={"version"}))


@router.post(
    "/grants/{grant_id}/ends",
    response={201: GrantOut, **CREATE_ERRORS},
    summary="Record that the grant ended or was revoked",
    description=(
        "From `effective_on` the grant counts as ended (or revoked). Make sure the T visa "
        "referral and services are in place before protection ends; CP must never be used "
        "as leverage."
    ),
)
def post_end(request: HttpRequest, grant_id: UUID, payload: EndIn) -> Any:
    user, grant = _editable_grant(request, grant_id)
    try:
        services.record_end(
            request, user, grant, payload.kind, payload.effective_on, payload.reason
        )
    except services.GrantError as failure:
        return error(422, str(failure), failure.fields or {"": str(failure)})
    return Status(201, _grant_out(user, grant, dt.date.today()))


# --- Deadlines -----------------------------------------------------------------------


@router.get(
    "/deadlines",
    response={200: list[DeadlineOut], **LIST_ERRORS},
    summary="Your deadlines, soonest first, as the deadlines page computes them",
)
@paginate(Pagination)
def list_deadlines(request: HttpRequest, filters: Query[DeadlineFilters]) -> Any:
    user = _user(request)
    grants = services.visible_grants(user)
    people = Person.objects.filter(case__in=access.visible_cases(user)).select_related(
        "case__agency"
    )
    if filters.scope == "mine":
        grants = grants.filter(person__case__members__user=user)
        people = people.filter(case__members__user=user)
    grants, people = grants.distinct(), people.distinct()
    rows = services.deadlines(grants, people)
    if filters.show == "open":
        rows = [row for row in rows if row.deadline.status != "done"]
    if filters.kind is not None:
        rows = [row for row in rows if row.deadline.kind == filters.kind]
    if filters.days is not None:
        until = timezone.now() + dt.timedelta(days=filters.days)
        rows = [row for row in rows if row.deadline.due <= until]
    return _deadline_rows(rows, grants, people)
