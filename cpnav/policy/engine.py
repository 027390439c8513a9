"""Facts in, determination out: the CP eligibility engine.

Three-valued throughout: a criterion is met, not met, or unknown, and unknown
facts never count against the person. The determination is a public JSON
contract (``cpnav.determination/1``) shared by the API, the CLI and tests.

Explanations and citation labels are resolved once and cached; a call to
``determine`` only does the logic and assembles already-built pieces, and it
builds the result with ``model_construct`` because every piece was validated
when it was cached.
"""

from __future__ import annotations

import functools
from datetime import date
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cpnav.policy.facts import (
    Exploitation,
    Facts,
    FactsError,
    Person,
    Requester,
    Witness,
    check_birth_date,
    errors_from,
)
from cpnav.policy.rulesets import RuleSet, rule_set_for, rule_sets
from cpnav.policy.texts import texts

CONTRACT: Final = "cpnav.determination/1"

Outcome = Literal["likely_eligible", "needs_information", "not_eligible", "not_applicable"]
Status = Literal["met", "not_met", "unknown"]
CriterionId = Literal["noncitizen", "severe_form", "witness_or_civil_action"]
Urgency = Literal["immediate", "soon", "routine"]
SubmissionPath = Literal["federal_direct", "through_federal_partner"]
SevereForm = Literal["sex", "labor"]
ActionId = Literal[
    "notify_hhs_within_24h",
    "request_continued_presence",
    "find_federal_partner",
    "request_deferred_action_pending_interview",
    "refer_to_victim_services",
    "refer_to_direct_services",
    "refer_to_immigration_counsel_t_visa",
]

ADULT_AGE: Final = 18


