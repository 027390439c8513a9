"""The engine on the shipped interviews: order, relevance, prefill, review, facts."""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

import pytest

from cpnav.interview import (
    AnswerError,
    Interview,
    answer,
    interview_by_id,
    missing,
    next_question,
    prefill,
    previous_question,
    review,
    state,
    to_facts,
)
from cpnav.policy import determine, parse_facts

from .helpers import TODAY


@pytest.fixture(scope="module")
def screening() -> Interview:
    return interview_by_id("screening")


@pytest.fixture(scope="module")
def cp_request() -> Interview:
    return interview_by_id("cp_request")


@pytest.fixture(scope="module")
def extension() -> Interview:
    return interview_by_id("extension")


def walk(
    interview: Interview, replies: dict[str, Any], answers: dict[str, Any] | None = None
) -> tuple[dict[str, Any], list[str]]:
    """Answer the next question from ``replies`` until done; return answers and
    the ids asked, in order. A question with no reply ends the walk."""
    answers = dict(answers or {})
    asked: list[str] = []
    while (q := next_question(interview, answers, today=TODAY)) is not None:
        if q.id not in replies:
            break
        asked.append(q.id)
        answers = answer(interview, answers, q.id, replies[q.id], today=TODAY)
    return answers, asked


def next_id(interview: Interview, answers: dict[str, Any]) -> str | None:
    q = next_question(interview, answers, today=TODAY)
    return None if q is None else q.id


ALL_YES_SCREENING = {
    "came_from_abroad": "yes",
    "recruited_with_promises": "yes",
    "job_differs_from_promise": "yes",
    "works_for_someone": "yes",
    "excessive_hours": "yes",
    "pay_withheld": "yes",
    "owes_debt": "yes",
    "debt_growing": "yes",
    "documents_held": "yes",
    "not_free_to_leave": "yes",
    "threats_to_person": "yes",
    "threats_to_family": "yes",
    "threats_of_deportation": "yes",
    "physical_harm": "yes",
    "housed_by_employer": "yes",
    "locked_in": "yes",
    "commercial_sex_act": "yes",
    "someone_takes_money": "yes",
    "date_of_birth": "2010-05-06",
    "age_estimate": "15",
    "under_18_at_time": "yes",
    "citizenship": "noncitizen",
    "potential_witness": "yes",
}


def test_first_state(screening: Interview) -> None:
    s = state(screening, {}, today=TODAY)
    assert s.next_question is not None
    assert s.next_question.id == "came_from_abroad"
    assert not s.complete
    assert s.irrelevant == frozenset()
    # job_differs_from_promise is not counted until promises are reported.
    assert s.progress[0] == ("recruitment", "How the person came to this work", 0, 2)
    assert sum(p.total for p in s.progress) == 15


def test_a_minor_sex_trafficking_walk(screening: Interview) -> None:
    answers, asked = walk(screening, ALL_YES_SCREENING)
    # The date of birth shows a minor now: no estimate, no "under 18 then?".
    assert "age_estimate" not in asked
    assert "under_18_at_time" not in asked
    assert len(asked) == 21
    s = state(screening, answers, today=TODAY)
    assert s.complete
    assert s.next_question is None
    assert all(p.answered == p.total for p in s.progress)
    assert s.computed["minor_now"] is True
    assert s.computed["possible_sex_trafficking"] is True
    assert s.computed["possible_labor_trafficking"] is True
    assert s.computed["suggest_hhs_notice"] is True
    assert s.computed["indicated_means"] == ["force", "fraud", "coercion"]

    facts = to_facts(screening, answers, today=TODAY)
    assert facts == {
        "as_of": "2025-06-01",
        "person": {"citizenship": "noncitizen", "date_of_birth": "2010-05-06"},
        "exploitation": {
            "commercial_sex_act": True,
            "labor_or_services": True,
            "means": ["force", "fraud", "coercion"],
            "purpose": ["debt_bondage", "involuntary_servitude"],
        },
        "witness": {"potential_witness": True},
    }
    determination = determine(parse_facts(facts))
    assert determination.outcome == "likely_eligible"
    assert determination.actions[0].id == "notify_hhs_within_24h"


