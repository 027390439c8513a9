"""Fuzz targets: bytes in, and only the module's own documented errors out.

Each target feeds one untrusted-input entry point and lets every exception
other than the documented one escape, so the fuzzer reports it as a crash:

* ``imports``    - ``cpnav.imports.tables.open_table`` then ``checks.check`` on a
  CSV or XLSX upload: ``TableError`` only, and a row that passes holds no
  formula-looking text.
* ``attendance`` - ``cpnav.engagement.attendance.parse``: never raises; every
  accepted address is one registered for the session.
* ``providers``  - ``cpnav.referrals.importer.parse``: never raises; no accepted
  cell but a phone number starts like a formula.
* ``interview``  - ``cpnav.interview.load_interview`` on a definition file:
  ``InterviewDefinitionError`` only, and an interview that loads can be walked.
* ``expression`` - ``cpnav.interview.compiler.compile_expression`` against the
  shipped interviews' names: ``ExpressionError`` only, and what compiles
  evaluates without error on unanswered and on typical answers.

The same functions run in-process on the seed corpus and the regression
inputs (tests/fuzz/test_fuzzers.py) and under atheris in a subprocess
(tests/fuzz/run_atheris.py). Django must be set up before calling a target.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator, Mapping
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any, Final

from cpnav.core.csvtext import FORMULA_STARTS

TODAY: Final = date(2026, 3, 2)
REGISTERED: Final = frozenset({"ana.ruiz@agency.example", "ben.cho@agency.example"})

Target = Callable[[bytes], None]


def _documented(well_formed: bool, error: Exception) -> None:
    """A documented error must still say where: an empty or misplaced one is a crash too."""
    if not well_formed:
        raise AssertionError(f"malformed {type(error).__name__}: {error}") from error


# --- importers -----------------------------------------------------------------


def imports(data: bytes) -> None:
    from cpnav.imports import checks, tables
    from cpnav.imports import fields as F

    try:
        table = tables.open_table(data)
    except tables.TableError:
        return
    result = checks.check(table, F.suggest_mapping(table.columns), today=TODAY)
    assert result.ok == (not result.problems)
    for row in result.rows:
        for value in (row.case_number, row.full_name, row.country, row.contact, row.safe_contact,
                      *row.aliases, *row.languages):  # fmt: skip
            assert not value.startswith(FORMULA_STARTS), (row.line, value)


def attendance(data: bytes) -> None:
    from cpnav.engagement.attendance import parse

    parsed = parse(data, REGISTERED)
    assert parsed.ok == (not parsed.problems)
    for email, attended in parsed.rows:
        assert email in REGISTERED
        assert isinstance(attended, bool)


def providers(data: bytes) -> None:
    from cpnav.referrals.importer import parse

    parsed = parse(data, source="fuzz")
    for row in parsed.rows:
        assert row.name.strip()
        # Only the phone column may start with "+" (a number such as +1 555 ...).
        for value in (row.name, row.jurisdiction, row.state, row.hours, row.email, row.website,
                      row.notes, row.source, *row.languages):  # fmt: skip
            assert not value.startswith(FORMULA_STARTS), value


# --- interview definitions and expressions -----------------------------------------

FUZZ_ID: Final = "fuzz"


@cache
def _scratch() -> Path:
    # One file reused for every input: load_interview reads a path, and the
    # interview id must match the file name.
    return Path(tempfile.mkdtemp(prefix="cpnav-fuzz-")) / f"{FUZZ_ID}.yaml"


def interview(data: bytes) -> None:
    from cpnav.interview import (
        InterviewDefinitionError,
        load_interview,
        missing,
        review,
        state,
        to_facts,
    )

    path = _scratch()
    path.write_bytes(data)
    try:
        loaded = load_interview(path)
    except InterviewDefinitionError as error:
        _documented(bool(error.problems), error)
        return
    # A definition that loads is one the engine can run.
    current = state(loaded, {}, today=TODAY)
    assert current.next_question is None or current.next_question in loaded.questions
    missing(loaded, {}, today=TODAY)
    review(loaded, {}, today=TODAY)
    to_facts(loaded, {}, today=TODAY)


@cache
def _scope_and_envs() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Names (questions and computed values) of the shipped interviews with their
    types, and environments to evaluate in: all unanswered, and typical answers."""
    from cpnav.interview import interview_by_id, shipped_interview_ids
    from cpnav.interview.engine import _walk
    from cpnav.interview.loader import question_type
    from cpnav.interview.model import Question

    def typical(q: Question) -> Any:
        choices = [c.value for c in q.choices or ()]
        return {
            "yes_no_unknown": "yes",
            "date": "1990-04-02",
            "choice": choices[0] if choices else None,
            "multi_choice": choices[:2],
            "text": "Synthetic text",
            "number": 17,
            "people": [{f.id: "1990-01-01" if f.type == "date" else "x" for f in q.fields or ()}],
        }[q.type]

    scope: dict[str, Any] = {}
    envs: list[dict[str, Any]] = [{}, {}]
    for name in shipped_interview_ids():
        loaded = interview_by_id(name)
        scope |= {q.id: question_type(q) for q in loaded.questions}
        blank, _, _ = _walk(loaded.plan, {}, TODAY, stop=False)
        answers = {q.id: typical(q) for q in loaded.questions}
        full, _, _ = _walk(loaded.plan, answers, TODAY, stop=False)
        envs[0] |= blank
        envs[1] |= full
    # Computed values: typed by compiling them (they read questions and each other).
    from cpnav.interview.compiler import compile_expression
    from cpnav.interview.errors import ExpressionError

    pending = {n: s for name in shipped_interview_ids() for n, s in interview_by_id(name).computed.items()}  # fmt: skip
    while pending:
        progress = False
        for computed_name, source in list(pending.items()):
            try:
                scope[computed_name] = compile_expression(source, scope).ty
            except ExpressionError:
                continue
            del pending[computed_name]
            progress = True
        if not progress:
            break
    return scope, envs


