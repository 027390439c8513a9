"""Properties of the policy and interview engines under hostile and odd input.

tests/policy/test_properties.py and tests/interview/test_properties.py already
check determinism, monotonicity, citations, the contract's shape, agreement
with a reference model, termination of a forward walk and purity, on valid
input. These add what they leave out:

* the policy engine takes *any* JSON (or bytes) and answers with a
  determination or its own documented errors only (FactsError, and
  NoRuleSetError before CP existed), on any date;
* every criterion explains itself truthfully: "unknown" names the facts still
  needed, and every fact it names is in fact unknown;
* a missing fact and a null one mean the same; facts round-trip through JSON;
* the interview's parse_answer refuses hostile form input with AnswerError only,
  and what it accepts the engine can always walk, review and map to facts;
* Back retraces the forward walk exactly, and changing an earlier answer and
  walking on still ends within the number of questions.
"""

from __future__ import annotations

import copy
import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cpnav.interview import (
    AnswerError,
    Interview,
    answer,
    display,
    interview_by_id,
    load_interview,
    missing,
    next_question,
    parse_answer,
    previous_question,
    review,
    screen,
    shipped_interview_ids,
    state,
    to_facts,
)
from cpnav.policy import (
    Determination,
    FactsError,
    NoRuleSetError,
    determine,
    parse_facts,
)
from tests.interview.helpers import TODAY, answer_sets, raw_for

SETTINGS = settings(derandomize=True, max_examples=80, deadline=None, database=None)
# A whole walk per example: fewer of them.
WALKS = settings(derandomize=True, max_examples=25, deadline=None, database=None)
CP_BEGAN = date(2001, 8, 23)

# ---- policy: any JSON in -------------------------------------------------------

SECTIONS: dict[str, dict[str, list[Any]]] = {
    "requester": {
        "agency_level": [None, "federal", "state", "local", "tribal", "territorial"],
        "federal_partner_engaged": [None, True, False],
    },
    "person": {
        "citizenship": [None, "noncitizen", "us_citizen", "lawful_permanent_resident", "unknown"],
        "date_of_birth": [None],
        "age_estimate": [None, 0, 17, 18, 120],
    },
    "exploitation": {
        "commercial_sex_act": [None, True, False],
        "labor_or_services": [None, True, False],
        "means": [None, [], ["force"], ["fraud", "coercion"]],
        "purpose": [None, [], ["peonage"], ["debt_bondage", "slavery"]],
        "under_18_at_time": [None, True, False],
    },
    "witness": {
        "potential_witness": [None, True, False],
        "civil_action_1595_filed": [None, True, False],
    },
}
KEYS = ["as_of", *SECTIONS, *(key for fields in SECTIONS.values() for key in fields)]

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    st.sampled_from(["2024-02-29", "2023-02-29", "1900-01-01", "0000-00-00", "9999-12-31",
                     "2024-1-1", "20240101", "2024-01-01T00:00:00", "force", "noncitizen",
                     "\u202e", "\x00", "\ufeff2024-01-01"]),
)  # fmt: skip
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=8)), inner, max_size=5),
    ),
    max_leaves=20,
)


@SETTINGS
@given(json_values)
def test_any_json_is_facts_or_a_facts_error(data: Any) -> None:
    try:
        facts = parse_facts(data)
    except FactsError as error:
        _names_every_problem(error)
        return
    # What parses also parses as JSON text, to the same facts.
    assert parse_facts(json.dumps(data)) == facts
    try:
        determine(facts, today=TODAY)
        refused = False
    except NoRuleSetError:
        refused = True
    # Only a day before CP existed has no rule set.
    assert refused == (facts.as_of is not None and facts.as_of < CP_BEGAN)


def _names_every_problem(error: FactsError) -> None:
    assert error.errors
    assert all(path.startswith("$") and message for path, message in error.errors)


@SETTINGS
@given(st.binary(max_size=200))
def test_any_bytes_are_facts_or_a_facts_error(data: bytes) -> None:
    try:
        parse_facts(data)
    except FactsError as error:
        _names_every_problem(error)


