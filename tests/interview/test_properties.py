"""Properties of the engine over many answer sets (deterministic Hypothesis runs).

The compiled engine is checked against ``reference.expected``, a slow model
that evaluates the expression trees directly and defines relevance by
recursion, so a mistake in compilation, ordering or scheduling shows up as a
difference rather than needing a hand-written example to find it.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cpnav.interview import (
    Interview,
    answer,
    interview_by_id,
    load_interview,
    missing,
    next_question,
    previous_question,
    review,
    screen,
    shipped_interview_ids,
    state,
    to_facts,
)
from cpnav.policy import determine, parse_facts

from .helpers import SETTINGS, TODAY, answer_sets, raw_for
from .reference import expected

SINK = load_interview(Path(__file__).parent / "definitions" / "sink.yaml")
INTERVIEWS = {name: interview_by_id(name) for name in shipped_interview_ids()} | {"sink": SINK}
NAMES = sorted(INTERVIEWS)


@pytest.mark.parametrize("name", NAMES)
@SETTINGS
@given(data=st.data())
def test_state_matches_the_reference_model(name: str, data: st.DataObject) -> None:
    interview = INTERVIEWS[name]
    answers = data.draw(answer_sets(interview))
    s = state(interview, answers, today=TODAY)
    want = expected(interview, answers, TODAY)

    assert (s.next_question.id if s.next_question else None) == want.next_question
    assert s.complete is (want.next_question is None)
    assert s.irrelevant == want.irrelevant
    assert s.computed == want.computed
    assert to_facts(interview, answers, today=TODAY) == want.facts
    assert next_question(interview, answers, today=TODAY) == s.next_question
    for section, progress in zip(interview.sections, s.progress, strict=True):
        relevant = [q for q in section.questions if q.id in want.relevant]
        assert progress.total == len(relevant)
        assert progress.answered <= progress.total
    assert [q.id for q in missing(interview, answers, today=TODAY)] == [
        q.id
        for q in interview.questions
        if q.id in want.relevant and q.required and answers.get(q.id) is None
    ]
    shown = {
        row.question_id: row.relevant
        for sec in review(interview, answers, today=TODAY)
        for row in sec.rows
    }
    assert {q for q, relevant in shown.items() if relevant} == want.relevant
    assert {q for q, relevant in shown.items() if not relevant} == want.irrelevant


@pytest.mark.parametrize("name", NAMES)
@SETTINGS
@given(data=st.data())
def test_next_question_is_relevant_and_unanswered(name: str, data: st.DataObject) -> None:
    interview = INTERVIEWS[name]
    answers = data.draw(answer_sets(interview))
    q = next_question(interview, answers, today=TODAY)
    if q is None:
        return
    assert q.id in expected(interview, answers, TODAY).relevant  # its condition holds
    assert answers.get(q.id) is None  # and it has no answer


@pytest.mark.parametrize("name", NAMES)
@SETTINGS
@given(data=st.data())
def test_every_walk_ends_without_repeating_a_question(name: str, data: st.DataObject) -> None:
    interview = INTERVIEWS[name]
    answers = data.draw(st.one_of(st.just({}), answer_sets(interview)))
    for _ in range(len(interview.questions)):
        q = next_question(interview, answers, today=TODAY)
        if q is None:
            break
        answers = answer(interview, answers, q.id, data.draw(raw_for(q)), today=TODAY)
        following = next_question(interview, answers, today=TODAY)
        assert following is None or following.id != q.id
    assert next_question(interview, answers, today=TODAY) is None
    assert state(interview, answers, today=TODAY).complete
    assert missing(interview, answers, today=TODAY) == []


@pytest.mark.parametrize("name", NAMES)
@SETTINGS
@given(data=st.data())
def test_facts_always_fit_the_policy_engine(name: str, data: st.DataObject) -> None:
    interview = INTERVIEWS[name]
    answers = data.draw(answer_sets(interview))
    facts = parse_facts(to_facts(interview, answers, today=TODAY))
    determine(facts)  # and the policy engine can decide on them


@pytest.mark.parametrize("name", NAMES)
@SETTINGS
@given(data=st.data())
def test_engine_functions_are_pure(name: str, data: st.DataObject) -> None:
    interview = INTERVIEWS[name]
    answers = data.draw(answer_sets(interview))
    snapshot = copy.deepcopy(answers)
    first = state(interview, answers, today=TODAY)
    assert state(interview, answers, today=TODAY) == first
    assert to_facts(interview, answers, today=TODAY) == to_facts(interview, snapshot, today=TODAY)
    assert review(interview, answers, today=TODAY) == review(interview, snapshot, today=TODAY)
    if first.next_question is not None:
        q = first.next_question
        answer(interview, answers, q.id, data.draw(raw_for(q)), today=TODAY)
    assert answers == snapshot


@pytest.mark.parametrize("name", NAMES)
@SETTINGS
@given(data=st.data())
def test_previous_question_is_the_last_relevant_one_before(name: str, data: st.DataObject) -> None:
    interview = INTERVIEWS[name]
    answers = data.draw(answer_sets(interview))
    question = data.draw(st.sampled_from(interview.questions))
    got = previous_question(interview, answers, question.id, today=TODAY)
    relevant = expected(interview, answers, TODAY).relevant
    order = [q.id for q in interview.questions]
    before = order[: order.index(question.id)]
    assert got == next((qid for qid in reversed(before) if qid in relevant), None)
    # The same as the review page's relevant rows (how the Back link was found before).
    shown = [
        row.question_id
        for section in review(interview, answers, today=TODAY)
        for row in section.rows
        if row.relevant and row.question_id in before
    ]
    assert got == (shown[-1] if shown else None)


@pytest.mark.parametrize("name", NAMES)
@SETTINGS
@given(data=st.data())
def test_a_screen_agrees_with_state_and_previous_question(name: str, data: st.DataObject) -> None:
    interview = INTERVIEWS[name]
    answers = data.draw(answer_sets(interview))
    question = data.draw(st.sampled_from([None, *interview.questions]))
    page = screen(interview, answers, question.id if question else None, today=TODAY)
    full = state(interview, answers, today=TODAY)
    assert page.next_question == full.next_question
    assert page.progress == full.progress
    shown = question or full.next_question
    assert page.previous == (
        previous_question(interview, answers, shown.id, today=TODAY) if shown else None
    )


def test_shipped_interviews_are_all_covered() -> None:
    assert set(NAMES) == {*shipped_interview_ids(), "sink"}
    assert all(isinstance(i, Interview) for i in INTERVIEWS.values())
