"""parse_answer: every question type, and every way an answer can be refused."""

from __future__ import annotations

from typing import Any

import pytest

from cpnav.interview import AnswerError, Question, display, parse_answer
from cpnav.interview.answers import Raw

from .helpers import TODAY


def question(**fields: Any) -> Question:
    base: dict[str, Any] = {"id": "q", "label": "The full question text?"}
    return Question.model_validate(base | fields)


YNU = question(type="yes_no_unknown", short_label="Potential witness")
DOB = question(type="date", short_label="Date of birth", max="today", required=False)
TERM_END = question(type="date", short_label="Term ends", min="2001-01-01", max="2030-12-31")
AGE = question(type="number", short_label="Estimated age", min=0, max=120, required=False)
SUMMARY = question(type="text", short_label="Summary", max_length=20)
CITIZENSHIP = question(
    type="choice",
    short_label="Citizenship",
    choices=[
        {"value": "noncitizen", "label": "Not a citizen"},
        {"value": "unknown", "label": "Not known"},
    ],
)
REFERRALS = question(
    type="multi_choice",
    short_label="Referrals",
    choices=[
        {"value": "shelter", "label": "Shelter"},
        {"value": "medical", "label": "Medical care"},
        {"value": "none_yet", "label": "None yet", "exclusive": True},
    ],
)
FAMILY = question(
    type="people",
    short_label="Family",
    required=False,
    max=2,
    fields=[
        {"id": "name", "label": "Name", "required": True, "max_length": 10},
        {"id": "relationship", "label": "Relationship"},
        {"id": "date_of_birth", "label": "Date of birth", "type": "date", "max": "today"},
    ],
)


def refused(q: Question, raw: Raw) -> str:
    with pytest.raises(AnswerError) as info:
        parse_answer(q, raw, today=TODAY)
    return info.value.message


@pytest.mark.parametrize(("raw", "value"), [("yes", "yes"), (" No ", "no"), ("UNKNOWN", "unknown")])
def test_yes_no_unknown(raw: str, value: str) -> None:
    assert parse_answer(YNU, raw, today=TODAY) == value


def test_yes_no_unknown_refusals() -> None:
    assert refused(YNU, "maybe") == "Potential witness: choose yes, no or not known"
    assert refused(YNU, "  ") == "Potential witness: please choose an answer (“Not known” is fine)"
    assert refused(YNU, ["yes"]) == "Potential witness: expected a single answer"


def test_the_full_label_names_the_field_without_a_short_label() -> None:
    plain = question(type="yes_no_unknown")
    assert refused(plain, "x").startswith("The full question text?: ")


def test_dates() -> None:
    assert parse_answer(DOB, "2001-02-03", today=TODAY) == "2001-02-03"
    assert parse_answer(DOB, TODAY.isoformat(), today=TODAY) == TODAY.isoformat()
    assert parse_answer(DOB, "", today=TODAY) is None  # optional: left blank


@pytest.mark.parametrize(
    ("q", "raw", "message"),
    [
        (DOB, "3/4/2001", "Date of birth: enter a date as YYYY-MM-DD"),
        (DOB, "20010304", "Date of birth: enter a date as YYYY-MM-DD"),
        (DOB, "2001-02-30", "Date of birth: 2001-02-30 is not a real date"),
        (DOB, "2025-06-02", "Date of birth: must be in the past, not after today (2025-06-01)"),
        (DOB, "1899-12-31", "Date of birth: must be on or after 1900-01-01"),
        (TERM_END, "2000-12-31", "Term ends: must be on or after 2001-01-01"),
        (TERM_END, "2031-01-01", "Term ends: must be on or before 2030-12-31"),
        (TERM_END, "", "Term ends: an answer is needed"),
    ],
)
def test_date_refusals(q: Question, raw: str, message: str) -> None:
    assert refused(q, raw) == message


def test_numbers() -> None:
    assert parse_answer(AGE, " 16 ", today=TODAY) == 16
    assert parse_answer(AGE, "0", today=TODAY) == 0
    assert parse_answer(AGE, "", today=TODAY) is None


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("sixteen", "Estimated age: enter a whole number"),
        ("16.5", "Estimated age: enter a whole number"),
        ("1_000", "Estimated age: enter a whole number"),
        ("-1", "Estimated age: must be at least 0"),
        ("121", "Estimated age: must be at most 120"),
        ("9" * 40, "Estimated age: enter a whole number"),
    ],
)
def test_number_refusals(raw: str, message: str) -> None:
    assert refused(AGE, raw) == message


