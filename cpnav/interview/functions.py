"""The functions expressions may call, each type-checked when compiled.

``answered(x)``, ``age(date)``, ``contains(list, value)``, ``len(x)``,
``any_of(list, [values])``, ``yes(x)``, ``no(x)``, ``tri(x)`` (yes -> true,
no -> false, otherwise null: the policy engine's three values),
``when(cond, value)`` (value if cond is true, else null), ``compact(list)``
(without nulls and repeats), ``only(list, [values])`` (keep those values),
``nonempty(list)`` (null for an empty list), ``date("YYYY-MM-DD")`` and
``today()``. With a null argument a test is false and a value is null, in line
with comparisons.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any, Final, Literal

from cpnav.interview.expressions import Call, Const, Name
from cpnav.interview.exprtypes import ANY, BOOL, DATE, NUM, Compiled, Env, Ty, const, is_in
from cpnav.policy.engine import age_on

if TYPE_CHECKING:
    from cpnav.interview.compiler import Compiler

Handler = Callable[["Compiler", Call], Compiled]


def _answered(c: Compiler, node: Call) -> Compiled:
    target = node.args[0]
    if not isinstance(target, Name):
        raise c.error("answered() takes the id of a question or computed value", target)
    key = c.name(target).names
    (name,) = key

    def answered(env: Env, today: date) -> bool:
        return env[name] is not None

    return Compiled(answered, BOOL, key)


def _age(c: Compiler, node: Call) -> Compiled:
    compiled = c.arg(node, 0, ("date",))
    arg = compiled.fn

    def age(env: Env, today: date) -> int | None:
        born = arg(env, today)
        return None if born is None else age_on(born, today)

    return Compiled(age, NUM, compiled.names)


def _yes_no_arg(c: Compiler, node: Call) -> Compiled:
    compiled = c.arg(node, 0, ("str",))
    values = compiled.ty.values
    if values is not None and not values & {"yes", "no"}:
        raise c.error(
            f"{node.function}() needs a yes/no/unknown answer, but this is {compiled.ty.describe()}",
            node.args[0],
        )
    return compiled


def _yes_no(word: Literal["yes", "no"]) -> Handler:
    def handler(c: Compiler, node: Call) -> Compiled:
        compiled = _yes_no_arg(c, node)
        key = compiled.key
        if key is not None:

            def test_name(env: Env, today: date) -> bool:
                value: object = env[key]
                return value == word

            return Compiled(test_name, BOOL, compiled.names)
        arg = compiled.fn

        def test(env: Env, today: date) -> bool:
            return bool(arg(env, today) == word)

        return Compiled(test, BOOL, compiled.names)

    return handler


def _tri(c: Compiler, node: Call) -> Compiled:
    compiled = _yes_no_arg(c, node)
    arg = compiled.fn

    def tri(env: Env, today: date) -> bool | None:
        value = arg(env, today)
        return True if value == "yes" else False if value == "no" else None

    return Compiled(tri, BOOL, compiled.names)


def _contains(c: Compiler, node: Call) -> Compiled:
    items = c.arg(node, 0, ("list",))
    value = c.compile(node.args[1])
    item_ty = items.ty.item or ANY
    if (
        value.ty.values is not None
        and item_ty.values is not None
        and not value.ty.values & item_ty.values
    ):
        raise c.error(
            f"this list holds {item_ty.describe()}; it never contains {value.ty.describe()}",
            node.args[1],
        )
    lf, vf = items.fn, value.fn

    def contains(env: Env, today: date) -> bool:
        held, wanted = lf(env, today), vf(env, today)
        return held is not None and wanted is not None and wanted in held

    return Compiled(contains, BOOL, items.names | value.names)


def _any_of(c: Compiler, node: Call) -> Compiled:
    items = c.arg(node, 0, ("list",))
    options = c.arg(node, 1, ("list",))
    _check_list_overlap(c, node, items.ty, options.ty)
    lf, of = items.fn, options.fn

    def any_of(env: Env, today: date) -> bool:
        held, wanted = lf(env, today), of(env, today)
        if held is None or wanted is None:
            return False
        return any(item in wanted for item in held)

    return Compiled(any_of, BOOL, items.names | options.names)


def _check_list_overlap(c: Compiler, node: Call, items: Ty, options: Ty) -> None:
    held = (items.item or ANY).values
    wanted = (options.item or ANY).values
    if held is not None and wanted is not None and not wanted <= held:
        stray = ", ".join(f'"{v}"' for v in sorted(wanted - held))
        raise c.error(
            f"{stray} can never be in this list (it holds {(items.item or ANY).describe()})",
            node.args[1],
        )


def _len(c: Compiler, node: Call) -> Compiled:
    arg = c.arg(node, 0, ("list", "str"))
    fn = arg.fn

    def length(env: Env, today: date) -> int:
        value = fn(env, today)
        return 0 if value is None else len(value)

    return Compiled(length, NUM, arg.names)


def _when(c: Compiler, node: Call) -> Compiled:
    cond = c.boolean(node.args[0], "when()")
    value = c.compile(node.args[1])
    cf, vf = cond.fn, value.fn

    def when(env: Env, today: date) -> Any:
        return vf(env, today) if cf(env, today) is True else None

    return Compiled(when, value.ty, cond.names | value.names)


def _compact(c: Compiler, node: Call) -> Compiled:
    arg = c.arg(node, 0, ("list",))
    fn = arg.fn

    def compact(env: Env, today: date) -> list[Any] | None:
        items = fn(env, today)
        if items is None:
            return None
        out: list[Any] = []
        for item in items:
            if item is not None and item not in out:
                out.append(item)
        return out

    return Compiled(compact, arg.ty if arg.ty.kind == "list" else Ty("list", item=ANY), arg.names)


def _only(c: Compiler, node: Call) -> Compiled:
    items = c.arg(node, 0, ("list",))
    options = c.arg(node, 1, ("list",))
    if not options.const:
        raise c.error('only() takes a list of values written out, like ["a", "b"]', node.args[1])
    _check_list_overlap(c, node, items.ty, options.ty)
    kept = tuple(options.fn({}, date.min))
    keep = frozenset(kept)
    fn = items.fn
    item_ty = options.ty.item or ANY

    def only(env: Env, today: date) -> list[Any] | None:
        held = fn(env, today)
        return None if held is None else [item for item in held if is_in(item, keep, kept)]

    return Compiled(only, Ty("list", item=item_ty), items.names)


def _nonempty(c: Compiler, node: Call) -> Compiled:
    arg = c.arg(node, 0, ("list",))
    fn = arg.fn

    def nonempty(env: Env, today: date) -> Any:
        value = fn(env, today)
        return value if value else None

    return Compiled(nonempty, arg.ty, arg.names)


def _date(c: Compiler, node: Call) -> Compiled:
    arg = node.args[0]
    if not (isinstance(arg, Const) and isinstance(arg.value, str)):
        raise c.error('date() takes a date written as "YYYY-MM-DD"', arg)
    try:
        value = date.fromisoformat(arg.value)
    except ValueError:
        raise c.error(f'not a date: "{arg.value}" (write "YYYY-MM-DD")', arg) from None
    if len(arg.value) != 10:
        raise c.error(f'write the date as "YYYY-MM-DD", not "{arg.value}"', arg)
    return const(value, DATE)


def _today(c: Compiler, node: Call) -> Compiled:
    def today_(env: Env, today: date) -> date:
        return today

    return Compiled(today_, DATE, frozenset())


FUNCTIONS: Final[dict[str, tuple[int, Handler]]] = {
    "answered": (1, _answered),
    "age": (1, _age),
    "contains": (2, _contains),
    "len": (1, _len),
    "any_of": (2, _any_of),
    "yes": (1, _yes_no("yes")),
    "no": (1, _yes_no("no")),
    "tri": (1, _tri),
    "when": (2, _when),
    "compact": (1, _compact),
    "only": (2, _only),
    "nonempty": (1, _nonempty),
    "date": (1, _date),
    "today": (0, _today),
}
