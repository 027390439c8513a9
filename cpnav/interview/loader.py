"""Load interview definitions from YAML: validate, check, compile, cache.

Everything that can be wrong with a definition is found here, once, and
reported with the file and line of the offending question or expression: the
YAML is read with a loader that remembers where each mapping and key was.
After loading, an interview is a frozen object with a precompiled plan, so the
engine never looks at YAML or parses an expression again.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, Literal

import yaml
from pydantic import ValidationError

from cpnav.interview.compiler import compile_expression
from cpnav.interview.errors import ExpressionError, InterviewDefinitionError, InterviewNotFound
from cpnav.interview.expressions import KEYWORDS, names_in, parse
from cpnav.interview.exprtypes import DATE, NUM, STR, YES_NO_UNKNOWN, Compiled, Fn, Ty
from cpnav.interview.factsmap import assignable, fact_type
from cpnav.interview.functions import FUNCTIONS
from cpnav.interview.model import FastStep, Interview, InterviewDefinition, Plan, Question, Step
from cpnav.interview.prefill import PREFILL_KEYS
from cpnav.interview.yamlsource import LineLoader, Loc, line_of, schema_problems

DEFINITIONS_DIR: Final = Path(__file__).resolve().parent / "definitions"
_ID: Final = re.compile(r"^[a-z][a-z0-9_]*$")
_ISO_DATE: Final = re.compile(r"^\d{4}-\d{2}-\d{2}$")
RESERVED: Final = KEYWORDS | frozenset(FUNCTIONS)


# ---- loading -----------------------------------------------------------------------


def load_interview(path: Path) -> Interview:
    """Load, validate and compile one definition file.

    Raises InterviewDefinitionError naming the file and line of each problem.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InterviewDefinitionError(path, [(0, f"cannot read the file: {exc}")]) from exc
    except UnicodeDecodeError as exc:
        line = exc.object[: exc.start].count(b"\n") + 1
        raise InterviewDefinitionError(
            path, [(line, f"not UTF-8 text (byte 0x{exc.object[exc.start]:02X}); save it as UTF-8")]
        ) from exc
    try:
        raw = yaml.load(text, Loader=LineLoader)  # noqa: S506 - a SafeLoader subclass
    except RecursionError as exc:
        # PyYAML builds nested collections recursively: "[[[[..." thousands deep.
        raise InterviewDefinitionError(path, [(0, "invalid YAML: nested too deeply")]) from exc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        raise InterviewDefinitionError(path, [(line, f"invalid YAML: {exc.problem}")]) from exc
    except yaml.YAMLError as exc:
        raise InterviewDefinitionError(path, [(0, f"invalid YAML: {exc}")]) from exc
    if not isinstance(raw, dict):
        raise InterviewDefinitionError(path, [(1, "expected a mapping with id, title, sections")])
    try:
        definition = InterviewDefinition.model_validate(raw)
    except ValidationError as exc:
        problems = schema_problems(raw, exc.errors(include_url=False))
        raise InterviewDefinitionError(path, problems) from exc
    return _Builder(path, raw, definition).build()


@functools.cache
def interview_by_id(name: str) -> Interview:
    """A shipped interview, loaded and compiled on first use and then shared."""
    path = DEFINITIONS_DIR / f"{name}.yaml"
    if not _ID.match(name) or not path.is_file():
        raise InterviewNotFound(f"no interview named {name!r}")
    return load_interview(path)


def shipped_interview_ids() -> tuple[str, ...]:
    return tuple(sorted(p.stem for p in DEFINITIONS_DIR.glob("*.yaml")))


# ---- checks and compilation -----------------------------------------------------


_TYPE_OF_QUESTION: Final[dict[str, Ty]] = {
    "yes_no_unknown": YES_NO_UNKNOWN,
    "date": DATE,
    "text": STR,
    "number": NUM,
    "people": Ty("list", item=Ty("any")),
}


def question_type(question: Question) -> Ty:
    """What a question's answer is inside an expression."""
    if question.type in ("choice", "multi_choice"):
        values = Ty("str", frozenset(c.value for c in question.choices or ()))
        return values if question.type == "choice" else Ty("list", item=values)
    return _TYPE_OF_QUESTION[question.type]


