"""Planning synthetic data: unsaved model instances from a seeded ``random.Random``.

Nothing here touches the database. Every id, name, status and timestamp comes
from the seeded generators and the ``now`` passed in, so one seed always plans
the same data (only ciphertexts differ: encryption uses fresh random nonces
when the rows are written). Planning is streamed in batches so a million cases
never sit in memory at once.
"""

from __future__ import annotations

import itertools
import random
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.contrib.auth.hashers import make_password
from django.db import models

from cpnav.accounts.models import (
    STATES,
    TERRITORIES,
    Agency,
    FederalPartnership,
    Level,
    Membership,
    Role,
    User,
)
from cpnav.audit.models import Outcome, event_hash
from cpnav.cases.models import (
    Case,
    CaseMember,
    Citizenship,
    CivilStatus,
    CPRequest,
    CriminalStatus,
    Decision,
    DecisionKind,
    Form,
    Person,
    RequestEvent,
    RequestKind,
    Status,
)
from cpnav.grants.models import EndKind, Grant, GrantEnd, GrantTerm, TVisaStatus
from cpnav.referrals.models import Referral, ReferralEvent, ReferralStatus

EMAIL_DOMAIN = "synth.example"

# Obviously invented names: nobody real is called this.
FIRST_NAMES = (
    "Synthia", "Testa", "Exemplar", "Mocka", "Placido", "Fictia", "Sampla", "Dummond",
    "Proxima", "Simula", "Varia", "Dataly", "Randa", "Seedra", "Stubby", "Fakhir",
)  # fmt: skip
LAST_NAMES = (
    "Example", "Sample", "Placeholder", "Fictional", "Testcase", "Synthetic", "Mockup",
    "Demo-Person", "Nonreal", "Madeup", "Invented", "Pretend", "Stand-In", "Dummy",
)  # fmt: skip
AGENCY_WORDS = (
    "Example", "Sample", "Synthetic", "Testing", "Placeholder", "Fictional", "Mock", "Demo",
)  # fmt: skip
COUNTRIES = (
    "Guatemala", "Honduras", "Mexico", "Philippines", "Vietnam", "China", "India", "Nigeria",
    "Thailand", "Ukraine", "El Salvador", "Haiti",
)  # fmt: skip
LANGUAGES = ("Spanish", "English", "Tagalog", "Vietnamese", "Mandarin", "Hindi", "Arabic",
             "French", "Haitian Creole", "Ukrainian", "K'iche'")  # fmt: skip

TIME_ZONES: dict[str, str] = {
    **dict.fromkeys(
        ("CT", "DE", "DC", "FL", "GA", "KY", "ME", "MD", "MA", "NH", "NJ", "NY", "NC", "OH",
         "PA", "RI", "SC", "VT", "VA", "WV"), "America/New_York"),
    **dict.fromkeys(
        ("AL", "AR", "IL", "IA", "KS", "LA", "MN", "MS", "MO", "NE", "ND", "OK", "SD", "TN",
         "TX", "WI"), "America/Chicago"),
    **dict.fromkeys(("CO", "MT", "NM", "UT", "WY"), "America/Denver"),
    **dict.fromkeys(("CA", "NV", "OR", "WA"), "America/Los_Angeles"),
    "IN": "America/Indiana/Indianapolis", "MI": "America/Detroit", "ID": "America/Boise",
    "AZ": "America/Phoenix", "AK": "America/Anchorage", "HI": "Pacific/Honolulu",
    "AS": "Pacific/Pago_Pago", "GU": "Pacific/Guam", "MP": "Pacific/Saipan",
    "PR": "America/Puerto_Rico", "VI": "America/St_Thomas",
}  # fmt: skip

NON_CCHT_ROLES: dict[str, tuple[tuple[str, int], ...]] = {
    # level -> (role, how many accounts)
    Level.FEDERAL: ((Role.INVESTIGATOR, 2), (Role.SUPERVISOR, 1), (Role.FEDERAL_SPONSOR, 2),
                    (Role.AGENCY_ADMIN, 1)),
    "other": ((Role.INVESTIGATOR, 2), (Role.SUPERVISOR, 1), (Role.AGENCY_ADMIN, 1)),
}  # fmt: skip
CCHT_ROLES = (
    (Role.CCHT_REVIEWER, 4), (Role.ENGAGEMENT_COORDINATOR, 2), (Role.AUDITOR, 2),
    (Role.AGENCY_ADMIN, 1), (Role.SUPERVISOR, 1),
)  # fmt: skip

