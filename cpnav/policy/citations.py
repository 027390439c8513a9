"""The legal and official sources the engine cites, loaded from ``rules/citations.toml``.

Citations live in data so that a renumbered paragraph or a moved page is fixed
in one reviewed file, not hunted down across explanation strings.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cpnav.policy._data import RULES_DIR, PolicyDataError, load_toml

CITATIONS_FILE = RULES_DIR / "citations.toml"

_ID_PATTERN = r"^[a-z][a-z0-9_]*$"


class Citation(BaseModel):
    """One citable source: a statute, regulation, or official publication."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=_ID_PATTERN, description="Stable key used by rule and text files.")
    label: str = Field(
        min_length=1,
        description='Short label shown to users, e.g. "22 U.S.C. 7105(c)(3)".',
    )
    url: str | None = Field(
        default=None,
        pattern=r"^https?://\S+$",
        description="Public address, only where one is known to exist.",
    )
    verified: str | None = Field(
        default=None,
        description="How the label (especially a paragraph number) was checked, or what is unconfirmed.",
    )


class _CitationsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    citation: list[Citation] = Field(min_length=1)

    @field_validator("citation")
    @classmethod
    def _unique_ids(cls, value: list[Citation]) -> list[Citation]:
        seen: set[str] = set()
        for item in value:
            if item.id in seen:
                raise ValueError(f"duplicate citation id {item.id!r}")
            seen.add(item.id)
        return value


def load_citations(path: Path) -> Mapping[str, Citation]:
    """Load and validate a citations file; raises PolicyDataError naming the file."""
    parsed = load_toml(path, _CitationsFile)
    return MappingProxyType({c.id: c for c in parsed.citation})


@functools.cache
def citations() -> Mapping[str, Citation]:
    """All shipped citations by id (loaded once per process)."""
    return load_citations(CITATIONS_FILE)


def resolve(
    ids: list[str] | tuple[str, ...], known: Mapping[str, Citation], *, where: str
) -> tuple[Citation, ...]:
    """Map citation ids to Citation objects, failing loudly on an unknown id."""
    missing = [i for i in ids if i not in known]
    if missing:
        raise PolicyDataError(
            f"{where}: unknown citation id(s) {', '.join(missing)} (not in {CITATIONS_FILE.name})"
        )
    return tuple(known[i] for i in ids)
