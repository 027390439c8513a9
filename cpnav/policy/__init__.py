"""CP Navigator's policy engine: Continued Presence rules as versioned data, and their evaluation.

Pure Python (no Django): the web views, the django-ninja API and the command
line all call these same functions.

* ``parse_facts`` / ``Facts`` - what is known about a case (public JSON input;
  ``null`` means unknown). ``FactsError`` lists every bad field by JSON path.
* ``determine`` -> ``Determination`` - outcome, criteria and next steps under
  the rule set in force on ``as_of`` (public contract ``CONTRACT``).
* ``rule_sets`` / ``rule_set_for`` / ``RuleSet`` - CP term rules by effective
  date, loaded once from ``rules/sets/*.toml``.
* ``term_for`` / ``extension_term`` / ``Term`` - grant and extension dates.

Facts the sources leave open (e.g. the exact date CP moved from 1 to 2 years,
how early to request an extension) are labelled as such in the data, never
filled in with a guess.
"""

from cpnav.policy._data import PolicyDataError
from cpnav.policy.engine import CONTRACT, Action, Criterion, Determination, determine
from cpnav.policy.facts import Facts, FactsError, parse_facts
from cpnav.policy.rulesets import NoRuleSetError, RuleSet, rule_set_for, rule_sets
from cpnav.policy.terms import Term, extension_term, term_for

__all__ = [
    "CONTRACT",
    "Action",
    "Criterion",
    "Determination",
    "Facts",
    "FactsError",
    "NoRuleSetError",
    "PolicyDataError",
    "RuleSet",
    "Term",
    "determine",
    "extension_term",
    "parse_facts",
    "rule_set_for",
    "rule_sets",
    "term_for",
]