ALL_STATUSES: tuple[str, ...] = tuple(Status.values)
# Choice lists computed once: TextChoices.values builds a new list on every access.
CRIMINAL_STATUSES = tuple(CriminalStatus.values)
T_VISA_STATUSES = tuple(TVisaStatus.values)
END_KINDS = tuple(EndKind.values)
REFERRAL_STATUSES = tuple(ReferralStatus.values)
OUTCOMES = tuple(Outcome.values)
OUTCOME_CUM_WEIGHTS = tuple(itertools.accumulate((96, 2, 2)))
# How often each status is drawn after the first few requests (which cover every status).
STATUS_WEIGHTS = {
    Status.DRAFT: 8, Status.AWAITING_SUPERVISOR: 5, Status.AWAITING_SPONSOR: 5,
    Status.SUBMITTED: 10, Status.INFORMATION_REQUESTED: 4, Status.GRANTED: 50,
    Status.DENIED: 10, Status.WITHDRAWN: 8,
}  # fmt: skip

WEIGHTED_STATUSES = tuple(STATUS_WEIGHTS)
STATUS_CUM_WEIGHTS = tuple(itertools.accumulate(STATUS_WEIGHTS.values()))

AUDIT_ACTIONS = (
    ("case.viewed", "case"), ("case.created", "case"), ("person.viewed", "person"),
    ("person.created", "person"), ("request.changed", "cprequest"),
    ("request.transition", "cprequest"), ("auth.login", "user"), ("auth.logout", "user"),
    ("report.viewed", ""), ("referral.created", "referral"), ("grant.viewed", "grant"),
)  # fmt: skip


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def seeded_uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def stream(seed: int, name: str) -> random.Random:
    """An independent generator per stream, so changing one count leaves the others alone."""
    return random.Random(f"cpnav-synth:{seed}:{name}")  # noqa: S311  (benchmark data, not secrets)


def _base36(number: int) -> str:
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if not number:
            return out


def add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


@dataclass
class Directory:
    """Agencies, their partnerships, accounts and memberships."""

    agencies: list[Agency] = field(default_factory=list)
    partnerships: list[FederalPartnership] = field(default_factory=list)
    users: list[User] = field(default_factory=list)
    memberships: list[Membership] = field(default_factory=list)
    staff: dict[uuid.UUID, dict[str, list[User]]] = field(default_factory=dict)
    partners: dict[uuid.UUID, list[Agency]] = field(default_factory=dict)
    ccht: Agency | None = None

    def people(self, agency: Agency, role: str) -> list[User]:
        return self.staff[agency.pk].get(role, [])


def _level_for(index: int, rng: random.Random) -> str:
    # The first few cover every level so even a dozen agencies is representative.
    fixed = (Level.FEDERAL, Level.STATE, Level.LOCAL, Level.TRIBAL, Level.TERRITORIAL)
    if index < len(fixed):
        return fixed[index]
    return rng.choices(
        (Level.LOCAL, Level.STATE, Level.FEDERAL, Level.TRIBAL, Level.TERRITORIAL),
        weights=(86, 2, 6, 5, 1),
    )[0]