@st.composite
def valid_facts(draw: st.DrawFn) -> dict[str, Any]:
    """Structurally valid facts on any date at all, with any date of birth."""
    data: dict[str, Any] = {}
    if draw(st.booleans()):
        data["as_of"] = draw(st.dates()).isoformat()
    for section, fields in SECTIONS.items():
        if draw(st.integers(0, 3)) == 0:
            continue
        values = {key: draw(st.sampled_from(options)) for key, options in fields.items()}
        if section == "person" and draw(st.booleans()):
            values["date_of_birth"] = draw(st.dates()).isoformat()
        # Sometimes leave null facts out altogether rather than writing null.
        if draw(st.booleans()):
            values = {key: value for key, value in values.items() if value is not None}
        data[section] = values
    return data


def _determine(data: dict[str, Any], today: date) -> Determination | str:
    """The determination, or the name of the documented error raised instead."""
    try:
        return determine(parse_facts(data), today=today)
    except FactsError:
        return "FactsError"
    except NoRuleSetError:
        return "NoRuleSetError"


@SETTINGS
@given(valid_facts(), st.dates())
def test_valid_facts_on_any_date_never_raise_anything_undocumented(
    data: dict[str, Any], today: date
) -> None:
    result = _determine(data, today)
    as_of = date.fromisoformat(data["as_of"]) if "as_of" in data else None
    dob_text = data.get("person", {}).get("date_of_birth")
    day = as_of or today
    if result == "NoRuleSetError":
        assert day < CP_BEGAN
    elif result == "FactsError":
        # The only way valid-shaped facts are refused: born after the day decided for.
        assert dob_text is not None
        born = date.fromisoformat(dob_text)
        assert born > day or born > (as_of or date.today())
    else:
        assert isinstance(result, Determination)
        assert result.as_of == day
    # Deciding "today" and deciding "as of" that same day are the same thing.
    if as_of is None and isinstance(result, Determination):
        assert _determine({**data, "as_of": today.isoformat()}, TODAY) == result


_STILL_NEEDED = re.compile(r"Facts still needed: (.*)\.$")


def _value_at(data: dict[str, Any], path: str) -> Any:
    node: Any = data
    for part in path.removeprefix("$.").split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


@SETTINGS
@given(valid_facts())
def test_every_criterion_explains_itself_truthfully(data: dict[str, Any]) -> None:
    data["as_of"] = "2024-05-01"
    dob = data.get("person", {}).get("date_of_birth")
    if dob is not None and dob > data["as_of"]:
        del data["person"]["date_of_birth"]
    d = determine(parse_facts(data))
    assert [c.id for c in d.criteria] == ["noncitizen", "severe_form", "witness_or_civil_action"]
    for criterion in d.criteria:
        assert criterion.explanation.strip()
        assert criterion.citations
        needed = _STILL_NEEDED.search(criterion.explanation)
        if criterion.status != "unknown":
            assert needed is None, criterion
            continue
        assert needed is not None, criterion
        for path in needed.group(1).split(", "):
            assert re.fullmatch(r"\$(\.[a-z_0-9]+)+", path), path
            # Named as still needed only when it really is unknown.
            assert _value_at(data, path) in (None, "unknown"), (path, data)


