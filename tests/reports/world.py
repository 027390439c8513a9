"""A synthetic program for the metrics (the fixtures are in conftest.py): agencies of every level, and the people around them.

Agencies (FY2026 is the year under test):
  county   - Lakeside County Sheriff, local, OH
  texas    - Texas Department of Public Safety, state, TX
  tribal   - Desert Nation Police, tribal, AZ
  fbi      - FBI Field Office, federal, VA
  far      - Far County Police, local, OR (the outsider's agency)
  ccht     - CCHT, federal, DC

Users: ``county_user`` (investigator at the county), ``texas_user``,
``outsider`` (investigator at the far county), ``ccht_user`` (CCHT reviewer)
and ``nobody`` (signed in, no membership).

Dates are set with ``.update()`` after creating, as the workflow would have
stamped them. ``NOW`` is the moment every metric is asked at.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from cpnav.accounts.models import Agency, Level, Role, User
from cpnav.cases.models import Case, CPRequest, Person, Status
from cpnav.engagement.models import Registration, RegistrationStatus, Session, SessionStatus
from cpnav.grants.models import EndKind, Grant, GrantEnd, GrantTerm
from tests.conftest import MakeUser

NOW = datetime(2026, 10, 1, 10, tzinfo=UTC)  # 06:00 on 1 October 2026 in Washington
_numbers = itertools.count(1)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


@dataclass
class World:
    county: Agency
    texas: Agency
    tribal: Agency
    fbi: Agency
    far: Agency
    ccht: Agency
    county_user: User
    texas_user: User
    outsider: User
    ccht_user: User
    nobody: User

    def case(self, agency: Agency, forms: list[str] | None = None) -> Case:
        return Case.objects.create(
            agency=agency,
            case_number=f"SYN-{next(_numbers):04d}",
            lead_investigator=self.lead(agency),
            trafficking_forms=forms if forms is not None else ["labor"],
        )

    def lead(self, agency: Agency) -> User:
        return {
            self.county.pk: self.county_user,
            self.texas.pk: self.texas_user,
            self.far.pk: self.outsider,
        }.get(agency.pk, self.ccht_user)

    def person(self, case: Case, **fields: Any) -> Person:
        person = Person(case=case, full_name=f"Synthetic Person {next(_numbers)}", **fields)
        person.save()
        return person

    def request(
        self,
        agency: Agency,
        forms: list[str] | None = None,
        *,
        status: str = Status.SUBMITTED,
        kind: str = "initial",
        age: str = "adult",
        created: datetime,
        submitted: datetime | None = None,
        decided: datetime | None = None,
        person: Person | None = None,
    ) -> CPRequest:
        case = person.case if person is not None else self.case(agency, forms)
        who = person if person is not None else self.person(case)
        cp = CPRequest.objects.create(
            case=case, person=who, kind=kind, status=status, age_group=age,
            created_by=self.lead(agency),
        )  # fmt: skip
        CPRequest.objects.filter(pk=cp.pk).update(
            created_at=created, submitted_at=submitted, decided_at=decided
        )
        cp.refresh_from_db()
        return cp

    def grant(
        self,
        agency: Agency,
        terms: list[tuple[date, date, datetime | None]],
        *,
        ended_on: date | None = None,
        pending_since: datetime | None = None,
    ) -> Grant:
        """A person's grant with chained terms (start, end, when the term's request was
        submitted); optionally an end event and an extension request still with CCHT."""
        case = self.case(agency)
        person = self.person(case)
        grant = Grant.objects.create(person=person)
        for index, (start, end, submitted) in enumerate(terms):
            kind = "initial" if index == 0 else "extension"
            cp = self.request(
                agency, status=Status.GRANTED, kind=kind, person=person,
                created=(submitted or utc(2020, 1, 1)) - timedelta(days=3), submitted=submitted,
            )  # fmt: skip
            GrantTerm.objects.create(grant=grant, request=cp, kind=kind, start=start, end=end)
        if ended_on is not None:
            GrantEnd.objects.create(
                grant=grant, kind=EndKind.NO_LONGER_WITNESS, effective_on=ended_on,
                reason="Synthetic reason", recorded_by=self.lead(agency),
            )  # fmt: skip
        if pending_since is not None:
            self.request(
                agency, status=Status.SUBMITTED, kind="extension", person=person,
                created=pending_since - timedelta(days=2), submitted=pending_since,
            )  # fmt: skip
        return grant

    def minor(
        self, agency: Agency, identified: datetime, notified: datetime | None = None
    ) -> Person:
        return self.person(
            self.case(agency), age_estimate=15, minor_identified_at=identified,
            hhs_notified_at=notified,
        )  # fmt: skip

    def session(self, starts: datetime, *, cancelled: bool = False) -> Session:
        return Session.objects.create(
            title=f"Synthetic session {next(_numbers)}", starts_at=starts,
            time_zone="America/New_York", capacity=50,
            meeting_link="https://meet.example/synthetic", created_by=self.ccht_user,
            status=SessionStatus.CANCELLED if cancelled else SessionStatus.SCHEDULED,
        )  # fmt: skip

    def place(
        self,
        session: Session,
        agency: Agency,
        attended: bool | None,
        status: str = RegistrationStatus.REGISTERED,
    ) -> Registration:
        email = f"attendee{next(_numbers)}@example.gov"
        return Registration.objects.create(
            session=session, full_name="Synthetic Attendee", email=email, agency=agency,
            agency_name=agency.name, status=status, queued_at=session.starts_at - timedelta(days=9),
            attended=attended, manage_token_hash=hashlib.sha256(email.encode()).hexdigest(),
        )  # fmt: skip


def build_world(make_user: MakeUser) -> World:
    county = Agency.objects.create(name="Lakeside County Sheriff", level=Level.LOCAL, state="OH")
    texas = Agency.objects.create(
        name="Texas Department of Public Safety", level=Level.STATE, state="TX"
    )
    tribal = Agency.objects.create(name="Desert Nation Police", level=Level.TRIBAL, state="AZ")
    fbi = Agency.objects.create(name="FBI Field Office", level=Level.FEDERAL, state="VA")
    far = Agency.objects.create(name="Far County Police", level=Level.LOCAL, state="OR")
    ccht = Agency.objects.create(name="CCHT", level=Level.FEDERAL, state="DC", is_ccht=True)
    return World(
        county=county, texas=texas, tribal=tribal, fbi=fbi, far=far, ccht=ccht,
        county_user=make_user("inv@lakeside.example", county, (Role.INVESTIGATOR,)),
        texas_user=make_user("inv@texas.example", texas, (Role.INVESTIGATOR,)),
        outsider=make_user("inv@far.example", far, (Role.INVESTIGATOR, Role.SUPERVISOR)),
        ccht_user=make_user("reviewer@ccht.example", ccht, (Role.CCHT_REVIEWER,)),
        nobody=make_user("nobody@example.gov"),
    )  # fmt: skip


def add_requests(world: World) -> World:
    """Requests around FY2026; see test_metrics for what each one is for."""
    w = world
    w.request(
        w.county,
        ["labor"],
        status=Status.GRANTED,
        created=utc(2025, 10, 1, 12),
        submitted=utc(2025, 10, 11, 12),
        decided=utc(2025, 11, 10, 12),
    )  # 10 d, 30 d
    w.request(
        w.county,
        ["sex"],
        status=Status.DENIED,
        age="minor",
        created=utc(2025, 11, 1),
        submitted=utc(2025, 11, 21),
        decided=utc(2025, 12, 31),
    )  # 20 d, 40 d
    w.request(
        w.county,
        ["labor", "sex"],
        status=Status.WITHDRAWN,
        created=utc(2025, 12, 1),
        submitted=utc(2025, 12, 5),
    )  # 4 d
    w.request(
        w.county,
        ["labor"],
        status=Status.SUBMITTED,
        age="unknown",
        created=utc(2026, 1, 1),
        submitted=utc(2026, 1, 7),
    )  # 6 d
    w.request(
        w.texas,
        ["sex"],
        status=Status.INFORMATION_REQUESTED,
        created=utc(2026, 2, 1),
        submitted=utc(2026, 2, 3),
    )  # 2 d
    w.request(
        w.texas,
        ["labor"],
        status=Status.GRANTED,
        kind="extension",
        created=utc(2026, 3, 1),
        submitted=utc(2026, 3, 9),
        decided=utc(2026, 3, 21),
    )  # 8 d, 12 d
    w.request(
        w.tribal,
        [],
        status=Status.GRANTED,
        age="minor",
        created=utc(2026, 1, 1),
        submitted=utc(2026, 1, 31),
        decided=utc(2026, 4, 1),
    )  # 30 d, 60 d
    w.request(
        w.fbi,
        ["sex", "labor"],
        status=Status.GRANTED,
        created=utc(2026, 4, 1),
        submitted=utc(2026, 4, 2),
        decided=utc(2026, 4, 22),
    )  # 1 d, 20 d
    w.request(
        w.far,
        ["labor"],
        status=Status.GRANTED,
        created=utc(2026, 5, 1),
        submitted=utc(2026, 5, 6),
        decided=utc(2026, 5, 11),
    )  # 5 d, 5 d
    # Submitted at 23:59 on 30 September 2025 in Washington: FY2025. Decided in FY2026.
    w.request(
        w.county,
        ["labor"],
        status=Status.GRANTED,
        created=utc(2025, 9, 21, 3, 59),
        submitted=utc(2025, 10, 1, 3, 59),
        decided=utc(2025, 10, 21, 3, 59),
    )  # -, 20 d
    # A draft never submitted counts nowhere.
    w.request(w.county, ["labor"], status=Status.DRAFT, created=utc(2026, 6, 1))
    # Midnight on 1 October 2026 in Washington: FY2027.
    w.request(w.county, ["labor"], created=utc(2026, 9, 20), submitted=utc(2026, 10, 1, 4))
    # One second before it: FY2026.
    w.request(
        w.county,
        ["labor"],
        created=utc(2026, 9, 30, 3, 59, 59),
        submitted=utc(2026, 10, 1, 3, 59, 59),
    )  # 1 d
    return w  # fmt: skip


def add_grants(world: World) -> World:
    """CP terms ending around FY2026; see test_metrics."""
    w = world
    # on time: extended, requested a month before the end
    w.grant(
        w.county,
        [
            (date(2024, 1, 10), date(2026, 1, 8), utc(2023, 12, 1)),
            (date(2026, 1, 9), date(2028, 1, 8), utc(2025, 12, 1)),
        ],
    )
    # late: the extension was requested after the end, and granted from the day after
    w.grant(
        w.county,
        [
            (date(2024, 3, 1), date(2026, 2, 27), utc(2024, 2, 1)),
            (date(2026, 2, 28), date(2028, 2, 27), utc(2026, 3, 5)),
        ],
    )
    # lapsed
    w.grant(w.county, [(date(2024, 5, 1), date(2026, 4, 30), utc(2024, 4, 1))])
    # ended by an end event before its last day
    w.grant(
        w.texas, [(date(2024, 6, 1), date(2026, 5, 31), utc(2024, 5, 1))], ended_on=date(2026, 5, 1)
    )
    # an extension request is with CCHT
    w.grant(
        w.texas,
        [(date(2024, 7, 1), date(2026, 6, 30), utc(2024, 6, 1))],
        pending_since=utc(2026, 6, 15),
    )
    # on time on the last day of the year: 23:30 in Washington is already 1 October in UTC
    w.grant(
        w.county,
        [
            (date(2024, 10, 1), date(2026, 9, 30), utc(2024, 9, 1)),
            (date(2026, 10, 1), date(2028, 9, 30), utc(2026, 10, 1, 3, 30)),
        ],
    )
    # FY2025: not counted
    w.grant(w.county, [(date(2023, 10, 1), date(2025, 9, 30), utc(2023, 9, 1))])
    # the outsider's lapse
    w.grant(w.far, [(date(2024, 4, 1), date(2026, 3, 31), utc(2024, 3, 1))])
    # ends in FY2027: not counted
    w.grant(w.county, [(date(2024, 10, 11), date(2026, 10, 10), utc(2024, 10, 1))])
    # a later term after a gap is no extension: the term lapsed
    w.grant(
        w.fbi,
        [
            (date(2024, 8, 1), date(2026, 7, 31), utc(2024, 7, 1)),
            (date(2026, 8, 15), date(2028, 8, 14), utc(2026, 8, 1)),
        ],
    )
    return w  # fmt: skip


def add_minors(world: World) -> World:
    w = world
    w.minor(w.county, utc(2026, 1, 10, 10), utc(2026, 1, 11, 9))  # 23 h: on time
    w.minor(w.county, utc(2026, 2, 1, 10), utc(2026, 2, 2, 10))  # exactly 24 h: on time
    w.minor(w.county, utc(2026, 3, 1, 10), utc(2026, 3, 2, 10, 1))  # 24 h 1 min: late
    w.minor(w.texas, utc(2026, 4, 1, 10))  # no notice, long ago: missing
    w.minor(w.county, utc(2026, 10, 1))  # 20:00 on 30 Sep in Washington; 10 h ago: open
    w.minor(w.far, utc(2026, 5, 1, 10), utc(2026, 5, 1, 12))  # the outsider's, on time
    w.minor(w.county, utc(2025, 9, 30, 10))  # FY2025: not counted
    w.minor(w.county, utc(2026, 6, 1, 10), utc(2026, 6, 1, 9))  # notified first: on time
    w.person(w.case(w.county), age_estimate=30)  # an adult: not counted
    return w


def add_sessions(world: World) -> World:
    w = world
    first = w.session(utc(2025, 11, 5, 17))
    w.place(first, w.county, True)
    w.place(first, w.county, False)
    w.place(first, w.far, True)
    w.place(first, w.fbi, None)
    w.place(first, w.county, None, status=RegistrationStatus.WAITLISTED)
    w.place(first, w.county, None, status=RegistrationStatus.CANCELLED)
    second = w.session(utc(2026, 3, 10, 17))
    w.place(second, w.texas, True)
    cancelled = w.session(utc(2026, 2, 1, 17), cancelled=True)
    w.place(cancelled, w.county, None)
    upcoming = w.session(utc(2026, 10, 5, 17))
    w.place(upcoming, w.county, None)
    w.session(utc(2026, 9, 30, 17))  # held, nobody registered
    return w
