"""Small builders shared by the policy tests."""

from __future__ import annotations

from typing import Any

from cpnav.policy import Determination, Facts, determine, parse_facts

AS_OF = "2024-05-01"


def eligible_facts(**overrides: dict[str, Any] | str | None) -> dict[str, Any]:
    """Facts (as JSON) for a federal request about an adult labor trafficking
    victim who is a potential witness: every criterion met. Each keyword
    replaces one top-level section (None removes it)."""
    data: dict[str, Any] = {
        "as_of": AS_OF,
        "requester": {"agency_level": "federal", "federal_partner_engaged": None},
        "person": {"citizenship": "noncitizen", "age_estimate": 30},
        "exploitation": {
            "commercial_sex_act": False,
            "labor_or_services": True,
            "means": ["force"],
            "purpose": ["peonage"],
            "under_18_at_time": False,
        },
        "witness": {"potential_witness": True, "civil_action_1595_filed": False},
    }
    for key, value in overrides.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def run(data: dict[str, Any]) -> Determination:
    facts: Facts = parse_facts(data)
    return determine(facts)


def criterion(d: Determination, criterion_id: str) -> tuple[str, str]:
    """(status, explanation) of one criterion."""
    (found,) = [c for c in d.criteria if c.id == criterion_id]
    return found.status, found.explanation


def action_ids(d: Determination) -> list[str]:
    return [a.id for a in d.actions]
