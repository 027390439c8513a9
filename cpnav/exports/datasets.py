"""The five exports: cases, CP requests, grants, deadlines and referrals.

Each starts from its access helper (``visible_cases``, ``visible_requests``,
``visible_grants``, ``visible_referrals``), so a file never holds a row its user
could not open in the app.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date
from itertools import islice
from typing import TYPE_CHECKING, Any, Final, TypeVar

from django.db.models import Exists, OuterRef, QuerySet, Subquery
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy

from cpnav.accounts import access
from cpnav.accounts.models import User
from cpnav.cases.models import (
    AT_CCHT,
    CivilStatus,
    CPRequest,
    CriminalStatus,
    Form,
    Person,
    RequestKind,
    Status,
)
from cpnav.cases.workflow import reference as request_reference
from cpnav.exports.tables import (
    CHUNK,
    Column,
    Dataset,
    Filters,
    Row,
    count,
    created,
    field,
    narrow,
    person_ref,
    reference,
    stream,
    text,
    updated,
    with_identity,
)
from cpnav.grants import services as grant_services
from cpnav.grants.models import EndKind, Grant, GrantEnd, GrantTerm, TVisaStatus
from cpnav.referrals.models import ReferralStatus, Service
from cpnav.referrals.services import visible_referrals

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

DEADLINE_BATCH: Final = 200
T = TypeVar("T")

GRANT_STATUSES: Final[tuple[tuple[str, StrOrPromise], ...]] = (
    ("active", gettext_lazy("Active")),
    ("extension_requested", gettext_lazy("Extension requested")),
    ("expired", gettext_lazy("Expired")),
    ("ended", gettext_lazy("Ended")),
    ("revoked", gettext_lazy("Revoked")),
)
DEADLINE_STATUSES: Final[tuple[tuple[str, StrOrPromise], ...]] = (
    ("upcoming", gettext_lazy("Upcoming")),
    ("due_soon", gettext_lazy("Due soon")),
    ("overdue", gettext_lazy("Overdue")),
    ("done", gettext_lazy("Done")),
)


# --- Cases ---------------------------------------------------------------------------


def _case_rows(user: User, filters: Filters, identifying: bool) -> Iterator[Row]:
    rows = narrow(
        access.visible_cases(user),
        filters,
        agency="agency",
        status="criminal_status",
        dates={"created": "created_at", "updated": "updated_at"},
    ).annotate(
        people_count=count(Person, "case"),
        # Only the requests the user may see: a draft must not show up as a number.
        request_count=count(CPRequest, "case", access.visible_requests(user)),
    )
    return stream(
        rows.order_by("created_at", "pk"),
        ["pk", "agency__name", "case_number", "trafficking_forms", "criminal_status",
         "civil_status", "federal_partner__name", "lead_investigator__full_name",
         "people_count", "request_count", "created_at", "updated_at"],
    )  # fmt: skip


CASES = Dataset(
    name="cases",
    label=gettext_lazy("Cases"),
    description=gettext_lazy(
        "One row per case: agency, case number, trafficking forms, case status, federal "
        "partner, lead investigator and how many people and requests it holds. Names no victim."
    ),
    columns=(
        Column(gettext_lazy("Case ID"), text("pk")),
        Column(gettext_lazy("Agency"), field("agency__name")),
        Column(gettext_lazy("Case number"), field("case_number")),
        Column(gettext_lazy("Trafficking forms"), field("trafficking_forms"), dict(Form.choices)),
        Column(
            gettext_lazy("Criminal case status"),
            field("criminal_status"),
            dict(CriminalStatus.choices),
        ),
        Column(
            gettext_lazy("Civil action status"), field("civil_status"), dict(CivilStatus.choices)
        ),
        Column(gettext_lazy("Federal partner office"), field("federal_partner__name")),
        Column(gettext_lazy("Lead investigator"), field("lead_investigator__full_name")),
        Column(gettext_lazy("People"), field("people_count")),
        Column(gettext_lazy("Requests"), field("request_count")),
        created(),
        updated(),
    ),
    statuses=tuple(CriminalStatus.choices),
    date_fields=("created", "updated"),
    rows=_case_rows,
    person=False,
)


# --- CP requests -----------------------------------------------------------------------


def _request_rows(user: User, filters: Filters, identifying: bool) -> Iterator[Row]:
    rows = narrow(
        access.visible_requests(user),
        filters,
        agency="case__agency",
        status="status",
        dates={"created": "created_at", "updated": "updated_at"},
    )
    rows, extra = with_identity(rows, user, "person", identifying)
    return stream(
        rows.order_by("created_at", "pk"),
        ["pk", "case_id", "case__case_number", "case__agency__name", "person_id", "kind",
         "status", "age_group", "sponsor_office__name", "routed_to_sponsor_at", "submitted_at",
         "received_at", "decided_at", "rules_version", "created_at", "updated_at", *extra],
    )  # fmt: skip


REQUESTS = Dataset(
    name="requests",
    label=gettext_lazy("CP requests"),
    description=gettext_lazy(
        "One row per Continued Presence request: reference, case, kind, status, age group, "
        "federal sponsor office and the dates of each step. Never the narrative."
    ),
    columns=(
        Column(gettext_lazy("Reference"), reference("CP", "pk")),
        Column(gettext_lazy("Request ID"), text("pk")),
        Column(gettext_lazy("Case ID"), text("case_id")),
        Column(gettext_lazy("Case number"), field("case__case_number")),
        Column(gettext_lazy("Agency"), field("case__agency__name")),
        person_ref(),
        Column(gettext_lazy("Kind"), field("kind"), dict(RequestKind.choices)),
        Column(gettext_lazy("Status"), field("status"), dict(Status.choices)),
        Column(gettext_lazy("Age group"), field("age_group")),
        Column(gettext_lazy("Federal sponsor office"), field("sponsor_office__name")),
        Column(gettext_lazy("Routed to sponsor (UTC)"), field("routed_to_sponsor_at")),
        Column(gettext_lazy("Submitted to CCHT (UTC)"), field("submitted_at")),
        Column(gettext_lazy("Received by CCHT (UTC)"), field("received_at")),
        Column(gettext_lazy("Decided (UTC)"), field("decided_at")),
        Column(gettext_lazy("Rules version"), field("rules_version")),
        created(),
        updated(),
    ),
    statuses=tuple(Status.choices),
    date_fields=("created", "updated"),
    rows=_request_rows,
)


# --- Grants ------------------------------------------------------------------------------


def grant_status(row: Row, today: date) -> str:
    """``Grant.status`` from the row's annotations, without a query per grant."""
    if row["end_on"] is not None and row["end_on"] <= today:
        return "revoked" if row["end_kind"] == EndKind.REVOKED else "ended"
    if row["term_end"] is None or row["term_end"] < today:
        return "expired"
    return "extension_requested" if row["extension_pending"] else "active"


