"""CP term arithmetic: when a grant or an extension ends, and when to ask for more.

Conventions (also stated in the rule set files):

* A term of N years starting on S covers S through the day before the N-year
  anniversary of S, i.e. ``end = S + N years - 1 day``. Both ends inclusive.
* The anniversary of a 29 February start in a common year is 28 February, so
  such a term ends on 27 February.
* Extensions chain: an extension starts the day after the previous end, under
  the rule set in force on that new start, for that set's max_extension_years.

The extension lead time is NOT a rule: how early CCHT expects an extension
request is unknown publicly, so it is a setting (``lead_days``) and every Term
says so in ``lead_time_source``.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from cpnav.policy.rulesets import RuleSet, rule_set_for

DEFAULT_LEAD_DAYS: Final = 90
LEAD_TIME_SOURCE: Final = "agency practice (setting) - confirm with CCHT"


class Term(BaseModel):
    """One CP grant or extension period."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["initial", "extension"]
    rules_version: str = Field(description="Id of the rule set the length comes from.")
    years: int = Field(ge=1, description="Length of this term in years, from the rule set.")
    start: date = Field(description="First day covered.")
    end: date = Field(
        description="Last day covered: start + years - 1 day (29 Feb start -> 28 Feb, then -1 day)."
    )
    extension_request_from: date = Field(
        description=(
            "Suggested first day to request an extension: end - lead_days, never before start. "
            "A planning aid from agency practice, not a legal deadline."
        )
    )
    lead_days: int = Field(
        ge=0,
        description="Lead time used for extension_request_from (a setting, not a rule).",
    )
    lead_time_source: str = Field(
        default=LEAD_TIME_SOURCE,
        description="Where the lead time comes from: agency practice, to be confirmed with CCHT.",
    )

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict with ISO dates (what ``cpnav term`` prints)."""
        return self.model_dump(mode="json")


def add_years(start: date, years: int) -> date:
    """Same month and day ``years`` later; 29 February becomes 28 February in a common year."""
    try:
        return start.replace(year=start.year + years)
    except ValueError:
        return start.replace(year=start.year + years, day=28)


def _term(
    kind: Literal["initial", "extension"],
    start: date,
    years: int,
    rules: RuleSet,
    lead_days: int,
) -> Term:
    if lead_days < 0:
        raise ValueError(f"lead_days must be 0 or more, got {lead_days}")
    end = add_years(start, years) - timedelta(days=1)
    request_from = max(start, end - timedelta(days=lead_days))
    return Term(
        kind=kind,
        rules_version=rules.id,
        years=years,
        start=start,
        end=end,
        extension_request_from=request_from,
        lead_days=lead_days,
    )


def term_for(
    grant_start: date,
    rules: RuleSet | None = None,
    *,
    lead_days: int = DEFAULT_LEAD_DAYS,
) -> Term:
    """The initial CP term for a grant starting on ``grant_start``.

    Uses the rule set in force on ``grant_start`` unless ``rules`` is given.
    End date: ``grant_start + term_years - 1 day``; a 29 February start maps
    to 28 February in a common year and then loses a day (2024-02-29, 2 years
    -> 2026-02-27). Raises NoRuleSetError for a date before CP existed.
    """
    rule_set = rules if rules is not None else rule_set_for(grant_start)
    return _term("initial", grant_start, rule_set.term_years, rule_set, lead_days)


def extension_term(
    previous_end: date,
    rules: RuleSet | None = None,
    *,
    lead_days: int = DEFAULT_LEAD_DAYS,
) -> Term:
    """The longest extension following a term that ended on ``previous_end``.

    Starts the next day, under the rule set in force on that day unless
    ``rules`` is given, for that set's ``max_extension_years``; same end-date
    convention as ``term_for``.
    """
    start = previous_end + timedelta(days=1)
    rule_set = rules if rules is not None else rule_set_for(start)
    return _term("extension", start, rule_set.max_extension_years, rule_set, lead_days)
