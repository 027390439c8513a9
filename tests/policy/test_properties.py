"""Property tests for determine(): deterministic, monotone in knowledge, always cited,
and always a valid instance of the public contract."""

from __future__ import annotations

import copy
import json
from datetime import date, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cpnav.policy import CONTRACT, Action, Criterion, Determination, determine, parse_facts
from cpnav.policy.citations import citations
from cpnav.policy.engine import OUTCOME_RANK

SETTINGS = settings(derandomize=True, max_examples=200, deadline=None, database=None)

tri = st.sampled_from([None, True, False])
MEANS = ["force", "fraud", "coercion"]
PURPOSES = ["involuntary_servitude", "peonage", "debt_bondage", "slavery"]


def maybe_list(options: list[str]) -> st.SearchStrategy[list[str] | None]:
    return st.one_of(st.none(), st.lists(st.sampled_from(options), unique=True))


@st.composite
def facts_json(draw: st.DrawFn) -> dict[str, Any]:
    as_of = draw(st.dates(min_value=date(2001, 8, 23), max_value=date(2040, 12, 31)))
    dob = draw(
        st.one_of(
            st.none(), st.integers(0, 80 * 366).map(lambda days: as_of - timedelta(days=days))
        )
    )
    person = {
        "citizenship": draw(
            st.sampled_from(
                [None, "noncitizen", "us_citizen", "lawful_permanent_resident", "unknown"]
            )
        ),
        "date_of_birth": None if dob is None else dob.isoformat(),
        "age_estimate": draw(st.one_of(st.none(), st.integers(0, 120))),
    }
    data: dict[str, Any] = {
        "as_of": as_of.isoformat(),
        "requester": {
            "agency_level": draw(
                st.sampled_from([None, "federal", "state", "local", "tribal", "territorial"])
            ),
            "federal_partner_engaged": draw(tri),
        },
        "person": person,
        "exploitation": {
            "commercial_sex_act": draw(tri),
            "labor_or_services": draw(tri),
            "means": draw(maybe_list(MEANS)),
            "purpose": draw(maybe_list(PURPOSES)),
            "under_18_at_time": draw(tri),
        },
        "witness": {"potential_witness": draw(tri), "civil_action_1595_filed": draw(tri)},
    }
    # Sometimes leave a whole section out: absent must behave like all-null.
    for section in ("requester", "person", "exploitation", "witness"):
        if draw(st.booleans()) and draw(st.booleans()):
            del data[section]
    return data


# Each nullable fact, and a value for it that can only help its criterion.
FAVOURABLE: list[tuple[str, str, Any]] = [
    ("person", "citizenship", "noncitizen"),
    ("exploitation", "commercial_sex_act", True),
    ("exploitation", "labor_or_services", True),
    ("exploitation", "means", ["force"]),
    ("exploitation", "purpose", ["peonage"]),
    ("exploitation", "under_18_at_time", True),
    ("witness", "potential_witness", True),
    ("witness", "civil_action_1595_filed", True),
]
STATUS_RANK = {"not_met": 0, "unknown": 1, "met": 2}


def outcome_of(data: dict[str, Any]) -> Determination:
    return determine(parse_facts(data))


@SETTINGS
@given(facts_json())
def test_determine_is_deterministic(data: dict[str, Any]) -> None:
    first = outcome_of(data)
    again = outcome_of(copy.deepcopy(data))
    assert first == again
    assert first.to_json() == again.to_json()


@SETTINGS
@given(facts_json(), st.sampled_from(FAVOURABLE))
def test_learning_a_favourable_fact_never_makes_things_worse(
    data: dict[str, Any], change: tuple[str, str, Any]
) -> None:
    section, key, value = change
    current = data.get(section, {}).get(key)
    if current is not None and not (key == "citizenship" and current == "unknown"):
        return  # only unknown facts are being learned
    before = outcome_of(data)
    changed = copy.deepcopy(data)
    changed.setdefault(section, {})[key] = value
    after = outcome_of(changed)

    for old, new in zip(before.criteria, after.criteria, strict=True):
        assert STATUS_RANK[new.status] >= STATUS_RANK[old.status], (old.id, change)
    if "not_applicable" not in (before.outcome, after.outcome):
        assert OUTCOME_RANK[after.outcome] >= OUTCOME_RANK[before.outcome], change


@SETTINGS
@given(facts_json())
def test_every_criterion_and_action_is_cited(data: dict[str, Any]) -> None:
    known_labels = {c.label for c in citations().values()}
    d = outcome_of(data)
    assert [c.id for c in d.criteria] == ["noncitizen", "severe_form", "witness_or_civil_action"]
    assert d.actions
    items: list[Criterion | Action] = [*d.criteria, *d.actions]
    for item in items:
        assert item.citations, item.id
        assert set(item.citations) <= known_labels
        assert item.explanation.strip()


@SETTINGS
@given(facts_json())
def test_output_round_trips_and_matches_the_contract(data: dict[str, Any]) -> None:
    d = outcome_of(data)
    out = d.to_json()
    assert set(out) == {
        "contract",
        "rules_version",
        "as_of",
        "outcome",
        "submission_path",
        "severe_forms",
        "criteria",
        "actions",
    }
    assert out["contract"] == CONTRACT
    for item in out["criteria"]:
        assert set(item) == {"id", "status", "explanation", "citations"}
    for item in out["actions"]:
        assert set(item) == {"id", "urgency", "explanation", "citations"}
    text = json.dumps(out)
    assert Determination.model_validate(out) == d
    assert Determination.model_validate_json(text) == d
    assert json.loads(text) == out
    assert len({a["id"] for a in out["actions"]}) == len(out["actions"])
