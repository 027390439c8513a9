"""Synthetic demo data: agencies of every level, one account per role, and cases.

Every name here is invented. Safe to run twice: existing rows are kept.
The demo cases go through the same services as the pages (encryption, blind
indexes, request history, audit trail), one CP request in every state of the route.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction
from django.http import HttpRequest
from django.test import RequestFactory
from django.utils import timezone

from cpnav.accounts.models import Agency, FederalPartnership, Level, Membership, Role, User
from cpnav.audit.services import record
from cpnav.cases import services, workflow
from cpnav.cases.models import Case, CPRequest, CriminalStatus, Form
from cpnav.engagement import services as engagement
from cpnav.engagement.models import Audience, MeetingRequest, Session, Topic

DEMO_PASSWORD = "demo-navigator-synthetic-2026"  # noqa: S105  (synthetic, demo mode only)

AGENCIES: list[dict[str, Any]] = [
    {"key": "sheriff", "name": "Marlow County Sheriff's Office (demo)", "level": Level.LOCAL,
     "state": "TX", "ori": "TX9990100", "time_zone": "America/Chicago"},
    {"key": "state", "name": "Keystone State Police (demo)", "level": Level.STATE,
     "state": "PA", "ori": "PA9990000", "time_zone": "America/New_York"},
    {"key": "tribal", "name": "Red Mesa Tribal Police Department (demo)", "level": Level.TRIBAL,
     "state": "AZ", "ori": "AZ9990300", "time_zone": "America/Phoenix"},
    {"key": "territorial", "name": "Northern Islands Territorial Police (demo)",
     "level": Level.TERRITORIAL, "state": "MP", "ori": "", "time_zone": "Pacific/Saipan"},
    {"key": "hsi", "name": "HSI Gulf Coast Field Office (demo)", "level": Level.FEDERAL,
     "state": "TX", "ori": "", "time_zone": "America/Chicago"},
    {"key": "ccht", "name": "Center for Countering Human Trafficking (demo)",
     "level": Level.FEDERAL, "state": "DC", "ori": "", "time_zone": "America/New_York",
     "is_ccht": True},
]  # fmt: skip

PEOPLE: list[tuple[str, str, str, str]] = [
    # (agency key, role, email local part, full name)
    ("sheriff", Role.INVESTIGATOR, "investigator", "Dana Quill"),
    ("sheriff", Role.SUPERVISOR, "supervisor", "Morgan Vale"),
    ("sheriff", Role.AGENCY_ADMIN, "admin", "Casey Brook"),
    ("sheriff", Role.VICTIM_SPECIALIST, "advocate", "Jordan Fenn"),
    ("sheriff", Role.AUDITOR, "auditor", "Riley Stone"),
    ("state", Role.INVESTIGATOR, "investigator", "Avery Lark"),
    ("state", Role.SUPERVISOR, "supervisor", "Hollis Reed"),
    ("tribal", Role.INVESTIGATOR, "investigator", "Quinn Harlow"),
    ("tribal", Role.SUPERVISOR, "supervisor", "Kit Amberly"),
    ("territorial", Role.INVESTIGATOR, "investigator", "Sam Ortiz-Demo"),
    ("territorial", Role.SUPERVISOR, "supervisor", "Ellis Moray"),
    ("hsi", Role.FEDERAL_SPONSOR, "sponsor", "Taylor Marsh"),
    ("hsi", Role.INVESTIGATOR, "investigator", "Rowan Pike"),
    ("hsi", Role.SUPERVISOR, "supervisor", "Emerson Clay"),
    ("ccht", Role.CCHT_REVIEWER, "reviewer", "Parker Wynn"),
    ("ccht", Role.ENGAGEMENT_COORDINATOR, "engagement", "Reese Calder"),
    ("ccht", Role.AUDITOR, "auditor", "Blair Ashby"),
    ("ccht", Role.AGENCY_ADMIN, "admin", "Drew Kessler"),
]


def demo_email(agency_key: str, local: str) -> str:
    return f"{local}@{agency_key}.demo.example"


# --- Demo cases ---------------------------------------------------------------
# A step is (transition, who, data). "investigator" and "supervisor" are the
# case agency's accounts; "sponsor" is the HSI office's, "reviewer" CCHT's.

Step = tuple[str, str, dict[str, Any]]

ROUTED: list[Step] = [("submit_for_approval", "investigator", {}), ("approve", "supervisor", {})]
ENDORSED: list[Step] = [*ROUTED, ("endorse", "sponsor", {})]
RECEIVED: list[Step] = [*ENDORSED, ("record_receipt", "reviewer", {})]

GRANT_START = date(2025, 1, 15)


def _labor(
    means: list[str], purpose: list[str], *, witness: bool | None = True, civil: bool = False
) -> dict[str, Any]:
    return {"exploitation": {"commercial_sex_act": False, "labor_or_services": True, "means": means,
                             "purpose": purpose, "under_18_at_time": False},
            "witness": {"potential_witness": witness, "civil_action_1595_filed": civil}}  # fmt: skip


def _sex(means: list[str], *, minor: bool = False, witness: bool | None = True) -> dict[str, Any]:
    return {"exploitation": {"commercial_sex_act": True, "labor_or_services": False, "means": means,
                             "purpose": [], "under_18_at_time": minor},
            "witness": {"potential_witness": witness, "civil_action_1595_filed": False}}  # fmt: skip


@dataclass(frozen=True)
class DemoCase:
    agency: str
    number: str
    forms: list[str]
    person: dict[str, Any]
    facts: dict[str, Any]
    narrative: str
    steps: list[Step]
    case_fields: dict[str, Any] = field(default_factory=dict)


def demo_cases(today: date) -> list[DemoCase]:
    """The demo cases, one request each; dates that must stay current follow ``today``."""
    minor_birth = date(today.year - 16, 5, 9).isoformat()  # always 15 or 16 years old
    return [
        DemoCase(
            "sheriff", "DEMO-2026-001", [Form.LABOR],
            {"full_name": "Demo Persona Uno", "aliases": ["José Ejemplo Ficticio"],
             "date_of_birth": "1991-02-03", "country": "Guatemala",
             "languages": ["Spanish", "K'iche'"], "interpreter_needed": True,
             "contact": "+1 555 0101", "safe_contact": "Only through the demo shelter's advocate."},
            _labor(["fraud", "coercion"], ["debt_bondage"], witness=None),
            "Synthetic demo: recruited for farm work with a promised wage; a growing "
            "'transport debt' was used to keep the person working.",
            [("submit_for_approval", "investigator", {}),
             ("return", "supervisor", {"comment": "Add the date of the second interview and "
                                                  "say whether the person may testify."})],
        ),
        DemoCase(
            "state", "DEMO-2026-002", [Form.SEX],
            {"full_name": "سارة تجريبية", "aliases": ["Sara Tajribiya (demo)"],
             "date_of_birth": "1998-07-21", "country": "Jordan", "languages": ["Arabic"],
             "interpreter_needed": True, "contact": "+1 555 0102", "do_not_contact": True,
             "safe_contact": "Call the demo victim specialist, never the person directly."},
            _sex(["force", "coercion"]),
            "Synthetic demo: passport taken on arrival; threatened and made to perform "
            "commercial sex acts at a short-term rental.",
            [("submit_for_approval", "investigator", {})],
        ),
        DemoCase(
            "tribal", "DEMO-2026-003", [Form.LABOR],
            {"full_name": "演示 人员", "aliases": ["Yanshi Renyuan (demo)"],
             "date_of_birth": "1985-11-30", "country": "China",
             "languages": ["Mandarin"], "interpreter_needed": True, "contact": "+1 555 0103"},
            _labor(["fraud"], ["involuntary_servitude"]),
            "Synthetic demo: kitchen work at a roadside restaurant for no pay, living on "
            "site, told that leaving would mean arrest.",
            ROUTED,
        ),
        DemoCase(
            "territorial", "DEMO-2026-004", [Form.LABOR],
            {"full_name": "Nguyễn Thị Mẫu Thử", "date_of_birth": "1993-04-12",
             "country": "Vietnam", "languages": ["Vietnamese"], "interpreter_needed": True,
             "a_number": "A000000101", "contact": "+1 670 555 0104"},
            _labor(["fraud", "coercion"], ["debt_bondage", "peonage"]),
            "Synthetic demo: garment work under a recruitment-fee debt that grew each "
            "month; wages withheld to pay it.",
            RECEIVED,
            {"criminal_status": CriminalStatus.CHARGED},
        ),
        DemoCase(
            "hsi", "DEMO-2026-005", [Form.SEX, Form.LABOR],
            {"full_name": "Ana Lucía Ficticia-Demo", "date_of_birth": "1996-09-14",
             "country": "Honduras", "languages": ["Spanish"], "a_number": "A000000103",
             "contact": "+1 555 0105"},
            {"exploitation": {"commercial_sex_act": True, "labor_or_services": True,
                              "means": ["force", "fraud"], "purpose": ["involuntary_servitude"],
                              "under_18_at_time": False},
             "witness": {"potential_witness": True, "civil_action_1595_filed": False}},
            "Synthetic demo (federal case): domestic work and commercial sex under threats, "
            "moved between two states.",
            ROUTED,
            {"criminal_status": CriminalStatus.CHARGED},
        ),
        DemoCase(
            "sheriff", "DEMO-2026-006", [Form.SEX],
            {"full_name": "Dulce Ejemplo Inventada", "date_of_birth": minor_birth,
             "country": "Mexico", "languages": ["Spanish"], "contact": "",
             "do_not_contact": True,
             "safe_contact": "Through the demo child advocacy center caseworker."},
            _sex([], minor=True),
            "Synthetic demo: a minor advertised online for commercial sex; recovered "
            "during a demo operation.",
            [*RECEIVED,
             ("request_information", "reviewer",
              {"information": "The forensic interview date and the prosecutor's contact.",
               "due_date": today + timedelta(days=21)})],
        ),
        DemoCase(
            "state", "DEMO-2026-007", [Form.LABOR],
            {"full_name": "أحمد تجريبي", "aliases": ["Ahmad Tajribi (demo)"],
             "age_estimate": 34, "country": "Egypt", "languages": ["Arabic", "English"],
             "a_number": "A000000102", "contact": "+1 555 0107"},
            _labor(["coercion"], ["involuntary_servitude"], civil=True),
            "Synthetic demo: construction work under threats of deportation; documents "
            "held by the employer.",
            [*RECEIVED, ("grant", "reviewer", {"start_date": GRANT_START})],
            {"criminal_status": CriminalStatus.CHARGED, "civil_status": "filed",
             "civil_court": "U.S. District Court (demo)", "civil_number": "DEMO-CV-0007",
             "civil_filed_on": date(2025, 3, 3)},
        ),
        DemoCase(
            "tribal", "DEMO-2026-008", [Form.SEX],
            {"full_name": "演示 样本", "date_of_birth": "2000-01-25", "country": "China",
             "languages": ["Mandarin"], "interpreter_needed": True, "contact": "+1 555 0108"},
            _sex(["fraud"]),
            "Synthetic demo: promised a job at a spa; made to perform commercial sex acts.",
            [*RECEIVED,
             ("deny", "reviewer",
              {"comment": "Synthetic demo denial: the request did not show how the person "
                          "relates to an open investigation."})],
            {"criminal_status": CriminalStatus.CLOSED},
        ),
        DemoCase(
            "territorial", "DEMO-2026-009", [Form.LABOR],
            {"full_name": "Demo Persona Nueve", "aliases": ["Renée Muestra"],
             "date_of_birth": "1988-06-06", "country": "Philippines",
             "languages": ["Tagalog", "English"], "contact": "+1 670 555 0109"},
            _labor(["fraud"], ["peonage"]),
            "Synthetic demo: fishing-vessel work with wages held back by a manning agency.",
            [*ENDORSED,
             ("withdraw", "investigator",
              {"comment": "Synthetic demo: the person obtained another immigration status; "
                          "CP is no longer needed."})],
        ),
    ]  # fmt: skip


def _http(user: User) -> HttpRequest:
    http = RequestFactory().post("/")
    http.user = user
    return http


class Command(BaseCommand):
    help = "Create synthetic demo agencies, one account per role, and demo cases (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION:
            self.stderr.write("refused: demo data is never loaded in production")
            sys.exit(2)
        with transaction.atomic():
            created, new_cases, total_cases = self._load()
        if created or new_cases:
            record(
                "demo.loaded",
                actor_label="cpnav demo",
                details={"accounts": created, "cases": new_cases},
            )
        self.stdout.write(f"demo data ready ({created} new accounts). Demo accounts:")
        for key, role, local, _name in PEOPLE:
            self.stdout.write(f"  {demo_email(key, local):40} {Role(role).label}")
        self.stdout.write(f"  {'sysadmin@demo.example':40} System administrator")
        self.stdout.write(f"Demo password for every account: {DEMO_PASSWORD}")
        self.stdout.write(
            f"Demo cases: {total_cases} ({new_cases} new), with a CP request in every state."
        )
        if not settings.DEMO_MODE:
            self.stdout.write("CPNAV_DEMO_MODE is off: demo accounts must enrol an authenticator.")

    def _load(self) -> tuple[int, int, int]:
        agencies: dict[str, Agency] = {}
        for spec in AGENCIES:
            fields = {k: v for k, v in spec.items() if k != "key"}
            agency, _ = Agency.objects.get_or_create(name=spec["name"], defaults=fields)
            agencies[spec["key"]] = agency
        for key in ("sheriff", "state", "tribal", "territorial"):
            FederalPartnership.objects.get_or_create(
                agency=agencies[key], federal_office=agencies["hsi"]
            )
        created = 0
        users: dict[tuple[str, str], User] = {}
        for key, role, local, name in PEOPLE:
            user, made = self._user(demo_email(key, local), name)
            created += made
            users[key, local] = user
            Membership.objects.get_or_create(user=user, agency=agencies[key], role=role)
        _admin, made = self._user("sysadmin@demo.example", "Sydney Admin", is_staff=True,
                                 is_superuser=True)  # fmt: skip
        specs = demo_cases(timezone.localdate())
        new_cases = 0
        for demo in specs:
            if not Case.objects.filter(
                agency=agencies[demo.agency], case_number=demo.number
            ).exists():
                self._case(demo, agencies, users)
                new_cases += 1
        total = sum(
            Case.objects.filter(agency=agencies[s.agency], case_number=s.number).exists()
            for s in specs
        )
        self._engagement(agencies, users)
        return created + made, new_cases, total

    def _engagement(self, agencies: dict[str, Agency], users: dict[tuple[str, str], User]) -> None:
        """Two upcoming public sessions (one with registrations) and an open meeting request."""
        coordinator = users["ccht", "engagement"]
        http = _http(coordinator)
        today = timezone.localdate()
        sessions = [
            ("Continued Presence basics for state and local officers", 14, "America/New_York",
             [Topic.CP_BASICS, Topic.VICTIM_CENTERED], ["what-is-continued-presence", "who-qualifies"]),
            ("Preparing a strong CP request", 30, "America/Chicago",
             [Topic.PREPARING, Topic.T_U_VISAS], ["preparing-a-request", "after-the-request"]),
        ]  # fmt: skip
        for title, days, zone_name, topics, materials in sessions:
            if Session.objects.filter(title=title).exists():
                continue
            session = engagement.create_session(http, coordinator, engagement.SessionInput(
                title=title, day=today + timedelta(days=days), at=time(14, 0),
                time_zone=zone_name, duration_minutes=90, capacity=40,
                meeting_link="https://meeting.example/cpnav-demo", topics=[str(t) for t in topics],
                materials=materials, presenters="CCHT engagement team (demo)",
                description="A synthetic demo session.",
            ))  # fmt: skip
            if days == 14:
                for key in ("sheriff", "tribal"):
                    officer = users[key, "investigator"]
                    engagement.register(_http(officer), session, engagement.Registrant(
                        full_name=officer.full_name, email=officer.email,
                        agency_name=agencies[key].name, agency=agencies[key],
                    ), user=officer)  # fmt: skip
        officer = users["state", "investigator"]
        if not MeetingRequest.objects.filter(requester=officer).exists():
            engagement.submit_request(_http(officer), officer, engagement.MeetingInput(
                contact_name=officer.full_name, contact_email=officer.email,
                agency=agencies["state"], agency_name=agencies["state"].name,
                jurisdiction=agencies["state"].state, jurisdiction_detail="Statewide",
                audience=[Audience.INVESTIGATORS.value, Audience.TASK_FORCE.value], audience_size=30,
                topics=[Topic.CP_BASICS.value, Topic.LABOR.value], preferred_dates=[today + timedelta(days=21)],
                preferred_time="morning", time_zone=agencies["state"].time_zone,
            ))  # fmt: skip

    def _case(
        self, spec: DemoCase, agencies: dict[str, Agency], users: dict[tuple[str, str], User]
    ) -> CPRequest:
        """Open the case, add the person, fill in the request and walk it along the route."""
        actors = {
            "investigator": users[spec.agency, "investigator"],
            "supervisor": users[spec.agency, "supervisor"],
            "sponsor": users["hsi", "sponsor"],
            "reviewer": users["ccht", "reviewer"],
        }
        lead = actors["investigator"]
        agency = agencies[spec.agency]
        http = _http(lead)
        case = services.create_case(
            http, lead, agency, case_number=spec.number, trafficking_forms=list(spec.forms),
            federal_partner=None if agency.level == Level.FEDERAL else agencies["hsi"],
            **spec.case_fields,
        )  # fmt: skip
        person = services.add_person(http, case, citizenship="noncitizen", **spec.person)
        cp = services.start_request(http, lead, person)
        candidate = CPRequest(
            case=case, person=person, facts=spec.facts, sponsor_office=cp.sponsor_office
        )
        workflow.refresh_determination(candidate)
        cp = services.save_versioned(
            http, cp, cp.version,
            {"facts": spec.facts, "narrative": spec.narrative,
             "determination": candidate.determination, "rules_version": candidate.rules_version},
            "request.changed",
        )  # fmt: skip
        for name, who, data in spec.steps:
            actor = actors[who]
            cp = workflow.perform(_http(actor), cp, name, actor, **data)
        return cp

    def _user(self, email: str, name: str, **extra: Any) -> tuple[User, int]:
        user = User.objects.filter(email=email).first()
        if user is not None:
            return user, 0
        user = User.objects.create_user(email, DEMO_PASSWORD, full_name=name, is_demo=True, **extra)
        return user, 1