def _grant_rows(user: User, filters: Filters, identifying: bool) -> Iterator[Row]:
    terms = GrantTerm.objects.filter(grant=OuterRef("pk"))
    first = terms.order_by("start", "pk")
    today = date.today()  # as the grant page does
    # The latest end already in effect, as Grant.status reads it.
    ends = GrantEnd.objects.filter(grant=OuterRef("pk"), effective_on__lte=today).order_by(
        "-effective_on", "-pk"
    )
    rows = narrow(
        grant_services.visible_grants(user),
        filters,
        agency="person__case__agency",
        status=None,  # derived from dates and events: filtered below
        dates={"created": "created_at"},
    ).annotate(
        first_request=Subquery(first.values("request_id")[:1]),
        first_start=Subquery(first.values("start")[:1]),
        term_end=Subquery(terms.order_by("-end").values("end")[:1]),
        term_count=count(GrantTerm, "grant"),
        end_on=Subquery(ends.values("effective_on")[:1]),
        end_kind=Subquery(ends.values("kind")[:1]),
        extension_pending=Exists(
            CPRequest.objects.filter(
                person=OuterRef("person"), kind=RequestKind.EXTENSION, status__in=AT_CCHT
            )
        ),
    )
    rows, extra = with_identity(rows, user, "person", identifying)
    for row in stream(
        rows.order_by("created_at", "pk"),
        ["pk", "person_id", "person__case__case_number", "person__case__agency__name",
         "first_request", "first_start", "term_end", "term_count", "end_on", "end_kind",
         "extension_pending", "work_permit_received_on", "work_permit_expires_on",
         "dhs_notified_hhs_on", "hhs_letter_on", "t_visa_status", "t_visa_referred_on",
         "t_visa_filed_on", "created_at", *extra],
    ):  # fmt: skip
        status = grant_status(row, today)
        if not filters.status or status == filters.status:
            yield {**row, "status": status}


