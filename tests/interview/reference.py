"""A slow, obviously-correct model of the engine, used as a test oracle.

It walks the expression tree directly (no compilation, no short-circuit) and
defines relevance by recursion (a question's value is its answer if its
condition holds), with no notion of question order or evaluation schedule.
If the compiled engine, the loader's ordering rules or the schedule of
computed values were wrong, its results would differ from these.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from cpnav.interview import Interview
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


def whole_years(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def evaluate(node: Node, lookup: Any, today: date) -> Any:
    def ev(n: Node) -> Any:
        return evaluate(n, lookup, today)

    if isinstance(node, Const):
        return node.value
    if isinstance(node, Name):
        return lookup(node.name)
    if isinstance(node, ListExpr):
        return [ev(item) for item in node.items]
    if isinstance(node, Not):
        value = ev(node.operand)
        return None if value is None else not value
    if isinstance(node, BoolOp):
        values = [ev(operand) for operand in node.operands]
        decisive = node.op == "or"  # true settles 'or', false settles 'and'
        if any(v is decisive for v in values):
            return decisive
        if any(v is None for v in values):
            return None
        return not decisive
    if isinstance(node, Compare):
        left, right = ev(node.left), ev(node.right)
        if left is None or right is None:
            return False
        if node.op == "in":
            return left in right
        if node.op == "not in":
            return left not in right
        return {
            "==": left == right,
            "!=": left != right,
            "<": left < right,
            "<=": left <= right,
            ">": left > right,
            ">=": left >= right,
        }[node.op]
    assert isinstance(node, Call)
    return _call(node, [ev(arg) for arg in node.args], lookup, today)


def _call(node: Call, args: list[Any], lookup: Any, today: date) -> Any:
    name = node.function
    if name == "answered":
        target = node.args[0]
        assert isinstance(target, Name)
        return lookup(target.name) is not None
    if name == "today":
        return today
    (first, *rest) = args
    if name == "age":
        return None if first is None else whole_years(first, today)
    if name == "yes":
        return first == "yes"
    if name == "no":
        return first == "no"
    if name == "tri":
        return {"yes": True, "no": False}.get(first) if isinstance(first, str) else None
    if name == "len":
        return 0 if first is None else len(first)
    if name == "date":
        return date.fromisoformat(first)
    if name == "compact":
        if first is None:
            return None
        out: list[Any] = []
        for item in first:
            if item is not None and item not in out:
                out.append(item)
        return out
    if name == "nonempty":
        return first or None
    second = rest[0]
    if name == "contains":
        return first is not None and second is not None and second in first
    if name == "any_of":
        return first is not None and second is not None and any(x in second for x in first)
    if name == "when":
        return second if first is True else None
    if name == "only":
        return None if first is None else [x for x in first if x in second]
    raise AssertionError(f"reference has no function {name}")


@dataclass
class Expected:
    next_question: str | None
    relevant: set[str]
    irrelevant: frozenset[str]
    computed: dict[str, Any]
    facts: dict[str, Any]


def expected(interview: Interview, answers: Mapping[str, Any], today: date) -> Expected:
    questions = {q.id: q for q in interview.questions}
    conditions = {q.id: parse(q.condition) for q in interview.questions if q.condition}
    computed = {name: parse(source) for name, source in interview.computed.items()}

    @functools.cache
    def relevant(qid: str) -> bool:
        condition = conditions.get(qid)
        return condition is None or evaluate(condition, value, today) is True

    @functools.cache
    def value(name: str) -> Any:
        if name in computed:
            return evaluate(computed[name], value, today)
        if not relevant(name):
            return None
        stored = answers.get(name)
        if stored is not None and questions[name].type == "date":
            return date.fromisoformat(stored)
        return stored

    def done(qid: str) -> bool:
        return qid in answers and (answers[qid] is not None or not questions[qid].required)

    next_id = next((q for q in questions if relevant(q) and not done(q)), None)
    facts: dict[str, Any] = {}
    for path, source in interview.facts.items():
        result = evaluate(parse(source), value, today)
        if result is None:
            continue
        *parents, leaf = path.split(".")
        node = facts
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = result.isoformat() if isinstance(result, date) else result
    facts.setdefault("as_of", today.isoformat())
    return Expected(
        next_question=next_id,
        relevant={q for q in questions if relevant(q)},
        irrelevant=frozenset(
            q for q in questions if not relevant(q) and answers.get(q) is not None
        ),
        computed={name: value(name) for name in computed},
        facts=facts,
    )