def test_no_signs_suggests_nothing_and_concludes_nothing(screening: Interview) -> None:
    replies = dict.fromkeys(ALL_YES_SCREENING, "no") | {
        "date_of_birth": "",
        "age_estimate": "",
        "citizenship": "unknown",
    }
    answers, asked = walk(screening, replies)
    assert next_question(screening, answers, today=TODAY) is None
    assert "documents_held" not in asked  # only asked of someone who came from abroad
    assert "threats_of_deportation" not in asked
    assert {"age_estimate", "under_18_at_time"} <= set(asked)
    computed = state(screening, answers, today=TODAY).computed
    assert computed["possible_trafficking"] is False
    assert computed["suggest_hhs_notice"] is False
    facts = to_facts(screening, answers, today=TODAY)
    # A screening can point towards trafficking; it never rules a person out.
    assert facts == {
        "as_of": "2025-06-01",
        "person": {"citizenship": "unknown"},
        "exploitation": {"under_18_at_time": False},
    }
    assert determine(parse_facts(facts)).outcome == "needs_information"


def test_answer_returns_new_answers(screening: Interview) -> None:
    before = {"came_from_abroad": "no"}
    after = answer(screening, before, "recruited_with_promises", "unknown", today=TODAY)
    assert before == {"came_from_abroad": "no"}
    assert after == {"came_from_abroad": "no", "recruited_with_promises": "unknown"}
    with pytest.raises(KeyError):
        answer(screening, before, "no_such_question", "yes", today=TODAY)
    with pytest.raises(AnswerError, match="Recruited with promises: choose yes, no or not known"):
        answer(screening, before, "recruited_with_promises", "perhaps", today=TODAY)


def test_irrelevant_answers_are_kept_and_ignored(screening: Interview) -> None:
    answers = {
        "came_from_abroad": "yes",
        "recruited_with_promises": "yes",
        "job_differs_from_promise": "yes",
    }
    assert state(screening, answers, today=TODAY).computed["fraud_indicated"] is True

    changed = answer(screening, answers, "recruited_with_promises", "no", today=TODAY)
    s = state(screening, changed, today=TODAY)
    assert changed["job_differs_from_promise"] == "yes"  # kept, never silently deleted
    assert s.irrelevant == frozenset({"job_differs_from_promise"})
    assert s.computed["fraud_indicated"] is False  # ...but ignored
    assert s.progress[0].total == 2
    assert "means" not in to_facts(screening, changed, today=TODAY).get("exploitation", {})
    rows = {r.question_id: r for r in review(screening, changed, today=TODAY)[0].rows}
    assert rows["job_differs_from_promise"].relevant is False
    assert rows["job_differs_from_promise"].value == "Yes"

    restored = answer(screening, changed, "recruited_with_promises", "yes", today=TODAY)
    assert state(screening, restored, today=TODAY).computed["fraud_indicated"] is True
    assert state(screening, restored, today=TODAY).irrelevant == frozenset()


def test_irrelevance_cascades(cp_request: Interview) -> None:
    answers = {
        "agency_level": "local",
        "federal_partner_engaged": "yes",
        "federal_partner_office": "HSI Springfield",
    }
    assert state(cp_request, answers, today=TODAY).irrelevant == frozenset()
    federal = answer(cp_request, answers, "agency_level", "federal", today=TODAY)
    assert state(cp_request, federal, today=TODAY).irrelevant == frozenset(
        {"federal_partner_engaged", "federal_partner_office"}
    )


def test_optional_question_left_blank_is_not_asked_again(screening: Interview) -> None:
    answers = {k: v for k, v in ALL_YES_SCREENING.items() if k != "date_of_birth"}
    answers = {k: answers[k] for k in list(answers)[:18]}  # up to the age section
    parsed, _ = walk(screening, answers)
    assert next_id(screening, parsed) == "date_of_birth"
    blank = answer(screening, parsed, "date_of_birth", "", today=TODAY)
    assert blank["date_of_birth"] is None
    assert next_id(screening, blank) == "age_estimate"


def test_a_required_answer_stored_as_null_is_still_missing(screening: Interview) -> None:
    answers: dict[str, Any] = {"came_from_abroad": None}
    assert next_id(screening, answers) == "came_from_abroad"
    assert missing(screening, answers, today=TODAY)[0].id == "came_from_abroad"


