"""Reading NIEM documents back in tests."""

from __future__ import annotations

import json
from typing import Any

from lxml import etree

from cpnav.cases.models import CPRequest, Person
from cpnav.niem import schema

SECRET_FIELDS = ("full_name", "date_of_birth", "a_number", "contact", "safe_contact")


def secrets(person: Person, cp: CPRequest | None = None) -> list[str]:
    """The identifying values a redacted document must not hold."""
    values = [str(getattr(person, name)) for name in SECRET_FIELDS if getattr(person, name)]
    values += [str(alias) for alias in person.aliases or []]
    if cp is not None and cp.narrative:
        values.append(cp.narrative)
    return values


def valid(content: bytes) -> etree._ElementTree:
    """Parse as an outsider's system would, and check against the subset schemas."""
    tree = schema.parse_untrusted(content)
    assert schema.problems(tree) == []
    return tree


def jsonld(content: bytes) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(content)
    return loaded
