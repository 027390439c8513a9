"""Every date that matters for one CP grant or case, with where each one comes from.

``compute(inputs, now=...)`` returns ``Deadline`` s sorted by due time. Each names
its source: a statute (the 24-hour HHS notice for a possible minor), the policy
engine's term rules, a date recorded on the case, or an agency setting (the
extension lead time, which no public source fixes - see the domain facts file).

Time-zone rules, because each one is an easy mistake:

* Timed deadlines (the HHS notice) are computed in absolute time: convert to UTC,
  add 24 hours, then show in the agency's zone. Adding ``timedelta(hours=24)`` to a
  datetime that carries a ``ZoneInfo`` does *wall-clock* arithmetic instead, which
  is 23 or 25 real hours across a DST change.
* All-day deadlines are a local calendar date; ``due`` is the first moment of that
  day in the agency's zone (00:00, or 01:00 where DST starts at midnight, as in
  America/Santiago). They are on time until that local day is over.
* Every comparison is made in UTC: Python compares two datetimes that share one
  tzinfo object by wall-clock time and ignores ``fold``, which gets the repeated
  hour at the end of DST wrong.

No Django here: a view, the API, a reminder job and the command line all call
these same functions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Final, Literal, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cpnav.policy.citations import citations
from cpnav.policy.terms import DEFAULT_LEAD_DAYS, term_for

Kind = Literal[
    "extension_window_opens",
    "term_end",
    "work_permit_expiry",
    "hhs_notification",
    "information_request_due",
    "referral_follow_up",
    "t_visa_referral",
]
Status = Literal["upcoming", "due_soon", "overdue", "done"]

KINDS: Final[tuple[Kind, ...]] = (
    "hhs_notification",
    "t_visa_referral",
    "information_request_due",
    "referral_follow_up",
    "extension_window_opens",
    "work_permit_expiry",
    "term_end",
)
"""All kinds; also the tie-break order for deadlines due at the same moment (most urgent first)."""

LEAD_DAYS_SETTING: Final = "CPNAV_EXTENSION_LEAD_DAYS"
REMINDER_DAYS_SETTING: Final = "CPNAV_REMINDER_DAYS"
DEFAULT_REMINDER_DAYS: Final = "120,90,60,30,14,7"
DEFAULT_SOON_DAYS: Final = 14
MAX_REMINDER_DAYS: Final = 730
HHS_NOTICE_PERIOD: Final = timedelta(hours=24)

# A reference is the opaque case number (see cases.workflow), never a person's name.
REFERENCE_PATTERN: Final = re.compile(r"CP-[0-9A-F]{8}")

# Referral statuses after which no follow-up is due. Any other status (including
# one this module has never seen) counts as open: a needless reminder is cheaper
# than a silently dropped follow-up.
CLOSED_REFERRAL_STATUSES: Final = frozenset({"closed", "completed", "declined", "withdrawn"})


class InformationRequest(NamedTuple):
    """A CCHT request for more information, as recorded: when the answer is due."""

    due: date
    answered: bool


class Referral(NamedTuple):
    """A referral (e.g. to services or counsel) with the agency's follow-up date, if any."""

    follow_up: date | None
    status: str


@dataclass(frozen=True, kw_only=True)
class DeadlineInputs:
    """What is known about one grant or case. Optional fields are ``None`` when unknown.

    ``term_end`` is the end recorded on the grant; when only ``term_start`` is known
    the end comes from the policy engine (``term_for``). ``lead_days`` is agency
    practice (setting CPNAV_EXTENSION_LEAD_DAYS), not a rule.
    """

    reference: str
    agency_time_zone: str
    term_start: date | None = None
    term_end: date | None = None
    extension_requested_on: date | None = None
    lead_days: int = DEFAULT_LEAD_DAYS
    work_permit_expires: date | None = None
    minor_identified_at: datetime | None = None
    hhs_notified_at: datetime | None = None
    information_requests: tuple[tuple[date, bool], ...] = ()
    referrals: tuple[tuple[date | None, str], ...] = ()
    t_visa_referred: bool | None = None
    case_or_civil_action_ended_on: date | None = None

    def __post_init__(self) -> None:
        if not REFERENCE_PATTERN.fullmatch(self.reference):
            raise ValueError(
                f"reference must look like CP-1A2B3C4D (a case number, never a name), "
                f"got {self.reference!r}"
            )
        zone_for(self.agency_time_zone)
        if isinstance(self.lead_days, bool) or self.lead_days < 0:
            raise ValueError(f"lead_days must be a whole number 0 or more, got {self.lead_days!r}")
        if (
            self.term_start is not None
            and self.term_end is not None
            and self.term_end < self.term_start
        ):
            raise ValueError(f"term_end {self.term_end} is before term_start {self.term_start}")
        for name in ("minor_identified_at", "hhs_notified_at"):
            _require_aware(getattr(self, name), name)
        for _, status in self.referrals:
            if not status.strip():
                raise ValueError("every referral needs a status")