def test_missing_lists_relevant_required_unanswered(cp_request: Interview) -> None:
    ids = [q.id for q in missing(cp_request, {"agency_level": "federal"}, today=TODAY)]
    assert "federal_partner_engaged" not in ids  # not relevant for a federal agency
    assert "date_of_birth" not in ids  # optional
    assert "official_name" in ids
    assert "investigation_summary" in ids
    assert "civil_court" not in ids  # only relevant once a civil action is filed


def test_prefill_fills_only_what_the_record_knows_and_fits(cp_request: Interview) -> None:
    known: dict[str, Any] = {
        "requester.agency_level": "local",
        "requester.federal_partner_engaged": True,
        "requester.name": "Dana Officer",
        "requester.title": "Detective",
        "requester.email": "dana@example.org",
        "person.citizenship": "martian",  # does not fit: asked instead
        "person.date_of_birth": date(2009, 1, 2),
        "person.age_estimate": 500,  # does not fit either
        "person.language": "Tigrinya",
        "case.trafficking_forms": ["labor"],
        "case.civil_status": "filed",
        "grant.term_end": "2026-01-01",  # no question in this interview takes it
    }
    existing = {"official_title": "Sergeant"}
    answers = prefill(cp_request, known, existing, today=TODAY)
    assert existing == {"official_title": "Sergeant"}
    assert answers == {
        "agency_level": "local",
        "federal_partner_engaged": "yes",
        "official_name": "Dana Officer",
        "official_title": "Sergeant",  # the officer's own answer wins
        "official_email": "dana@example.org",
        "date_of_birth": "2009-01-02",
        "language": "Tigrinya",
        "trafficking_forms": ["labor"],
        "civil_action": "filed",
    }
    _, asked = walk(
        cp_request,
        {"federal_partner_office": "", "official_phone": "555-0100", "citizenship": "noncitizen"},
        answers,
    )
    assert asked == ["federal_partner_office", "official_phone", "citizenship"]
    later = answers | {
        "federal_partner_office": None,
        "official_phone": "1",
        "citizenship": "unknown",
    }
    assert next_id(cp_request, later) == "interpreter_needed"


def test_review_rows(cp_request: Interview) -> None:
    answers = {
        "agency_level": "federal",
        "federal_partner_engaged": "no",  # kept from before the agency was corrected
        "official_name": "Dana Officer",
        "date_of_birth": None,
        "trafficking_forms": ["sex", "labor"],
        "means": ["coercion"],
        "family_abroad": [{"name": "Ana", "relationship": "mother"}],
    }
    sections = {s.id: s for s in review(cp_request, answers, today=TODAY)}
    requester = {r.question_id: r for r in sections["requester"].rows}
    assert requester["agency_level"].value == "Federal"
    assert requester["federal_partner_engaged"].relevant is False
    assert requester["federal_partner_engaged"].value == "No"
    assert "federal_partner_office" not in requester  # irrelevant and never answered
    assert requester["official_title"].value == "Not answered"
    assert requester["official_title"].answered is False
    person = {r.question_id: r for r in sections["person"].rows}
    assert person["date_of_birth"].value == "Left blank"
    assert person["age_estimate"].label == "Estimated age"
    what = {r.question_id: r.value for r in sections["exploitation"].rows}
    assert what["trafficking_forms"] == "Sex trafficking; Labor trafficking"
    assert what["means"] == "Coercion (including threats, debt or holding documents)"
    family = {r.question_id: r.value for r in sections["family"].rows}
    assert family == {
        "family_in_us": "Not answered",
        "family_abroad": "Name: Ana, Relationship: mother",
    }


@pytest.mark.parametrize(
    ("means", "expected"),
    [
        (["force", "coercion"], ["force", "coercion"]),
        (["none_found"], []),  # looked for, none found
        (["not_yet_known"], None),  # unknown: left out
    ],
)
def test_cp_request_means_map_onto_the_policy_engine(
    cp_request: Interview, means: list[str], expected: list[str] | None
) -> None:
    answers = {"trafficking_forms": ["labor"], "means": means}
    exploitation = to_facts(cp_request, answers, today=TODAY).get("exploitation", {})
    assert exploitation.get("means") == expected