def _grant_reference(row: Row) -> str:
    """``grants.services.reference``: the first term's request, else the grant."""
    if row["first_request"] is None:
        return f"CP-{str(row['pk'])[:8].upper()}"
    return request_reference(CPRequest(pk=row["first_request"]))


GRANTS = Dataset(
    name="grants",
    label=gettext_lazy("Grants"),
    description=gettext_lazy(
        "One row per person granted Continued Presence: status, first start, current end, "
        "number of terms, work permit, HHS letter and T visa dates."
    ),
    columns=(
        Column(gettext_lazy("Reference"), _grant_reference),
        Column(gettext_lazy("Grant ID"), text("pk")),
        Column(gettext_lazy("Case number"), field("person__case__case_number")),
        Column(gettext_lazy("Agency"), field("person__case__agency__name")),
        person_ref(),
        Column(gettext_lazy("Status"), field("status"), dict(GRANT_STATUSES)),
        Column(gettext_lazy("First term starts"), field("first_start")),
        Column(gettext_lazy("Current term ends"), field("term_end")),
        Column(gettext_lazy("Terms"), field("term_count")),
        Column(gettext_lazy("Protection ended on"), field("end_on")),
        Column(gettext_lazy("Work permit received"), field("work_permit_received_on")),
        Column(gettext_lazy("Work permit expires"), field("work_permit_expires_on")),
        Column(gettext_lazy("DHS notified HHS"), field("dhs_notified_hhs_on")),
        Column(gettext_lazy("HHS certification letter dated"), field("hhs_letter_on")),
        Column(gettext_lazy("T visa"), field("t_visa_status"), dict(TVisaStatus.choices)),
        Column(gettext_lazy("Referred to counsel on"), field("t_visa_referred_on")),
        Column(gettext_lazy("T visa filed on"), field("t_visa_filed_on")),
        created(),
    ),
    statuses=GRANT_STATUSES,
    date_fields=("created",),
    rows=_grant_rows,
)


# --- Deadlines --------------------------------------------------------------------------


def _batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def _people_by_pk(
    user: User, people: QuerySet[Person], identifying: bool
) -> dict[Any, dict[str, Any]]:
    rows, extra = with_identity(people, user, "", identifying)
    return {
        row["pk"]: row
        for row in rows.values(
            "pk", "case__case_number", "case__agency__name", "case__agency__time_zone", *extra
        )
    }


def _deadline_rows(user: User, filters: Filters, identifying: bool) -> Iterator[Row]:
    """The deadlines dashboard's rows ("everything I can see"), a batch of grants at a time.

    ``grants.services.deadlines`` is the one source of these rows; it reads the
    terms, requests and referrals of a whole batch with one query each, so this
    dataset costs a fixed number of queries per DEADLINE_BATCH grants, and
    memory stays bounded by one batch. Rows are sorted by due date within a
    batch, not across the whole file.
    """
    grants = grant_services.visible_grants(user)
    people = Person.objects.filter(case__in=access.visible_cases(user), grant__isnull=True)
    if filters.agency is not None:
        grants = grants.filter(person__case__agency=filters.agency)
        people = people.filter(case__agency=filters.agency)
    now = timezone.now()
    grant_ids = grants.order_by("pk").values_list("pk", flat=True).iterator(chunk_size=CHUNK)
    for batch in _batches(grant_ids, DEADLINE_BATCH):
        chunk = grants.filter(pk__in=batch)
        owner = {
            reverse("grants:grant", args=[grant_pk]): person_pk
            for grant_pk, person_pk in chunk.values_list("pk", "person_id")
        }
        info = _people_by_pk(user, Person.objects.filter(pk__in=owner.values()), identifying)
        for found in grant_services.deadlines(chunk, now=now):
            yield from _deadline_row(found, info[owner[found.link]], filters)
    person_ids = people.order_by("pk").values_list("pk", flat=True).iterator(chunk_size=CHUNK)
    for batch in _batches(person_ids, DEADLINE_BATCH):
        chosen = Person.objects.filter(pk__in=batch).select_related("case__agency")
        info = _people_by_pk(user, Person.objects.filter(pk__in=batch), identifying)
        owner = {reverse("cases:person", args=[pk]): pk for pk in batch}
        for found in grant_services.deadlines(Grant.objects.none(), chosen, now=now):
            yield from _deadline_row(found, info[owner[found.link]], filters)