def _without_nulls(data: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            inner = _without_nulls(value)
            if inner:
                out[key] = inner
        elif value is not None:
            out[key] = value
    return out


@SETTINGS
@given(valid_facts())
def test_a_missing_fact_means_the_same_as_null(data: dict[str, Any]) -> None:
    data["as_of"] = "2030-01-01"
    full = {section: {key: None for key in fields} for section, fields in SECTIONS.items()}
    for section, values in data.items():
        if isinstance(values, dict):
            full[section].update(values)
    with_nulls = {**full, "as_of": data["as_of"]}
    assert _determine(with_nulls, TODAY) == _determine(_without_nulls(with_nulls), TODAY)


@SETTINGS
@given(valid_facts())
def test_facts_round_trip_through_json(data: dict[str, Any]) -> None:
    data.setdefault("as_of", "2030-01-01")
    try:
        facts = parse_facts(data)
    except FactsError:
        return
    dumped = facts.model_dump(mode="json")
    assert parse_facts(dumped) == facts
    assert parse_facts(json.dumps(dumped).encode()) == facts


# ---- interview: hostile form input and Back/forward ------------------------------------

SINK = load_interview(Path(__file__).parents[1] / "interview" / "definitions" / "sink.yaml")
INTERVIEWS = {name: interview_by_id(name) for name in shipped_interview_ids()} | {"sink": SINK}
NAMES = sorted(INTERVIEWS)

_odd_text = st.one_of(
    st.text(st.characters(codec="utf-8"), max_size=40),  # no lone surrogates
    st.sampled_from(["<script>alert(1)</script>", "{{ 7*7 }}", "'; DROP TABLE x; --", "\x00",
                     "\u202eyes", "\ufeffyes", "yes\x00", "1" * 20, "-0", "٣", "2024-02-30",
                     "\uff12\uff10\uff12\uff14-01-01", "9999-99-99", " ", "\n", "x" * 5000]),
)  # fmt: skip
hostile_raw = st.one_of(
    _odd_text,
    st.lists(_odd_text, max_size=4),
    st.lists(st.dictionaries(_odd_text, _odd_text, max_size=4), max_size=4),
)


def _walkable(interview: Interview, answers: dict[str, Any]) -> None:
    """Every engine function works on these answers."""
    current = state(interview, answers, today=TODAY)
    assert current.next_question is None or current.next_question in interview.questions
    missing(interview, answers, today=TODAY)
    for section in review(interview, answers, today=TODAY):
        for row in section.rows:
            assert isinstance(row.value, str)
    parse_facts(to_facts(interview, answers, today=TODAY))


@pytest.mark.parametrize("name", NAMES)
@SETTINGS
@given(data=st.data())
def test_hostile_form_input_is_an_answer_or_an_answer_error(name: str, data: st.DataObject) -> None:
    interview = INTERVIEWS[name]
    question = data.draw(st.sampled_from(interview.questions))
    raw = data.draw(hostile_raw)
    refusal: AnswerError | None = None
    try:
        value = parse_answer(question, raw, today=TODAY)
    except AnswerError as error:
        refusal = error
    if refusal is not None:
        assert refusal.message.strip()  # a message for the person, naming the field
        return
    if isinstance(value, str):
        assert "\x00" not in value
    display(question, value)
    answers = data.draw(answer_sets(interview))
    answers[question.id] = value
    _walkable(interview, answers)


def _walk(interview: Interview, answers: dict[str, Any], data: st.DataObject) -> list[str]:
    """Answer the next question until there is none; the ids asked, in order."""
    asked: list[str] = []
    for _ in range(len(interview.questions)):
        q = next_question(interview, answers, today=TODAY)
        if q is None:
            break
        assert q in interview.questions  # a defined question, or the end
        assert q.id not in asked
        asked.append(q.id)
        answers.update(answer(interview, answers, q.id, data.draw(raw_for(q)), today=TODAY))
    assert next_question(interview, answers, today=TODAY) is None
    return asked


@pytest.mark.parametrize("name", NAMES)
@WALKS
@given(data=st.data())
def test_back_retraces_the_forward_walk(name: str, data: st.DataObject) -> None:
    interview = INTERVIEWS[name]
    answers: dict[str, Any] = {}
    shown: list[str] = []
    for _ in range(len(interview.questions)):
        page = screen(interview, answers, None, today=TODAY)
        q = page.next_question
        if q is None:
            break
        # The Back link on each page leads to the page shown just before it.
        assert page.previous == (shown[-1] if shown else None)
        shown.append(q.id)
        answers = answer(interview, answers, q.id, data.draw(raw_for(q)), today=TODAY)
    assert state(interview, answers, today=TODAY).complete
    # Following Back from the last page visits every page once, newest first.
    back: list[str] = []
    at: str | None = shown[-1] if shown else None
    while at is not None:
        back.append(at)
        at = previous_question(interview, answers, at, today=TODAY)
        assert len(back) <= len(interview.questions)
    assert back == list(reversed(shown))


@pytest.mark.parametrize("name", NAMES)
@WALKS
@given(data=st.data())
def test_changing_an_earlier_answer_then_going_on_still_ends(
    name: str, data: st.DataObject
) -> None:
    interview = INTERVIEWS[name]
    answers: dict[str, Any] = {}
    asked = _walk(interview, answers, data)
    if not asked:
        return
    before = copy.deepcopy(answers)
    changed = data.draw(st.sampled_from(asked))
    question = interview.question(changed)
    answers = answer(interview, answers, changed, data.draw(raw_for(question)), today=TODAY)
    asked_again = _walk(interview, answers, data)
    # Only questions that became relevant are asked; nothing answered is asked again.
    assert not set(asked_again) & set(before)
    assert state(interview, answers, today=TODAY).complete
    assert missing(interview, answers, today=TODAY) == []
    _walkable(interview, answers)
