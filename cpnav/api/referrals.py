"""Referrals and the services directory over the API: what the referral pages do.

Everything goes through `cpnav.referrals.services`, with the pages' rules: only the
case team and the owning agency's supervisors see and make a person's referrals
(a share never allows it); a person or referral outside the caller's cases is a
404, one the caller sees but may not refer is a 403. A referral is made only with
the person's agreement (`consent: true`).
"""

import datetime as dt
from typing import Any
from uuid import UUID

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate
from pydantic import field_validator

from cpnav.accounts import access
from cpnav.api.cases import Day, Pagination, TokenAuth, TokenRateThrottle, _need_write, _user
from cpnav.api.cases import text as free_text
from cpnav.api.errors import CREATE_ERRORS, LIST_ERRORS, READ_ERRORS, WRITE_ERRORS, error
from cpnav.cases.models import Person
from cpnav.referrals import services
from cpnav.referrals.models import US_STATES, Kind, Provider, Referral, ReferralStatus, Service
from cpnav.referrals.services import NOTE_LIMIT

router = Router(tags=["referrals"], auth=TokenAuth(), throttle=TokenRateThrottle())

STATES = sorted(US_STATES)


# --- Schemas -------------------------------------------------------------------------


class ProviderOut(Schema):
    id: UUID
    name: str
    kind: Kind
    jurisdiction: str
    state: str
    services: list[str]
    languages: list[str]
    hours: str
    phone: str = Field(description="As published, e.g. 1-888-373-7888.")
    email: str
    website: str
    notes: str
    source: str
    active: bool


class ProviderRef(Schema):
    id: UUID
    name: str
    jurisdiction: str


class ReferralEventOut(Schema):
    status: str
    note: str
    at: dt.datetime


class ReferralOut(Schema):
    id: UUID
    reference: str
    person: UUID
    provider: ProviderRef
    services: list[str]
    consent_recorded: bool
    consent_recorded_at: dt.datetime
    consent_note: str
    status: ReferralStatus
    next_statuses: list[ReferralStatus]
    follow_up_on: dt.date | None
    created_at: dt.datetime
    events: list[ReferralEventOut]
    version: int


class DirectoryFilters(Schema):
    text: str = free_text(100)
    state: str = Field(
        "",
        description="A U.S. state or territory; national providers serve every state.",
        json_schema_extra={"enum": ["", *STATES]},
    )
    service: Service | None = None
    language: str = free_text(40)

    @field_validator("state")
    @classmethod
    def _known_state(cls, value: str) -> str:
        if value and value not in US_STATES:
            raise ValueError("Use a two-letter U.S. state code, such as OH.")
        return value


class ReferralIn(Schema):
    provider: UUID
    services: list[Service] = Field(min_length=1, max_length=len(Service.values))
    consent: bool = Field(
        description="The person agreed to this referral. Without their agreement, none is made."
    )
    follow_up_on: Day | None = Field(None, description="Not in the past (the agency's day).")
    consent_note: str = free_text(NOTE_LIMIT)


class StatusIn(Schema):
    version: int = Field(ge=1, description="The referral's version this change starts from.")
    status: ReferralStatus
    note: str = free_text(NOTE_LIMIT)


class FollowUpIn(Schema):
    version: int = Field(ge=1, description="The referral's version this change starts from.")
    follow_up_on: Day | None = Field(description="null for none; not in the past.")


# --- Helpers -------------------------------------------------------------------------


def _provider_out(provider: Provider) -> dict[str, Any]:
    return {
        "id": provider.pk, "name": provider.name, "kind": provider.kind,
        "jurisdiction": provider.jurisdiction, "state": provider.state,
        "services": provider.services, "languages": provider.languages, "hours": provider.hours,
        "phone": provider.phone_display, "email": provider.email, "website": provider.website,
        "notes": provider.notes, "source": provider.source, "active": provider.active,
    }  # fmt: skip


def _referral_out(referral: Referral) -> dict[str, Any]:
    return {
        "id": referral.pk, "reference": referral.reference, "person": referral.person_id,
        "provider": referral.provider, "services": referral.services,
        "consent_recorded": referral.consent_recorded,
        "consent_recorded_at": referral.consent_recorded_at,
        "consent_note": referral.consent_note, "status": referral.status,
        "next_statuses": referral.next_statuses(), "follow_up_on": referral.follow_up_on,
        "created_at": referral.created_at, "events": list(referral.events.all()),
        "version": referral.version,
    }  # fmt: skip