def _deadline_row(
    found: grant_services.Row, person: dict[str, Any], filters: Filters
) -> Iterator[Row]:
    deadline = found.deadline
    day = deadline.due.date()  # in the agency's zone, as the dashboard shows it
    if filters.status and deadline.status != filters.status:
        return
    if (filters.date_from and day < filters.date_from) or (
        filters.date_to and day > filters.date_to
    ):
        return
    yield {
        **person,
        "person_id": person["pk"],
        "due": day if deadline.all_day else deadline.due,
        "kind": deadline.kind,
        "title": deadline.title,
        "deadline_status": deadline.status,
        "reference": deadline.reference,
        "source": deadline.source,
    }


DEADLINES = Dataset(
    name="deadlines",
    label=gettext_lazy("Deadlines"),
    description=gettext_lazy(
        "The rows of the deadlines dashboard for everything you can see: what is due, when "
        "(in the agency's time zone), its status and the rule or record it comes from."
    ),
    columns=(
        Column(gettext_lazy("Due (agency time)"), field("due")),
        Column(gettext_lazy("Time zone"), field("case__agency__time_zone")),
        Column(gettext_lazy("What"), field("title")),
        Column(gettext_lazy("Status"), field("deadline_status"), dict(DEADLINE_STATUSES)),
        Column(gettext_lazy("Reference"), field("reference")),
        Column(gettext_lazy("Case number"), field("case__case_number")),
        Column(gettext_lazy("Agency"), field("case__agency__name")),
        person_ref(),
        Column(gettext_lazy("Source"), field("source")),
    ),
    statuses=DEADLINE_STATUSES,
    date_fields=("due",),
    rows=_deadline_rows,
)


# --- Referrals ---------------------------------------------------------------------------


def _referral_rows(user: User, filters: Filters, identifying: bool) -> Iterator[Row]:
    rows = narrow(
        visible_referrals(user),
        filters,
        agency="person__case__agency",
        status="status",
        dates={"created": "created_at", "updated": "updated_at"},
    )
    rows, extra = with_identity(rows, user, "person", identifying)
    return stream(
        rows.order_by("created_at", "pk"),
        ["pk", "person_id", "person__case__case_number", "person__case__agency__name",
         "provider__name", "services", "status", "follow_up_on", "consent_recorded_at",
         "created_at", "updated_at", *extra],
    )  # fmt: skip


REFERRALS = Dataset(
    name="referrals",
    label=gettext_lazy("Referrals"),
    description=gettext_lazy(
        "One row per referral to a service provider: provider, services, status, follow-up "
        "date and when the person's agreement was recorded. Never the consent note."
    ),
    columns=(
        Column(gettext_lazy("Reference"), reference("REF", "pk")),
        Column(gettext_lazy("Referral ID"), text("pk")),
        Column(gettext_lazy("Case number"), field("person__case__case_number")),
        Column(gettext_lazy("Agency"), field("person__case__agency__name")),
        person_ref(),
        Column(gettext_lazy("Provider"), field("provider__name")),
        Column(gettext_lazy("Services"), field("services"), dict(Service.choices)),
        Column(gettext_lazy("Status"), field("status"), dict(ReferralStatus.choices)),
        Column(gettext_lazy("Follow up on"), field("follow_up_on")),
        Column(gettext_lazy("Agreement recorded (UTC)"), field("consent_recorded_at")),
        created(),
        updated(),
    ),
    statuses=tuple(ReferralStatus.choices),
    date_fields=("created", "updated"),
    rows=_referral_rows,
)

DATASETS: Final[dict[str, Dataset]] = {
    d.name: d for d in (CASES, REQUESTS, GRANTS, DEADLINES, REFERRALS)
}
