"""Program metrics counted by the database.

Every count is a grouped query (``values(...).annotate(Count)`` or ``aggregate``)
over rows picked by a range on a date column, so the work grows with the number
of groups, not rows; nothing here loops over records in Python.

Percentiles: the database is asked only for the list of day differences (one
duration per request, via ``values_list``) and ``stats.percentile`` interpolates
them. SQLite has no percentile function and PostgreSQL's ``percentile_cont``
has no portable Django expression, so this is the one way that gives the same
answer on both.

``agencies=None`` means every agency (CCHT); otherwise only rows of those
agencies are counted. The numbers returned are raw: ``services`` protects them
(``privacy``) before anyone sees them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final, TypeVar
from zoneinfo import ZoneInfo

from django.db.models import (
    Case,
    CharField,
    Count,
    DateField,
    DateTimeField,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    Model,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import Cast, TruncDate

from cpnav.accounts.models import Agency
from cpnav.cases.models import AT_CCHT, CPRequest, Person, Status
from cpnav.engagement.models import Registration, RegistrationStatus, Session, SessionStatus
from cpnav.grants.deadlines import HHS_NOTICE_PERIOD
from cpnav.grants.models import GrantEnd, GrantTerm
from cpnav.reports.fiscal import Period

M = TypeVar("M", bound=Model)

OUTCOMES: Final = ("granted", "denied", "withdrawn", "pending")
FORMS: Final = ("labor", "sex", "both", "unknown")
AGE_GROUPS: Final = ("minor", "adult", "unknown")
KINDS: Final = ("initial", "extension")
RENEWALS: Final = ("on_time", "late", "pending", "ended", "lapsed")
HHS_NOTICES: Final = ("on_time", "late", "missing", "open")

Agencies = QuerySet[Agency] | None


@dataclass(frozen=True)
class Window:
    """A period as the database sees it: UTC instants, and the moment of asking."""

    period: Period
    zone: ZoneInfo
    now: datetime

    @property
    def start(self) -> datetime:
        return self.period.bounds(self.zone)[0]

    @property
    def end(self) -> datetime:
        return self.period.bounds(self.zone)[1]

    @property
    def today(self) -> date:
        return self.now.astimezone(self.zone).date()


def scoped(queryset: QuerySet[M], path: str, agencies: Agencies) -> QuerySet[M]:
    """Rows of the given agencies only (``path`` leads from the row to its agency)."""
    if agencies is None:
        return queryset
    return queryset.filter(**{f"{path}__in": agencies})


# --- Requests -----------------------------------------------------------------

OUTCOME = Case(
    When(status=Status.GRANTED, then=Value("granted")),
    When(status=Status.DENIED, then=Value("denied")),
    When(status=Status.WITHDRAWN, then=Value("withdrawn")),
    default=Value("pending"),
    output_field=CharField(),
)
_LABOR = Q(case__trafficking_forms__icontains='"labor"')
_SEX = Q(case__trafficking_forms__icontains='"sex"')
TRAFFICKING_FORM = Case(
    When(_LABOR & _SEX, then=Value("both")),
    When(_LABOR, then=Value("labor")),
    When(_SEX, then=Value("sex")),
    default=Value("unknown"),
    output_field=CharField(),
)
# Two grouped queries give every request table: one by agency (its level and
# state depend on the agency, so they add no groups), one by what the request is.
BY_AGENCY: Final = {
    "agency": F("case__agency"),
    "agency_level": F("case__agency__level"),
    "state": F("case__agency__state"),
}
BY_REQUEST: Final[dict[str, Any]] = {
    "trafficking_form": TRAFFICKING_FORM,
    "age_group": F("age_group"),
    "request_kind": F("kind"),
}
REQUEST_DIMENSIONS: Final = (*BY_AGENCY, *BY_REQUEST)
Counts = dict[tuple[str, str], int]


def submitted(agencies: Agencies, window: Window) -> QuerySet[CPRequest]:
    """Requests submitted to CCHT in the period: the population of the request tables."""
    return scoped(
        CPRequest.objects.filter(submitted_at__gte=window.start, submitted_at__lt=window.end),
        "case__agency",
        agencies,
    ).order_by()  # the model's default ordering would join the GROUP BY


def request_counts(agencies: Agencies, window: Window) -> dict[str, Counts]:
    """{dimension: {(row, outcome): count}} of the requests submitted in the period,
    for every dimension in ``REQUEST_DIMENSIONS``, from two grouped queries."""
    counts: dict[str, Counts] = {dimension: {} for dimension in REQUEST_DIMENSIONS}
    for dimensions in (BY_AGENCY, BY_REQUEST):
        groups = (
            submitted(agencies, window)
            .annotate(outcome=OUTCOME, **{f"d_{name}": e for name, e in dimensions.items()})
            .values("outcome", *(f"d_{name}" for name in dimensions))
            .annotate(n=Count("pk"))
        )
        for group in groups:
            for name in dimensions:
                value = group[f"d_{name}"]
                key = (str(value) if value is not None else "", group["outcome"])
                counts[name][key] = counts[name].get(key, 0) + group["n"]
    return counts


# --- Time to submission and decision -----------------------------------------


def _days(durations: list[timedelta]) -> list[float]:
    return [d.total_seconds() / 86400 for d in durations]


def days_to_submission(agencies: Agencies, window: Window) -> list[float]:
    """Days from the draft's creation to submission, for requests submitted in the period."""
    gap = ExpressionWrapper(F("submitted_at") - F("created_at"), output_field=DurationField())
    return _days(list(submitted(agencies, window).annotate(gap=gap).values_list("gap", flat=True)))