def _referral_person(request: HttpRequest, person_id: UUID) -> Person:
    """The person, if the caller may refer them (as the person's referrals page)."""
    person, share = access.get_person(request, person_id)
    if share is not None or not services.may_refer(_user(request), person):
        raise access.forbidden(request, "referrals")
    return person


def _refused(failure: services.ReferralError) -> Status[dict[str, Any]]:
    return error(422, str(failure), {failure.field: str(failure)})


def _stale(sent: int, current: int) -> Status[dict[str, Any]]:
    message = (
        f"Someone changed this referral after version {sent} (it is now version {current}). "
        "Fetch it again, check the change and retry with the new version."
    )
    return error(409, message, {"version": message})


# --- The directory -------------------------------------------------------------------


@router.get(
    "/providers",
    response={200: list[ProviderOut], **LIST_ERRORS},
    summary="Search the services directory (active providers, national ones first)",
)
@paginate(Pagination)
def list_providers(request: HttpRequest, filters: Query[DirectoryFilters]) -> Any:
    found = services.directory(
        text=filters.text.strip(),
        state=filters.state,
        service=filters.service or "",
        language=filters.language.strip(),
    )
    return [_provider_out(provider) for provider in found]


@router.get(
    "/providers/{provider_id}", response={200: ProviderOut, **READ_ERRORS}, summary="One provider"
)
def get_provider(request: HttpRequest, provider_id: UUID) -> Any:
    return _provider_out(services.get_provider(request, provider_id))


# --- Referrals -----------------------------------------------------------------------


@router.get(
    "/persons/{person_id}/referrals",
    response={200: list[ReferralOut], **READ_ERRORS},
    summary="A person's referrals, newest first",
)
@paginate(Pagination)
def list_referrals(request: HttpRequest, person_id: UUID) -> Any:
    person = _referral_person(request, person_id)
    found = Referral.objects.filter(person=person).select_related("provider")
    return [_referral_out(referral) for referral in found.order_by("-created_at", "pk")]


@router.post(
    "/persons/{person_id}/referrals",
    response={201: ReferralOut, **CREATE_ERRORS},
    summary="Refer a person to a provider, with their agreement",
)
def create_referral(request: HttpRequest, person_id: UUID, payload: ReferralIn) -> Any:
    _need_write(request)
    person = _referral_person(request, person_id)
    provider = Provider.objects.filter(pk=payload.provider).first()
    if provider is None:
        return error(422, "Unknown provider.", {"provider": "No such provider."})
    try:
        referral = services.refer(
            request, _user(request), person, provider, [str(s) for s in payload.services],
            payload.consent, payload.follow_up_on, payload.consent_note,
        )  # fmt: skip
    except services.ReferralError as failure:
        return _refused(failure)
    return Status(201, _referral_out(referral))


@router.get(
    "/referrals/{referral_id}", response={200: ReferralOut, **READ_ERRORS}, summary="One referral"
)
def get_referral(request: HttpRequest, referral_id: UUID) -> Any:
    return _referral_out(services.get_referral(request, referral_id))


@router.post(
    "/referrals/{referral_id}/status",
    response={200: ReferralOut, **WRITE_ERRORS},
    summary="Move a referral to its next status (versioned)",
    description=(
        "sent -> accepted or declined; accepted -> completed or declined. A status the "
        "referral cannot reach from where it is now is a 409."
    ),
)
def post_status(request: HttpRequest, referral_id: UUID, payload: StatusIn) -> Any:
    _need_write(request)
    referral = services.get_referral(request, referral_id)
    try:
        referral = services.set_status(
            request, _user(request), referral, payload.status, version=payload.version,
            note=payload.note,
        )  # fmt: skip
    except services.StaleReferral as stale:
        return _stale(payload.version, stale.current.version)
    except services.ReferralError as failure:
        # The status exists (the schema says so) but not from the current one: a conflict.
        return error(409 if failure.field == "status" else 422, str(failure),
                     {failure.field: str(failure)})  # fmt: skip
    return _referral_out(referral)


@router.put(
    "/referrals/{referral_id}/follow-up",
    response={200: ReferralOut, **WRITE_ERRORS},
    summary="Set or clear the follow-up date (versioned)",
)
def put_follow_up(request: HttpRequest, referral_id: UUID, payload: FollowUpIn) -> Any:
    _need_write(request)
    referral = services.get_referral(request, referral_id)
    try:
        referral = services.set_follow_up(
            request, _user(request), referral, payload.follow_up_on, version=payload.version
        )
    except services.StaleReferral as stale:
        return _stale(payload.version, stale.current.version)
    except services.ReferralError as failure:
        return _refused(failure)
    return _referral_out(referral)
