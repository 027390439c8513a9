"""parse_facts: the input half of the contract, and its error reporting."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from cpnav.policy import Facts, FactsError, parse_facts

from .helpers import eligible_facts


def errors_of(data: object) -> dict[str, str]:
    with pytest.raises(FactsError) as info:
        parse_facts(data)
    return dict(info.value.errors)


def test_empty_object_is_all_unknown() -> None:
    facts = parse_facts({})
    assert facts == Facts()
    assert facts.as_of is None


def test_nulls_mean_unknown() -> None:
    facts = parse_facts(
        {"as_of": None, "person": {"citizenship": None}, "exploitation": {"means": None}}
    )
    assert facts.person is not None
    assert facts.person.citizenship is None
    assert facts.exploitation is not None
    assert facts.exploitation.means is None


def test_empty_list_is_kept_distinct_from_unknown() -> None:
    facts = parse_facts({"exploitation": {"means": [], "purpose": None}})
    assert facts.exploitation is not None
    assert facts.exploitation.means == []
    assert facts.exploitation.purpose is None


def test_full_example_parses() -> None:
    facts = parse_facts(eligible_facts())
    assert facts.as_of == date(2024, 5, 1)
    assert facts.requester is not None
    assert facts.requester.agency_level == "federal"


def test_json_text_is_accepted() -> None:
    assert parse_facts('{"person": {"age_estimate": 16}}').person is not None


def test_bytes_that_are_not_utf8_are_a_facts_error() -> None:
    with pytest.raises(FactsError) as refused:
        parse_facts(b'{"person": "\xff"}')
    assert refused.value.errors[0][0] == "$"
    assert "not UTF-8" in refused.value.errors[0][1]


@pytest.mark.parametrize(
    ("data", "path", "message"),
    [
        ({"nickname": "x"}, "$.nickname", "unknown field"),
        ({"person": {"nickname": "x"}}, "$.person.nickname", "unknown field"),
        ({"witness": {"cooperating": True}}, "$.witness.cooperating", "unknown field"),
        ({"weird key": 1}, '$["weird key"]', "unknown field"),
        ({"person": []}, "$.person", "expected an object"),
        ({"exploitation": {"means": "force"}}, "$.exploitation.means", "expected a list"),
        (
            {"exploitation": {"commercial_sex_act": "yes"}},
            "$.exploitation.commercial_sex_act",
            "true, false or null",
        ),
        (
            {"witness": {"potential_witness": 1}},
            "$.witness.potential_witness",
            "true, false or null",
        ),
        (
            {"requester": {"federal_partner_engaged": "true"}},
            "$.requester.federal_partner_engaged",
            "true, false or null",
        ),
        ({"person": {"age_estimate": "16"}}, "$.person.age_estimate", "whole number"),
        ({"person": {"age_estimate": 16.5}}, "$.person.age_estimate", "whole number"),
        ({"person": {"age_estimate": True}}, "$.person.age_estimate", "whole number"),
        ({"person": {"age_estimate": -1}}, "$.person.age_estimate", "greater than or equal to 0"),
        ({"person": {"age_estimate": 121}}, "$.person.age_estimate", "less than or equal to 120"),
        ({"requester": {"agency_level": "city"}}, "$.requester.agency_level", "'federal'"),
        ({"person": {"citizenship": "dual"}}, "$.person.citizenship", "'noncitizen'"),
        (
            {"exploitation": {"means": ["force", "threats"]}},
            "$.exploitation.means[1]",
            "'coercion'",
        ),
        (
            {"exploitation": {"purpose": ["slavery", "slavery"]}},
            "$.exploitation.purpose[1]",
            "duplicate",
        ),
        (
            {"exploitation": {"means": ["fraud", "force", "fraud"]}},
            "$.exploitation.means[2]",
            "duplicate",
        ),
        ({"as_of": "2024-02-30"}, "$.as_of", "not a real calendar date"),
        ({"as_of": "05/01/2024"}, "$.as_of", "YYYY-MM-DD"),
        ({"as_of": "20240501"}, "$.as_of", "YYYY-MM-DD"),
        ({"as_of": 1714521600}, "$.as_of", "YYYY-MM-DD"),
        ({"as_of": "2024-05-01T00:00:00"}, "$.as_of", "YYYY-MM-DD"),
        ({"person": {"date_of_birth": "not a date"}}, "$.person.date_of_birth", "YYYY-MM-DD"),
        (
            {"as_of": "2020-01-01", "person": {"date_of_birth": "2020-01-02"}},
            "$.person.date_of_birth",
            "after as_of",
        ),
    ],
)
def test_each_bad_field_is_named_by_json_path(
    data: dict[str, Any], path: str, message: str
) -> None:
    errors = errors_of(data)
    assert path in errors, errors
    assert message in errors[path]


def test_date_of_birth_on_as_of_is_fine() -> None:
    parse_facts({"as_of": "2020-01-01", "person": {"date_of_birth": "2020-01-01"}})


def test_date_of_birth_in_the_future_without_as_of_is_refused() -> None:
    future = date.today().replace(year=date.today().year + 1, day=1).isoformat()
    assert "$.person.date_of_birth" in errors_of({"person": {"date_of_birth": future}})


def test_several_errors_are_reported_at_once() -> None:
    errors = errors_of(
        {
            "nickname": 1,
            "as_of": "yesterday",
            "person": {"nickname": "x", "age_estimate": "16"},
            "exploitation": {"means": ["force", "punch"], "commercial_sex_act": "yes"},
            "requester": {"agency_level": "city"},
        }
    )
    assert set(errors) == {
        "$.nickname",
        "$.as_of",
        "$.person.nickname",
        "$.person.age_estimate",
        "$.exploitation.means[1]",
        "$.exploitation.commercial_sex_act",
        "$.requester.agency_level",
    }


@pytest.mark.parametrize("data", [[], "[1, 2]", 3, None])
def test_top_level_must_be_an_object(data: object) -> None:
    assert errors_of(data) == {"$": "expected a JSON object"}


def test_invalid_json_text() -> None:
    errors = errors_of("{not json")
    assert errors["$"].startswith("invalid JSON")


def test_facts_error_message_lists_paths() -> None:
    with pytest.raises(FactsError, match=r"\$\.person\.nickname: unknown field"):
        parse_facts({"person": {"nickname": "x"}})