def plan_directory(seed: int, agencies: int, now: datetime, *, offset: int = 0) -> Directory:
    """``agencies`` agencies (one of them CCHT), partnerships and accounts in each role.

    ``offset`` (the number of agencies already present) keeps ORIs and emails
    unique when adding to a database that has data.
    """
    if agencies < 2:
        raise ValueError("at least 2 agencies are needed (CCHT and one other)")
    rng = stream(seed, f"directory@{offset}")  # another run adds other ids
    directory = Directory()
    states = sorted(STATES)
    territories = sorted(TERRITORIES)
    password = make_password(None)  # unusable: "!" and random text; nobody signs in as these
    for index in range(agencies):
        number = offset + index
        if index == 0:
            level: str = Level.FEDERAL
            state, is_ccht = "DC", True
            name = "Center for Countering Human Trafficking (synthetic)"
        else:
            level = _level_for(index - 1, rng)
            is_ccht = False
            state = rng.choice(territories if level == Level.TERRITORIAL else states)
            word = rng.choice(AGENCY_WORDS)
            names: dict[str, str] = {
                Level.FEDERAL: f"HSI {word} Field Office {number} (synthetic)",
                Level.STATE: f"{word} State Police {number} (synthetic)",
                Level.LOCAL: f"{word} County Sheriff's Office {number} (synthetic)",
                Level.TRIBAL: f"{word} Tribal Police Department {number} (synthetic)",
                Level.TERRITORIAL: f"{word} Territorial Police {number} (synthetic)",
            }
            name = names[level]
        ori = "" if is_ccht else f"{state}S{_base36(number):0>6}"
        agency = Agency(
            id=seeded_uuid(rng), name=name, level=level, state=state, ori=ori, is_ccht=is_ccht,
            time_zone=TIME_ZONES[state], created_at=now - timedelta(days=1500 - index % 300),
        )  # fmt: skip
        directory.agencies.append(agency)
        if is_ccht:
            directory.ccht = agency
        directory.staff[agency.pk] = {}
        roles = CCHT_ROLES if is_ccht else NON_CCHT_ROLES.get(level, NON_CCHT_ROLES["other"])
        extra = [] if is_ccht else [(Role.VICTIM_SPECIALIST, 1), (Role.AUDITOR, 1)]
        for role, count in [*roles, *(r for r in extra if rng.random() < 0.25 or index < 4)]:
            for n in range(count):
                first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
                user = User(
                    id=seeded_uuid(rng), email=f"{role}.{n + 1}.a{number}@{EMAIL_DOMAIN}",
                    full_name=f"{first} {last}", password=password, date_joined=agency.created_at,
                )  # fmt: skip
                directory.users.append(user)
                directory.memberships.append(
                    Membership(
                        id=seeded_uuid(rng),
                        user=user,
                        agency=agency,
                        role=role,
                        created_at=agency.created_at,
                    )
                )  # fmt: skip
                directory.staff[agency.pk].setdefault(role, []).append(user)
    federal = [a for a in directory.agencies if a.level == Level.FEDERAL and not a.is_ccht]
    by_state: dict[str, list[Agency]] = {}
    for office in federal:
        by_state.setdefault(office.state, []).append(office)
    for agency in directory.agencies:
        if agency.level == Level.FEDERAL:
            continue
        nearby = by_state.get(agency.state) or federal
        chosen = rng.sample(nearby, k=min(len(nearby), 1 + (rng.random() < 0.2)))
        directory.partners[agency.pk] = chosen
        for office in chosen:
            directory.partnerships.append(
                FederalPartnership(
                    id=seeded_uuid(rng),
                    agency=agency,
                    federal_office=office,
                    created_at=agency.created_at,
                )
            )
    return directory


@dataclass
class CaseBatch:
    """One transaction's worth of rows, in insertion order."""

    tables: dict[type[models.Model], list[models.Model]] = field(default_factory=dict)

    def add(self, row: models.Model) -> None:
        self.tables.setdefault(type(row), []).append(row)

    def rows(self, model: type[models.Model]) -> list[Any]:
        return self.tables.get(model, [])


# The order rows must be inserted in (foreign keys first).
CASE_TABLES: tuple[type[models.Model], ...] = (
    Case, CaseMember, Person, CPRequest, RequestEvent, Decision, Grant, GrantTerm, GrantEnd, Referral,
    ReferralEvent,
)  # fmt: skip


@dataclass(frozen=True)
class NationalProvider:
    id: uuid.UUID
    services: list[str]


