"""Deadline inputs read one record at a time, the plain way.

The reference that ``grants.services.grant_inputs`` / ``people_inputs`` (which
read many records in a fixed number of queries) are checked against.
"""

from __future__ import annotations

from django.conf import settings
from django.db.models import QuerySet

from cpnav.cases.models import CPRequest, Decision, DecisionKind, Person, Status
from cpnav.grants.deadlines import DeadlineInputs, InformationRequest
from cpnav.grants.models import EndKind, Grant, TVisaStatus
from cpnav.grants.services import REFERRED, reference
from cpnav.referrals.services import referral_inputs


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
