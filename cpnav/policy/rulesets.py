"""Versioned Continued Presence rule sets, loaded from ``rules/sets/*.toml``.

CP's term changed from 1 to 2 years in 2021 without a published changeover
date, so the term is modelled as data with effective date ranges rather than a
constant: a determination or a term is always computed under the rule set in
force on its own date, and an old grant keeps its old rules.
"""

from __future__ import annotations

import bisect
import functools
import itertools
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cpnav.policy._data import RULES_DIR, PolicyDataError, load_toml
from cpnav.policy.citations import Citation, citations, resolve

RULE_SETS_DIR = RULES_DIR / "sets"

_ID_PATTERN = r"^[a-z0-9][a-z0-9-]*$"


class NoRuleSetError(LookupError):
    """No CP rule set covers the requested date (e.g. before CP existed)."""


def _check_range(effective_from: date, effective_to: date | None) -> None:
    if effective_to is not None and effective_to < effective_from:
        raise ValueError(f"effective_to {effective_to} is before effective_from {effective_from}")


class RuleSet(BaseModel):
    """The CP rules in force over one date range (both ends inclusive)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=_ID_PATTERN)
    effective_from: date
    effective_to: date | None = Field(
        default=None, description="Last day in force; None means still in force."
    )
    term_years: int = Field(ge=1, le=10, description="Length of an initial CP grant.")
    max_extension_years: int = Field(ge=1, le=10, description="Longest single extension.")
    note: str = Field(min_length=1)
    citations: tuple[Citation, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _range_is_ordered(self) -> RuleSet:
        _check_range(self.effective_from, self.effective_to)
        return self

    def covers(self, day: date) -> bool:
        return self.effective_from <= day and (
            self.effective_to is None or day <= self.effective_to
        )


class _RuleSetFile(BaseModel):
    """A rule set as written on disk: citations are ids into citations.toml."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=_ID_PATTERN)
    effective_from: date
    effective_to: date | None = None
    term_years: int = Field(ge=1, le=10)
    max_extension_years: int = Field(ge=1, le=10)
    note: str = Field(min_length=1)
    citations: list[str] = Field(min_length=1)

    @model_validator(mode="after")
    def _range_is_ordered(self) -> _RuleSetFile:
        _check_range(self.effective_from, self.effective_to)
        return self


def load_rule_sets(
    directory: Path, known_citations: Mapping[str, Citation] | None = None
) -> tuple[RuleSet, ...]:
    """Load every ``*.toml`` in ``directory`` and check the set as a whole.

    Across files the ranges must tile time from the first start onwards: no
    overlap, no gap, and only the latest set may be open-ended. Any problem
    raises PolicyDataError naming the file(s).
    """
    known = citations() if known_citations is None else known_citations
    paths = sorted(directory.glob("*.toml"))
    if not paths:
        raise PolicyDataError(f"{directory}: no rule set files (*.toml) found")
    loaded: list[tuple[Path, RuleSet]] = []
    for path in paths:
        raw = load_toml(path, _RuleSetFile)
        fields = raw.model_dump(exclude={"citations"})
        rule_set = RuleSet(**fields, citations=resolve(raw.citations, known, where=str(path)))
        loaded.append((path, rule_set))

    by_id: dict[str, Path] = {}
    for path, rule_set in loaded:
        if rule_set.id in by_id:
            raise PolicyDataError(
                f"{path}: rule set id {rule_set.id!r} is also used by {by_id[rule_set.id]}"
            )
        by_id[rule_set.id] = path

    loaded.sort(key=lambda pair: pair[1].effective_from)
    for (prev_path, prev), (next_path, nxt) in itertools.pairwise(loaded):
        if prev.effective_to is None:
            raise PolicyDataError(
                f"{prev_path}: has no effective_to (open-ended) but {next_path} starts later, on "
                f"{nxt.effective_from}; only the latest rule set may be open-ended (overlap)"
            )
        if nxt.effective_from <= prev.effective_to:
            raise PolicyDataError(
                f"{next_path}: effective_from {nxt.effective_from} overlaps {prev_path}, "
                f"which runs to {prev.effective_to}"
            )
        if nxt.effective_from != prev.effective_to + timedelta(days=1):
            raise PolicyDataError(
                f"{next_path}: effective_from {nxt.effective_from} leaves a gap after {prev_path}, "
                f"which ends {prev.effective_to}; it must start on {prev.effective_to + timedelta(days=1)}"
            )
    return tuple(rule_set for _, rule_set in loaded)


def find_rule_set(sets: Sequence[RuleSet], day: date) -> RuleSet:
    """The rule set in ``sets`` (sorted, contiguous) in force on ``day``."""
    starts = [s.effective_from for s in sets]
    return _find(sets, starts, day)


def _find(sets: Sequence[RuleSet], starts: Sequence[date], day: date) -> RuleSet:
    i = bisect.bisect_right(starts, day) - 1
    if i < 0:
        first = sets[0]
        raise NoRuleSetError(
            f"No Continued Presence rule set is in force on {day.isoformat()}: the earliest "
            f"({first.id}) starts on {first.effective_from.isoformat()}."
        )
    found = sets[i]
    if not found.covers(day):
        raise NoRuleSetError(
            f"No Continued Presence rule set is in force on {day.isoformat()}: the latest "
            f"({found.id}) ended on {found.effective_to}."
        )
    return found


@functools.cache
def rule_sets() -> tuple[RuleSet, ...]:
    """All shipped rule sets, oldest first (loaded and validated once per process)."""
    return load_rule_sets(RULE_SETS_DIR)


@functools.cache
def _starts() -> tuple[date, ...]:
    return tuple(s.effective_from for s in rule_sets())


def rule_set_for(day: date) -> RuleSet:
    """The shipped rule set in force on ``day``; NoRuleSetError if none is."""
    return _find(rule_sets(), _starts(), day)