def _facts(rng: random.Random, forms: list[str], minor: bool) -> dict[str, Any]:
    sex, labor = Form.SEX in forms, Form.LABOR in forms
    means = [] if minor and sex else rng.sample(["force", "fraud", "coercion"], rng.randint(1, 2))
    purpose = (
        rng.sample(["involuntary_servitude", "peonage", "debt_bondage", "slavery"], 1)
        if labor
        else []
    )
    return {
        "exploitation": {"commercial_sex_act": sex, "labor_or_services": labor, "means": means,
                         "purpose": purpose, "under_18_at_time": minor},
        "witness": {"potential_witness": rng.random() < 0.9,
                    "civil_action_1595_filed": rng.random() < 0.1},
    }  # fmt: skip


class _History:
    """A request's RequestEvent rows, each transition from the status the last one left."""

    def __init__(self, out: CaseBatch, cp: CPRequest) -> None:
        self.out, self.cp, self.status = out, cp, str(Status.DRAFT)

    def add(self, name: str, to: str, actor: User, at: datetime, comment: str = "") -> None:
        event = RequestEvent(
            request=self.cp, transition=name, from_status=self.status, to_status=to,
            actor=actor, comment=comment, at=at,
        )  # fmt: skip
        self.out.add(event)
        self.status = to