@pytest.mark.parametrize(
    ("civil_action", "expected"), [("filed", True), ("not_filed", False), ("unknown", None)]
)
def test_cp_request_civil_action(
    cp_request: Interview, civil_action: str, expected: bool | None
) -> None:
    facts = to_facts(cp_request, {"civil_action": civil_action}, today=TODAY)
    assert facts.get("witness", {}).get("civil_action_1595_filed") == expected


def test_extension(extension: Interview) -> None:
    answers = {
        "term_end": "2025-05-31",
        "still_potential_witness": "no",
        "civil_action_pending": "yes",
        "t_visa_filed": "no",
    }
    s = state(extension, answers, today=TODAY)
    assert s.computed["term_ended"] is True
    assert s.computed["basis_continues"] is True
    assert s.computed["suggest_t_visa_referral"] is True
    assert s.next_question is not None
    assert s.next_question.id == "grant_reference"
    assert state(extension, answers, today=date(2025, 5, 31)).computed["term_ended"] is False
    facts = to_facts(extension, answers, today=TODAY)
    assert facts["witness"] == {"potential_witness": False, "civil_action_1595_filed": True}
    parse_facts(facts)


def test_state_does_not_touch_its_input(screening: Interview) -> None:
    answers = {"came_from_abroad": "yes", "date_of_birth": "2010-05-06", "unrelated": [1]}
    snapshot = copy.deepcopy(answers)
    state(screening, answers, today=TODAY)
    to_facts(screening, answers, today=TODAY)
    review(screening, answers, today=TODAY)
    assert answers == snapshot


def previous_id(interview: Interview, answers: dict[str, Any], question_id: str) -> str | None:
    return previous_question(interview, answers, question_id, today=TODAY)


def test_previous_question_of_the_first_question_is_none(screening: Interview) -> None:
    first = screening.questions[0].id
    assert previous_id(screening, {}, first) is None
    assert previous_id(screening, dict(ALL_YES_SCREENING), first) is None


def test_previous_question_follows_the_branch_taken(screening: Interview) -> None:
    promised = {"came_from_abroad": "yes", "recruited_with_promises": "yes"}
    assert previous_id(screening, promised, "works_for_someone") == "job_differs_from_promise"
    # "no" makes job_differs_from_promise irrelevant: Back skips it, even with
    # its answer kept from before.
    kept = {**promised, "recruited_with_promises": "no", "job_differs_from_promise": "yes"}
    assert previous_id(screening, kept, "works_for_someone") == "recruited_with_promises"
    # Two branches in a row: documents_held is only asked of someone from abroad,
    # debt_growing only of someone with a debt.
    at_home = {"came_from_abroad": "no", "owes_debt": "yes"}
    assert previous_id(screening, at_home, "not_free_to_leave") == "debt_growing"
    no_debt = {"came_from_abroad": "no", "owes_debt": "no"}
    assert previous_id(screening, no_debt, "not_free_to_leave") == "owes_debt"
    abroad = {"came_from_abroad": "yes", "owes_debt": "no"}
    assert previous_id(screening, abroad, "not_free_to_leave") == "documents_held"


def test_previous_question_counts_relevant_questions_not_yet_answered(
    screening: Interview,
) -> None:
    # What the review page lists as relevant, answered or not: with nothing
    # answered, recruited_with_promises is relevant and job_differs_from_promise
    # (asked only after a "yes") is not.
    assert previous_id(screening, {}, "works_for_someone") == "recruited_with_promises"
    assert previous_id(screening, {}, "recruited_with_promises") == "came_from_abroad"


def test_previous_question_of_an_irrelevant_question(screening: Interview) -> None:
    # A ?q= link may name a question the answers have made irrelevant.
    answers = {"came_from_abroad": "yes", "recruited_with_promises": "no"}
    assert previous_id(screening, answers, "job_differs_from_promise") == "recruited_with_promises"


def test_previous_question_of_the_last_question(screening: Interview) -> None:
    last = screening.questions[-1].id
    answers, _ = walk(screening, ALL_YES_SCREENING)
    relevant = [
        row.question_id
        for section in review(screening, answers, today=TODAY)
        for row in section.rows
        if row.relevant and row.question_id != last
    ]
    assert previous_id(screening, answers, last) == relevant[-1]


def test_previous_question_of_an_unknown_id_is_a_key_error(screening: Interview) -> None:
    with pytest.raises(KeyError, match="no_such_question"):
        previous_id(screening, {}, "no_such_question")
