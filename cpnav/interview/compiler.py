"""Type-check expression trees and compile them into Python closures.

Compilation happens once, when a definition is loaded; evaluating a condition
afterwards is a handful of closure calls over a dict of values, which is what
keeps ``next_question`` far below a millisecond.

Values are three-valued where it matters: a missing answer is ``None``
(null); a comparison involving null is false rather than an error; ``and`` /
``or`` follow Kleene logic and stop as soon as the result is settled; ``not
null`` is null. A condition holds only when it evaluates to exactly ``true``.

The light type check catches the author's likely mistakes at load time:
comparing a yes/no question with "Yes", a choice with a value it does not
offer, a date with a string, or ``== null`` (always false; ``answered()`` is
what was meant).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from typing import Any, Final

from cpnav.interview.errors import ExpressionError
from cpnav.interview.expressions import (
    BoolOp,
    Call,
    Compare,
    Const,
    ListExpr,
    Name,
    Node,
    Not,
    parse,
)
from cpnav.interview.exprtypes import (
    ANY,
    BOOL,
    KIND_WORDS,
    NULL,
    Compiled,
    Env,
    Fn,
    Kind,
    Ty,
    const,
    const_type,
    join,
    union,
)
from cpnav.interview.functions import FUNCTIONS


def compile_expression(source: str, scope: Mapping[str, Ty]) -> Compiled:
    """Parse and compile ``source``; names must be keys of ``scope``."""
    return Compiler(source, scope).compile(parse(source))


def _lt(a: Any, b: Any) -> bool:
    return bool(a < b)


def _le(a: Any, b: Any) -> bool:
    return bool(a <= b)


def _gt(a: Any, b: Any) -> bool:
    return bool(a > b)


def _ge(a: Any, b: Any) -> bool:
    return bool(a >= b)


_ORDERINGS: Final[dict[str, Callable[[Any, Any], bool]]] = {
    "<": _lt,
    "<=": _le,
    ">": _gt,
    ">=": _ge,
}


class Compiler:
    def __init__(self, source: str, scope: Mapping[str, Ty]) -> None:
        self.source = source
        self.scope = scope

    def error(self, message: str, node: Node) -> ExpressionError:
        return ExpressionError(message, self.source, node.pos)

    def compile(self, node: Node) -> Compiled:
        if isinstance(node, Const):
            return const(node.value, const_type(node.value))
        if isinstance(node, Name):
            return self.name(node)
        if isinstance(node, ListExpr):
            return self.list_expr(node)
        if isinstance(node, Not):
            return self.not_expr(node)
        if isinstance(node, BoolOp):
            return self.bool_op(node)
        if isinstance(node, Compare):
            return self.compare(node)
        return self.call(node)

    # -- names, lists, logic ---------------------------------------------------

    def name(self, node: Name) -> Compiled:
        ty = self.scope.get(node.name)
        if ty is None:
            close = difflib.get_close_matches(node.name, list(self.scope), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise self.error(f"unknown name '{node.name}'{hint}", node)
        key = node.name

        def lookup(env: Env, today: date) -> Any:
            return env[key]

        return Compiled(lookup, ty, frozenset({key}), key=key)

    def list_expr(self, node: ListExpr) -> Compiled:
        items = [self.compile(item) for item in node.items]
        item_ty = NULL
        for item in items:
            item_ty = join(item_ty, item.ty)
        ty = Ty("list", item=ANY if item_ty.kind == "null" else item_ty)
        names = union(c.names for c in items)
        if all(c.const for c in items):
            return const(tuple(c.fn({}, date.min) for c in items), ty)
        fns = tuple(c.fn for c in items)

        def build(env: Env, today: date) -> list[Any]:
            return [f(env, today) for f in fns]

        return Compiled(build, ty, names)

    def boolean(self, node: Node, context: str) -> Compiled:
        compiled = self.compile(node)
        if compiled.ty.kind not in ("bool", "any", "null"):
            hint = ""
            if compiled.ty.values is not None and "yes" in compiled.ty.values:
                hint = "; use yes(...) or no(...) for a yes/no question"
            raise self.error(
                f"{context} needs true/false, but this is {compiled.ty.describe()}{hint}", node
            )
        return compiled

    def not_expr(self, node: Not) -> Compiled:
        compiled = self.boolean(node.operand, "'not'")
        operand = compiled.fn

        def negate(env: Env, today: date) -> bool | None:
            value = operand(env, today)
            return None if value is None else not value

        return Compiled(negate, BOOL, compiled.names)

    def bool_op(self, node: BoolOp) -> Compiled:
        parts = [self.boolean(operand, f"'{node.op}'") for operand in node.operands]
        fns = tuple(p.fn for p in parts)
        names = union(p.names for p in parts)
        # Kleene logic with short-circuit: stop at the first value that settles
        # the result (false for 'and', true for 'or'); null only if none does.
        settle = node.op == "or"
        if len(fns) == 2:
            return Compiled(_pair(fns[0], fns[1], settle), BOOL, names)

        def combine(env: Env, today: date) -> bool | None:
            unknown = False
            for fn in fns:
                value = fn(env, today)
                if value is None:
                    unknown = True
                elif bool(value) is settle:
                    return settle
            return None if unknown else not settle

        return Compiled(combine, BOOL, names)

    # -- comparisons -------------------------------------------------------------

    def compare(self, node: Compare) -> Compiled:
        left, right = self.compile(node.left), self.compile(node.right)
        for side, other in ((node.left, left), (node.right, right)):
            if other.ty.kind == "null":
                raise self.error(
                    "comparing with null is always false; use answered(...) to check for an answer",
                    side,
                )
        names = left.names | right.names
        op = node.op
        if op in ("in", "not in"):
            return self.membership(node, left, right, names)
        if op in ("==", "!="):
            self.check_comparable(node, left.ty, right.ty)
            self.check_overlap(node, left.ty, right.ty)
        else:
            self.check_ordered(node, left.ty, right.ty)
        return Compiled(_comparison(op, left, right), BOOL, names)

    def check_comparable(self, node: Compare, a: Ty, b: Ty) -> None:
        if "any" in (a.kind, b.kind) or a.kind == b.kind:
            return
        hint = ""
        if "date" in (a.kind, b.kind) and "str" in (a.kind, b.kind):
            hint = '; write a date as date("YYYY-MM-DD")'
        raise self.error(f"cannot compare {a.describe()} with {b.describe()}{hint}", node)

    def check_ordered(self, node: Compare, a: Ty, b: Ty) -> None:
        self.check_comparable(node, a, b)
        kind = b.kind if a.kind == "any" else a.kind
        if kind not in ("num", "date", "str", "any"):
            raise self.error(f"'{node.op}' needs numbers or dates, not {a.describe()}", node)

    def check_overlap(self, node: Compare, a: Ty, b: Ty) -> None:
        if a.values is not None and b.values is not None and not a.values & b.values:
            raise self.error(
                f"this compares {a.describe()} with {b.describe()}, which never match", node
            )

    def membership(
        self, node: Compare, left: Compiled, right: Compiled, names: frozenset[str]
    ) -> Compiled:
        if right.ty.kind not in ("list", "any"):
            raise self.error(
                f"'{node.op}' needs a list on the right, not {right.ty.describe()}", node
            )
        item = right.ty.item or ANY
        self.check_comparable(node, left.ty, item)
        self.check_overlap(node, left.ty, item)
        negate = node.op == "not in"
        lf, rf = left.fn, right.fn
        if right.const:
            items = tuple(right.fn({}, date.min))
            pool = frozenset(items)

            def is_member(value: Any) -> bool:
                if value is None:
                    return False
                try:
                    found = value in pool
                except TypeError:  # a list answer against [[...]]: cannot be hashed
                    found = value in items
                return found is not negate

            key = left.key
            if key is not None:

                def name_member(env: Env, today: date) -> bool:
                    return is_member(env[key])

                return Compiled(name_member, BOOL, names)

            def member_const(env: Env, today: date) -> bool:
                return is_member(lf(env, today))

            return Compiled(member_const, BOOL, names)

        def member(env: Env, today: date) -> bool:
            value, items = lf(env, today), rf(env, today)
            if value is None or items is None:
                return False
            return (value in items) is not negate

        return Compiled(member, BOOL, names)

    # -- functions ---------------------------------------------------------------

    def call(self, node: Call) -> Compiled:
        spec = FUNCTIONS.get(node.function)
        if spec is None:
            close = difflib.get_close_matches(node.function, list(FUNCTIONS), n=1)
            hint = f"; did you mean {close[0]}()?" if close else ""
            raise self.error(f"unknown function '{node.function}'{hint}", node)
        arity, handler = spec
        if len(node.args) != arity:
            plural = "argument" if arity == 1 else "arguments"
            raise self.error(
                f"{node.function}() takes {arity} {plural} ({len(node.args)} given)", node
            )
        return handler(self, node)

    def arg(self, node: Call, index: int, kinds: Iterable[Kind]) -> Compiled:
        arg_node = node.args[index]
        compiled = self.compile(arg_node)
        allowed = set(kinds) | {"any", "null"}
        if compiled.ty.kind not in allowed:
            wanted = " or ".join(KIND_WORDS[k] for k in kinds)
            raise self.error(
                f"{node.function}() needs {wanted}, but this is {compiled.ty.describe()}",
                arg_node,
            )
        return compiled


def _pair(first: Fn, second: Fn, settle: bool) -> Fn:
    """``first and second`` (settle=False) or ``first or second`` (settle=True),
    Kleene-style: the two-operand case, spelled out because it is most common."""

    def pair(env: Env, today: date) -> bool | None:
        a = first(env, today)
        if a is not None and bool(a) is settle:
            return settle
        b = second(env, today)
        if b is not None and bool(b) is settle:
            return settle
        return None if a is None or b is None else not settle

    return pair


def _comparison(op: str, left: Compiled, right: Compiled) -> Fn:
    lf = left.fn
    if op in ("==", "!=") and right.const:
        # The common case (answer == "value"): one closure call, not two.
        constant = right.fn({}, date.min)
        key = left.key
        if key is not None:
            if op == "==":

                def name_equals(env: Env, today: date) -> bool:
                    value = env[key]
                    return value is not None and value == constant

                return name_equals

            def name_differs(env: Env, today: date) -> bool:
                value = env[key]
                return value is not None and value != constant

            return name_differs
        if op == "==":

            def equals_const(env: Env, today: date) -> bool:
                value = lf(env, today)
                return value is not None and value == constant

            return equals_const

        def differs_const(env: Env, today: date) -> bool:
            value = lf(env, today)
            return value is not None and value != constant

        return differs_const

    rf = right.fn
    if op == "==":

        def equals(env: Env, today: date) -> bool:
            a, b = lf(env, today), rf(env, today)
            return a is not None and b is not None and a == b

        return equals
    if op == "!=":

        def differs(env: Env, today: date) -> bool:
            a, b = lf(env, today), rf(env, today)
            return a is not None and b is not None and a != b

        return differs
    order = _ORDERINGS[op]

    def ordered(env: Env, today: date) -> bool:
        a, b = lf(env, today), rf(env, today)
        if a is None or b is None:
            return False
        try:
            return order(a, b)
        except TypeError:
            # Only reachable through values of unchecked type (a people
            # record's field); a comparison that cannot be made is false, as
            # with null, rather than an error in the middle of an interview.
            return False

    return ordered
