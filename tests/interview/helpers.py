"""Shared pieces for the interview tests: a fixed day, definition files written
to a temporary folder, and Hypothesis strategies for valid form input."""

from __future__ import annotations

import textwrap
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st

from cpnav.interview import (
    Interview,
    InterviewDefinitionError,
    Question,
    load_interview,
    parse_answer,
)
from cpnav.interview.answers import (
    DEFAULT_MAX_DATE,
    DEFAULT_MAX_TEXT,
    DEFAULT_MIN_DATE,
    Raw,
    resolve_date_bound,
)

TODAY = date(2025, 6, 1)
SETTINGS = settings(derandomize=True, max_examples=200, deadline=None, database=None)


def write(tmp_path: Path, text: str, name: str = "demo") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def load_text(tmp_path: Path, text: str, name: str = "demo") -> Interview:
    return load_interview(write(tmp_path, text, name))


def definition_error(tmp_path: Path, text: str, name: str = "demo") -> InterviewDefinitionError:
    path = write(tmp_path, text, name)
    with pytest.raises(InterviewDefinitionError) as info:
        load_interview(path)
    assert info.value.path == path
    assert str(info.value).startswith(f"{path}:{info.value.line}: ")
    return info.value


def line_of(tmp_path: Path, marker: str, name: str = "demo") -> int:
    """1-based line of the first line of the written file containing ``marker``."""
    lines = (tmp_path / f"{name}.yaml").read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, start=1) if marker in line)


# ---- valid input for any question --------------------------------------------

_TEXT_CHARS = st.characters(categories=("L", "N", "P"), exclude_characters="\u2028\u2029")


def _text(limit: int) -> st.SearchStrategy[str]:
    return st.text(_TEXT_CHARS, min_size=1, max_size=min(limit, 30))


def _date_text(low: int | str | None, high: int | str | None) -> st.SearchStrategy[str]:
    earliest = resolve_date_bound(low, TODAY, DEFAULT_MIN_DATE)
    latest = resolve_date_bound(high, TODAY, DEFAULT_MAX_DATE)
    return st.dates(min_value=earliest, max_value=latest).map(date.isoformat)


def raw_for(question: Question) -> st.SearchStrategy[Raw]:
    """Any form input that parse_answer accepts for ``question``."""
    strategy: st.SearchStrategy[Raw]
    kind = question.type
    if kind == "yes_no_unknown":
        strategy = st.sampled_from(["yes", "no", "unknown", " Yes ", "NO"])
    elif kind == "choice":
        strategy = st.sampled_from([c.value for c in question.choices or ()])
    elif kind == "multi_choice":
        choices = question.choices or ()
        plain = [c.value for c in choices if not c.exclusive]
        alone = [[c.value] for c in choices if c.exclusive]
        options: list[st.SearchStrategy[Raw]] = []
        if plain:
            options.append(st.lists(st.sampled_from(plain), min_size=1, max_size=len(plain) + 1))
        if alone:
            options.append(st.sampled_from(alone))
        strategy = st.one_of(options)
    elif kind == "date":
        strategy = _date_text(question.min, question.max)
    elif kind == "number":
        low = question.min if isinstance(question.min, int) else -1000
        high = question.max if isinstance(question.max, int) else 1000
        strategy = st.integers(low, high).map(str)
    elif kind == "text":
        strategy = _text(question.max_length or DEFAULT_MAX_TEXT)
    else:
        strategy = st.lists(_person(question), max_size=3)
    if not question.required:
        blank: st.SearchStrategy[Raw] = (
            st.just([]) if kind in ("multi_choice", "people") else st.just("")
        )
        strategy = st.one_of(blank, strategy)
    return strategy


def _person(question: Question) -> st.SearchStrategy[dict[str, str]]:
    fields: dict[str, st.SearchStrategy[str]] = {}
    for field in question.fields or ():
        value = (
            _date_text(field.min, field.max)
            if field.type == "date"
            else _text(field.max_length or DEFAULT_MAX_TEXT)
        )
        fields[field.id] = value if field.required else st.one_of(st.just(""), value)
    return st.fixed_dictionaries(fields)


@st.composite
def answer_sets(draw: st.DrawFn, interview: Interview) -> dict[str, Any]:
    """Stored answers for any subset of questions, relevant or not."""
    answers: dict[str, Any] = {}
    for question in interview.questions:
        if draw(st.booleans()):
            answers[question.id] = parse_answer(question, draw(raw_for(question)), today=TODAY)
    return answers