class _Builder:
    def __init__(self, path: Path, raw: dict[Any, Any], interview: InterviewDefinition) -> None:
        self.path = path
        self.raw = raw
        self.interview = interview
        self.locs: dict[str, Loc] = {}
        self.index: dict[str, int] = {}
        self.questions: list[tuple[Question, int]] = []

    def fail(self, loc: Loc, message: str) -> InterviewDefinitionError:
        return InterviewDefinitionError(self.path, [(line_of(self.raw, loc), message)])

    def expression_failure(
        self, loc: Loc, what: str, exc: ExpressionError
    ) -> InterviewDefinitionError:
        return self.fail(loc, f"{what}: {exc.message} (column {exc.position + 1})\n{exc.pointer()}")

    def build(self) -> Interview:
        iv = self.interview
        if iv.id != self.path.stem:
            raise self.fail(("id",), f"id '{iv.id}' must match the file name '{self.path.stem}'")
        self.check_ids()
        for question, _ in self.questions:
            self.check_question(question, self.locs[question.id])
        scope = {q.id: question_type(q) for q, _ in self.questions}
        computed = self.compile_computed(scope)
        conditions = self.compile_conditions(scope, computed)
        facts = self.compile_facts(scope)
        return Interview(
            id=iv.id,
            title=iv.title,
            version=iv.version,
            sections=iv.sections,
            questions=tuple(q for q, _ in self.questions),
            # Read-only views: the interview is cached and shared by every request.
            computed=MappingProxyType(dict(iv.computed)),
            facts=MappingProxyType(dict(iv.facts)),
            path=self.path,
            plan=self.plan(computed, conditions, facts),
        )

    def check_ids(self) -> None:
        seen_sections: dict[str, Loc] = {}
        for s_index, section in enumerate(self.interview.sections):
            loc: Loc = ("sections", s_index)
            if section.id in seen_sections:
                raise self.fail((*loc, "id"), self.duplicate("section", section.id, seen_sections))
            seen_sections[section.id] = loc
            for q_index, question in enumerate(section.questions):
                q_loc = (*loc, "questions", q_index)
                if question.id in self.locs:
                    raise self.fail(
                        (*q_loc, "id"), self.duplicate("question", question.id, self.locs)
                    )
                if question.id in RESERVED:
                    raise self.fail(
                        (*q_loc, "id"),
                        f"'{question.id}' is a reserved word in expressions; choose another id",
                    )
                self.locs[question.id] = q_loc
                self.index[question.id] = len(self.questions)
                self.questions.append((question, s_index))
        for name in self.interview.computed:
            if name in self.locs:
                raise self.fail(
                    ("computed", name),
                    f"computed value '{name}' has the same name as a question (line {line_of(self.raw, self.locs[name])})",
                )
            if name in RESERVED:
                raise self.fail(
                    ("computed", name),
                    f"'{name}' is a reserved word in expressions; choose another name",
                )

    def duplicate(self, kind: str, ident: str, seen: Mapping[str, Loc]) -> str:
        first = line_of(self.raw, seen[ident])
        return f"duplicate {kind} id '{ident}' (first used on line {first}); ids must be unique"

    def check_question(self, q: Question, loc: Loc) -> None:
        name = f"question '{q.id}'"
        choice_type = q.type in ("choice", "multi_choice")
        if choice_type:
            if not q.choices:
                raise self.fail(loc, f"{name} is a {q.type} question and needs choices")
            if q.type == "choice" and len(q.choices) < 2:
                raise self.fail((*loc, "choices"), f"{name} needs at least two choices")
            values = [c.value for c in q.choices]
            for i, value in enumerate(values):
                if value in values[:i]:
                    raise self.fail((*loc, "choices", i), f"{name}: duplicate choice '{value}'")
                if q.type == "choice" and q.choices[i].exclusive:
                    raise self.fail(
                        (*loc, "choices", i), f"{name}: 'exclusive' only applies to multi_choice"
                    )
        elif q.choices is not None:
            raise self.fail(
                (*loc, "choices"), f"{name}: only choice and multi_choice questions have choices"
            )
        if q.type == "people":
            if not q.fields:
                raise self.fail(loc, f"{name} is a people question and needs fields")
            ids = [f.id for f in q.fields]
            for i, field in enumerate(q.fields):
                f_loc = (*loc, "fields", i)
                if field.id in ids[:i]:
                    raise self.fail(f_loc, f"{name}: duplicate field '{field.id}'")
                if field.type != "date" and (field.min or field.max):
                    raise self.fail(f_loc, f"{name}: only date fields take min and max")
                if field.type != "text" and field.max_length is not None:
                    raise self.fail(f_loc, f"{name}: only text fields take max_length")
                self.check_date_bounds(f_loc, name, field.min, field.max)
        elif q.fields is not None:
            raise self.fail((*loc, "fields"), f"{name}: only people questions have fields")
        self.check_bounds(q, loc, name)
        if q.max_length is not None and q.type != "text":
            raise self.fail((*loc, "max_length"), f"{name}: only text questions take max_length")
        if q.prefill is not None:
            allowed = PREFILL_KEYS.get(q.prefill)
            if allowed is None:
                known = ", ".join(PREFILL_KEYS)
                raise self.fail(
                    (*loc, "prefill"),
                    f"{name}: unknown prefill key '{q.prefill}'; known keys: {known}",
                )
            if q.type not in allowed[0]:
                raise self.fail(
                    (*loc, "prefill"),
                    f"{name}: prefill '{q.prefill}' fills {'/'.join(sorted(allowed[0]))} questions, not {q.type}",
                )

    def check_bounds(self, q: Question, loc: Loc, name: str) -> None:
        if q.type == "number":
            for key, bound in (("min", q.min), ("max", q.max)):
                if bound is not None and not isinstance(bound, int):
                    raise self.fail((*loc, key), f"{name}: {key} must be a whole number")
            if isinstance(q.min, int) and isinstance(q.max, int) and q.min > q.max:
                raise self.fail((*loc, "min"), f"{name}: min is greater than max")
        elif q.type == "date":
            for key, bound in (("min", q.min), ("max", q.max)):
                if isinstance(bound, int):
                    raise self.fail(
                        (*loc, key), f"{name}: {key} must be a date as YYYY-MM-DD, or today"
                    )
            self.check_date_bounds(loc, name, q.min, q.max)
        elif q.type == "people":
            if q.min is not None:
                raise self.fail(
                    (*loc, "min"), f"{name}: a people question takes max (entries), not min"
                )
            if q.max is not None and not isinstance(q.max, int):
                raise self.fail((*loc, "max"), f"{name}: max must be a whole number of entries")
        elif q.min is not None or q.max is not None:
            key = "min" if q.min is not None else "max"
            raise self.fail(
                (*loc, key), f"{name}: only number, date and people questions take {key}"
            )

    def check_date_bounds(self, loc: Loc, name: str, *bounds: int | str | None) -> None:
        parsed: list[date] = []
        for key, bound in zip(("min", "max"), bounds, strict=True):
            if bound is None or bound == "today":
                continue
            if not (isinstance(bound, str) and _ISO_DATE.match(bound)):
                raise self.fail(
                    (*loc, key), f"{name}: {key} must be a date as YYYY-MM-DD, or today"
                )
            try:
                parsed.append(date.fromisoformat(bound))
            except ValueError:
                raise self.fail((*loc, key), f"{name}: {key} {bound} is not a real date") from None
        if len(parsed) == 2 and parsed[0] > parsed[1]:
            raise self.fail((*loc, "min"), f"{name}: min is after max")

    # -- expressions ----------------------------------------------------------

    def compile_computed(self, scope: dict[str, Ty]) -> dict[str, tuple[Compiled, set[str]]]:
        """Compile computed values in dependency order; reject cycles."""
        sources = self.interview.computed
        deps: dict[str, set[str]] = {}
        for name, source in sources.items():
            try:
                deps[name] = names_in(parse(source))
            except ExpressionError as exc:
                raise self.expression_failure(
                    ("computed", name), f"computed '{name}'", exc
                ) from exc
        order: list[str] = []
        state: dict[str, Literal["visiting", "done"]] = {}

        def visit(name: str, trail: list[str]) -> None:
            if state.get(name) == "done":
                return
            if state.get(name) == "visiting":
                cycle = [*trail[trail.index(name) :], name]
                raise self.fail(
                    ("computed", cycle[0]),
                    "computed values depend on each other in a loop: " + " -> ".join(cycle),
                )
            state[name] = "visiting"
            for dep in sorted(deps[name]):
                if dep in sources:
                    visit(dep, [*trail, name])
            state[name] = "done"
            order.append(name)

        for name in sources:
            visit(name, [])
        compiled: dict[str, tuple[Compiled, set[str]]] = {}
        for name in order:
            try:
                result = compile_expression(sources[name], scope)
            except ExpressionError as exc:
                raise self.expression_failure(
                    ("computed", name), f"computed '{name}'", exc
                ) from exc
            scope[name] = result.ty
            compiled[name] = (result, deps[name])
        return compiled

    def late_path(
        self, name: str, limit: int, computed: Mapping[str, tuple[Compiled, set[str]]]
    ) -> list[str] | None:
        """A chain from ``name`` to a question at or after position ``limit``."""
        if name in self.index:
            return [name] if self.index[name] >= limit else None
        for dep in sorted(computed[name][1]):
            path = self.late_path(dep, limit, computed)
            if path is not None:
                return [name, *path]
        return None

    def compile_conditions(
        self, scope: Mapping[str, Ty], computed: Mapping[str, tuple[Compiled, set[str]]]
    ) -> dict[str, Fn]:
        conditions: dict[str, Fn] = {}
        for question, _ in self.questions:
            if question.condition is None:
                continue
            loc = self.locs[question.id] + ("condition",)
            what = f"question '{question.id}' condition"
            try:
                result = compile_expression(question.condition, scope)
            except ExpressionError as exc:
                raise self.expression_failure(loc, what, exc) from exc
            if result.ty.kind not in ("bool", "any"):
                raise self.fail(
                    loc, f"{what} must be true or false, but it is {result.ty.describe()}"
                )
            position = self.index[question.id]
            for name in sorted(result.names):
                path = self.late_path(name, position, computed)
                if path is not None:
                    late = path[-1]
                    when = (
                        "is this same question"
                        if late == question.id
                        else f"is asked later (line {line_of(self.raw, self.locs[late])})"
                    )
                    raise self.fail(
                        loc,
                        f"{what} depends on '{late}', which {when}: "
                        + " -> ".join([question.id, *path])
                        + ". A condition may only use answers to earlier questions, so that "
                        "an answer can never change whether an earlier question is asked.",
                    )
            conditions[question.id] = result.fn
        return conditions

    def compile_facts(self, scope: Mapping[str, Ty]) -> list[tuple[tuple[str, ...], Fn]]:
        out: list[tuple[tuple[str, ...], Fn]] = []
        for path, source in self.interview.facts.items():
            loc: Loc = ("facts", path)
            field_ty = fact_type(path)
            if field_ty is None:
                raise self.fail(
                    loc, f"'{path}' is not a fact the policy engine knows (see cpnav.policy.facts)"
                )
            try:
                result = compile_expression(source, scope)
            except ExpressionError as exc:
                raise self.expression_failure(loc, f"fact '{path}'", exc) from exc
            problem = assignable(result.ty, field_ty)
            if problem:
                raise self.fail(loc, f"fact '{path}' {problem}")
            out.append((tuple(path.split(".")), result.fn))
        return out

    def plan(
        self,
        computed: Mapping[str, tuple[Compiled, set[str]]],
        conditions: Mapping[str, Fn],
        facts: list[tuple[tuple[str, ...], Fn]],
    ) -> Plan:
        # A computed value is evaluated right after the last question it reads
        # (directly or through other computed values), so a condition can use
        # it and a walk that stops early never evaluates more than it needs.
        ready: dict[str, int] = {}
        for name, (_, deps) in computed.items():  # dependency order
            ready[name] = max(
                (self.index[d] if d in self.index else ready[d] for d in deps), default=-1
            )
        then: dict[int, list[tuple[str, Fn]]] = {}
        for name, (result, _) in computed.items():
            then.setdefault(ready[name], []).append((name, result.fn))
        steps = tuple(
            Step(
                question=question,
                section=section,
                condition=conditions.get(question.id),
                is_date=question.type == "date",
                then=tuple(then.get(position, ())),
            )
            for position, (question, section) in enumerate(self.questions)
        )
        fast: tuple[FastStep, ...] = tuple(
            (s.question.id, s.question.required, s.is_date, s.condition, s.then) for s in steps
        )
        return Plan(
            steps=steps,
            fast=fast,
            before=tuple(then.get(-1, ())),
            facts=tuple(facts),
            index=dict(self.index),
        )
