"""In-process engine benchmarks: policy, interview, package assembly.

    .venv/bin/python bench/engines.py --out FILE [--quick]

Measures, after warm-up and with ``time.perf_counter``:

* ``policy.determination`` - ``determine(parse_facts(json))`` over varied fact sets;
* ``interview.next_question`` - the fast path, mid-interview;
* ``interview.screen`` - one screen of the screening interview in pure engine
  calls (state, then parse and apply the answer);
* ``interview.walk`` - the screening interview from no answers to the review;
* ``interview.view_screen`` / ``interview.view_walk`` - the same, through the
  step view's own engine work (``cpnav.screening.runner.visit``, a GET and a
  POST per question) without HTTP or templates;
* ``package.context`` - a request's package context built from the record;
* ``package.pdf.warm`` / ``package.docx.warm`` - rendering in a warm process;
* ``package.cold`` - PDF + DOCX for the first time in a fresh Python process.

Writes ``{"metrics": {name: {"unit", "samples", "note"}}, "extra": {...}}`` and a
summary (median, p95) on stderr. Benchmarks are not tests: nothing here asserts
a time. The script uses its own throwaway SQLite database under var/bench/
(made and migrated by ``main``), never the user's; the measuring functions
take whatever database Django is set up with, so tests run them on the test
database.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import math
import os
import statistics
import subprocess
import sys
import time
import zipfile
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypedDict

if TYPE_CHECKING:
    from cpnav.accounts.models import User
    from cpnav.cases.models import CPRequest
    from cpnav.documents.package import PackageContext
    from cpnav.interview import Interview, Question, State
    from cpnav.interview.answers import Raw

REPO: Final = Path(__file__).resolve().parents[1]
BENCH_DIR: Final = REPO / "var" / "bench"
DB_PATH: Final = BENCH_DIR / "engines.sqlite3"
# Keys and secrets for the throwaway database: its own, never the user's var/.
VAR_DIR: Final = BENCH_DIR / "engines-var"
COLD_FLAG: Final = "--cold-child"
SCREENING: Final = "screening"
# A fixed day, so every run walks the same path and reads the same rule set.
TODAY: Final = date(2026, 11, 30)


class Metric(TypedDict):
    unit: str
    samples: list[float]
    note: str


@dataclass(frozen=True)
class Sizes:
    """How much to measure. ``QUICK`` is for tests: shape, not numbers."""

    policy_batches: int
    policy_batch: int
    next_batches: int
    next_batch: int
    walks: int
    warm_renders: int
    cold_runs: int
    warmup: int


FULL: Final = Sizes(
    policy_batches=30,
    policy_batch=1_000,
    next_batches=30,
    next_batch=1_000,
    walks=200,
    warm_renders=10,
    cold_runs=5,
    warmup=200,
)
QUICK: Final = Sizes(
    policy_batches=3,
    policy_batch=20,
    next_batches=3,
    next_batch=20,
    walks=3,
    warm_renders=1,
    cold_runs=1,
    warmup=2,
)


@dataclass
class Run:
    """The report plus what was made along the way, so a test can check it is real."""

    metrics: dict[str, Metric] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    outcomes: set[str] = field(default_factory=set)
    walk_state: State | None = None
    walk_answers: dict[str, Any] = field(default_factory=dict)
    view_walk: ViewWalk | None = None
    pdf: bytes = b""
    docx: bytes = b""
    cold: list[dict[str, Any]] = field(default_factory=list)
    # Environment of the fresh processes for package.cold; None: child_env().
    cold_env: dict[str, str] | None = None

    def report(self) -> dict[str, Any]:
        return {"metrics": self.metrics, "extra": self.extra}


def _ms(seconds: float) -> float:
    return seconds * 1000.0


def _metric(samples: list[float], note: str) -> Metric:
    return {"unit": "ms", "samples": [round(s, 6) for s in samples], "note": note}


# --- policy ------------------------------------------------------------------------


def fact_sets() -> list[dict[str, Any]]:
    """Realistic facts JSON, as the API, the check page and the cases app send it:
    adults and minors, sex and labor, citizens, and facts still missing."""
    as_of = TODAY.isoformat()
    return [
        {  # adult labor trafficking, federal requester, everything known
            "as_of": as_of,
            "requester": {"agency_level": "federal"},
            "person": {"citizenship": "noncitizen", "date_of_birth": "1991-03-08"},
            "exploitation": {
                "commercial_sex_act": False,
                "labor_or_services": True,
                "means": ["fraud", "coercion"],
                "purpose": ["debt_bondage"],
                "under_18_at_time": False,
            },
            "witness": {"potential_witness": True, "civil_action_1595_filed": False},
        },
        {  # minor by date of birth, sex trafficking, no means needed, local agency
            "as_of": as_of,
            "requester": {"agency_level": "local", "federal_partner_engaged": False},
            "person": {"citizenship": "noncitizen", "date_of_birth": "2010-04-17"},
            "exploitation": {"commercial_sex_act": True},
            "witness": {"potential_witness": True},
        },
        {  # minor by estimate only: under_18_at_time still needed
            "as_of": as_of,
            "requester": {"agency_level": "state", "federal_partner_engaged": True},
            "person": {"citizenship": "noncitizen", "age_estimate": 16},
            "exploitation": {"commercial_sex_act": True, "means": []},
            "witness": {"potential_witness": None, "civil_action_1595_filed": None},
        },
        {  # U.S. citizen: CP does not apply
            "as_of": as_of,
            "requester": {"agency_level": "local"},
            "person": {"citizenship": "us_citizen", "date_of_birth": "1999-12-01"},
            "exploitation": {"commercial_sex_act": True, "means": ["force"]},
            "witness": {"potential_witness": True},
        },
        {  # permanent resident, labor
            "as_of": as_of,
            "person": {"citizenship": "lawful_permanent_resident"},
            "exploitation": {"labor_or_services": True, "means": ["coercion"]},
        },
        {},  # nothing known yet (as_of defaults to today)
        {  # looked for and none found: not eligible
            "as_of": as_of,
            "requester": {"agency_level": "tribal", "federal_partner_engaged": True},
            "person": {"citizenship": "noncitizen", "age_estimate": 34},
            "exploitation": {
                "commercial_sex_act": False,
                "labor_or_services": True,
                "means": [],
                "purpose": [],
            },
            "witness": {"potential_witness": False, "civil_action_1595_filed": False},
        },
        {  # civil action filed, not a witness; both forms
            "as_of": as_of,
            "requester": {"agency_level": "territorial", "federal_partner_engaged": True},
            "person": {"citizenship": "noncitizen", "date_of_birth": "1988-07-22"},
            "exploitation": {
                "commercial_sex_act": True,
                "labor_or_services": True,
                "means": ["force", "fraud", "coercion"],
                "purpose": ["involuntary_servitude", "peonage"],
            },
            "witness": {"potential_witness": False, "civil_action_1595_filed": True},
        },
        {  # citizenship unknown, partial exploitation facts
            "as_of": as_of,
            "requester": {"agency_level": "local", "federal_partner_engaged": None},
            "person": {"citizenship": "unknown", "age_estimate": 25},
            "exploitation": {"labor_or_services": True, "means": None, "purpose": ["slavery"]},
        },
        {  # under the earlier one-year rule set
            "as_of": "2019-05-14",
            "requester": {"agency_level": "federal"},
            "person": {"citizenship": "noncitizen", "date_of_birth": "2004-02-29"},
            "exploitation": {"commercial_sex_act": True, "under_18_at_time": True},
            "witness": {"potential_witness": True},
        },
    ]


def bench_policy(sizes: Sizes, run: Run) -> None:
    from cpnav.policy import determine, parse_facts

    sets = fact_sets()
    count = len(sets)
    run.outcomes = {determine(parse_facts(data)).outcome for data in sets}
    for index in range(sizes.warmup * count):
        determine(parse_facts(sets[index % count]))

    samples: list[float] = []
    batch = sizes.policy_batch
    for _ in range(sizes.policy_batches):
        start = time.perf_counter()
        for index in range(batch):
            determine(parse_facts(sets[index % count]))
        samples.append(_ms(time.perf_counter() - start) / batch)

    # The engine alone, on facts already parsed (as a caller holding Facts would).
    parsed = [parse_facts(data) for data in sets]
    engine_only: list[float] = []
    for _ in range(sizes.policy_batches):
        start = time.perf_counter()
        for index in range(batch):
            determine(parsed[index % count])
        engine_only.append((time.perf_counter() - start) / batch)

    run.metrics["policy.determination"] = _metric(
        samples,
        f"ms per determination: parse_facts(JSON dict) + determine(), mean over a batch "
        f"of {batch} cycling through {count} fact sets",
    )
    run.extra["determinations_per_second"] = round(1000.0 / statistics.median(samples), 1)
    run.extra["determine_only_per_second"] = round(1.0 / statistics.median(engine_only), 1)


# --- interview -----------------------------------------------------------------------

# The officer's answers for the longest realistic path through the screening:
# every follow-up question is reached (recruited with promises, works, owes a
# debt, came from abroad, housed by the employer, a commercial sex act), the
# date of birth is not known so the age is estimated, and "not known" and "no"
# appear where a real screening would have them.
WALK_ANSWERS: Final[Mapping[str, Raw]] = {
    "came_from_abroad": "yes",
    "recruited_with_promises": "yes",
    "job_differs_from_promise": "yes",
    "works_for_someone": "yes",
    "excessive_hours": "yes",
    "pay_withheld": "unknown",
    "owes_debt": "yes",
    "debt_growing": "yes",
    "documents_held": "yes",
    "not_free_to_leave": "unknown",
    "threats_to_person": "no",
    "threats_to_family": "yes",
    "threats_of_deportation": "yes",
    "physical_harm": "no",
    "housed_by_employer": "yes",
    "locked_in": "no",
    "commercial_sex_act": "yes",
    "someone_takes_money": "yes",
    "date_of_birth": "",
    "age_estimate": "17",
    "under_18_at_time": "unknown",
    "citizenship": "noncitizen",
    "potential_witness": "yes",
}


def raw_for(question: Question) -> Raw:
    """The scripted form input for a question; a plausible one for a question
    added to the definition after this script was written."""
    scripted = WALK_ANSWERS.get(question.id)
    if scripted is not None:
        return scripted
    if question.type == "yes_no_unknown":
        return "yes"
    if question.type in {"choice", "multi_choice"} and question.choices:
        return question.choices[0].value if question.type == "choice" else []
    return ""


@dataclass
class Walk:
    total: float  # seconds, the whole walk
    screens: list[float]  # seconds, one per screen that asked a question
    end: float  # seconds, the review screen at the end
    state: State
    answers: dict[str, Any]

    @property
    def screen_count(self) -> int:
        return len(self.screens) + 1


def walk(interview: Interview, today: date = TODAY) -> Walk:
    """The screening from no answers to the review, one screen at a time.

    A question screen is what the screening view computes without HTTP or
    templates: the state (question to show, progress), then the posted
    answer parsed and applied. The last screen is the review: the state,
    the review rows and the still-needed list.
    """
    from cpnav.interview import answer, missing, review, state

    limit = len(interview.questions) + 1
    answers: dict[str, Any] = {}
    screens: list[float] = []
    perf = time.perf_counter
    begin = perf()
    while True:
        start = perf()
        current = state(interview, answers, today=today)
        question = current.next_question
        if question is None:
            review(interview, answers, today=today)
            missing(interview, answers, today=today)
            finish = perf()
            return Walk(finish - begin, screens, finish - start, current, answers)
        answers = answer(interview, answers, question.id, raw_for(question), today=today)
        screens.append(perf() - start)
        if len(screens) > limit:
            raise RuntimeError(f"the walk asked {question.id!r} again: answers are not taking")


@dataclass
class ViewWalk:
    total: float  # seconds, the whole walk
    screens: list[float]  # seconds, one per question: its GET and its POST
    answers: dict[str, Any]
    asked: list[str]  # question ids, in the order the pages showed them
    backs: list[str | None]  # each page's Back link target


def view_walk(interview: Interview, today: date = TODAY) -> ViewWalk:
    """The screening from no answers to the review as the step view runs it,
    without HTTP or templates: ``runner.visit`` is what ``runner.handle`` calls.

    Each question is a GET (the page: question, progress, Back link) and a
    POST (the answer applied, where to go next), following the redirect to
    ``?q=<next>`` as a browser does. After the last answer the step page is
    asked once more, finds nothing to ask and sends the officer to the review,
    whose page adds review() and missing().
    """
    from cpnav.interview import missing, review
    from cpnav.screening.runner import Saved, Show, visit

    limit = len(interview.questions) + 1
    answers: dict[str, Any] = {}
    question_id: str | None = None
    screens: list[float] = []
    asked: list[str] = []
    backs: list[str | None] = []
    perf = time.perf_counter
    begin = perf()
    while True:
        start = perf()
        page = visit(interview, answers, question_id, None, today=today)
        if page is None:
            review(interview, answers, today=today)
            missing(interview, answers, today=today)
            return ViewWalk(perf() - begin, screens, answers, asked, backs)
        posted = visit(interview, answers, question_id, raw_for, today=today)
        screens.append(perf() - start)
        if not isinstance(page, Show):
            raise RuntimeError(f"the step page did not show a question: {page!r}")
        if not isinstance(posted, Saved):
            raise RuntimeError(f"{page.question.id!r} refused its answer: {posted!r}")
        asked.append(page.question.id)
        backs.append(page.previous)
        answers, question_id = posted.answers, posted.following
        if len(screens) > limit:
            raise RuntimeError(f"the walk asked {page.question.id!r} again: answers are not taking")


def mid_answers(interview: Interview, today: date = TODAY) -> dict[str, Any]:
    """The walk's answers for its first half of questions: an interview in progress."""
    finished = walk(interview, today)
    asked = [q.id for q in interview.questions if q.id in finished.answers]
    half = asked[: len(asked) // 2]
    return {qid: finished.answers[qid] for qid in half}


def bench_interview(sizes: Sizes, run: Run) -> None:
    from cpnav.interview import interview_by_id, next_question

    interview = interview_by_id(SCREENING)

    middle = mid_answers(interview)
    for _ in range(sizes.warmup * 10):
        next_question(interview, middle, today=TODAY)
    samples: list[float] = []
    batch = sizes.next_batch
    for _ in range(sizes.next_batches):
        start = time.perf_counter()
        for _ in range(batch):
            next_question(interview, middle, today=TODAY)
        samples.append(_ms(time.perf_counter() - start) / batch)
    run.metrics["interview.next_question"] = _metric(
        samples,
        f"ms per next_question() call with {len(middle)} of the screening's answers given "
        f"(mid-interview), mean over a batch of {batch}",
    )

    for _ in range(sizes.warmup):
        walk(interview)
    walks = [walk(interview) for _ in range(sizes.walks)]
    last = walks[-1]
    run.metrics["interview.screen"] = _metric(
        [_ms(s) for w in walks for s in w.screens],
        "ms per question screen of the screening walk: state() (question, progress) + "
        "answer() (parse and apply the posted input); every question screen of every walk",
    )
    run.metrics["interview.walk"] = _metric(
        [_ms(w.total) for w in walks],
        f"ms per whole walk of the screening interview from no answers to the review: "
        f"{last.screen_count} screens ({len(last.screens)} questions + the review, which "
        f"adds review() and missing())",
    )
    for _ in range(sizes.warmup):
        view_walk(interview)
    view_walks = [view_walk(interview) for _ in range(sizes.walks)]
    run.metrics["interview.view_screen"] = _metric(
        [_ms(s) for w in view_walks for s in w.screens],
        "ms per question screen of the screening walk as the step view does it without "
        "HTTP or templates: runner.visit() for the GET (state(), previous_question()) and "
        "for the POST (raw input read, answer(), next_question()); every question screen "
        "of every walk",
    )
    run.metrics["interview.view_walk"] = _metric(
        [_ms(w.total) for w in view_walks],
        f"ms per whole walk of the screening interview through runner.visit(): "
        f"{len(view_walks[-1].screens)} question screens (GET + POST), the step page "
        f"finding nothing left to ask, and the review (review() and missing())",
    )
    run.view_walk = view_walks[-1]
    run.extra["walk_screens"] = last.screen_count
    run.extra["walk_questions"] = len(last.screens)
    run.extra["screening_questions_defined"] = len(interview.questions)
    run.walk_state = last.state
    run.walk_answers = last.answers


# --- package -------------------------------------------------------------------------

NARRATIVE: Final = (
    "On 2026-11-02 patrol officers found the person working without pay at a nail salon on "
    "Route 9 after a tip to the National Human Trafficking Hotline.\n\n"
    "The owner had recruited her abroad with a promise of school and a paid job, kept her "
    "passport, and told her she owed a recruitment fee she could never pay off. She was also "
    "made to see men at the owner's apartment.\n\n"
    "Two suspects have been identified; the investigation continues with the HSI field office."
)

# Form input for the CP request interview, on top of what the record prefills.
REQUEST_ANSWERS: Final[Mapping[str, Raw]] = {
    "federal_partner_office": "HSI Bench Field Office, SA Jordan Okafor",
    "official_title": "Detective, Special Victims Unit",
    "official_phone": "555-0142",
    "interpreter_needed": "yes",
    "commercial_sex_act": "yes",
    "labor_or_services": "yes",
    "means": ["fraud", "coercion"],
    "purpose": ["debt_bondage"],
    "under_18_at_time": "yes",
    "potential_witness": "yes",
    "civil_action": "filed",
    "civil_court": "U.S. District Court, N.D. Ohio",
    "civil_case_number": "1:26-cv-02291",
    "investigation_summary": NARRATIVE.replace("\n\n", " "),
    "safety_concerns": "yes",
    "safety_details": "The owner knows where her aunt lives; the advocate arranged a shelter.",
    "family_in_us": [{"name": "Leila Synthetic", "relationship": "aunt", "date_of_birth": ""}],
    "family_abroad": [
        {"name": "Omar Synthetic", "relationship": "father", "date_of_birth": "1968-01-15"},
        {"name": "Rana Synthetic", "relationship": "sister", "date_of_birth": "2013-09-02"},
    ],
    "services_referrals": ["victim_services", "shelter", "legal"],
    "t_visa_referral": "yes",
    "consent_to_share": "yes",
}


def make_request(label: str = "bench") -> tuple[CPRequest, User]:
    """A realistic, entirely invented CP request, built with the app's own models
    and interview: a county case with an HSI partner, a minor, a civil action,
    the interview answered (prefilled from the record first, as the request view
    does), the determination refreshed and the supervisor's approval recorded."""
    from cpnav.accounts.models import Agency, Level, Membership, Role, User
    from cpnav.cases import workflow
    from cpnav.cases.interview_views import answers_with_prefill, interview_id
    from cpnav.cases.models import Case, CaseMember, CPRequest, Person, RequestEvent, Status
    from cpnav.interview import answer, interview_by_id, state, to_facts

    county = Agency.objects.create(
        name=f"Lakeview County Sheriff ({label})",
        level=Level.LOCAL,
        state="OH",
        # ORIs are unique: one per label, so several requests can share a database.
        ori=f"OH{zlib.crc32(label.encode()) % 10**7:07d}",
    )
    hsi = Agency.objects.create(name=f"HSI Bench Field Office ({label})", level=Level.FEDERAL)

    def user(email: str, name: str, agency: Agency, role: str) -> User:
        made = User.objects.create_user(f"{label}-{email}", None, full_name=name)
        Membership.objects.create(user=made, agency=agency, role=role)
        return made

    investigator = user("inv@county.example", "Dana Whitfield", county, Role.INVESTIGATOR)
    supervisor = user("sup@county.example", "Carla Benton", county, Role.SUPERVISOR)
    case = Case.objects.create(
        agency=county,
        case_number="LCSO-2026-004512",
        lead_investigator=investigator,
        federal_partner=hsi,
        trafficking_forms=["sex", "labor"],
        criminal_status="investigating",
        civil_status="pending",
        civil_court="U.S. District Court, N.D. Ohio",
        civil_number="1:26-cv-02291",
        civil_filed_on=date(2026, 11, 20),
    )
    CaseMember.objects.create(case=case, user=investigator)
    person = Person(
        case=case,
        full_name="Maryam Synthetic-Haddad",
        aliases=["Mimi"],  # type: ignore[misc]  # an encrypted JSON list (stubs see text)
        date_of_birth="2010-04-17",
        citizenship="noncitizen",
        country="Syria",
        languages=["Arabic", "Spanish"],
        interpreter_needed=True,
        a_number="A212345678",
        do_not_contact=True,
        safe_contact="Through the victim advocate, 555-0199; never at the salon.",
    )
    person.refresh_indexes()
    person.save()
    cp = CPRequest.objects.create(
        case=case, person=person, created_by=investigator, sponsor_office=hsi
    )

    interview = interview_by_id(interview_id(cp))
    today = date.today()
    answers = answers_with_prefill(cp, investigator, interview, today)
    for _ in range(len(interview.questions)):
        question = state(interview, answers, today=today).next_question
        if question is None:
            break
        raw = REQUEST_ANSWERS.get(question.id) or raw_for(question)
        answers = answer(interview, answers, question.id, raw, today=today)
    facts = to_facts(interview, answers, today=today)
    cp.answers = answers
    cp.facts = {key: facts[key] for key in ("exploitation", "witness") if key in facts}
    cp.narrative = NARRATIVE
    workflow.refresh_determination(cp)
    cp.status = Status.AWAITING_SPONSOR
    cp.save()
    RequestEvent.objects.create(
        request=cp,
        transition="approve",
        from_status=Status.AWAITING_SUPERVISOR,
        to_status=Status.AWAITING_SPONSOR,
        actor=supervisor,
        comment="Approved; send to HSI today.",
    )
    fresh = CPRequest.objects.select_related(
        "case", "case__agency", "person", "sponsor_office", "sponsor"
    ).get(pk=cp.pk)
    return fresh, investigator


def render_both(ctx: PackageContext) -> tuple[bytes, bytes, float, float]:
    """(pdf, docx, pdf seconds, docx seconds) for the full package of ``ctx``."""
    from cpnav.documents.package import documents_for
    from cpnav.documents.render import render_docx, render_pdf

    start = time.perf_counter()
    pdf = render_pdf(ctx, documents_for(ctx))
    middle = time.perf_counter()
    docx = render_docx(ctx, documents_for(ctx))
    return pdf, docx, middle - start, time.perf_counter() - middle


def is_pdf(data: bytes) -> bool:
    return data.startswith(b"%PDF-") and b"%%EOF" in data[-1024:]


def is_docx(data: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return "word/document.xml" in archive.namelist()
    except zipfile.BadZipFile:
        return False


def bench_package(sizes: Sizes, run: Run) -> None:
    from cpnav.documents.services import build_context

    cp, actor = make_request()
    # supplement_b: the biggest package, every document in it.
    ctx = build_context(cp, actor, supplement_b=True)
    for _ in range(max(1, sizes.warmup // 20)):
        build_context(cp, actor, supplement_b=True)
    contexts: list[float] = []
    for _ in range(sizes.warm_renders * 5):
        start = time.perf_counter()
        build_context(cp, actor, supplement_b=True)
        contexts.append(_ms(time.perf_counter() - start))
    run.metrics["package.context"] = _metric(
        contexts,
        "ms per services.build_context() for the synthetic request: the record read "
        "(decrypting the person), the interview's review rows and validation",
    )

    # Cold first (a fresh process each time), then warm up this process and measure.
    run.cold = cold_runs(ctx, sizes.cold_runs, run.cold_env or child_env())
    run.metrics["package.cold"] = _metric(
        [c["ms"] for c in run.cold],
        "ms for the first PDF + DOCX rendering in a fresh Python process (after "
        "django.setup(): imports WeasyPrint and python-docx, parses the stylesheet, "
        "loads fonts), one process per sample",
    )
    run.extra["package_cold_process_ms_median"] = round(
        statistics.median(c["process_ms"] for c in run.cold), 1
    )

    render_both(ctx)
    pdf_samples: list[float] = []
    docx_samples: list[float] = []
    for _ in range(sizes.warm_renders):
        run.pdf, run.docx, pdf_s, docx_s = render_both(ctx)
        pdf_samples.append(_ms(pdf_s))
        docx_samples.append(_ms(docx_s))
    run.metrics["package.pdf.warm"] = _metric(
        pdf_samples, "ms per render_pdf() of the full package in a warm process"
    )
    run.metrics["package.docx.warm"] = _metric(
        docx_samples, "ms per render_docx() of the full package in a warm process"
    )
    run.extra["package_pdf_bytes"] = len(run.pdf)
    run.extra["package_docx_bytes"] = len(run.docx)


def child_env() -> dict[str, str]:
    """The environment for this script's Django: its own database and secrets."""
    env = dict(os.environ)
    env["DJANGO_SETTINGS_MODULE"] = "cpnav.settings"
    env["DATABASE_URL"] = f"sqlite:///{DB_PATH}"
    env["CPNAV_VAR_DIR"] = str(VAR_DIR)
    for name in ("CPNAV_PRODUCTION", "CPNAV_DEBUG"):
        env.pop(name, None)
    return env


def cold_runs(ctx: PackageContext, count: int, env: Mapping[str, str]) -> list[dict[str, Any]]:
    """Render ``ctx`` for the first time in ``count`` fresh processes, one after another.

    The child is handed the context as JSON: it never opens a database."""
    payload = ctx.model_dump_json()
    results: list[dict[str, Any]] = []
    for _ in range(count):
        start = time.perf_counter()
        # Our own script, by absolute path, with the running interpreter: no shell, fixed argv.
        done = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), COLD_FLAG],
            input=payload,
            capture_output=True,
            text=True,
            env=dict(env),
            cwd=REPO,
            check=False,
            timeout=300,
        )
        process_ms = _ms(time.perf_counter() - start)
        if done.returncode != 0:
            raise RuntimeError(f"cold render failed ({done.returncode}):\n{done.stderr}")
        result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        result["process_ms"] = process_ms
        results.append(result)
    return results


def cold_child() -> None:
    """Hidden entry point: set Django up, then time the first package rendering."""
    import django

    payload = sys.stdin.read()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cpnav.settings")
    django.setup()
    quiet_weasyprint()
    start = time.perf_counter()
    from cpnav.documents.package import PackageContext

    ctx = PackageContext.model_validate_json(payload)
    pdf, docx, pdf_s, docx_s = render_both(ctx)
    total = time.perf_counter() - start
    print(
        json.dumps(
            {
                "ms": _ms(total),
                "pdf_ms": _ms(pdf_s),
                "docx_ms": _ms(docx_s),
                "pdf_ok": is_pdf(pdf),
                "docx_ok": is_docx(docx),
            }
        )
    )


# --- running -------------------------------------------------------------------------

STEPS: Final[Sequence[tuple[str, Callable[[Sizes, Run], None]]]] = (
    ("policy", bench_policy),
    ("interview", bench_interview),
    ("package", bench_package),
)


def run_all(
    sizes: Sizes,
    log: Callable[[str], None] = lambda _: None,
    *,
    cold_env: dict[str, str] | None = None,
) -> Run:
    """Every measurement, on the database Django is set up with."""
    run = Run(cold_env=cold_env)
    for name, step in STEPS:
        log(f"engines: {name} ...")
        step(sizes, run)
    return run


def percentile(samples: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (no interpolation): p95 of 20 samples is the 19th."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def summary(report: Mapping[str, Any]) -> str:
    metrics: Mapping[str, Metric] = report["metrics"]
    width = max(len(name) for name in metrics)
    lines = [f"{'metric':<{width}}  {'n':>5}  {'median ms':>12}  {'p95 ms':>12}"]
    for name, metric in metrics.items():
        samples = metric["samples"]
        lines.append(
            f"{name:<{width}}  {len(samples):>5}  {statistics.median(samples):>12.5f}  "
            f"{percentile(samples, 0.95):>12.5f}"
        )
    lines.extend(f"{key}: {value}" for key, value in report["extra"].items())
    return "\n".join(lines)


def quiet_weasyprint() -> None:
    """WeasyPrint logs each layout step at INFO, which the app's root logger shows:
    about twenty lines per PDF. Kept out of the benchmark's output."""
    logging.getLogger("weasyprint").setLevel(logging.WARNING)


def prepare_database() -> None:
    """Point Django at a fresh throwaway SQLite database and migrate it."""
    import django
    from django.core.management import call_command

    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{DB_PATH}{suffix}").unlink(missing_ok=True)
    os.environ.update(child_env())
    django.setup()
    quiet_weasyprint()
    call_command("migrate", interactive=False, verbosity=0)


def main(argv: Sequence[str] | None = None) -> int:
    args_in = list(sys.argv[1:] if argv is None else argv)
    if args_in == [COLD_FLAG]:
        cold_child()
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, required=True, help="where to write the JSON")
    parser.add_argument("--quick", action="store_true", help="few samples (for tests)")
    args = parser.parse_args(args_in)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    log(f"engines: fresh database {DB_PATH}")
    prepare_database()
    run = run_all(QUICK if args.quick else FULL, log)
    report = run.report()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    log(summary(report))
    log(f"engines: wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    raise SystemExit(main())
