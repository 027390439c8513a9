"""term_for / extension_term: lengths from the rule in force, and date conventions."""

from __future__ import annotations

import json
from datetime import date

import pytest

from cpnav.policy import NoRuleSetError, RuleSet, Term, extension_term, rule_set_for, term_for
from cpnav.policy.citations import citations
from cpnav.policy.terms import LEAD_TIME_SOURCE, add_years


def four_year_rules() -> RuleSet:
    return RuleSet(
        id="test-4y",
        effective_from=date(2000, 1, 1),
        term_years=4,
        max_extension_years=3,
        note="test only",
        citations=(citations()["usc22_7105_c3_continued_presence"],),
    )


@pytest.mark.parametrize(
    ("start", "years", "end", "rules_version"),
    [
        pytest.param(
            date(2021, 7, 29), 1, date(2022, 7, 28), "cp-2001-08-23-1y", id="day-before-change"
        ),
        pytest.param(
            date(2021, 7, 30), 2, date(2023, 7, 29), "cp-2021-07-30-2y", id="first-day-of-2y"
        ),
        pytest.param(
            date(2001, 8, 23), 1, date(2002, 8, 22), "cp-2001-08-23-1y", id="first-day-of-cp"
        ),
        pytest.param(date(2022, 3, 15), 2, date(2024, 3, 14), "cp-2021-07-30-2y", id="ordinary"),
        pytest.param(
            date(2023, 3, 1), 2, date(2025, 2, 28), "cp-2021-07-30-2y", id="1-march-start"
        ),
        pytest.param(
            date(2022, 3, 1), 2, date(2024, 2, 29), "cp-2021-07-30-2y", id="ends-on-leap-day"
        ),
        pytest.param(
            date(2024, 2, 29), 2, date(2026, 2, 27), "cp-2021-07-30-2y", id="29-feb-start-2y"
        ),
        pytest.param(
            date(2020, 2, 29), 1, date(2021, 2, 27), "cp-2001-08-23-1y", id="29-feb-start-1y"
        ),
        pytest.param(date(2021, 1, 1), 1, date(2021, 12, 31), "cp-2001-08-23-1y", id="new-year"),
    ],
)
def test_term_for(start: date, years: int, end: date, rules_version: str) -> None:
    term = term_for(start)
    assert (term.kind, term.years, term.start, term.end) == ("initial", years, start, end)
    assert term.rules_version == rules_version


def test_29_feb_start_onto_a_leap_year_keeps_29_feb() -> None:
    term = term_for(date(2020, 2, 29), four_year_rules())
    assert term.end == date(2024, 2, 28)


def test_explicit_rules_override_the_date() -> None:
    one_year = rule_set_for(date(2010, 1, 1))
    term = term_for(date(2023, 5, 1), one_year)
    assert (term.years, term.end, term.rules_version) == (1, date(2024, 4, 30), one_year.id)


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (date(2021, 2, 28), date(2022, 2, 28)),
        (date(2024, 2, 29), date(2025, 2, 28)),
        (date(2023, 12, 31), date(2024, 12, 31)),
    ],
)
def test_add_years(start: date, expected: date) -> None:
    assert add_years(start, 1) == expected


def test_extension_request_from_is_end_minus_lead_days() -> None:
    term = term_for(date(2022, 3, 15))
    assert term.extension_request_from == date(2023, 12, 15)  # 2024-03-14 minus 90 days
    assert term.lead_days == 90
    assert term.lead_time_source == LEAD_TIME_SOURCE
    assert "agency practice" in term.lead_time_source
    assert "CCHT" in term.lead_time_source


@pytest.mark.parametrize(
    ("lead_days", "expected"),
    [(0, date(2024, 3, 14)), (30, date(2024, 2, 13)), (10_000, date(2022, 3, 15))],
)
def test_lead_days_setting(lead_days: int, expected: date) -> None:
    assert term_for(date(2022, 3, 15), lead_days=lead_days).extension_request_from == expected


def test_negative_lead_days_are_refused() -> None:
    with pytest.raises(ValueError, match="lead_days"):
        term_for(date(2022, 3, 15), lead_days=-1)


def test_lead_time_is_documented_as_practice_not_rule() -> None:
    fields = Term.model_fields
    assert "agency practice" in (fields["extension_request_from"].description or "")
    assert "not a rule" in (fields["lead_days"].description or "")


def test_extensions_chain_from_the_previous_end() -> None:
    first = term_for(date(2021, 1, 10))
    assert (first.years, first.end) == (1, date(2022, 1, 9))
    second = extension_term(first.end)
    assert second.kind == "extension"
    assert (second.start, second.years, second.end) == (date(2022, 1, 10), 2, date(2024, 1, 9))
    assert second.rules_version == "cp-2021-07-30-2y"
    third = extension_term(second.end, lead_days=30)
    assert (third.start, third.end) == (date(2024, 1, 10), date(2026, 1, 9))
    assert third.extension_request_from == date(2025, 12, 10)


@pytest.mark.parametrize(
    ("previous_end", "years", "rules_version"),
    [
        (date(2021, 7, 28), 1, "cp-2001-08-23-1y"),
        (date(2021, 7, 29), 2, "cp-2021-07-30-2y"),
    ],
)
def test_extension_uses_the_rules_in_force_on_its_own_start(
    previous_end: date, years: int, rules_version: str
) -> None:
    term = extension_term(previous_end)
    assert term.years == years
    assert term.rules_version == rules_version


def test_extension_length_is_max_extension_years() -> None:
    term = extension_term(date(2019, 12, 31), four_year_rules())
    assert (term.start, term.years, term.end) == (date(2020, 1, 1), 3, date(2022, 12, 31))


def test_term_before_cp_existed() -> None:
    with pytest.raises(NoRuleSetError):
        term_for(date(2000, 12, 31))


def test_term_to_json_has_iso_dates() -> None:
    data = term_for(date(2024, 2, 29)).to_json()
    assert data == {
        "kind": "initial",
        "rules_version": "cp-2021-07-30-2y",
        "years": 2,
        "start": "2024-02-29",
        "end": "2026-02-27",
        "extension_request_from": "2025-11-29",
        "lead_days": 90,
        "lead_time_source": LEAD_TIME_SOURCE,
    }
    assert json.loads(json.dumps(data)) == data
    assert Term.model_validate(data) == term_for(date(2024, 2, 29))
