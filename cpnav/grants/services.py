"""Recording grants as CCHT decides them, and the deadlines that follow from them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from cpnav.accounts import access
from cpnav.accounts.models import User
from cpnav.audit.services import record
from cpnav.cases.models import CPRequest, Decision, DecisionKind, Person, Status
from cpnav.grants.deadlines import Deadline, DeadlineInputs, InformationRequest, compute
from cpnav.grants.models import EndKind, Grant, GrantEnd, GrantTerm, TVisaStatus
from cpnav.policy import extension_term
from cpnav.referrals.services import referral_inputs

REFERRED = {TVisaStatus.REFERRED, TVisaStatus.FILED, TVisaStatus.APPROVED, TVisaStatus.DENIED}


class GrantError(ValueError):
    """A refusal to show the user; ``fields`` names the inputs it is about."""

    def __init__(self, message: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.fields = fields or {}


# Papers that record something that already happened: never dated in the future.
PAST_ONLY = ("work_permit_received_on", "dhs_notified_hhs_on", "hhs_letter_on",
             "t_visa_referred_on", "t_visa_filed_on")  # fmt: skip


def extension_dates(person: Person) -> tuple[date, date] | None:
    """An extension chains from the previous end: start the next day, length by the rules."""
    grant = Grant.objects.filter(person=person).first()
    term = grant.current_term() if grant else None
    if term is None:
        return None
    chained = extension_term(term.end)
    return chained.start, chained.end


def record_grant(cp: CPRequest, decision: Decision) -> GrantTerm:
    """Called inside the grant transition: the person's grant gains this term."""
    assert decision.start_date is not None
    assert decision.end_date is not None
    grant, _created = Grant.objects.get_or_create(person=cp.person)
    return GrantTerm.objects.create(
        grant=grant, request=cp, kind=cp.kind, start=decision.start_date, end=decision.end_date
    )


def visible_grants(user: User | AnonymousUser) -> QuerySet[Grant]:
    return Grant.objects.filter(person__case__in=access.visible_cases(user)).select_related(
        "person", "person__case", "person__case__agency"
    )


def get_grant(request: HttpRequest, grant_id: Any) -> Grant:
    found = visible_grants(request.user).filter(pk=grant_id).first()
    if found is None:
        raise access.not_found(request, "grant", grant_id)
    return found


def reference(grant: Grant) -> str:
    from cpnav.cases.workflow import reference as request_reference

    first = grant.terms.order_by("start").select_related("request").first()
    return request_reference(first.request) if first else f"CP-{str(grant.pk)[:8].upper()}"


def information_inputs(requests: QuerySet[CPRequest]) -> tuple[InformationRequest, ...]:
    """CCHT's requests for more information, each answered once the request moved on."""
    return tuple(
        InformationRequest(d.due_date, d.request.status != Status.INFORMATION_REQUESTED)
        for d in Decision.objects.filter(
            request__in=requests, kind=DecisionKind.INFORMATION_REQUESTED, due_date__isnull=False
        ).select_related("request")
        if d.due_date is not None
    )


def inputs_for(grant: Grant) -> DeadlineInputs:
    term = grant.current_term()
    requests = grant.person.requests.all()
    pending_extension = requests.filter(kind="extension").exclude(
        status__in=[Status.GRANTED, Status.DENIED, Status.WITHDRAWN]
    ).order_by("created_at").first()  # fmt: skip
    end = grant.ends.exclude(kind=EndKind.REVOKED).order_by("-effective_on").first()
    return DeadlineInputs(
        reference=reference(grant),
        agency_time_zone=grant.person.case.agency.time_zone,
        term_start=term.start if term else None,
        term_end=term.end if term else None,
        extension_requested_on=pending_extension.created_at.date() if pending_extension else None,
        lead_days=settings.EXTENSION_LEAD_DAYS,
        work_permit_expires=grant.work_permit_expires_on,
        information_requests=information_inputs(requests),
        referrals=referral_inputs(grant.person),
        minor_identified_at=grant.person.minor_identified_at,
        hhs_notified_at=grant.person.hhs_notified_at,
        t_visa_referred=grant.t_visa_status in REFERRED
        if grant.t_visa_status != TVisaStatus.UNKNOWN
        else None,
        case_or_civil_action_ended_on=end.effective_on if end else None,
    )


