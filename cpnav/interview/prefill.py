"""What the host application may fill in before the interview starts.

A question with ``prefill: person.date_of_birth`` is answered from the case
record when the record knows it, so the officer is asked only what is still
missing. The keys are a contract with the host: a definition naming a key not
listed here is a definition error (a typo would otherwise silently ask again).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any, Final

from cpnav.interview.answers import Raw, parse_answer
from cpnav.interview.errors import AnswerError
from cpnav.interview.model import Interview, QuestionType

_TEXT: Final[frozenset[QuestionType]] = frozenset({"text"})

# key -> (question types it may fill, what the host passes)
PREFILL_KEYS: Final[Mapping[str, tuple[frozenset[QuestionType], str]]] = {
    "requester.agency_level": (
        frozenset({"choice"}),
        "federal | state | local | tribal | territorial",
    ),
    "requester.federal_partner_engaged": (frozenset({"yes_no_unknown"}), "bool or null"),
    "requester.name": (_TEXT, "the signed-in official's full name"),
    "requester.title": (_TEXT, "their job title"),
    "requester.phone": (_TEXT, "their work phone"),
    "requester.email": (_TEXT, "their work email"),
    "person.citizenship": (
        frozenset({"choice"}),
        "noncitizen | us_citizen | lawful_permanent_resident | unknown",
    ),
    "person.date_of_birth": (frozenset({"date"}), "date or YYYY-MM-DD"),
    "person.age_estimate": (frozenset({"number"}), "whole years"),
    "person.language": (_TEXT, "preferred language, in words"),
    "case.reference": (_TEXT, "the agency's case number"),
    "case.trafficking_forms": (frozenset({"multi_choice"}), "list of: sex, labor"),
    "case.civil_status": (frozenset({"choice"}), "filed | not_filed | unknown"),
    "grant.term_end": (frozenset({"date"}), "date or YYYY-MM-DD"),
    "grant.reference": (_TEXT, "the CP grant's reference"),
}


def prefill(
    interview: Interview,
    known: Mapping[str, Any],
    answers: Mapping[str, Any] | None = None,
    *,
    today: date,
) -> dict[str, Any]:
    """New answers with prefilled values added from ``known`` (prefill key -> value).

    An answer already given wins over the record (the officer may have
    corrected it). A record value that does not fit the question is skipped,
    so the question is simply asked: prefill suggests, it never blocks.
    """
    out = dict(answers or {})
    for question in interview.questions:
        key = question.prefill
        if key is None or question.id in out:
            continue
        value = known.get(key)
        if value is None:
            continue
        raw = _as_raw(value)
        if raw is None:
            continue
        try:
            parsed = parse_answer(question, raw, today=today)
        except AnswerError:
            continue
        if parsed is not None:
            out[question.id] = parsed
    return out


def _as_raw(value: object) -> Raw | None:
    """A record value in the form parse_answer takes, or None if it cannot be."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        if all(isinstance(item, str) for item in value):
            return [str(item) for item in value]
        if all(isinstance(item, Mapping) for item in value):
            return [dict(item) for item in value]
    return None