class CasePlanner:
    """Plans cases batch by batch; the same seed and inputs give the same batches."""

    def __init__(
        self,
        seed: int,
        directory: Directory,
        now: datetime,
        providers: Sequence[NationalProvider] = (),
        *,
        offset: int = 0,
    ) -> None:
        self.rng = stream(seed, f"cases@{offset}")
        self.directory = directory
        self.now = now
        self.today = now.date()
        self.providers = list(providers)
        self.offset = offset
        self.agencies = [a for a in directory.agencies if not a.is_ccht]
        self.non_federal = [a for a in self.agencies if a.level != Level.FEDERAL]
        assert directory.ccht is not None
        self.reviewers = directory.people(directory.ccht, Role.CCHT_REVIEWER)
        self.requests_planned = 0

    def batches(self, cases: int, batch: int) -> Iterator[CaseBatch]:
        for start in range(0, cases, batch):
            out = CaseBatch()
            for index in range(start, min(cases, start + batch)):
                self._case(out, index)
            yield out

    def _at(self, base: datetime, low_hours: float, high_hours: float) -> datetime:
        return base + timedelta(seconds=int(self.rng.uniform(low_hours, high_hours) * 3600))

    def _case(self, out: CaseBatch, index: int) -> None:
        rng = self.rng
        # The first requests cover every status, at agencies that route through a sponsor.
        forced = ALL_STATUSES[index] if index < len(ALL_STATUSES) else None
        agency = rng.choice(self.non_federal if forced else self.agencies)
        lead = rng.choice(self.directory.people(agency, Role.INVESTIGATOR))
        created = self.now - timedelta(seconds=rng.randint(150 * 86400, 1000 * 86400))
        forms: list[str] = rng.choice([[Form.LABOR], [Form.SEX], [Form.SEX, Form.LABOR]])
        partners = self.directory.partners.get(agency.pk, [])
        case = Case(
            id=seeded_uuid(rng), agency=agency,
            case_number=f"SYN-{created.year}-{self.offset + index + 1:07d}",
            trafficking_forms=[str(f) for f in forms], lead_investigator=lead,
            federal_partner=partners[0] if partners else None,
            criminal_status=rng.choice(CRIMINAL_STATUSES), civil_status=CivilStatus.NONE,
            created_at=created, updated_at=created,
        )  # fmt: skip
        out.add(case)
        out.add(CaseMember(case=case, user=lead, added_at=created))
        for other in self.directory.people(agency, Role.INVESTIGATOR):
            if other is not lead and rng.random() < 0.3:
                out.add(CaseMember(case=case, user=other, added_at=created))
        for n in range(1 if rng.random() < 0.85 else 2):
            person = self._person(out, case, created + timedelta(hours=1 + n))
            if forced or rng.random() < 0.9:
                status = forced if n == 0 and forced else self._status()
                self._request(out, case, person, agency, lead, status, forms)

    def _status(self) -> str:
        return self.rng.choices(WEIGHTED_STATUSES, cum_weights=STATUS_CUM_WEIGHTS)[0]

    def _person(self, out: CaseBatch, case: Case, created: datetime) -> Person:
        rng = self.rng
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        minor = rng.random() < 0.12
        age = rng.randint(13, 17) if minor else rng.randint(18, 60)
        birth = created.date() - timedelta(days=age * 365 + rng.randint(1, 360))
        known_dob = rng.random() < 0.8
        country = rng.choice(COUNTRIES)
        aliases: Any = [f"{first} {rng.choice(LAST_NAMES)}"] if rng.random() < 0.3 else []
        person = Person(
            id=seeded_uuid(rng), case=case, full_name=f"{first} {last}",
            aliases=aliases,
            date_of_birth=birth.isoformat() if known_dob else "",
            age_estimate=None if known_dob else age,
            citizenship=rng.choices([Citizenship.NONCITIZEN, Citizenship.UNKNOWN], [9, 1])[0],
            country=country, languages=rng.sample(LANGUAGES, rng.randint(1, 2)),
            interpreter_needed=rng.random() < 0.6,
            a_number=f"A{rng.randint(0, 999_999_999):09d}" if rng.random() < 0.6 else "",
            contact=f"+1 555 01{rng.randint(0, 99):02d}" if rng.random() < 0.7 else "",
            do_not_contact=rng.random() < 0.2,
            safe_contact="Through the synthetic victim specialist." if rng.random() < 0.3 else "",
            minor_identified_at=created if minor else None,
            hhs_notified_at=self._at(created, 1, 20) if minor else None,
            created_at=created, updated_at=created,
        )  # fmt: skip
        # The model's own code path for the blind indexes; encryption happens on insert.
        person.refresh_indexes()
        out.add(person)
        return person

    def _request(
        self,
        out: CaseBatch,
        case: Case,
        person: Person,
        agency: Agency,
        lead: User,
        status: str,
        forms: list[str],
        *,
        kind: str = RequestKind.INITIAL,
        created: datetime | None = None,
        start_after: date | None = None,
        grant: Grant | None = None,
    ) -> None:
        rng = self.rng
        federal = agency.level == Level.FEDERAL
        if federal and status == Status.AWAITING_SPONSOR:
            status = Status.AWAITING_SUPERVISOR  # federal requests skip the sponsor
        created = created or self._at(person.created_at, 2, 200)
        partners = self.directory.partners.get(agency.pk, [])
        office = None if federal else (partners[0] if partners else None)
        minor = person.minor_identified_at is not None
        cp = CPRequest(
            id=seeded_uuid(rng), case=case, person=person, kind=kind, status=status,
            facts=_facts(rng, forms, minor),
            narrative=f"Synthetic narrative for benchmarking, request {self.requests_planned}.",
            age_group="minor" if minor else ("adult" if person.date_of_birth else "unknown"),
            sponsor_office=office, created_by=lead, created_at=created,
        )  # fmt: skip
        self.requests_planned += 1
        out.add(cp)
        history = _History(out, cp)
        at = created
        if status != Status.DRAFT:
            at = self._at(at, 0.5, 2)
            history.add("submit_for_approval", Status.AWAITING_SUPERVISOR, lead, at)
        supervisors = self.directory.people(agency, Role.SUPERVISOR) or [lead]
        routed = status not in {Status.DRAFT, Status.AWAITING_SUPERVISOR}
        if status == Status.WITHDRAWN:
            routed = rng.random() < 0.7
        if routed and office is not None:
            at = cp.routed_to_sponsor_at = self._at(at, 2, 120)
            history.add("approve", Status.AWAITING_SPONSOR, rng.choice(supervisors), at)
            sponsors = self.directory.people(office, Role.FEDERAL_SPONSOR)
            if status != Status.AWAITING_SPONSOR:
                cp.sponsor = rng.choice(sponsors) if sponsors else None
        submitted = routed and status != Status.AWAITING_SPONSOR
        if status == Status.WITHDRAWN and submitted:
            submitted = rng.random() < 0.5
        reviewer = rng.choice(self.reviewers)
        if submitted:
            at = cp.submitted_at = self._at(at, 2, 120)
            if office is None:
                history.add("approve", Status.SUBMITTED, rng.choice(supervisors), at)
            else:
                history.add("endorse", Status.SUBMITTED, cp.sponsor or lead, at)
            received = status != Status.SUBMITTED or rng.random() < 0.7
            if received:
                at = cp.received_at = self._at(at, 1, 72)
                out.add(self._decision(cp, DecisionKind.RECEIVED, reviewer, at))
                history.add("record_receipt", Status.SUBMITTED, reviewer, at)
        if status == Status.INFORMATION_REQUESTED:
            at = self._at(at, 24, 240)
            history.add("request_information", status, reviewer, at)
            decision = self._decision(cp, DecisionKind.INFORMATION_REQUESTED, reviewer, at)
            decision.information_requested = "Synthetic: the forensic interview date."
            decision.due_date = at.date() + timedelta(days=21)
            out.add(decision)
        elif status == Status.DENIED:
            at = cp.decided_at = self._at(at, 24, 480)
            history.add("deny", status, reviewer, at, "Synthetic denial.")
            decision = self._decision(cp, DecisionKind.DENIED, reviewer, at)
            decision.reason = "Synthetic denial."
            out.add(decision)
        elif status == Status.WITHDRAWN:
            at = self._at(at, 24, 240)
            history.add("withdraw", status, lead, at, "Synthetic withdrawal.")
            decision = self._decision(cp, DecisionKind.WITHDRAWN, lead, at)
            decision.reason = "Synthetic withdrawal."
            out.add(decision)
        elif status == Status.GRANTED:
            at = cp.decided_at = self._at(at, 24, 480)
            history.add("grant", status, reviewer, at)
            start = start_after or at.date() + timedelta(days=rng.randint(0, 10))
            end = add_years(start, 2) - timedelta(days=1)
            decision = self._decision(cp, DecisionKind.GRANTED, reviewer, at)
            decision.start_date, decision.end_date = start, end
            out.add(decision)
            grant = grant or self._grant(out, person, at, lead)
            out.add(GrantTerm(grant=grant, request=cp, kind=kind, start=start, end=end))
            self._after_grant(out, case, person, agency, lead, forms, grant, start, end)
        cp.updated_at = at

    def _decision(self, cp: CPRequest, kind: str, who: User, at: datetime) -> Decision:
        return Decision(id=seeded_uuid(self.rng), request=cp, kind=kind, recorded_by=who,
                        recorded_at=at)  # fmt: skip

    def _grant(self, out: CaseBatch, person: Person, at: datetime, lead: User) -> Grant:
        rng = self.rng
        day = at.date()
        permit = rng.random() < 0.7
        t_visa = rng.choice(T_VISA_STATUSES)
        grant = Grant(
            id=seeded_uuid(rng), person=person, created_at=at,
            work_permit_received_on=day + timedelta(days=60) if permit else None,
            work_permit_expires_on=add_years(day + timedelta(days=60), 2) if permit else None,
            dhs_notified_hhs_on=day + timedelta(days=3) if rng.random() < 0.5 else None,
            t_visa_status=t_visa,
            t_visa_referred_on=day + timedelta(days=14) if t_visa not in {"unknown", "not_referred"} else None,
            t_visa_filed_on=day + timedelta(days=120) if t_visa in {"filed", "approved", "denied"} else None,
        )  # fmt: skip
        out.add(grant)
        self._referrals(out, person, lead, at)
        return grant

    def _after_grant(
        self,
        out: CaseBatch,
        case: Case,
        person: Person,
        agency: Agency,
        lead: User,
        forms: list[str],
        grant: Grant,
        start: date,
        end: date,
    ) -> None:
        """Maybe an extension (chained on from ``end``) or an early end."""
        rng = self.rng
        ask = datetime.combine(end - timedelta(days=120), datetime.min.time(), self.now.tzinfo)
        if ask + timedelta(days=40) < self.now and rng.random() < 0.35:
            status = rng.choices([Status.GRANTED, Status.SUBMITTED, Status.DENIED], [7, 2, 1])[0]
            self._request(
                out, case, person, agency, lead, status, forms, kind=RequestKind.EXTENSION,
                created=self._at(ask, 0, 48), start_after=end + timedelta(days=1), grant=grant,
            )  # fmt: skip
        elif rng.random() < 0.08:
            last = min(end, self.today)
            if last > start:
                effective = start + timedelta(days=rng.randint(1, (last - start).days))
                out.add(
                    GrantEnd(
                        grant=grant,
                        kind=rng.choice(END_KINDS),
                        effective_on=effective,
                        reason="Synthetic end of Continued Presence.",
                        recorded_by=lead,
                        recorded_at=datetime.combine(
                            effective, datetime.min.time(), self.now.tzinfo
                        ),
                    )
                )  # fmt: skip

    def _referrals(self, out: CaseBatch, person: Person, lead: User, at: datetime) -> None:
        rng = self.rng
        if not self.providers or rng.random() < 0.5:
            return
        provider = rng.choice(self.providers)
        services = provider.services[:1] or ["case_management"]
        sent = self._at(at, 1, 240)
        status = rng.choice(REFERRAL_STATUSES)
        referral = Referral(
            id=seeded_uuid(rng), person=person, provider_id=provider.id, services=services,
            consent_recorded=True, consent_recorded_by=lead, consent_recorded_at=sent,
            consent_note="Synthetic consent.", status=status, created_by=lead, created_at=sent,
            updated_at=sent, follow_up_on=sent.date() + timedelta(days=14),
        )  # fmt: skip
        out.add(referral)
        out.add(ReferralEvent(referral=referral, status=ReferralStatus.SENT, actor=lead, at=sent))
        path: Sequence[str] = {
            ReferralStatus.ACCEPTED: [ReferralStatus.ACCEPTED],
            ReferralStatus.DECLINED: [ReferralStatus.DECLINED],
            ReferralStatus.COMPLETED: [ReferralStatus.ACCEPTED, ReferralStatus.COMPLETED],
        }.get(ReferralStatus(status), [])
        step = sent
        for next_status in path:
            step = self._at(step, 24, 240)
            out.add(ReferralEvent(referral=referral, status=next_status, actor=lead, at=step))
        referral.updated_at = step


