"""The interview engine: where are we, what is next, what do the answers mean.

Every function is pure: answers in, a new value out, ``today`` passed in so a
result never depends on the clock. Answers are never deleted. When an answer
makes a later question irrelevant (its condition is no longer true), that
question's answer is kept - the officer may change their mind back - but it is
ignored: it counts as unanswered in every expression, in progress and in the
facts handed to the policy engine.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Final, NamedTuple

from cpnav.interview.answers import AnswerValue, Raw, display, parse_answer
from cpnav.interview.model import Interview, Plan, Question

IRRELEVANT: Final = 0
DONE: Final = 1
OPEN: Final = 2

_MISSING: Final = object()


class SectionProgress(NamedTuple):
    # A NamedTuple rather than a frozen dataclass: state() builds one per
    # section on every call, and tuples are several times cheaper to make.
    id: str
    title: str
    answered: int
    total: int  # relevant questions only: the total changes as answers come in


@dataclass(frozen=True, slots=True)
class State:
    next_question: Question | None
    progress: list[SectionProgress]
    irrelevant: frozenset[str]
    complete: bool
    computed: dict[str, Any]


class ReviewRow(NamedTuple):
    question_id: str
    label: str
    value: str
    relevant: bool
    answered: bool


@dataclass(frozen=True, slots=True)
class ReviewSection:
    id: str
    title: str
    rows: list[ReviewRow]


def _as_date(value: object) -> object:
    """A stored date answer as a date for expressions; _MISSING if unusable."""
    if value is None or isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return _MISSING
    return _MISSING


def _walk(
    plan: Plan, answers: Mapping[str, Any], today: date, stop: bool, end: int | None = None
) -> tuple[dict[str, Any], list[int], int]:
    """One pass in question order.

    Returns (values seen by expressions, status of each question, index of
    the first open question or -1). With ``stop`` it returns at the first open
    question, which is all ``next_question`` needs; with ``end`` it settles
    only the questions before that index. Conditions only read earlier
    questions (the loader guarantees it), so one pass settles all.
    """
    env: dict[str, Any] = {}
    for name, fn in plan.before:
        env[name] = fn(env, today)
    statuses: list[int] = []
    append = statuses.append
    first_open = -1
    get = answers.get
    for qid, required, is_date, condition, then in plan.fast if end is None else plan.fast[:end]:
        value = get(qid, _MISSING)
        if is_date and value is not _MISSING:
            value = _as_date(value)
        if condition is None or condition(env, today) is True:
            if value is _MISSING or (value is None and required):
                env[qid] = None
                if first_open < 0:
                    first_open = len(statuses)
                    if stop:
                        append(OPEN)
                        return env, statuses, first_open
                append(OPEN)
            else:
                env[qid] = value
                append(DONE)
        else:
            env[qid] = None
            append(IRRELEVANT)
        for name, fn in then:
            env[name] = fn(env, today)
    return env, statuses, first_open


def next_question(
    interview: Interview, answers: Mapping[str, Any], *, today: date
) -> Question | None:
    """The first relevant question without an answer; None when complete."""
    plan = interview.plan
    _, _, first = _walk(plan, answers, today, stop=True)
    return None if first < 0 else interview.questions[first]


def previous_question(
    interview: Interview, answers: Mapping[str, Any], question_id: str, *, today: date
) -> str | None:
    """The id of the question shown before ``question_id`` (the Back link).

    That is the last relevant question before it in question order, answered
    or not; None for the first relevant question. Raises KeyError for an
    unknown question id. Only the questions before ``question_id`` are walked.
    """
    plan = interview.plan
    index = plan.index.get(question_id)
    if index is None:
        raise KeyError(f"interview {interview.id!r} has no question {question_id!r}")
    _, statuses, _ = _walk(plan, answers, today, stop=False, end=index)
    return _before(plan, statuses, index)


def _progress(interview: Interview, statuses: list[int]) -> list[SectionProgress]:
    sections = interview.sections
    answered = [0] * len(sections)
    total = [0] * len(sections)
    for step, status in zip(interview.plan.steps, statuses, strict=True):
        if status != IRRELEVANT:
            total[step.section] += 1
            if status == DONE:
                answered[step.section] += 1
    return [SectionProgress(s.id, s.title, answered[i], total[i]) for i, s in enumerate(sections)]


def _before(plan: Plan, statuses: list[int], index: int) -> str | None:
    for earlier in range(index - 1, -1, -1):
        if statuses[earlier] != IRRELEVANT:
            return plan.steps[earlier].question.id
    return None


@dataclass(frozen=True, slots=True)
class Screen:
    """What a step page needs, from one walk: the next question, progress, and the
    question before the one shown (the Back link)."""

    next_question: Question | None
    progress: list[SectionProgress]
    previous: str | None


def screen(
    interview: Interview, answers: Mapping[str, Any], question_id: str | None, *, today: date
) -> Screen:
    """A step page showing ``question_id``, or the next question when None.

    One walk gives all three: conditions only read earlier questions, so the
    statuses before the shown question are the ones ``previous_question`` finds.
    Raises KeyError for an unknown question id.
    """
    plan = interview.plan
    _, statuses, first = _walk(plan, answers, today, stop=False)
    following = None if first < 0 else plan.steps[first].question
    shown = question_id if question_id is not None else (following.id if following else None)
    previous = None
    if shown is not None:
        index = plan.index.get(shown)
        if index is None:
            raise KeyError(f"interview {interview.id!r} has no question {shown!r}")
        previous = _before(plan, statuses, index)
    return Screen(following, _progress(interview, statuses), previous)


def state(interview: Interview, answers: Mapping[str, Any], *, today: date) -> State:
    plan = interview.plan
    env, statuses, first = _walk(plan, answers, today, stop=False)
    irrelevant = {
        step.question.id
        for step, status in zip(plan.steps, statuses, strict=True)
        if status == IRRELEVANT and answers.get(step.question.id) is not None
    }
    progress = _progress(interview, statuses)
    return State(
        next_question=None if first < 0 else plan.steps[first].question,
        progress=progress,
        irrelevant=frozenset(irrelevant),
        complete=first < 0,
        computed={name: _plain(env[name]) for name in interview.computed},
    )


def answer(
    interview: Interview,
    answers: Mapping[str, Any],
    question_id: str,
    raw: Raw,
    *,
    today: date,
) -> dict[str, Any]:
    """New answers with ``question_id`` answered from form input ``raw``.

    Raises AnswerError (a message for the user) and KeyError for an unknown
    question id. Any question may be answered, in any order (the review page
    edits earlier answers); the input mapping is not changed.
    """
    question = interview.question(question_id)
    value: AnswerValue = parse_answer(question, raw, today=today)
    updated = dict(answers)
    updated[question_id] = value
    return updated


def missing(interview: Interview, answers: Mapping[str, Any], *, today: date) -> list[Question]:
    """Relevant required questions still without an answer, in order."""
    plan = interview.plan
    _, statuses, _ = _walk(plan, answers, today, stop=False)
    return [
        step.question
        for step, status in zip(plan.steps, statuses, strict=True)
        if status == OPEN and step.question.required
    ]


def review(interview: Interview, answers: Mapping[str, Any], *, today: date) -> list[ReviewSection]:
    """Rows for a review page: every relevant question, plus any answer that
    is kept but no longer used (``relevant=False``) so nothing is hidden."""
    plan = interview.plan
    _, statuses, _ = _walk(plan, answers, today, stop=False)
    rows: list[list[ReviewRow]] = [[] for _ in interview.sections]
    for step, status in zip(plan.steps, statuses, strict=True):
        question = step.question
        value = answers.get(question.id, _MISSING)
        if status == IRRELEVANT and (value is _MISSING or value is None):
            continue
        done = status == DONE or (status == IRRELEVANT and value is not None)
        shown = display(question, value) if done else "Not answered"
        rows[step.section].append(
            ReviewRow(question.id, question.name, shown, status != IRRELEVANT, done)
        )
    return [
        ReviewSection(section.id, section.title, rows[i])
        for i, section in enumerate(interview.sections)
    ]


def to_facts(interview: Interview, answers: Mapping[str, Any], *, today: date) -> dict[str, Any]:
    """The policy engine's facts JSON (``cpnav.policy.parse_facts`` input).

    Unknown facts are left out (the policy engine reads a missing fact as
    null, unknown). ``as_of`` is ``today`` unless the mapping sets it, so a
    date of birth is checked against the same day the answers were.
    """
    plan = interview.plan
    env, _, _ = _walk(plan, answers, today, stop=False)
    facts: dict[str, Any] = {}
    for parts, fn in plan.facts:
        value = fn(env, today)
        if value is None:
            continue
        node = facts
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = _json(value)
    facts.setdefault("as_of", today.isoformat())
    return facts


def _plain(value: object) -> object:
    # A list written out in full is compiled to a shared tuple constant; hand
    # out a list, as for every other list value, and never the shared object.
    return list(value) if isinstance(value, tuple) else value


def _json(value: object) -> object:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [_json(item) for item in value]
    return value