def test_text() -> None:
    assert parse_answer(SUMMARY, "  short  ", today=TODAY) == "short"
    assert parse_answer(SUMMARY, "x" * 20, today=TODAY) == "x" * 20
    assert refused(SUMMARY, "x" * 21) == "Summary: must be at most 20 characters (this is 21)"
    assert refused(SUMMARY, "   ") == "Summary: an answer is needed"
    assert refused(SUMMARY, "nul\x00") == (
        "Summary: contains characters that cannot be saved; please retype it"
    )
    assert parse_answer(SUMMARY, "two\nlines", today=TODAY) == "two\nlines"


def test_text_without_a_limit_has_a_default_one() -> None:
    free = question(type="text", short_label="Notes")
    assert refused(free, "x" * 1001) == "Notes: must be at most 1000 characters (this is 1001)"


def test_choice() -> None:
    assert parse_answer(CITIZENSHIP, "unknown", today=TODAY) == "unknown"
    assert (
        refused(CITIZENSHIP, "Not known") == "Citizenship: choose one of: Not a citizen; Not known"
    )
    assert refused(CITIZENSHIP, "") == "Citizenship: an answer is needed"


def test_multi_choice_is_stored_in_definition_order_without_repeats() -> None:
    assert parse_answer(REFERRALS, ["medical", "shelter", "medical"], today=TODAY) == [
        "shelter",
        "medical",
    ]
    assert parse_answer(REFERRALS, "none_yet", today=TODAY) == ["none_yet"]


def test_multi_choice_refusals() -> None:
    assert refused(REFERRALS, ["shelter", "food"]) == "Referrals: “food” is not one of the choices"
    assert refused(REFERRALS, []) == "Referrals: choose at least one"
    assert refused(REFERRALS, ["shelter", "none_yet"]) == (
        "Referrals: “None yet” cannot be combined with other choices"
    )
    assert refused(REFERRALS, [{"a": "b"}]) == "Referrals: expected a list of choices"


def test_people() -> None:
    raw = [
        {"name": " Ana ", "relationship": "sister", "date_of_birth": "2010-01-01"},
        {"name": "", "relationship": " ", "date_of_birth": ""},  # a spare blank row
        {"name": "Luis"},
    ]
    assert parse_answer(FAMILY, raw, today=TODAY) == [
        {"name": "Ana", "relationship": "sister", "date_of_birth": "2010-01-01"},
        {"name": "Luis"},
    ]
    assert parse_answer(FAMILY, [], today=TODAY) is None


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([{"relationship": "son"}], "Family, entry 1: Name is needed"),
        ([{"name": "A", "age": "3"}], "Family, entry 1: unknown field “age”"),
        (
            [{"name": "A"}, {"name": "B", "date_of_birth": "2030-01-01"}],
            "Family, entry 2: Date of birth: must be in the past, not after today (2025-06-01)",
        ),
        (
            [{"name": "A", "date_of_birth": "1/1/2000"}],
            "Family, entry 1: Date of birth: enter a date as YYYY-MM-DD",
        ),
        (
            [{"name": "A very long name"}],
            "Family, entry 1: Name: must be at most 10 characters (this is 16)",
        ),
        ([{"name": "A"}, {"name": "B"}, {"name": "C"}], "Family: at most 2 entries"),
        ("Ana", "Family: expected a list of entries"),
        (["Ana"], "Family: expected a list of entries"),
    ],
)
def test_people_refusals(raw: Any, message: str) -> None:
    assert refused(FAMILY, raw) == message


def test_display() -> None:
    assert display(YNU, "unknown") == "Not known"
    assert display(YNU, "yes") == "Yes"
    assert display(CITIZENSHIP, "noncitizen") == "Not a citizen"
    assert display(REFERRALS, ["shelter", "medical"]) == "Shelter; Medical care"
    assert display(REFERRALS, []) == "None"
    assert display(AGE, 16) == "16"
    assert display(DOB, None) == "Left blank"
    assert display(FAMILY, [{"name": "Ana", "relationship": "sister"}, {"name": "Luis"}]) == (
        "Name: Ana, Relationship: sister; Name: Luis"
    )
