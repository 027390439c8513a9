"""Static types and compiled form of expressions, shared by the compiler and
its built-in functions."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any, Final, Literal

Env = dict[str, Any]
Fn = Callable[[Env, date], Any]
Kind = Literal["bool", "num", "str", "date", "list", "any", "null"]


@dataclass(frozen=True, slots=True)
class Ty:
    """Static type of an expression. ``values``: the only strings a str can be
    (a choice question, a string literal); ``item``: a list's element type."""

    kind: Kind
    values: frozenset[str] | None = None
    item: Ty | None = None

    def describe(self) -> str:
        if self.kind == "list":
            return "a list"
        if self.values is not None:
            quoted = ", ".join(f'"{v}"' for v in sorted(self.values))
            return quoted if len(self.values) == 1 else f"one of {quoted}"
        return KIND_WORDS[self.kind]


KIND_WORDS: Final[dict[Kind, str]] = {
    "bool": "true/false",
    "num": "a number",
    "str": "text",
    "date": "a date",
    "list": "a list",
    "any": "any value",
    "null": "null",
}

ANY: Final = Ty("any")
BOOL: Final = Ty("bool")
NUM: Final = Ty("num")
STR: Final = Ty("str")
DATE: Final = Ty("date")
NULL: Final = Ty("null")
YES_NO_UNKNOWN: Final = Ty("str", frozenset({"yes", "no", "unknown"}))


@dataclass(frozen=True, slots=True)
class Compiled:
    fn: Fn
    ty: Ty
    names: frozenset[str]  # identifiers the expression reads, for dependency checks
    const: bool = False  # fn ignores its inputs (safe to fold)
    # Set when the expression is a bare name: callers then read env[key]
    # directly, one closure call fewer on the hot path of every condition.
    key: str | None = None


def join(a: Ty, b: Ty) -> Ty:
    """The type covering both ``a`` and ``b`` (for list items and when())."""
    if a.kind == "null":
        return b
    if b.kind == "null":
        return a
    if a.kind != b.kind:
        return ANY
    if a.kind == "str":
        values = None if a.values is None or b.values is None else a.values | b.values
        return Ty("str", values)
    if a.kind == "list":
        item = join(a.item or ANY, b.item or ANY)
        return Ty("list", item=item)
    return a


def const(value: Any, ty: Ty) -> Compiled:
    def constant(env: Env, today: date) -> Any:
        return value

    return Compiled(constant, ty, frozenset(), const=True)


def const_type(value: object) -> Ty:
    if value is None:
        return NULL
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, (int, float)):
        return NUM
    assert isinstance(value, str)
    return Ty("str", frozenset({value}))


def union(sets: Iterable[frozenset[str]]) -> frozenset[str]:
    out: frozenset[str] = frozenset()
    for names in sets:
        out |= names
    return out


def is_in(value: Any, pool: frozenset[Any], items: tuple[Any, ...]) -> bool:
    """``value in items``, by hash when it can be: a list answer (``[[...]]`` on the
    right) cannot be hashed, and is then looked for one item at a time."""
    try:
        return value in pool
    except TypeError:
        return value in items
