"""The expression language of interview definitions: tokenizer, parser and AST.

Conditions, computed values and facts mappings are written in a deliberately
small language and parsed here by hand into a tree. Nothing is ever handed to
Python's ``eval``: definition text is data, and a typo in it must become a
definition error at load time, not arbitrary code at run time.

Grammar (lowest precedence first)::

    expr       := or
    or         := and ("or" and)*
    and        := not ("and" not)*
    not        := "not" not | comparison
    comparison := primary (("==" | "!=" | "<" | "<=" | ">" | ">=" | "in" | "not" "in") primary)?
    primary    := NUMBER | "-" NUMBER | STRING | "true" | "false" | "null"
                | "[" (expr ("," expr)*)? "]"
                | NAME "(" (expr ("," expr)*)? ")"
                | NAME
                | "(" expr ")"

Comparisons do not chain (``a < b < c`` is an error), which keeps the meaning
of every expression obvious to a reader who does not know Python.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal

from cpnav.interview.errors import ExpressionError

KEYWORDS: Final = frozenset({"and", "or", "not", "in", "true", "false", "null"})
COMPARISONS: Final = frozenset({"==", "!=", "<", "<=", ">", ">=", "in", "not in"})

TokenKind = Literal["number", "string", "name", "op", "end"]


@dataclass(frozen=True, slots=True)
class Token:
    kind: TokenKind
    text: str
    pos: int


# Operators longest first so that "<=" is not read as "<" then "=".
_OPERATORS: Final = ("==", "!=", "<=", ">=", "<", ">", "(", ")", "[", "]", ",", "-")
_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER: Final = re.compile(r"\d+(?:\.\d+)?")
# Mistakes people bring from other languages, with the word we use instead.
_HINTS: Final = {
    "=": "use == to compare",
    "&&": "use 'and'",
    "||": "use 'or'",
    "!": "use 'not' (or != to compare)",
    "&": "use 'and'",
    "|": "use 'or'",
}
_ESCAPES: Final = {'"': '"', "'": "'", "\\": "\\", "n": "\n", "t": "\t"}
# Limits that keep a hostile or mistyped expression a definition error rather
# than a RecursionError (deep nesting) or a ValueError (Python refuses to read
# integers of more than 4300 digits). Real conditions nest a few levels deep.
MAX_DEPTH: Final = 32
MAX_NUMBER_DIGITS: Final = 30


def tokenize(source: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(source)
    while i < n:
        ch = source[i]
        if ch in " \t\r\n":
            i += 1
            continue
        if ch in "\"'":
            text, end = _read_string(source, i)
            tokens.append(Token("string", text, i))
            i = end
            continue
        match = _NUMBER.match(source, i)
        if match:
            tokens.append(Token("number", match.group(), i))
            i = match.end()
            continue
        match = _NAME.match(source, i)
        if match:
            tokens.append(Token("name", match.group(), i))
            i = match.end()
            continue
        for op in _OPERATORS:
            if source.startswith(op, i):
                tokens.append(Token("op", op, i))
                i += len(op)
                break
        else:
            two = source[i : i + 2]
            hint = _HINTS.get(two) or _HINTS.get(ch)
            extra = f": {hint}" if hint else ""
            raise ExpressionError(f"unexpected character {ch!r}{extra}", source, i)
    tokens.append(Token("end", "", n))
    return tokens


def _read_string(source: str, start: int) -> tuple[str, int]:
    """Read a quoted string starting at ``start``; return (value, end offset)."""
    quote = source[start]
    out: list[str] = []
    i = start + 1
    while i < len(source):
        ch = source[i]
        if ch == quote:
            return "".join(out), i + 1
        if ch == "\\":
            escaped = _ESCAPES.get(source[i + 1 : i + 2])
            if escaped is None:
                raise ExpressionError("unknown escape in string", source, i)
            out.append(escaped)
            i += 2
            continue
        out.append(ch)
        i += 1
    raise ExpressionError("unterminated string", source, start)


# ---- AST --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Const:
    value: bool | int | float | str | None
    pos: int


@dataclass(frozen=True, slots=True)
class ListExpr:
    items: tuple[Node, ...]
    pos: int


@dataclass(frozen=True, slots=True)
class Name:
    name: str
    pos: int


@dataclass(frozen=True, slots=True)
class Call:
    function: str
    args: tuple[Node, ...]
    pos: int


@dataclass(frozen=True, slots=True)
class Not:
    operand: Node
    pos: int


@dataclass(frozen=True, slots=True)
class BoolOp:
    op: Literal["and", "or"]
    operands: tuple[Node, ...]
    pos: int


@dataclass(frozen=True, slots=True)
class Compare:
    op: str
    left: Node
    right: Node
    pos: int


Node = Const | ListExpr | Name | Call | Not | BoolOp | Compare


# ---- parser -----------------------------------------------------------------


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = tokenize(source)
        self.i = 0
        self.depth = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def error(self, message: str, token: Token | None = None) -> ExpressionError:
        return ExpressionError(message, self.source, (token or self.tok).pos)

    def at(self, kind: TokenKind, text: str | None = None) -> bool:
        tok = self.tok
        return tok.kind == kind and (text is None or tok.text == text)

    def take(self) -> Token:
        tok = self.tok
        self.i += 1
        return tok

    def expect_op(self, text: str, context: str) -> Token:
        if not self.at("op", text):
            raise self.error(f"expected '{text}' {context}, found {_describe(self.tok)}")
        return self.take()

    def parse(self) -> Node:
        if self.at("end"):
            raise self.error("empty expression")
        node = self.or_expr()
        if not self.at("end"):
            raise self.error(f"unexpected {_describe(self.tok)}")
        return node

    def deeper(self) -> None:
        # Every nesting - brackets, list items, call arguments, 'not' - counts.
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"nested more than {MAX_DEPTH} levels deep; simplify the expression")

    def or_expr(self) -> Node:
        self.deeper()
        try:
            return self._bool_chain("or", self.and_expr)
        finally:
            self.depth -= 1

    def and_expr(self) -> Node:
        return self._bool_chain("and", self.not_expr)

    def _bool_chain(self, op: Literal["and", "or"], operand: Callable[[], Node]) -> Node:
        first = operand()
        items = [first]
        while self.at("name", op):
            self.take()
            items.append(operand())
        if len(items) == 1:
            return first
        return BoolOp(op, tuple(items), _pos(first))

    def not_expr(self) -> Node:
        if self.at("name", "not"):
            self.deeper()
            try:
                tok = self.take()
                return Not(self.not_expr(), tok.pos)
            finally:
                self.depth -= 1
        return self.comparison()

    def comparison(self) -> Node:
        left = self.primary()
        op = self._comparison_op()
        if op is None:
            return left
        op_token = self.tokens[self.i - 1]
        right = self.primary()
        if self._comparison_op() is not None:
            raise self.error(
                "comparisons do not chain; join them with 'and'", self.tokens[self.i - 1]
            )
        return Compare(op, left, right, op_token.pos)

    def _comparison_op(self) -> str | None:
        tok = self.tok
        if tok.kind == "op" and tok.text in COMPARISONS:
            self.take()
            return tok.text
        if tok.kind == "name" and tok.text == "in":
            self.take()
            return "in"
        if tok.kind == "name" and tok.text == "not":
            following = self.tokens[self.i + 1]
            if following.kind == "name" and following.text == "in":
                self.i += 2
                return "not in"
        return None

    def primary(self) -> Node:
        tok = self.tok
        if tok.kind == "number":
            return Const(self._number(), tok.pos)
        if tok.kind == "op" and tok.text == "-":
            self.take()
            if not self.at("number"):
                raise self.error("'-' must be followed by a number")
            return Const(-self._number(), tok.pos)
        if tok.kind == "string":
            self.take()
            return Const(tok.text, tok.pos)
        if tok.kind == "op" and tok.text == "(":
            self.take()
            inner = self.or_expr()
            self.expect_op(")", "to close '('")
            return inner
        if tok.kind == "op" and tok.text == "[":
            self.take()
            return ListExpr(self._items("]", "list"), tok.pos)
        if tok.kind == "name":
            return self._name(tok)
        raise self.error(f"expected a value, found {_describe(tok)}")

    def _number(self) -> int | float:
        tok = self.tok
        if len(tok.text) > MAX_NUMBER_DIGITS:
            raise self.error(f"a number of more than {MAX_NUMBER_DIGITS} digits")
        self.take()
        return _number(tok.text)

    def _name(self, tok: Token) -> Node:
        word = tok.text
        if word in ("true", "false"):
            self.take()
            return Const(word == "true", tok.pos)
        if word == "null":
            self.take()
            return Const(None, tok.pos)
        if word in KEYWORDS:
            raise self.error(f"expected a value, found '{word}'")
        self.take()
        if self.at("op", "("):
            self.take()
            return Call(word, self._items(")", f"call to {word}()"), tok.pos)
        return Name(word, tok.pos)

    def _items(self, closer: str, context: str) -> tuple[Node, ...]:
        items: list[Node] = []
        if self.at("op", closer):
            self.take()
            return ()
        while True:
            items.append(self.or_expr())
            if self.at("op", ","):
                self.take()
                continue
            self.expect_op(closer, f"to end the {context}")
            return tuple(items)


def _number(text: str) -> int | float:
    return float(text) if "." in text else int(text)


def _describe(tok: Token) -> str:
    if tok.kind == "end":
        return "the end of the expression"
    if tok.kind == "string":
        return "a string"
    return f"'{tok.text}'"


def _pos(node: Node) -> int:
    return node.pos


def parse(source: str) -> Node:
    """Parse an expression; raises ExpressionError with the offending position."""
    return _Parser(source).parse()


def names_in(node: Node) -> set[str]:
    """Every identifier an expression reads (for dependency and order checks)."""
    if isinstance(node, Name):
        return {node.name}
    if isinstance(node, Const):
        return set()
    if isinstance(node, Not):
        return names_in(node.operand)
    if isinstance(node, Compare):
        return names_in(node.left) | names_in(node.right)
    children = (
        node.operands
        if isinstance(node, BoolOp)
        else node.items
        if isinstance(node, ListExpr)
        else node.args
    )
    out: set[str] = set()
    for child in children:
        out |= names_in(child)
    return out