@dataclass(frozen=True)
class Row:
    deadline: Deadline
    link: str  # the grant page, or the person's page before any grant


def person_inputs(person: Person) -> DeadlineInputs:
    """Before any grant: the HHS notice for a possible minor, CCHT's information requests
    and referral follow-ups are already running."""
    first = person.requests.order_by("created_at").first()
    from cpnav.cases.workflow import reference as request_reference

    return DeadlineInputs(
        reference=request_reference(first) if first else f"CP-{person.pk.hex[:8].upper()}",
        agency_time_zone=person.case.agency.time_zone,
        minor_identified_at=person.minor_identified_at,
        hhs_notified_at=person.hhs_notified_at,
        information_requests=information_inputs(person.requests.all()),
        referrals=referral_inputs(person),
    )


def deadlines(
    grants: QuerySet[Grant],
    people: QuerySet[Person] | None = None,
    *,
    now: datetime | None = None,
) -> list[Row]:
    """Every deadline of these grants, and of these people who have no grant yet."""
    moment = now or timezone.now()
    rows = [
        Row(d, reverse("grants:grant", args=[grant.pk]))
        for grant in grants
        for d in compute(inputs_for(grant), now=moment)
    ]
    for person in (people if people is not None else Person.objects.none()).filter(
        grant__isnull=True
    ):
        rows += [
            Row(d, reverse("cases:person", args=[person.pk]))
            for d in compute(person_inputs(person), now=moment)
        ]
    return sorted(rows, key=lambda row: row.deadline.due)


class StaleGrant(Exception):
    """Someone saved the grant since the caller read it."""

    def __init__(self, current: int) -> None:
        super().__init__("stale version")
        self.current = current


def update_tracking(
    http: HttpRequest, grant: Grant, changes: dict[str, Any], *, version: int | None = None
) -> Grant:
    """Record papers on the grant; with ``version``, only if nobody saved it since."""
    today = date.today()
    future = {name: str(_("This date is in the future.")) for name in PAST_ONLY
              if changes.get(name) is not None and changes[name] > today}  # fmt: skip
    if future:
        raise GrantError(_("A date is in the future."), future)
    received, expires = (
        changes.get("work_permit_received_on"),
        changes.get("work_permit_expires_on"),
    )
    if received and expires and expires < received:
        message = _("The work permit expires before it was received.")
        raise GrantError(message, {"work_permit_expires_on": message})
    with transaction.atomic():
        locked = (
            Grant.objects.select_for_update(of=("self",))
            .select_related("person__case__agency")
            .get(pk=grant.pk)
        )
        if version is not None and locked.version != version:
            raise StaleGrant(locked.version)
        for name, value in changes.items():
            setattr(locked, name, value)
        locked.version += 1
        locked.save()
        record("grant.changed", request=http, agency_id=locked.person.case.agency_id,
               object_type="grant", object_id=locked.pk, details={"fields": sorted(changes)})  # fmt: skip
    return locked


def record_end(http: HttpRequest, actor: User, grant: Grant, kind: str, effective_on: date,
               reason: str) -> GrantEnd:  # fmt: skip
    if kind not in EndKind.values:
        raise GrantError(_("Choose what happened."), {"kind": _("Choose what happened.")})
    if not reason.strip():
        message = _("Say why: the team and CCHT will read it.")
        raise GrantError(message, {"reason": message})
    first = grant.terms.order_by("start").first()
    if first is not None and effective_on < first.start:
        message = _("The date is before the grant started.")
        raise GrantError(message, {"effective_on": message})
    ended = GrantEnd.objects.create(grant=grant, kind=kind, effective_on=effective_on,
                                    reason=reason.strip(), recorded_by=actor)  # fmt: skip
    record("grant.ended", request=http, agency_id=grant.person.case.agency_id, object_type="grant",
           object_id=grant.pk, details={"kind": kind, "effective_on": effective_on.isoformat()})  # fmt: skip
    return ended
