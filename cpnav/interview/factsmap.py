"""The policy engine's facts as expression types, for checking a ``facts:`` mapping.

Each target (``exploitation.means``) is looked up in ``cpnav.policy.facts.Facts``
and its annotation turned into the expression type it accepts, so mapping a
yes/no question straight into a boolean fact, or a choice with a value the
policy engine does not know, fails when the definition loads rather than when a
case reaches ``parse_facts``.
"""

from __future__ import annotations

import types
from datetime import date
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

from cpnav.interview.exprtypes import BOOL, DATE, NUM, STR, Ty
from cpnav.interview.yamlsource import inner_model
from cpnav.policy.facts import Facts


def fact_type(path: str) -> Ty | None:
    model: type[BaseModel] | None = Facts
    parts = path.split(".")
    for i, part in enumerate(parts):
        field = model.model_fields.get(part) if model else None
        if field is None:
            return None
        if i < len(parts) - 1:
            model = inner_model(field.annotation)
            continue
        if inner_model(field.annotation) is not None:
            return None  # a whole object, not one fact
        return _annotation_type(field.annotation)
    return None


def _annotation_type(annotation: Any) -> Ty:
    origin = get_origin(annotation)
    args = [a for a in get_args(annotation) if a is not type(None)]
    if origin is Union or origin is types.UnionType:
        return _annotation_type(args[0]) if len(args) == 1 else Ty("any")
    if origin is Annotated:
        return _annotation_type(args[0])
    if origin is Literal:
        return Ty("str", frozenset(str(a) for a in args))
    if origin is list:
        return Ty("list", item=_annotation_type(args[0]))
    simple: dict[object, Ty] = {bool: BOOL, int: NUM, date: DATE, str: STR}
    return simple.get(annotation, Ty("any"))


def assignable(value: Ty, field: Ty) -> str | None:
    """Why a value of type ``value`` cannot go into a fact of type ``field``."""
    if value.kind in ("any", "null") or field.kind == "any":
        return None
    if value.kind != field.kind:
        hint = " (use tri(...) for a yes/no/unknown answer)" if field.kind == "bool" else ""
        return f"needs {field.describe()}, but this is {value.describe()}{hint}"
    if field.kind == "list":
        problem = assignable(value.item or Ty("any"), field.item or Ty("any"))
        return f"holds items that {problem}" if problem else None
    if field.kind == "str" and field.values is not None:
        if value.values is None:
            return f"takes only {field.describe()}, but this could be any text"
        stray = value.values - field.values
        if stray:
            return f"takes only {field.describe()}, but this can be " + ", ".join(
                f'"{v}"' for v in sorted(stray)
            )
    return None