def days_to_decision(agencies: Agencies, window: Window) -> list[float]:
    """Days from submission to CCHT's grant or denial, for requests decided in the period."""
    decided = scoped(
        CPRequest.objects.filter(
            decided_at__gte=window.start, decided_at__lt=window.end, submitted_at__isnull=False
        ),
        "case__agency",
        agencies,
    ).order_by()
    gap = ExpressionWrapper(F("decided_at") - F("submitted_at"), output_field=DurationField())
    return _days(list(decided.annotate(gap=gap).values_list("gap", flat=True)))


# --- Renewals -----------------------------------------------------------------


def _day_after(field: str) -> Cast:
    # Date + interval is a timestamp on PostgreSQL and text on SQLite; the cast
    # brings both back to a date that compares with a DateField.
    return Cast(
        ExpressionWrapper(OuterRef(field) + timedelta(days=1), output_field=DateTimeField()),
        output_field=DateField(),
    )


def renewals(agencies: Agencies, window: Window) -> dict[str, int]:
    """What happened at the end of each CP term that ended in the period (before today).

    on_time - an extension term starts the day after, requested (submitted to
              CCHT) on or before the term's last day, in the reporting zone;
    late    - an extension term starts the day after, requested later;
    pending - no such term yet, but an extension request is with CCHT;
    ended   - protection ended by an end event effective on or before the last day;
    lapsed  - none of these: the term ran out unextended.
    """
    last_day = min(window.period.end, window.today - timedelta(days=1))
    if last_day < window.period.start:
        return dict.fromkeys(RENEWALS, 0)
    terms = scoped(
        GrantTerm.objects.filter(end__gte=window.period.start, end__lte=last_day),
        "grant__person__case__agency",
        agencies,
    ).order_by()
    chained = GrantTerm.objects.filter(grant=OuterRef("grant"), start=_day_after("end"))
    requested = TruncDate("request__submitted_at", tzinfo=window.zone)
    in_time = chained.annotate(requested=requested).filter(requested__lte=OuterRef("end"))
    ended = GrantEnd.objects.filter(grant=OuterRef("grant"), effective_on__lte=OuterRef("end"))
    pending = CPRequest.objects.filter(
        person=OuterRef("grant__person"), kind="extension", status__in=AT_CCHT
    )
    outcome = Case(
        When(Exists(in_time), then=Value("on_time")),
        When(Exists(chained), then=Value("late")),
        When(Exists(ended), then=Value("ended")),
        When(Exists(pending), then=Value("pending")),
        default=Value("lapsed"),
        output_field=CharField(),
    )
    counts = dict.fromkeys(RENEWALS, 0)
    for row in terms.annotate(outcome=outcome).values("outcome").annotate(n=Count("pk")):
        counts[row["outcome"]] = row["n"]
    return counts


# --- The 24-hour HHS notice for possible minors ---------------------------------


def hhs_notices(agencies: Agencies, window: Window) -> dict[str, int]:
    """Possible minors identified in the period, by how HHS was notified.

    on_time - HHS notified within 24 hours of identification (or before it);
    late    - notified after the 24 hours;
    missing - no notice recorded and the 24 hours are over;
    open    - no notice recorded yet, still within the 24 hours.
    """
    people = scoped(
        Person.objects.filter(
            minor_identified_at__gte=window.start, minor_identified_at__lt=window.end
        ),
        "case__agency",
        agencies,
    ).order_by()
    delay = ExpressionWrapper(
        F("hhs_notified_at") - F("minor_identified_at"), output_field=DurationField()
    )
    outcome = Case(
        When(hhs_notified_at__isnull=False, delay__lte=HHS_NOTICE_PERIOD, then=Value("on_time")),
        When(hhs_notified_at__isnull=False, then=Value("late")),
        When(minor_identified_at__lt=window.now - HHS_NOTICE_PERIOD, then=Value("missing")),
        default=Value("open"),
        output_field=CharField(),
    )
    counts = dict.fromkeys(HHS_NOTICES, 0)
    for row in (
        people.annotate(delay=delay, outcome=outcome).values("outcome").annotate(n=Count("pk"))
    ):
        counts[row["outcome"]] = row["n"]
    return counts


# --- Engagement -----------------------------------------------------------------


def engagement(agencies: Agencies, window: Window) -> dict[str, int]:
    """Sessions held in the period (not cancelled, already started) and their attendance.

    For every agency, ``sessions`` counts all sessions held; for some agencies,
    the sessions that someone from them was registered for. Registrations count
    confirmed places (not the waiting list, not cancelled) of those agencies.
    """
    held = Session.objects.filter(
        status=SessionStatus.SCHEDULED,
        starts_at__gte=window.start,
        starts_at__lt=min(window.end, window.now),
    ).order_by()
    places = scoped(
        Registration.objects.filter(session__in=held, status=RegistrationStatus.REGISTERED),
        "agency",
        agencies,
    ).order_by()
    # Aggregate names must not shadow fields (``attended`` is one): prefixed, then stripped.
    found = places.aggregate(
        n_sessions=Count("session", distinct=True),
        n_registered=Count("pk"),
        n_attended=Count("pk", filter=Q(attended=True)),
        n_absent=Count("pk", filter=Q(attended=False)),
        n_unrecorded=Count("pk", filter=Q(attended__isnull=True)),
    )
    counts = {key.removeprefix("n_"): value for key, value in found.items()}
    if agencies is None:
        counts["sessions"] = held.count()
    return {key: int(value or 0) for key, value in counts.items()}
