"""determine(): table-driven checks of every criterion, outcome and action."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from cpnav.policy import (
    CONTRACT,
    Determination,
    FactsError,
    NoRuleSetError,
    determine,
    parse_facts,
)

from .helpers import AS_OF, action_ids, criterion, eligible_facts, run

NO_SEX = {"commercial_sex_act": False}
ADULT = {"citizenship": "noncitizen", "age_estimate": 30}


def exploitation(**fields: Any) -> dict[str, Any]:
    return fields


# --- severe_form ----------------------------------------------------------------

SEVERE_CASES = [
    pytest.param(
        ADULT,
        exploitation(
            commercial_sex_act=True, means=[], under_18_at_time=True, labor_or_services=False
        ),
        "met",
        ("sex",),
        id="minor-sex-no-means-met",
    ),
    pytest.param(
        ADULT,
        exploitation(
            commercial_sex_act=True, means=[], under_18_at_time=False, labor_or_services=False
        ),
        "not_met",
        (),
        id="adult-sex-no-means-not-met",
    ),
    pytest.param(
        ADULT,
        exploitation(commercial_sex_act=True, means=[], under_18_at_time=False),
        "not_met",
        (),
        id="no-means-rules-out-labor-too",
    ),
    pytest.param(
        ADULT,
        exploitation(
            commercial_sex_act=True,
            means=["fraud"],
            under_18_at_time=False,
            labor_or_services=False,
        ),
        "met",
        ("sex",),
        id="adult-sex-with-fraud-met",
    ),
    pytest.param(
        ADULT,
        exploitation(
            commercial_sex_act=True,
            means=["coercion"],
            under_18_at_time=None,
            labor_or_services=False,
        ),
        "met",
        ("sex",),
        id="sex-with-means-age-at-time-unknown-met",
    ),
    pytest.param(
        ADULT,
        exploitation(commercial_sex_act=False, labor_or_services=True, means=["force"], purpose=[]),
        "not_met",
        (),
        id="labor-without-purpose-not-met",
    ),
    pytest.param(
        ADULT,
        exploitation(
            commercial_sex_act=False, labor_or_services=True, means=[], purpose=["slavery"]
        ),
        "not_met",
        (),
        id="labor-without-means-not-met",
    ),
    pytest.param(
        ADULT,
        exploitation(
            commercial_sex_act=False, labor_or_services=True, means=None, purpose=["peonage"]
        ),
        "unknown",
        (),
        id="labor-means-unknown-unknown",
    ),
    pytest.param(
        ADULT,
        exploitation(
            commercial_sex_act=False, labor_or_services=True, means=["fraud"], purpose=None
        ),
        "unknown",
        (),
        id="labor-purpose-unknown-unknown",
    ),
    pytest.param(
        ADULT,
        exploitation(
            commercial_sex_act=False,
            labor_or_services=True,
            means=["fraud"],
            purpose=["debt_bondage"],
        ),
        "met",
        ("labor",),
        id="labor-means-and-purpose-met",
    ),
    pytest.param(
        ADULT,
        exploitation(
            commercial_sex_act=True,
            under_18_at_time=False,
            labor_or_services=True,
            means=["coercion"],
            purpose=["involuntary_servitude"],
        ),
        "met",
        ("sex", "labor"),
        id="both-forms-met",
    ),
    pytest.param(
        ADULT,
        exploitation(commercial_sex_act=False, labor_or_services=False),
        "not_met",
        (),
        id="neither-act-not-met",
    ),
    pytest.param(ADULT, exploitation(), "unknown", (), id="nothing-known-unknown"),
    pytest.param(
        {"citizenship": "noncitizen", "date_of_birth": "2008-01-01"},
        exploitation(commercial_sex_act=True, means=[], labor_or_services=False),
        "met",
        ("sex",),
        id="minor-today-by-dob-implies-minor-at-time",
    ),
    pytest.param(
        {"citizenship": "noncitizen", "age_estimate": 16},
        exploitation(commercial_sex_act=True, means=[], labor_or_services=False),
        "unknown",
        (),
        id="age-estimate-alone-does-not-settle-age-at-time",
    ),
]


@pytest.mark.parametrize(("person", "ex", "status", "forms"), SEVERE_CASES)
def test_severe_form(
    person: dict[str, Any], ex: dict[str, Any], status: str, forms: tuple[str, ...]
) -> None:
    d = run(eligible_facts(person=person, exploitation=ex))
    assert criterion(d, "severe_form")[0] == status
    assert d.severe_forms == forms


def test_unknown_severe_form_lists_the_missing_facts() -> None:
    d = run(
        eligible_facts(
            exploitation=exploitation(
                labor_or_services=True, means=None, purpose=None, commercial_sex_act=False
            )
        )
    )
    status, text = criterion(d, "severe_form")
    assert status == "unknown"
    assert "$.exploitation.means" in text
    assert "$.exploitation.purpose" in text
    assert "$.exploitation.commercial_sex_act" not in text


# --- noncitizen and witness --------------------------------------------------------


@pytest.mark.parametrize(
    ("citizenship", "status"),
    [
        ("noncitizen", "met"),
        ("unknown", "unknown"),
        (None, "unknown"),
        ("us_citizen", "not_met"),
        ("lawful_permanent_resident", "not_met"),
    ],
)
def test_noncitizen(citizenship: str | None, status: str) -> None:
    d = run(eligible_facts(person={"citizenship": citizenship, "age_estimate": 30}))
    assert criterion(d, "noncitizen")[0] == status


@pytest.mark.parametrize(
    ("witness", "civil", "status"),
    [
        (True, None, "met"),
        (True, False, "met"),
        (None, True, "met"),
        (False, True, "met"),
        (False, False, "not_met"),
        (False, None, "unknown"),
        (None, False, "unknown"),
        (None, None, "unknown"),
    ],
)
def test_witness_or_civil_action(witness: bool | None, civil: bool | None, status: str) -> None:
    d = run(
        eligible_facts(witness={"potential_witness": witness, "civil_action_1595_filed": civil})
    )
    got, text = criterion(d, "witness_or_civil_action")
    assert got == status
    # Every variant must say CP is not conditioned on cooperation and is never leverage.
    assert "never conditioned on cooperation" in text
    assert "leverage" in text


# --- outcomes ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "outcome"),
    [
        pytest.param({}, "likely_eligible", id="all-met"),
        pytest.param({"witness": {}}, "needs_information", id="witness-unknown"),
        pytest.param(
            {"person": {"age_estimate": 30}}, "needs_information", id="citizenship-unknown"
        ),
        pytest.param({"exploitation": {}}, "needs_information", id="exploitation-unknown"),
        pytest.param(
            {"witness": {"potential_witness": False, "civil_action_1595_filed": False}},
            "not_eligible",
            id="witness-not-met",
        ),
        pytest.param(
            {
                "exploitation": {"commercial_sex_act": False, "labor_or_services": False},
                "witness": {},
            },
            "not_eligible",
            id="not-met-beats-unknown",
        ),
        pytest.param({"person": {"citizenship": "us_citizen"}}, "not_applicable", id="us-citizen"),
        pytest.param(
            {"person": {"citizenship": "lawful_permanent_resident"}, "exploitation": {}},
            "not_applicable",
            id="lpr",
        ),
    ],
)
def test_outcome(overrides: dict[str, Any], outcome: str) -> None:
    assert run(eligible_facts(**overrides)).outcome == outcome


@pytest.mark.parametrize(
    ("level", "path"),
    [
        ("federal", "federal_direct"),
        ("state", "through_federal_partner"),
        ("local", "through_federal_partner"),
        ("tribal", "through_federal_partner"),
        ("territorial", "through_federal_partner"),
        (None, None),
    ],
)
def test_submission_path(level: str | None, path: str | None) -> None:
    assert run(eligible_facts(requester={"agency_level": level})).submission_path == path


# --- actions ----------------------------------------------------------------------


def test_likely_eligible_federal_actions_in_order() -> None:
    d = run(eligible_facts())
    assert action_ids(d) == [
        "request_continued_presence",
        "refer_to_victim_services",
        "refer_to_immigration_counsel_t_visa",
    ]


def test_needs_information_minor_local_actions_in_order() -> None:
    d = run(
        eligible_facts(
            requester={"agency_level": "local", "federal_partner_engaged": False},
            person={"citizenship": "unknown", "age_estimate": 15},
            exploitation={},
        )
    )
    assert d.outcome == "needs_information"
    assert action_ids(d) == [
        "notify_hhs_within_24h",
        "find_federal_partner",
        "request_deferred_action_pending_interview",
        "refer_to_victim_services",
        "refer_to_immigration_counsel_t_visa",
    ]
    urgencies = {a.id: a.urgency for a in d.actions}
    assert urgencies["notify_hhs_within_24h"] == "immediate"
    assert urgencies["find_federal_partner"] == "soon"


@pytest.mark.parametrize(
    ("person", "expected"),
    [
        pytest.param(
            {"citizenship": "noncitizen", "date_of_birth": "2010-01-01"}, True, id="minor-by-dob"
        ),
        pytest.param(
            {"citizenship": "noncitizen", "age_estimate": 17}, True, id="minor-by-estimate"
        ),
        pytest.param(
            {"citizenship": "unknown", "age_estimate": 12}, True, id="minor-status-unknown"
        ),
        pytest.param({"age_estimate": 12}, True, id="minor-status-absent"),
        pytest.param(
            {"citizenship": "noncitizen", "age_estimate": 18}, False, id="adult-by-estimate"
        ),
        pytest.param({"citizenship": "noncitizen"}, False, id="age-unknown"),
        pytest.param({"citizenship": "us_citizen", "age_estimate": 12}, False, id="citizen-minor"),
        pytest.param(
            {"citizenship": "lawful_permanent_resident", "age_estimate": 12}, False, id="lpr-minor"
        ),
        pytest.param(
            {"citizenship": "noncitizen", "date_of_birth": "1990-01-01", "age_estimate": 16},
            False,
            id="dob-wins-over-estimate",
        ),
    ],
)
def test_notify_hhs_within_24h(person: dict[str, Any], expected: bool) -> None:
    d = run(eligible_facts(person=person))
    assert ("notify_hhs_within_24h" in action_ids(d)) is expected
    if expected:
        (action,) = [a for a in d.actions if a.id == "notify_hhs_within_24h"]
        assert action.urgency == "immediate"
        assert "22 U.S.C. 7105(b)(1)(G)" in action.citations
        assert "federal, state or local official" in action.explanation
        assert "24 hours" in action.explanation


@pytest.mark.parametrize(
    ("dob", "as_of", "minor"),
    [
        pytest.param("2006-06-15", "2024-06-14", True, id="day-before-18th-birthday"),
        pytest.param("2006-06-15", "2024-06-15", False, id="18th-birthday"),
        pytest.param("2008-02-29", "2026-02-28", True, id="leap-birthday-28-feb-still-17"),
        pytest.param("2008-02-29", "2026-03-01", False, id="leap-birthday-1-mar-is-18"),
        pytest.param("2006-02-28", "2024-02-28", False, id="28-feb-birthday-in-leap-year"),
        pytest.param("2004-02-29", "2022-02-28", True, id="leap-born-2004-day-before"),
    ],
)
def test_turning_18(dob: str, as_of: str, minor: bool) -> None:
    d = run(eligible_facts(as_of=as_of, person={"citizenship": "noncitizen", "date_of_birth": dob}))
    assert ("notify_hhs_within_24h" in action_ids(d)) is minor


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        pytest.param({}, True, id="likely-eligible"),
        pytest.param({"witness": {}}, False, id="needs-information"),
        pytest.param(
            {"witness": {"potential_witness": False, "civil_action_1595_filed": False}},
            False,
            id="not-eligible",
        ),
        pytest.param({"person": {"citizenship": "us_citizen"}}, False, id="not-applicable"),
    ],
)
def test_request_continued_presence(overrides: dict[str, Any], expected: bool) -> None:
    d = run(eligible_facts(**overrides))
    assert ("request_continued_presence" in action_ids(d)) is expected


@pytest.mark.parametrize(
    ("level", "phrase"),
    [
        ("federal", "As federal law enforcement"),
        ("local", "ask your federal partner"),
        (None, "Record the requesting agency's level"),
    ],
)
def test_request_continued_presence_text_follows_submission_path(
    level: str | None, phrase: str
) -> None:
    d = run(eligible_facts(requester={"agency_level": level, "federal_partner_engaged": True}))
    (action,) = [a for a in d.actions if a.id == "request_continued_presence"]
    assert action.urgency == "immediate"
    assert phrase in action.explanation
    assert "as soon as the person is identified" in action.explanation


@pytest.mark.parametrize(
    ("as_of", "rules_version", "term_text"),
    [
        (
            "2021-07-29",
            "cp-2001-08-23-1y",
            "granted for 1 year and can be extended by up to 1 year",
        ),
        (
            "2021-07-30",
            "cp-2021-07-30-2y",
            "granted for 2 years and can be extended by up to 2 years",
        ),
    ],
)
def test_determination_uses_rule_set_in_force_on_as_of(
    as_of: str, rules_version: str, term_text: str
) -> None:
    d = run(eligible_facts(as_of=as_of))
    assert d.rules_version == rules_version
    (action,) = [a for a in d.actions if a.id == "request_continued_presence"]
    assert term_text in action.explanation


@pytest.mark.parametrize(
    ("overrides", "expected", "urgency"),
    [
        pytest.param(
            {"requester": {"agency_level": "local", "federal_partner_engaged": False}},
            True,
            "immediate",
            id="local-no-partner",
        ),
        pytest.param(
            {"requester": {"agency_level": "state"}}, True, "immediate", id="state-partner-unknown"
        ),
        pytest.param(
            {"requester": {"agency_level": "tribal"}, "witness": {}},
            True,
            "soon",
            id="needs-information",
        ),
        pytest.param(
            {"requester": {"agency_level": "local", "federal_partner_engaged": True}},
            False,
            None,
            id="partner-engaged",
        ),
        pytest.param(
            {"requester": {"agency_level": "federal", "federal_partner_engaged": False}},
            False,
            None,
            id="federal",
        ),
        pytest.param({"requester": {}}, False, None, id="level-unknown"),
        pytest.param(
            {
                "requester": {"agency_level": "local"},
                "witness": {"potential_witness": False, "civil_action_1595_filed": False},
            },
            False,
            None,
            id="not-eligible",
        ),
        pytest.param(
            {"requester": {"agency_level": "local"}, "person": {"citizenship": "us_citizen"}},
            False,
            None,
            id="not-applicable",
        ),
    ],
)
def test_find_federal_partner(
    overrides: dict[str, Any], expected: bool, urgency: str | None
) -> None:
    d = run(eligible_facts(**overrides))
    found = [a for a in d.actions if a.id == "find_federal_partner"]
    assert bool(found) is expected
    if found:
        assert found[0].urgency == urgency


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        pytest.param({"exploitation": {}}, True, id="severe-form-unknown"),
        pytest.param({}, False, id="severe-form-met"),
        pytest.param(
            {"exploitation": {"commercial_sex_act": False, "labor_or_services": False}},
            False,
            id="severe-form-not-met",
        ),
        pytest.param(
            {"exploitation": {}, "person": {"citizenship": "lawful_permanent_resident"}},
            False,
            id="lpr",
        ),
    ],
)
def test_request_deferred_action_pending_interview(
    overrides: dict[str, Any], expected: bool
) -> None:
    d = run(eligible_facts(**overrides))
    found = [a for a in d.actions if a.id == "request_deferred_action_pending_interview"]
    assert bool(found) is expected
    if found:
        text = found[0].explanation
        assert "stopgap" in text
        assert "not a substitute for CP" in text
        assert "only CP opens eligibility for benefits" in text


@pytest.mark.parametrize("citizenship", ["us_citizen", "lawful_permanent_resident"])
def test_citizens_and_lprs_are_pointed_to_direct_services(citizenship: str) -> None:
    d = run(eligible_facts(person={"citizenship": citizenship, "age_estimate": 15}))
    assert d.outcome == "not_applicable"
    assert action_ids(d) == ["refer_to_direct_services"]
    assert "1-888-373-7888" in d.actions[0].explanation


@pytest.mark.parametrize("citizenship", ["noncitizen", "unknown", None])
def test_possible_victims_are_referred_to_victim_services(citizenship: str | None) -> None:
    d = run(eligible_facts(person={"citizenship": citizenship}))
    assert "refer_to_victim_services" in action_ids(d)
    assert "refer_to_direct_services" not in action_ids(d)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        pytest.param({}, True, id="severe-form-met"),
        pytest.param({"exploitation": {}}, True, id="severe-form-unknown"),
        pytest.param(
            {"witness": {"potential_witness": False, "civil_action_1595_filed": False}},
            True,
            id="not-eligible-but-victim",
        ),
        pytest.param(
            {"exploitation": {"commercial_sex_act": False, "labor_or_services": False}},
            False,
            id="severe-form-not-met",
        ),
        pytest.param({"person": {"citizenship": "us_citizen"}}, False, id="citizen"),
    ],
)
def test_refer_to_immigration_counsel_t_visa(overrides: dict[str, Any], expected: bool) -> None:
    d = run(eligible_facts(**overrides))
    found = [a for a in d.actions if a.id == "refer_to_immigration_counsel_t_visa"]
    assert bool(found) is expected
    if found:
        assert "T visa" in found[0].explanation
        assert "ends with the criminal case" in found[0].explanation


# --- dates, errors and the contract ---------------------------------------------------


def test_as_of_defaults_to_today_argument() -> None:
    facts = parse_facts(eligible_facts(as_of=None))
    assert determine(facts, today=date(2022, 3, 1)).as_of == date(2022, 3, 1)


def test_as_of_in_facts_wins_over_today() -> None:
    facts = parse_facts(eligible_facts())
    assert determine(facts, today=date(2022, 3, 1)).as_of == date.fromisoformat(AS_OF)


def test_as_of_defaults_to_the_real_today() -> None:
    assert determine(parse_facts({})).as_of == date.today()


@pytest.mark.parametrize("as_of", ["2001-08-22", "1999-01-01"])
def test_as_of_before_the_first_rule_set(as_of: str) -> None:
    with pytest.raises(NoRuleSetError, match="2001-08-23"):
        run(eligible_facts(as_of=as_of))


def test_first_day_of_the_first_rule_set() -> None:
    assert run(eligible_facts(as_of="2001-08-23")).rules_version == "cp-2001-08-23-1y"


def test_date_of_birth_after_the_today_argument_is_a_facts_error() -> None:
    facts = parse_facts({"person": {"date_of_birth": "2020-01-01"}})
    with pytest.raises(FactsError) as info:
        determine(facts, today=date(2019, 12, 31))
    assert [path for path, _ in info.value.errors] == ["$.person.date_of_birth"]


def test_to_json_is_exactly_the_contract() -> None:
    data = run(eligible_facts()).to_json()
    assert list(data) == [
        "contract",
        "rules_version",
        "as_of",
        "outcome",
        "submission_path",
        "severe_forms",
        "criteria",
        "actions",
    ]
    assert data["contract"] == CONTRACT == "cpnav.determination/1"
    assert data["as_of"] == AS_OF
    assert [c["id"] for c in data["criteria"]] == [
        "noncitizen",
        "severe_form",
        "witness_or_civil_action",
    ]
    for item in data["criteria"]:
        assert set(item) == {"id", "status", "explanation", "citations"}
        assert all(isinstance(label, str) for label in item["citations"])
    for item in data["actions"]:
        assert set(item) == {"id", "urgency", "explanation", "citations"}
    assert Determination.model_validate(data) == run(eligible_facts())


def test_null_submission_path_is_present_in_json() -> None:
    data = run(eligible_facts(requester=None)).to_json()
    assert "submission_path" in data
    assert data["submission_path"] is None
