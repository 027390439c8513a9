"""Turning what a person typed or picked into a stored answer, and back into words.

Every message names the field and says how to put it right, in plain words:
these are read by an officer in the middle of a difficult conversation.

Stored values are plain JSON: yes_no_unknown -> "yes" | "no" | "unknown";
date -> "YYYY-MM-DD"; number -> int; choice -> the choice's value;
multi_choice -> list of values in the definition's order; text -> str;
people -> list of {field id: text}. An optional question left blank is stored
as ``None``: answered ("seen and skipped"), so it is not asked again.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Final

from cpnav.interview.errors import AnswerError
from cpnav.interview.model import Choice, PersonField, Question

AnswerValue = str | int | list[str] | list[dict[str, str]] | None
Raw = str | Sequence[str] | Sequence[Mapping[str, str]]

DEFAULT_MIN_DATE: Final = date(1900, 1, 1)
DEFAULT_MAX_DATE: Final = date(2100, 12, 31)
DEFAULT_MAX_TEXT: Final = 1000
DEFAULT_MAX_PEOPLE: Final = 30

YES_NO_UNKNOWN_LABELS: Final = {"yes": "Yes", "no": "No", "unknown": "Not known"}

_ISO_DATE: Final = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_INTEGER: Final = re.compile(r"^-?\d{1,12}$")
# Control characters other than tab and newlines cannot be meant, and some
# (NUL) cannot be stored by PostgreSQL at all.
CONTROL_CHARACTERS: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def parse_answer(question: Question, raw: Raw, *, today: date | None = None) -> AnswerValue:
    """Validate ``raw`` form input for ``question`` and return the value to store.

    ``today`` anchors "today" in date limits (defaults to the current date);
    raises AnswerError with a message that names the field.
    """
    day = today or date.today()
    kind = question.type
    if kind == "multi_choice":
        return _multi_choice(question, _strings(question, raw))
    if kind == "people":
        return _people(question, raw, day)
    text = _single(question, raw)
    if kind == "text":
        return _text(question.name, text, question.max_length, question.required)
    text = text.strip()
    if not text:
        if question.required:
            if kind == "yes_no_unknown":
                raise AnswerError(f"{question.name}: please choose an answer (“Not known” is fine)")
            raise AnswerError(f"{question.name}: an answer is needed")
        return None
    if kind == "yes_no_unknown":
        value = text.lower()
        if value not in YES_NO_UNKNOWN_LABELS:
            raise AnswerError(f"{question.name}: choose yes, no or not known")
        return value
    if kind == "choice":
        return _choice(question, text)
    if kind == "number":
        return _number(question, text)
    assert kind == "date"
    return _date(question.name, text, question.min, question.max, day)


def _single(question: Question, raw: Raw) -> str:
    if not isinstance(raw, str):
        raise AnswerError(f"{question.name}: expected a single answer")
    return raw


def _strings(question: Question, raw: Raw) -> list[str]:
    if isinstance(raw, str):
        return [raw] if raw.strip() else []
    if not all(isinstance(item, str) for item in raw):
        raise AnswerError(f"{question.name}: expected a list of choices")
    return [item.strip() for item in raw if isinstance(item, str) and item.strip()]


def _text(name: str, text: str, max_length: int | None, required: bool) -> str | None:
    text = text.strip()
    if not text:
        if required:
            raise AnswerError(f"{name}: an answer is needed")
        return None
    if CONTROL_CHARACTERS.search(text):
        raise AnswerError(f"{name}: contains characters that cannot be saved; please retype it")
    limit = max_length or DEFAULT_MAX_TEXT
    if len(text) > limit:
        raise AnswerError(f"{name}: must be at most {limit} characters (this is {len(text)})")
    return text


def _choice(question: Question, text: str) -> str:
    choices = question.choices or ()
    if text not in {c.value for c in choices}:
        options = "; ".join(c.label for c in choices)
        raise AnswerError(f"{question.name}: choose one of: {options}")
    return text


def _multi_choice(question: Question, picked: list[str]) -> list[str] | None:
    choices = question.choices or ()
    known = {c.value: c for c in choices}
    for value in picked:
        if value not in known:
            raise AnswerError(f"{question.name}: “{value}” is not one of the choices")
    if not picked:
        if question.required:
            raise AnswerError(f"{question.name}: choose at least one")
        return None
    chosen = set(picked)
    if len(chosen) > 1:
        for value in chosen:
            if known[value].exclusive:
                raise AnswerError(
                    f"{question.name}: “{known[value].label}” cannot be combined with other choices"
                )
    # Definition order, no duplicates: the same selection always stores the same.
    return [c.value for c in choices if c.value in chosen]


def _number(question: Question, text: str) -> int:
    if not _INTEGER.match(text):
        raise AnswerError(f"{question.name}: enter a whole number")
    value = int(text)
    low, high = question.min, question.max
    if isinstance(low, int) and value < low:
        raise AnswerError(f"{question.name}: must be at least {low}")
    if isinstance(high, int) and value > high:
        raise AnswerError(f"{question.name}: must be at most {high}")
    return value


def resolve_date_bound(bound: int | str | None, today: date, default: date) -> date:
    """A date limit as written in a definition ("today" or YYYY-MM-DD) as a date."""
    if bound is None or isinstance(bound, int):
        return default
    if bound == "today":
        return today
    return date.fromisoformat(bound)


def _date(name: str, text: str, low: int | str | None, high: int | str | None, today: date) -> str:
    if not _ISO_DATE.match(text):
        raise AnswerError(f"{name}: enter a date as YYYY-MM-DD")
    try:
        value = date.fromisoformat(text)
    except ValueError:
        raise AnswerError(f"{name}: {text} is not a real date") from None
    earliest = resolve_date_bound(low, today, DEFAULT_MIN_DATE)
    latest = resolve_date_bound(high, today, DEFAULT_MAX_DATE)
    if value > latest:
        if high == "today":
            raise AnswerError(f"{name}: must be in the past, not after today ({today.isoformat()})")
        raise AnswerError(f"{name}: must be on or before {latest.isoformat()}")
    if value < earliest:
        if low == "today":
            raise AnswerError(f"{name}: must be today ({today.isoformat()}) or later")
        raise AnswerError(f"{name}: must be on or after {earliest.isoformat()}")
    return text


def _people(question: Question, raw: Raw, today: date) -> list[dict[str, str]] | None:
    name = question.name
    if isinstance(raw, str) or not all(isinstance(item, Mapping) for item in raw):
        raise AnswerError(f"{name}: expected a list of entries")
    fields = {f.id: f for f in question.fields or ()}
    records: list[dict[str, str]] = []
    for item in raw:
        assert isinstance(item, Mapping)
        entry = len(records) + 1
        record = _person(name, entry, item, fields, today)
        if record:  # a blank row (forms often send one spare) is not an entry
            records.append(record)
    limit = question.max if isinstance(question.max, int) else DEFAULT_MAX_PEOPLE
    if len(records) > limit:
        raise AnswerError(f"{name}: at most {limit} entries")
    if not records:
        if question.required:
            raise AnswerError(f"{name}: add at least one entry")
        return None
    return records


def _person(
    name: str,
    entry: int,
    item: Mapping[str, str],
    fields: Mapping[str, PersonField],
    today: date,
) -> dict[str, str]:
    where = f"{name}, entry {entry}"
    for key, value in item.items():
        if key not in fields:
            raise AnswerError(f"{where}: unknown field “{key}”")
        if not isinstance(value, str):
            raise AnswerError(f"{where}: {fields[key].label}: expected text")
    if not any(value.strip() for value in item.values()):
        return {}
    record: dict[str, str] = {}
    for field in fields.values():
        text = item.get(field.id, "").strip()
        if not text:
            if field.required:
                raise AnswerError(f"{where}: {field.label} is needed")
            continue
        label = f"{where}: {field.label}"
        if field.type == "date":
            record[field.id] = _date(label, text, field.min, field.max, today)
        else:
            checked = _text(label, text, field.max_length, required=True)
            assert checked is not None
            record[field.id] = checked
    return record


def display(question: Question, value: object) -> str:
    """An answer as words for a review page."""
    if value is None:
        return "Left blank"
    kind = question.type
    if kind == "yes_no_unknown" and isinstance(value, str):
        return YES_NO_UNKNOWN_LABELS.get(value, value)
    if kind == "choice" and isinstance(value, str):
        return _label(question.choices, value)
    if kind == "multi_choice" and isinstance(value, list):
        return "; ".join(_label(question.choices, str(v)) for v in value) or "None"
    if kind == "people" and isinstance(value, list):
        fields = question.fields or ()
        people = [
            ", ".join(f"{f.label}: {record[f.id]}" for f in fields if record.get(f.id))
            for record in value
            if isinstance(record, Mapping)
        ]
        return "; ".join(people) or "None listed"
    return str(value)


def _label(choices: tuple[Choice, ...] | None, value: str) -> str:
    for choice in choices or ():
        if choice.value == value:
            return choice.label
    return value
