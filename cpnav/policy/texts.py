"""Explanation texts for criteria and actions, loaded from ``rules/explanations.toml``.

The texts are ours (plain English, never pasted from a source) and sit in data
beside their citations so a reviewer can read and correct them in one place.
The set of keys is fixed by the engine: a missing or misspelt entry fails at
load time instead of producing an empty explanation.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from pydantic import BaseModel, ConfigDict, Field

from cpnav.policy._data import RULES_DIR, PolicyDataError, load_toml
from cpnav.policy.citations import Citation, citations, resolve

EXPLANATIONS_FILE = RULES_DIR / "explanations.toml"

# (id, variant) pairs the engine looks up; the file must define exactly these.
CRITERIA_VARIANTS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "noncitizen": frozenset({"met", "not_met", "unknown"}),
        "severe_form": frozenset({"met", "not_met", "unknown"}),
        "witness_or_civil_action": frozenset(
            {"met_witness", "met_civil_action", "not_met", "unknown"}
        ),
    }
)
ACTION_VARIANTS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "notify_hhs_within_24h": frozenset({"default"}),
        "request_continued_presence": frozenset(
            {"federal_direct", "through_federal_partner", "requester_unknown"}
        ),
        "find_federal_partner": frozenset({"default"}),
        "request_deferred_action_pending_interview": frozenset({"default"}),
        "refer_to_victim_services": frozenset({"default"}),
        "refer_to_direct_services": frozenset({"default"}),
        "refer_to_immigration_counsel_t_visa": frozenset({"default"}),
    }
)


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1)
    citations: list[str] = Field(min_length=1)


class _ExplanationsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    criteria: dict[str, dict[str, _Entry]]
    actions: dict[str, dict[str, _Entry]]


@dataclass(frozen=True)
class Text:
    """One explanation with its citations already resolved."""

    text: str
    citations: tuple[Citation, ...]

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(c.label for c in self.citations)


@dataclass(frozen=True)
class Texts:
    criteria: Mapping[tuple[str, str], Text]
    actions: Mapping[tuple[str, str], Text]


def _check_keys(
    path: Path,
    section: str,
    found: dict[str, dict[str, _Entry]],
    wanted: Mapping[str, frozenset[str]],
) -> None:
    problems: list[str] = []
    for key in sorted(set(found) - set(wanted)):
        problems.append(f"{section}.{key}: not used by the engine (typo?)")
    for key in sorted(wanted):
        have = set(found.get(key, {}))
        for variant in sorted(wanted[key] - have):
            problems.append(f"{section}.{key}.{variant}: missing")
        for variant in sorted(have - wanted[key]):
            problems.append(f"{section}.{key}.{variant}: not used by the engine (typo?)")
    if problems:
        raise PolicyDataError(f"{path}: " + "; ".join(problems))


def _resolve_section(
    path: Path,
    section: str,
    found: dict[str, dict[str, _Entry]],
    known: Mapping[str, Citation],
) -> Mapping[tuple[str, str], Text]:
    out: dict[tuple[str, str], Text] = {}
    for key, variants in found.items():
        for variant, entry in variants.items():
            where = f"{path}: {section}.{key}.{variant}"
            out[(key, variant)] = Text(
                entry.text.strip(), resolve(entry.citations, known, where=where)
            )
    return MappingProxyType(out)


def load_texts(path: Path, known_citations: Mapping[str, Citation] | None = None) -> Texts:
    """Load and check an explanations file; PolicyDataError names the file and entry."""
    known = citations() if known_citations is None else known_citations
    parsed = load_toml(path, _ExplanationsFile)
    _check_keys(path, "criteria", parsed.criteria, CRITERIA_VARIANTS)
    _check_keys(path, "actions", parsed.actions, ACTION_VARIANTS)
    return Texts(
        criteria=_resolve_section(path, "criteria", parsed.criteria, known),
        actions=_resolve_section(path, "actions", parsed.actions, known),
    )


@functools.cache
def texts() -> Texts:
    """The shipped explanation texts (loaded once per process)."""
    return load_texts(EXPLANATIONS_FILE)