def expression(data: bytes) -> None:
    from cpnav.interview.compiler import compile_expression
    from cpnav.interview.errors import ExpressionError

    source = data.decode("utf-8", errors="replace")
    scope, envs = _scope_and_envs()
    try:
        compiled = compile_expression(source, scope)
    except ExpressionError as error:
        error.pointer()
        _documented(0 <= error.position <= len(source), error)
        return
    for env in envs:
        for day in (TODAY, date(2000, 2, 29)):
            compiled.fn({name: env.get(name) for name in scope}, day)


TARGETS: Final[Mapping[str, Target]] = {
    "imports": imports,
    "attendance": attendance,
    "providers": providers,
    "interview": interview,
    "expression": expression,
}


# --- seed corpora: the project's own valid inputs ------------------------------------


def seeds(name: str) -> Iterator[bytes]:
    if name == "imports":
        from cpnav.imports import fields as F
        from tests.imports.helpers import csv_bytes, person, xlsx_bytes, xlsx_from_dicts

        yield F.template_csv().encode()
        yield csv_bytes([person(1), person(2, **{"Case #": "2026-000001"})])
        yield csv_bytes([person(3, DOB="03/04/1991", **{"A-Number": ""})], bom=True)
        yield xlsx_from_dicts([person(4)])
        yield xlsx_bytes([["2026-9", "Synthetic Xlsx", date(1990, 1, 2)]])
    elif name == "attendance":
        yield b"email,attended\r\nana.ruiz@agency.example,yes\r\nBen.Cho@agency.example,no\r\n"
        yield b"Name,Email,Duration\nAna,ana.ruiz@agency.example,55\n"
    elif name == "providers":
        from cpnav.referrals.importer import COLUMNS

        header = ",".join(COLUMNS)
        yield (
            f"{header}\r\n"
            'Marlow Safe House,"Marlow County, TX",TX,shelter; case_management,English; Spanish,'
            "Mon-Fri 9am-5pm,(555) 010-0100,intake@safehouse.example,https://safehouse.example/,"
            "Call ahead,,yes\r\n"
        ).encode()
        yield f'{header}\r\nCascade Legal Aid,"Portland, OR",or,Legal;Immigration Counsel,Vietnamese,,+1 555 010 0200,,,,County list,\r\n'.encode()
    elif name == "interview":
        from cpnav.interview.loader import DEFINITIONS_DIR

        sink = Path(__file__).resolve().parents[1] / "interview" / "definitions" / "sink.yaml"
        for path in [*sorted(DEFINITIONS_DIR.glob("*.yaml")), sink]:
            lines = path.read_text(encoding="utf-8").splitlines()
            yield "\n".join(
                f"id: {FUZZ_ID}" if line.startswith("id:") else line for line in lines
            ).encode()
    elif name == "expression":
        from cpnav.interview import interview_by_id, shipped_interview_ids

        for interview_id in shipped_interview_ids():
            loaded = interview_by_id(interview_id)
            for question in loaded.questions:
                if question.condition:
                    yield question.condition.encode()
            yield from (source.encode() for source in loaded.computed.values())
            yield from (source.encode() for source in loaded.facts.values())
    else:
        raise KeyError(name)


# Inputs that once escaped as something other than the documented error.
REGRESSIONS: Final[Mapping[str, tuple[bytes, ...]]] = {
    "interview": (
        b"id: fuzz\n\xff\xfe",  # not UTF-8: was UnicodeDecodeError
        b"[" * 5000,  # was RecursionError inside PyYAML
        b"{a: " * 5000,
    ),
    "expression": (
        b"(" * 400 + b"true" + b")" * 400,  # was RecursionError
        b"[" * 400,
        b"not " * 3000 + b"true",
        b"len(" * 400,
        b"1" * 5000,  # was ValueError: Python reads at most 4300 digits
        b"-" + b"9" * 5000,
        b'means in [["force"]]',  # was TypeError: a list answer looked up in a frozenset
        b'only([means], [["force"]]) == []',
    ),
    "imports": (),
    "attendance": (),
    "providers": (),
}