class Criterion(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: CriterionId
    status: Status
    explanation: str = Field(min_length=1)
    citations: tuple[str, ...] = Field(min_length=1, description="Citation labels.")


class Action(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: ActionId
    urgency: Urgency
    explanation: str = Field(min_length=1)
    citations: tuple[str, ...] = Field(min_length=1, description="Citation labels.")


class Determination(BaseModel):
    """The engine's answer; ``to_json()`` is exactly the public contract."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    contract: Literal["cpnav.determination/1"] = CONTRACT
    rules_version: str = Field(description="Id of the rule set in force on as_of.")
    as_of: date
    outcome: Outcome
    submission_path: SubmissionPath | None = Field(
        description="Route a CP request from this requester takes; null if the agency level is unknown."
    )
    severe_forms: tuple[SevereForm, ...] = Field(description="Forms whose definition is met.")
    criteria: tuple[Criterion, ...]
    actions: tuple[Action, ...]

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


# Outcomes that can improve as facts are filled in, worst first.
OUTCOME_RANK: Final[dict[Outcome, int]] = {
    "not_eligible": 0,
    "needs_information": 1,
    "likely_eligible": 2,
}

_NO_PERSON = Person()
_NO_REQUESTER = Requester()
_NO_EXPLOITATION = Exploitation()
_NO_WITNESS = Witness()

Tri = bool | None


def _all(*values: Tri) -> Tri:
    if any(v is False for v in values):
        return False
    if all(v is True for v in values):
        return True
    return None


def _any(*values: Tri) -> Tri:
    if any(v is True for v in values):
        return True
    if all(v is False for v in values):
        return False
    return None


def _status(value: Tri) -> Status:
    return "met" if value is True else "not_met" if value is False else "unknown"


def age_on(date_of_birth: date, day: date) -> int:
    """Completed years on ``day``.

    A 29 February birthday counts as reached on 1 March in common years: of
    the two readings this is the later one, so a minor is never treated as an
    adult a day early (and the 24-hour HHS duty is never dropped early).
    """
    years = day.year - date_of_birth.year
    if (day.month, day.day) < (date_of_birth.month, date_of_birth.day):
        years -= 1
    return years


def is_minor_on(person: Person, day: date) -> Tri:
    """Under 18 on ``day``: from the date of birth, else the age estimate."""
    if person.date_of_birth is not None:
        return age_on(person.date_of_birth, day) < ADULT_AGE
    if person.age_estimate is not None:
        return person.age_estimate < ADULT_AGE
    return None


def _severe_form(
    ex: Exploitation, minor_now_by_dob: Tri
) -> tuple[Tri, tuple[SevereForm, ...], tuple[str, ...]]:
    """(severe form met?, forms met, JSON paths of facts still needed)."""
    means: Tri = None if ex.means is None else bool(ex.means)
    purpose: Tri = None if ex.purpose is None else bool(ex.purpose)
    under_18 = ex.under_18_at_time
    if under_18 is None and minor_now_by_dob is True:
        # Someone under 18 today by their date of birth was under 18 when the
        # exploitation happened; an age *estimate* is not used for this.
        under_18 = True

    sex = _all(ex.commercial_sex_act, _any(means, under_18))
    labor = _all(ex.labor_or_services, means, purpose)
    forms: tuple[SevereForm, ...] = ()
    if sex is True:
        forms += ("sex",)
    if labor is True:
        forms += ("labor",)
    overall = _any(sex, labor)

    missing: list[str] = []
    if overall is None:
        if sex is None:
            if ex.commercial_sex_act is None:
                missing.append("$.exploitation.commercial_sex_act")
            if means is None:
                missing.append("$.exploitation.means")
            if under_18 is None:
                missing.append("$.exploitation.under_18_at_time")
        if labor is None:
            for path, value in (
                ("$.exploitation.labor_or_services", ex.labor_or_services),
                ("$.exploitation.means", means),
                ("$.exploitation.purpose", purpose),
            ):
                if value is None and path not in missing:
                    missing.append(path)
    return overall, forms, tuple(missing)


@functools.cache
def _criterion(
    criterion_id: CriterionId,
    status: Status,
    variant: str | None = None,
    missing: tuple[str, ...] = (),
) -> Criterion:
    """Built once per distinct input and then shared (the models are frozen)."""
    text = texts().criteria[(criterion_id, variant or status)]
    explanation = text.text
    if missing:
        explanation = f"{explanation} Facts still needed: {', '.join(missing)}."
    return Criterion(id=criterion_id, status=status, explanation=explanation, citations=text.labels)


@functools.cache
def _action(
    action_id: ActionId,
    urgency: Urgency,
    variant: str = "default",
    rules_id: str | None = None,
) -> Action:
    """Built once per distinct input and then shared (the models are frozen).

    Keyed by rule set id rather than the RuleSet itself: hashing a model on
    every call would cost more than the rest of the lookup.
    """
    text = texts().actions[(action_id, variant)]
    explanation = text.text
    labels = text.labels
    if rules_id is not None:
        rules = _rule_set_by_id(rules_id)
        plural = "year" if rules.term_years == 1 else "years"
        ext_plural = "year" if rules.max_extension_years == 1 else "years"
        explanation = (
            f"{explanation} Under the rules in force on this date ({rules.id}), CP is granted for "
            f"{rules.term_years} {plural} and can be extended by up to {rules.max_extension_years} "
            f"{ext_plural} at a time."
        )
        labels = labels + tuple(c.label for c in rules.citations if c.label not in labels)
    return Action(id=action_id, urgency=urgency, explanation=explanation, citations=labels)


def _rule_set_by_id(rules_id: str) -> RuleSet:
    return next(r for r in rule_sets() if r.id == rules_id)


def determine(facts: Facts, *, today: date | None = None) -> Determination:
    """Determine likely CP eligibility and next steps from ``facts``.

    ``facts.as_of`` defaults to ``today``, which defaults to the current date;
    the rule set in force on that date is used. Raises NoRuleSetError for a
    date before CP existed, and FactsError if the date of birth is after as_of.
    """
    as_of = facts.as_of or today or date.today()
    person = facts.person or _NO_PERSON
    requester = facts.requester or _NO_REQUESTER
    exploitation = facts.exploitation or _NO_EXPLOITATION
    witness = facts.witness or _NO_WITNESS
    if person.date_of_birth is not None:
        try:
            check_birth_date(person.date_of_birth, as_of)
        except ValidationError as exc:
            raise FactsError(errors_from(exc)) from exc
    rules = rule_set_for(as_of)

    # noncitizen
    citizenship = person.citizenship
    citizen_or_lpr = citizenship in ("us_citizen", "lawful_permanent_resident")
    if citizenship == "noncitizen":
        noncitizen = _criterion("noncitizen", "met")
    elif citizen_or_lpr:
        noncitizen = _criterion("noncitizen", "not_met")
    else:
        noncitizen = _criterion("noncitizen", "unknown", missing=("$.person.citizenship",))

    # severe_form
    minor_by_dob: Tri = None
    if person.date_of_birth is not None:
        minor_by_dob = age_on(person.date_of_birth, as_of) < ADULT_AGE
    severe, forms, severe_missing = _severe_form(exploitation, minor_by_dob)
    severe_status = _status(severe)
    severe_form = _criterion("severe_form", severe_status, missing=severe_missing)

    # witness_or_civil_action
    pw, civil = witness.potential_witness, witness.civil_action_1595_filed
    if pw is True:
        witness_criterion = _criterion("witness_or_civil_action", "met", "met_witness")
    elif civil is True:
        witness_criterion = _criterion("witness_or_civil_action", "met", "met_civil_action")
    elif pw is False and civil is False:
        witness_criterion = _criterion("witness_or_civil_action", "not_met")
    else:
        witness_missing = tuple(
            path
            for path, value in (
                ("$.witness.potential_witness", pw),
                ("$.witness.civil_action_1595_filed", civil),
            )
            if value is None
        )
        witness_criterion = _criterion(
            "witness_or_civil_action", "unknown", missing=witness_missing
        )

    criteria = (noncitizen, severe_form, witness_criterion)
    statuses = {c.status for c in criteria}
    outcome: Outcome
    if citizen_or_lpr:
        outcome = "not_applicable"
    elif "not_met" in statuses:
        outcome = "not_eligible"
    elif "unknown" in statuses:
        outcome = "needs_information"
    else:
        outcome = "likely_eligible"

    level = requester.agency_level
    submission_path: SubmissionPath | None = (
        None
        if level is None
        else "federal_direct"
        if level == "federal"
        else "through_federal_partner"
    )

    # Actions, in a fixed order (most time-critical first).
    actions: list[Action] = []
    if not citizen_or_lpr and is_minor_on(person, as_of) is True:
        actions.append(_action("notify_hhs_within_24h", "immediate"))
    if outcome == "likely_eligible":
        variant = "requester_unknown" if submission_path is None else submission_path
        actions.append(_action("request_continued_presence", "immediate", variant, rules.id))
    if (
        outcome in ("likely_eligible", "needs_information")
        and level is not None
        and level != "federal"
        and requester.federal_partner_engaged is not True
    ):
        urgency: Urgency = "immediate" if outcome == "likely_eligible" else "soon"
        actions.append(_action("find_federal_partner", urgency))
    if not citizen_or_lpr and severe is None:
        actions.append(_action("request_deferred_action_pending_interview", "soon"))
    if citizen_or_lpr:
        actions.append(_action("refer_to_direct_services", "soon"))
    else:
        actions.append(_action("refer_to_victim_services", "soon"))
        if severe is not False:
            actions.append(_action("refer_to_immigration_counsel_t_visa", "soon"))

    return Determination.model_construct(
        contract=CONTRACT,
        rules_version=rules.id,
        as_of=as_of,
        outcome=outcome,
        submission_path=submission_path,
        severe_forms=forms,
        criteria=criteria,
        actions=tuple(actions),
    )