@dataclass(frozen=True)
class Deadline:
    """One date that matters, in the agency's time zone, with its source and status."""

    kind: Kind
    title: str
    due: datetime
    all_day: bool
    source: str
    status: Status
    reference: str

    @property
    def on_time_until(self) -> datetime:
        """The last moment that still counts as on time (exclusive for all-day items).

        A timed deadline is met at its ``due`` instant itself; an all-day deadline is
        met until the next local day starts.
        """
        if self.all_day:
            zone = self.due.tzinfo
            assert isinstance(zone, ZoneInfo)
            return start_of_day(self.due.date() + timedelta(days=1), zone)
        return self.due


def zone_for(name: str) -> ZoneInfo:
    """The IANA zone ``name``; ValueError naming it if there is no such zone."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(
            f"agency_time_zone {name!r} is not an IANA time zone name (e.g. America/Chicago)"
        ) from error


def start_of_day(day: date, zone: ZoneInfo) -> datetime:
    """The first real moment of ``day`` in ``zone``.

    The UTC round trip moves a midnight that does not exist (DST starting at 00:00)
    to the moment the day actually begins, e.g. 01:00 in America/Santiago.
    """
    return datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC).astimezone(zone)


def _require_aware(value: datetime | None, name: str) -> None:
    if value is not None and value.utcoffset() is None:
        raise ValueError(f"{name} must be a time-zone-aware datetime, got {value!r}")


def _cite(citation_id: str) -> str:
    return citations()[citation_id].label


def _days(count: int) -> str:
    return f"{count} day" if count == 1 else f"{count} days"


@dataclass(frozen=True)
class _Draft:
    kind: Kind
    title: str
    due: datetime
    all_day: bool
    source: str
    done: bool


def _term_end(inputs: DeadlineInputs) -> tuple[date, str] | None:
    cp = _cite("usc22_7105_c3_continued_presence")
    if inputs.term_end is not None:
        return inputs.term_end, f"{cp}: CP term end as recorded on the grant (last day covered)"
    if inputs.term_start is not None:
        term = term_for(inputs.term_start, lead_days=inputs.lead_days)
        return term.end, (
            f"{cp}: policy rule set {term.rules_version} - a {term.years}-year term, "
            f"ending the day before the {term.years}-year anniversary of its start"
        )
    return None


def _drafts(inputs: DeadlineInputs, zone: ZoneInfo) -> list[_Draft]:
    def all_day(kind: Kind, title: str, day: date, source: str, done: bool = False) -> _Draft:
        return _Draft(kind, title, start_of_day(day, zone), True, source, done)

    drafts: list[_Draft] = []
    term = _term_end(inputs)
    if term is not None:
        end, term_source = term
        drafts.append(all_day("term_end", "CP term ends", end, term_source))
        opens = end - timedelta(days=inputs.lead_days)
        source = (
            f"Agency practice (setting {LEAD_DAYS_SETTING}): request the extension "
            f"{_days(inputs.lead_days)} before the term ends - confirm with CCHT"
        )
        if inputs.term_start is not None and opens < inputs.term_start:
            opens = inputs.term_start
            source += "; the term is shorter than that, so the window opens when the term starts"
        drafts.append(
            all_day(
                "extension_window_opens",
                "Request a CP extension",
                opens,
                source,
                done=inputs.extension_requested_on is not None,
            )
        )
    if inputs.work_permit_expires is not None:
        drafts.append(
            all_day(
                "work_permit_expiry",
                "Work permit (EAD) expires",
                inputs.work_permit_expires,
                "Expiry date printed on the work permit (EAD), as recorded on the case",
            )
        )
    if inputs.minor_identified_at is not None:
        due = (inputs.minor_identified_at.astimezone(UTC) + HHS_NOTICE_PERIOD).astimezone(zone)
        drafts.append(
            _Draft(
                "hhs_notification",
                "Notify HHS: possible minor victim",
                due,
                False,
                f"{_cite('usc22_7105_b1g_minor_notification')}: notify HHS within 24 hours "
                "of finding that a person under 18 may be a trafficking victim",
                inputs.hhs_notified_at is not None,
            )
        )
    for request_due, answered in inputs.information_requests:
        if not answered:
            drafts.append(
                all_day(
                    "information_request_due",
                    "Answer CCHT's request for information",
                    request_due,
                    "Due date set by CCHT in its request for information, as recorded",
                )
            )
    for follow_up, status in inputs.referrals:
        if follow_up is not None and status.strip().lower() not in CLOSED_REFERRAL_STATUSES:
            drafts.append(
                all_day(
                    "referral_follow_up",
                    "Follow up on a referral",
                    follow_up,
                    "Follow-up date the agency set when it made the referral, as recorded",
                )
            )
    if inputs.case_or_civil_action_ended_on is not None:
        drafts.append(
            all_day(
                "t_visa_referral",
                "Refer to immigration counsel about a T visa",
                inputs.case_or_civil_action_ended_on,
                f"CP may end with the case or the civil action "
                f"({_cite('usc22_7105_c3_continued_presence')}): refer the victim at once "
                f"for a T visa ({_cite('usc8_1101_a15_t_visa')}) so protection does not lapse",
                done=inputs.t_visa_referred is True,
            )
        )
    return drafts


def _status(draft: _Draft, zone: ZoneInfo, now: datetime, soon_days: int) -> Status:
    if draft.done:
        return "done"
    now_utc = now.astimezone(UTC)
    if draft.all_day:
        day = draft.due.date()
        late_from = start_of_day(day + timedelta(days=1), zone)
        if now_utc >= late_from:
            return "overdue"
        soon_from = start_of_day(day - timedelta(days=soon_days), zone)
    else:
        if now_utc > draft.due:
            return "overdue"
        soon_from = draft.due.astimezone(UTC) - timedelta(days=soon_days)
    return "due_soon" if now_utc >= soon_from else "upcoming"


def _sort_key(deadline: Deadline) -> tuple[datetime, int, str]:
    return deadline.due.astimezone(UTC), KINDS.index(deadline.kind), deadline.title


def compute(
    inputs: DeadlineInputs, *, now: datetime, soon_days: int = DEFAULT_SOON_DAYS
) -> list[Deadline]:
    """Every deadline for ``inputs``, sorted by due time, with its status at ``now``.

    Status: ``done`` when the duty is recorded as met; ``overdue`` once the
    deadline has passed (a timed one after its instant, an all-day one after its
    local day); ``due_soon`` from ``soon_days`` before ``due``; else ``upcoming``.
    Raises ValueError for a naive ``now`` or a negative ``soon_days``, and the
    policy engine's NoRuleSetError for a term starting before CP existed.
    """
    _require_aware(now, "now")
    if soon_days < 0:
        raise ValueError(f"soon_days must be 0 or more, got {soon_days}")
    zone = zone_for(inputs.agency_time_zone)
    deadlines = [
        Deadline(
            kind=draft.kind,
            title=draft.title,
            due=draft.due,
            all_day=draft.all_day,
            source=draft.source,
            status=_status(draft, zone, now, soon_days),
            reference=inputs.reference,
        )
        for draft in _drafts(inputs, zone)
    ]
    return sorted(deadlines, key=_sort_key)


def reminder_offsets(setting: str, *, name: str = REMINDER_DAYS_SETTING) -> tuple[int, ...]:
    """Parse a reminder setting such as ``"120,90,60,30,14,7"`` (days before due).

    Returns unique offsets, largest first. Each must be a whole number from 0 to
    730; anything else raises ValueError naming the setting ``name``.
    """
    if not setting.strip():
        raise ValueError(
            f"{name}: expected days before a deadline such as {DEFAULT_REMINDER_DAYS!r}"
        )
    offsets: set[int] = set()
    for item in setting.split(","):
        text = item.strip()
        if not re.fullmatch(r"[0-9]+", text):
            raise ValueError(
                f"{name}: {text!r} is not a whole number of days (in {setting!r}; "
                f"expected e.g. {DEFAULT_REMINDER_DAYS!r})"
            )
        value = int(text)
        if value > MAX_REMINDER_DAYS:
            raise ValueError(f"{name}: {value} is more than {MAX_REMINDER_DAYS} days")
        offsets.add(value)
    return tuple(sorted(offsets, reverse=True))


def reminder_moment(deadline: Deadline, offset: int) -> datetime:
    """When the reminder ``offset`` days before ``deadline`` becomes due.

    All-day deadlines count local calendar days (the start of the local day
    ``offset`` days earlier); timed ones count real 24-hour days.
    """
    if deadline.all_day:
        zone = deadline.due.tzinfo
        assert isinstance(zone, ZoneInfo)
        return start_of_day(deadline.due.date() - timedelta(days=offset), zone)
    return (deadline.due.astimezone(UTC) - timedelta(days=offset)).astimezone(deadline.due.tzinfo)


def due_reminders(
    deadlines: Iterable[Deadline], offsets: Sequence[int], *, now: datetime
) -> list[tuple[Deadline, int]]:
    """Every (deadline, offset) whose reminder moment has passed, for deadlines not done.

    The answer grows as time passes and includes offsets already sent, so a
    reminder run must remember what it sent by ``reminder_key`` and send only new
    keys. A run that finds several new offsets for one deadline (e.g. a deadline
    recorded late) should send one message and record every key.
    """
    _require_aware(now, "now")
    now_utc = now.astimezone(UTC)
    return [
        (deadline, offset)
        for deadline in deadlines
        if deadline.status != "done"
        for offset in offsets
        if now_utc >= reminder_moment(deadline, offset)
    ]


def reminder_key(deadline: Deadline, offset: int) -> str:
    """Stable key for sending one reminder at most once: ``reference|kind|due|offset``.

    ``due`` is the local date for all-day deadlines and the UTC instant (to the
    minute) for timed ones, so the key survives recomputation, status changes
    and DST. It deliberately holds no name. Two open items of the same kind due
    on the same day share a key: one reminder covers both.
    """
    if deadline.all_day:
        due = deadline.due.date().isoformat()
    else:
        due = deadline.due.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")
    return f"{deadline.reference}|{deadline.kind}|{due}|{offset}"
