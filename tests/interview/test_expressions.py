"""The expression language: tokenizer, parser, type checks and evaluation."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from cpnav.interview import ExpressionError
from cpnav.interview.compiler import compile_expression
from cpnav.interview.expressions import BoolOp, Compare, Const, Name, Not, parse, tokenize
from cpnav.interview.exprtypes import DATE, NUM, STR, YES_NO_UNKNOWN, Ty

from .helpers import TODAY

CHOICES = Ty("str", frozenset({"noncitizen", "us_citizen", "unknown"}))
SCOPE: dict[str, Ty] = {
    "a": YES_NO_UNKNOWN,
    "b": YES_NO_UNKNOWN,
    "n": NUM,
    "d": DATE,
    "t": STR,
    "c": CHOICES,
    "m": Ty("list", item=Ty("str", frozenset({"x", "y", "z"}))),
    "flag": Ty("bool"),
}
NULLS: dict[str, Any] = dict.fromkeys(SCOPE)


def ev(source: str, today: date = TODAY, **values: Any) -> Any:
    env = {**NULLS, **values}
    return compile_expression(source, SCOPE).fn(env, today)


def error(source: str) -> ExpressionError:
    with pytest.raises(ExpressionError) as info:
        compile_expression(source, SCOPE)
    return info.value


# ---- tokenizer and parser ---------------------------------------------------


def test_tokens_carry_positions() -> None:
    tokens = tokenize('age(d) >= 18 and c == "us_citizen"')
    assert [(t.kind, t.text, t.pos) for t in tokens] == [
        ("name", "age", 0),
        ("op", "(", 3),
        ("name", "d", 4),
        ("op", ")", 5),
        ("op", ">=", 7),
        ("number", "18", 10),
        ("name", "and", 13),
        ("name", "c", 17),
        ("op", "==", 19),
        ("string", "us_citizen", 22),
        ("end", "", 34),
    ]


def test_strings_take_either_quote_and_escapes() -> None:
    assert [t.text for t in tokenize("'it''s' \"say \\\"hi\\\"\"")[:-1]] == ["it", "s", 'say "hi"']


def test_and_binds_tighter_than_or() -> None:
    tree = parse("flag or flag and flag")
    assert isinstance(tree, BoolOp)
    assert tree.op == "or"
    assert isinstance(tree.operands[1], BoolOp)
    assert tree.operands[1].op == "and"
    assert ev("true or false and false") is True
    assert ev("(true or false) and false") is False


def test_not_binds_looser_than_comparison_and_tighter_than_and() -> None:
    tree = parse("not n > 3 and flag")
    assert isinstance(tree, BoolOp)
    assert tree.op == "and"
    assert isinstance(tree.operands[0], Not)
    assert isinstance(tree.operands[0].operand, Compare)
    assert ev("not n > 3", n=5) is False
    assert ev("not true or true") is True
    assert ev("not (true or true)") is False


def test_not_in_is_one_operator() -> None:
    tree = parse('c not in ["unknown"]')
    assert isinstance(tree, Compare)
    assert tree.op == "not in"
    assert isinstance(tree.left, Name)
    assert tree.left.name == "c"


def test_negative_numbers_and_decimals() -> None:
    tree = parse("-3")
    assert isinstance(tree, Const)
    assert tree.value == -3
    assert ev("n > -1.5", n=0) is True


@pytest.mark.parametrize(
    ("source", "position", "words"),
    [
        ("a = 1", 2, "use =="),
        ("a && b", 2, "use 'and'"),
        ("(n > 1", 6, "expected ')'"),
        ('"open', 0, "unterminated string"),
        ("n > ", 4, "expected a value"),
        ("1 < n < 3", 6, "do not chain"),
        ("yes(a) yes(b)", 7, "unexpected 'yes'"),
        ("", 0, "empty expression"),
        ("and", 0, "expected a value"),
        ("[1, 2", 5, "expected ']'"),
        ("n @ 2", 2, "unexpected character '@'"),
    ],
)
def test_syntax_errors_point_at_the_problem(source: str, position: int, words: str) -> None:
    exc = error(source)
    assert exc.position == position
    assert words in exc.message
    assert f"column {position + 1}" in str(exc)
    assert exc.pointer().splitlines()[1].index("^") == 4 + position


# ---- evaluation -------------------------------------------------------------


def test_literals() -> None:
    assert ev("true") is True
    assert ev('"x"') == "x"
    assert ev('date("2021-07-30")') == date(2021, 7, 30)
    assert ev("today()", today=date(2030, 1, 2)) == date(2030, 1, 2)
    assert ev("[1, 2]") == (1, 2)


def test_comparisons() -> None:
    assert ev('a == "yes"', a="yes") is True
    assert ev('a != "yes"', a="no") is True
    assert ev("n >= 18", n=18) is True
    assert ev("n < 18", n=18) is False
    assert ev('d < date("2000-01-01")', d=date(1999, 12, 31)) is True
    assert ev('c in ["noncitizen", "unknown"]', c="unknown") is True
    assert ev('c not in ["noncitizen", "unknown"]', c="us_citizen") is True
    assert ev('"x" in m', m=["x"]) is True


def test_comparisons_with_null_are_false_not_errors() -> None:
    for source in ('a == "yes"', 'a != "yes"', "n < 3", "n >= 3", 'c in ["unknown"]'):
        assert ev(source) is False, source
    assert ev('c not in ["unknown"]') is False
    assert ev("not n > 3") is True  # the comparison is false, so its negation holds


def test_kleene_logic_and_short_circuit() -> None:
    assert ev("tri(a) and true") is None
    assert ev("tri(a) and false") is False
    assert ev("tri(a) or true") is True
    assert ev("tri(a) or false") is None
    assert ev("not tri(a)") is None
    assert ev("tri(a) and tri(b) and false") is False
    assert ev("tri(a) or tri(b) or true") is True
    # The second operand reads a name missing from the values: evaluating it
    # would raise, so these only pass if evaluation stops early.
    stop_and = compile_expression("false and flag", SCOPE).fn
    stop_or = compile_expression("true or flag", SCOPE).fn
    stop_three = compile_expression("false and flag and flag", SCOPE).fn
    assert stop_and({}, TODAY) is False
    assert stop_or({}, TODAY) is True
    assert stop_three({}, TODAY) is False
    with pytest.raises(KeyError):
        compile_expression("true and flag", SCOPE).fn({}, TODAY)


def test_functions() -> None:
    assert ev("answered(a)", a="unknown") is True
    assert ev("answered(a)") is False
    assert ev("age(d)", d=date(2007, 6, 2)) == 17
    assert ev("age(d)", d=date(2007, 6, 1)) == 18
    assert ev("age(d)") is None
    assert ev('contains(m, "y")', m=["x", "y"]) is True
    assert ev('contains(m, "z")', m=["x"]) is False
    assert ev('contains(m, "x")') is False
    assert ev("len(m)", m=["x", "y"]) == 2
    assert ev("len(m)") == 0
    assert ev("len(t)", t="abc") == 3
    assert ev('any_of(m, ["y", "z"])', m=["x", "z"]) is True
    assert ev('any_of(m, ["y"])', m=["x"]) is False
    assert ev('any_of(m, ["y"])') is False
    assert ev("yes(a)", a="yes") is True
    assert ev("yes(a)", a="unknown") is False
    assert ev("no(a)", a="no") is True
    assert ev("no(a)") is False
    assert [ev("tri(a)", a=v) for v in ("yes", "no", "unknown", None)] == [True, False, None, None]
    assert ev('when(flag, "x")', flag=True) == "x"
    assert ev('when(flag, "x")', flag=None) is None
    assert ev('compact([when(flag, "x"), "y", "y", null])', flag=False) == ["y"]
    assert ev('only(m, ["x", "z"])', m=["z", "y", "x"]) == ["z", "x"]
    assert ev('only(m, ["x"])') is None
    assert ev("nonempty(m)", m=[]) is None
    assert ev("nonempty(m)", m=["x"]) == ["x"]


def test_age_of_a_leap_day_birthday() -> None:
    # Born 29 Feb: 18 is reached on 1 March in a common year, never a day early.
    born = date(2008, 2, 29)
    assert ev("age(d)", today=date(2026, 2, 28), d=born) == 17
    assert ev("age(d)", today=date(2026, 3, 1), d=born) == 18


# ---- type and name errors -----------------------------------------------------


@pytest.mark.parametrize(
    ("source", "position", "words"),
    [
        ("x == 1", 0, "unknown name 'x'"),
        ("flg", 0, "did you mean 'flag'"),
        ("ag(d)", 0, "did you mean age()"),
        ("frobnicate(a)", 0, "unknown function 'frobnicate'"),
        ("yes(a, b)", 0, "takes 1 argument (2 given)"),
        ("contains(m)", 0, "takes 2 arguments (1 given)"),
        ("today(1)", 0, "takes 0 arguments"),
        ('a == "Yes"', 2, "never match"),
        ('c == "citizen"', 2, "never match"),
        ('contains(m, "w")', 12, "never contains"),
        ('any_of(m, ["x", "w"])', 10, '"w" can never be in this list'),
        ("a and flag", 0, "use yes(...) or no(...)"),
        ("n == null", 5, "use answered"),
        ("age(a)", 4, "age() needs a date"),
        ('d < "2020-01-01"', 2, 'date("YYYY-MM-DD")'),
        ("n in 3", 2, "needs a list"),
        ("answered(1)", 9, "takes the id"),
        ('date("2021-02-30")', 5, "not a date"),
        ("date(t)", 5, 'written as "YYYY-MM-DD"'),
        ("yes(c)", 4, "needs a yes/no/unknown answer"),
        ("only(m, m)", 8, "list of values written out"),
    ],
)
def test_meaningless_expressions_are_refused(source: str, position: int, words: str) -> None:
    exc = error(source)
    assert words in exc.message
    assert exc.position == position


def test_compiled_expressions_report_what_they_read() -> None:
    compiled = compile_expression('yes(a) or (answered(n) and contains(m, "x"))', SCOPE)
    assert compiled.names == frozenset({"a", "n", "m"})
    assert compile_expression('date("2020-01-01")', SCOPE).names == frozenset()
