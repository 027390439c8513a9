"""Recording grants as CCHT decides them, and the deadlines that follow from them."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final, TypeVar

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from cpnav.accounts import access
from cpnav.accounts.models import User
from cpnav.audit.services import record
from cpnav.cases.models import AT_CCHT, Case, CPRequest, Decision, DecisionKind, Person, Status
from cpnav.grants.deadlines import (
    CLOSED_REFERRAL_STATUSES,
    HHS_NOTICE_PERIOD,
    Deadline,
    DeadlineInputs,
    InformationRequest,
    compute,
)
from cpnav.grants.models import EndKind, Grant, GrantEnd, GrantTerm, TVisaStatus
from cpnav.policy import extension_term
from cpnav.referrals.models import Referral

T = TypeVar("T")
INPUT_BATCH: Final = 500  # ids per IN (...) list: well under every database's limit
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


@dataclass(frozen=True)
class Row:
    deadline: Deadline
    link: str  # the grant page, or the person's page before any grant


def _batches(items: Sequence[T], size: int = INPUT_BATCH) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _pending_extensions(person_ids: Sequence[Any]) -> dict[Any, date]:
    """When each person's extension request reached CCHT, if one is there now: the
    extension window is then done. A draft, or one still with the supervisor or the
    sponsor, leaves the deadline open (and hints nothing to those who cannot see it)."""
    found: dict[Any, date] = {}
    for person_id, submitted_at, created_at in CPRequest.objects.filter(
        person_id__in=person_ids, kind="extension", status__in=AT_CCHT
    ).values_list("person_id", "submitted_at", "created_at"):
        # (A row put at CCHT without the submit transition has no submission time.)
        on = (submitted_at or created_at).date()
        found[person_id] = min(on, found.get(person_id, on))
    return found


def _information_by_person(person_ids: Sequence[Any]) -> dict[Any, tuple[InformationRequest, ...]]:
    """CCHT's requests for more information per person, each answered once the request
    moved on; one query for them all."""
    found: dict[Any, list[InformationRequest]] = defaultdict(list)
    for person_id, due, status in (
        Decision.objects.filter(
            request__person_id__in=person_ids,
            kind=DecisionKind.INFORMATION_REQUESTED,
            due_date__isnull=False,
        )
        .order_by("recorded_at", "pk")
        .values_list("request__person_id", "due_date", "request__status")
    ):
        if due is not None:  # filtered out above; for the type checker
            found[person_id].append(InformationRequest(due, status != Status.INFORMATION_REQUESTED))
    return {person_id: tuple(items) for person_id, items in found.items()}


def _referrals_by_person(
    person_ids: Sequence[Any],
) -> dict[Any, tuple[tuple[date | None, str], ...]]:
    """``referrals.services.referral_inputs`` for many people, one query for them all."""
    found: dict[Any, list[tuple[date | None, str]]] = defaultdict(list)
    for person_id, follow_up_on, status in (
        Referral.objects.filter(person_id__in=person_ids)
        .order_by("created_at", "pk")
        .values_list("person_id", "follow_up_on", "status")
    ):
        found[person_id].append((follow_up_on, status))
    return {person_id: tuple(items) for person_id, items in found.items()}


GRANT_FIELDS = ("pk", "person_id", "work_permit_expires_on", "t_visa_status",
                "person__minor_identified_at", "person__hhs_notified_at",
                "person__case__agency__time_zone")  # fmt: skip


def grant_inputs(grants: QuerySet[Grant]) -> Iterator[tuple[Any, DeadlineInputs]]:
    """(grant pk, its deadline inputs) for every grant, in a fixed number of queries.

    One query reads the grants (values only: no person is loaded, so no name is
    decrypted), then one query per relation - terms, ends, open extension
    requests, information requests, referrals - for each INPUT_BATCH grants.
    """
    rows = list(grants.values(*GRANT_FIELDS))
    for batch in _batches(rows):
        grant_ids = [row["pk"] for row in batch]
        person_ids = [row["person_id"] for row in batch]
        current: dict[Any, tuple[date, date]] = {}  # the term ending last: (start, end)
        first: dict[Any, Any] = {}  # the request of the term starting first
        for grant_id, start, end, request_id in (
            GrantTerm.objects.filter(grant_id__in=grant_ids)
            .order_by("-start", "-pk")
            .values_list("grant_id", "start", "end", "request_id")
        ):
            first[grant_id] = request_id  # the earliest start comes last and wins
            if grant_id not in current or end > current[grant_id][1]:
                current[grant_id] = (start, end)
        ended: dict[Any, date] = {}
        for grant_id, effective_on in (
            GrantEnd.objects.filter(grant_id__in=grant_ids)
            .exclude(kind=EndKind.REVOKED)
            .values_list("grant_id", "effective_on")
        ):
            ended[grant_id] = max(effective_on, ended.get(grant_id, effective_on))
        extensions = _pending_extensions(person_ids)
        information = _information_by_person(person_ids)
        referrals = _referrals_by_person(person_ids)
        for row in batch:
            grant_id, person_id, status = row["pk"], row["person_id"], row["t_visa_status"]
            term = current.get(grant_id)
            yield (
                grant_id,
                DeadlineInputs(
                    reference=f"CP-{str(first[grant_id])[:8].upper()}"
                    if grant_id in first
                    else f"CP-{str(grant_id)[:8].upper()}",
                    agency_time_zone=row["person__case__agency__time_zone"],
                    term_start=term[0] if term else None,
                    term_end=term[1] if term else None,
                    extension_requested_on=extensions.get(person_id),
                    lead_days=settings.EXTENSION_LEAD_DAYS,
                    work_permit_expires=row["work_permit_expires_on"],
                    information_requests=information.get(person_id, ()),
                    referrals=referrals.get(person_id, ()),
                    minor_identified_at=row["person__minor_identified_at"],
                    hhs_notified_at=row["person__hhs_notified_at"],
                    t_visa_referred=status in REFERRED if status != TVisaStatus.UNKNOWN else None,
                    case_or_civil_action_ended_on=ended.get(grant_id),
                ),
            )


def people_inputs(people: QuerySet[Person]) -> Iterator[tuple[Any, DeadlineInputs]]:
    """(person pk, its deadline inputs before any grant: the HHS notice for a possible minor,
    CCHT's information requests, referral follow-ups) for every person, in a fixed number of
    queries."""
    rows = list(
        people.values("pk", "minor_identified_at", "hhs_notified_at", "case__agency__time_zone")
    )
    for batch in _batches(rows):
        person_ids = [row["pk"] for row in batch]
        first: dict[Any, Any] = {}
        for person_id, request_id in (
            CPRequest.objects.filter(person_id__in=person_ids)
            .order_by("-created_at")
            .values_list("person_id", "pk")
        ):
            first[person_id] = request_id  # the oldest comes last and wins
        information = _information_by_person(person_ids)
        referrals = _referrals_by_person(person_ids)
        for row in batch:
            person_id = row["pk"]
            yield (
                person_id,
                DeadlineInputs(
                    reference=f"CP-{str(first[person_id])[:8].upper()}"
                    if person_id in first
                    else f"CP-{person_id.hex[:8].upper()}",
                    agency_time_zone=row["case__agency__time_zone"],
                    minor_identified_at=row["minor_identified_at"],
                    hhs_notified_at=row["hhs_notified_at"],
                    information_requests=information.get(person_id, ()),
                    referrals=referrals.get(person_id, ()),
                ),
            )


def deadlines(
    grants: QuerySet[Grant],
    people: QuerySet[Person] | None = None,
    *,
    now: datetime | None = None,
) -> list[Row]:
    """Every deadline of these grants, and of these people who have no grant yet.

    The inputs are read in batches (``grant_inputs``, ``people_inputs``): the
    number of queries does not grow with the number of grants, up to INPUT_BATCH.
    """
    moment = now or timezone.now()
    rows: list[Row] = []
    for grant_id, inputs in grant_inputs(grants):
        link = reverse("grants:grant", args=[grant_id])
        rows += [Row(d, link) for d in compute(inputs, now=moment)]
    if people is not None:
        for person_id, inputs in people_inputs(people.filter(grant__isnull=True)):
            link = reverse("cases:person", args=[person_id])
            rows += [Row(d, link) for d in compute(inputs, now=moment)]
    return sorted(rows, key=lambda row: row.deadline.due)


# --- The deadlines page: whose, how far ahead -----------------------------------------

WINDOWS: Final = (30, 60, 120, 365)
DEFAULT_WINDOW: Final = 120


def window_days(value: str | None) -> int:
    """The "Due within" choice; anything else is the default (never an error)."""
    try:
        days = int(value or "")
    except ValueError:
        return DEFAULT_WINDOW
    return days if days in WINDOWS else DEFAULT_WINDOW


def agency_cases(user: User) -> QuerySet[Case]:
    """The cases of the agencies where the user holds a membership, that the user may see.

    Not every case routed to the user: a CCHT reviewer or a federal sponsor finds
    their own agency's cases here (CCHT owns none); the national route is in the queues.
    """
    agencies = list(access.user_agencies(user).values_list("pk", flat=True))
    own = Case.objects.filter(agency_id__in=agencies)
    if not own.exists():  # spares the visibility rule's national subquery
        return Case.objects.none()
    return access.visible_cases(user).filter(agency_id__in=agencies)


def _open_in_person(ref: str, last_day: date, until: datetime, include_done: bool) -> Q:
    """A person's own dates (HHS notice, information requests, referrals) that could be due
    by ``until``; ``ref`` is the outer query's column holding the person's id."""
    prefix = "" if ref == "pk" else "person__"
    minor = Q(**{f"{prefix}minor_identified_at__lte": until - HHS_NOTICE_PERIOD})
    if not include_done:
        minor &= Q(**{f"{prefix}hhs_notified_at__isnull": True})
    asked = Decision.objects.filter(
        request__person_id=OuterRef(ref),
        kind=DecisionKind.INFORMATION_REQUESTED,
        due_date__lte=last_day,
        request__status=Status.INFORMATION_REQUESTED,  # answered ones are never due
    )
    follow_up = Referral.objects.filter(person_id=OuterRef(ref), follow_up_on__lte=last_day)
    follow_up = follow_up.exclude(status__in=CLOSED_REFERRAL_STATUSES)
    return minor | Exists(asked) | Exists(follow_up)


def could_be_due(
    grants: QuerySet[Grant], people: QuerySet[Person], until: datetime, *, include_done: bool
) -> tuple[QuerySet[Grant], QuerySet[Person]]:
    """Only the grants and people that may have a deadline due by ``until`` (overdue ones too).

    A pre-filter on the raw dates, looser than ``compute`` (which decides): all-day
    dates are compared one day past ``until``'s UTC date, covering every time
    zone, and a term counts while its end is within the extension lead time.
    """
    last_day = until.astimezone(UTC).date() + timedelta(days=1)
    lead = timedelta(days=settings.EXTENSION_LEAD_DAYS)
    terms = GrantTerm.objects.filter(grant_id=OuterRef("pk"))
    ended = GrantEnd.objects.filter(grant_id=OuterRef("pk"), effective_on__lte=last_day)
    referral: Q | Exists = Exists(ended.exclude(kind=EndKind.REVOKED))
    if not include_done:
        referral &= ~Q(t_visa_status__in=REFERRED)
    grant_rule = (
        (Exists(terms) & ~Exists(terms.filter(end__gt=last_day + lead)))
        | Q(work_permit_expires_on__lte=last_day)
        | referral
        | _open_in_person("person_id", last_day, until, include_done)
    )
    person_rule = _open_in_person("pk", last_day, until, include_done)
    return grants.filter(grant_rule), people.filter(person_rule)


@dataclass(frozen=True)
class Window:
    rows: list[Row]
    overdue: int


def due_within(
    grants: QuerySet[Grant],
    people: QuerySet[Person],
    days: int,
    *,
    include_done: bool = False,
    now: datetime | None = None,
) -> Window:
    """The deadlines due by ``now + days`` (overdue ones first), done ones only if asked."""
    moment = now or timezone.now()
    until = moment + timedelta(days=days)
    grants, people = could_be_due(grants, people, until, include_done=include_done)
    rows = [
        row
        for row in deadlines(grants, people, now=moment)
        if row.deadline.due <= until and (include_done or row.deadline.status != "done")
    ]
    rows.sort(key=lambda row: row.deadline.status != "overdue")  # stable: by due within each
    return Window(rows, sum(row.deadline.status == "overdue" for row in rows))


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