@dataclass(slots=True)
class AuditRow:
    """An audit event as planned: the model's fields without a model instance
    (ten million ``AuditEvent()`` constructions would dominate the run)."""

    seq: int
    at: datetime
    actor_id: uuid.UUID | None
    actor_label: str
    agency_id: uuid.UUID | None
    action: str
    object_type: str
    object_id: str
    outcome: str
    source_ip: str
    details: Any
    prev_hash: str
    hash: str = ""


class AuditPlanner:
    """Audit events continuing a chain: each hash computed in sequence, in Python."""

    def __init__(
        self, seed: int, directory: Directory, now: datetime, head_seq: int, head_hash: str
    ) -> None:
        self.rng = stream(seed, "audit")
        self.actors = [(m.user, m.agency.pk) for m in directory.memberships]
        self.now = now
        self.seq = head_seq
        self.hash = head_hash

    def batches(self, events: int, batch: int) -> Iterator[list[AuditRow]]:
        rng = self.rng
        # Spread over the past year, in order, at the chain's hundredth-of-a-second precision.
        step = max(1, int(365 * 86400 * 100 / max(events, 1)))
        tick = int(self.now.timestamp() * 100) - step * (events + 1)
        for start in range(0, events, batch):
            out = []
            for _ in range(start, min(events, start + batch)):
                tick += rng.randint(1, step)
                user, agency_id = rng.choice(self.actors)
                action, object_type = rng.choice(AUDIT_ACTIONS)
                outcome = rng.choices(OUTCOMES, cum_weights=OUTCOME_CUM_WEIGHTS)[0]
                event = AuditRow(
                    seq=self.seq + 1,
                    at=EPOCH + timedelta(microseconds=tick * 10_000),
                    actor_id=user.pk, actor_label=user.email, agency_id=agency_id,
                    action=action, object_type=object_type,
                    object_id=str(seeded_uuid(rng)) if object_type else "",
                    outcome=outcome, source_ip=f"198.51.100.{rng.randint(1, 254)}",
                    details={"synthetic": True}, prev_hash=self.hash,
                )  # fmt: skip
                event.hash = event_hash(event)
                self.seq, self.hash = event.seq, event.hash
                out.append(event)
            yield out
