"""Reading an attendance list: every problem named by line and column, all rows or none."""

from __future__ import annotations

import pytest

from cpnav.core.csvtext import Problem
from cpnav.engagement.attendance import MAX_ROWS, Parsed, parse

REGISTERED = frozenset(
    {"ana.ruiz@agency.example", "ben.cho@agency.example", "cy.diaz@agency.example"}
)


def csv(*lines: str) -> bytes:
    return ("\r\n".join(lines) + "\r\n").encode()


def where(parsed: Parsed) -> list[tuple[int, str]]:
    return [(p.line, p.column) for p in parsed.problems]


def test_a_good_file() -> None:
    parsed = parse(
        csv(
            "email,attended",
            "ana.ruiz@agency.example,yes",
            "Ben.Cho@Agency.Example,no",  # addresses are compared without case
            "  cy.diaz@agency.example  ,  ",  # an empty mark means they came
        ),
        REGISTERED,
    )
    assert parsed.ok
    assert parsed.problems == ()
    assert parsed.rows == (
        ("ana.ruiz@agency.example", True),
        ("ben.cho@agency.example", False),
        ("cy.diaz@agency.example", True),
    )


@pytest.mark.parametrize(
    ("mark", "attended"),
    [
        *[(word, True) for word in ("yes", "Y", "TRUE", "1", "attended", "Present", "")],
        *[(word, False) for word in ("no", "N", "false", "0", "absent", "No-Show")],
    ],
)
def test_attended_words(mark: str, attended: bool) -> None:
    parsed = parse(csv("email,attended", f"ana.ruiz@agency.example,{mark}"), REGISTERED)
    assert parsed.ok
    assert parsed.rows == (("ana.ruiz@agency.example", attended),)


def test_without_an_attended_column_everyone_listed_came() -> None:
    parsed = parse(csv("email", "ana.ruiz@agency.example", "ben.cho@agency.example"), REGISTERED)
    assert parsed.ok
    assert parsed.rows == (("ana.ruiz@agency.example", True), ("ben.cho@agency.example", True))


def test_extra_columns_are_ignored_in_any_order() -> None:
    parsed = parse(
        csv(
            "Name,Join time,Duration (minutes),Attended,Email,Guest",
            "Ana Ruiz,09:58,61,yes,ana.ruiz@agency.example,=not-looked-at",
            "Ben Cho,,0,no,ben.cho@agency.example,",
        ),
        REGISTERED,
    )
    assert parsed.ok, [str(p) for p in parsed.problems]
    assert parsed.rows == (("ana.ruiz@agency.example", True), ("ben.cho@agency.example", False))


def test_a_byte_order_mark_is_accepted() -> None:
    data = b"\xef\xbb\xbf" + csv("email,attended", "ana.ruiz@agency.example,yes")
    parsed = parse(data, REGISTERED)
    assert parsed.ok
    assert parsed.rows == (("ana.ruiz@agency.example", True),)


def test_blank_lines_are_skipped_and_lines_still_counted() -> None:
    parsed = parse(
        csv("email,attended", "", "ana.ruiz@agency.example,yes", ",", "nobody@agency.example,yes"),
        REGISTERED,
    )
    assert where(parsed) == [(5, "email")]


@pytest.mark.parametrize(
    ("row", "column", "words"),
    [
        pytest.param("stranger@agency.example,yes", "email", "not registered", id="unknown-email"),
        pytest.param("ana.ruiz@agency.example,maybe", "attended", "not yes or no", id="bad-mark"),
        pytest.param("not-an-email,yes", "email", "not an email address", id="not-an-email"),
        pytest.param(",yes", "email", "empty", id="empty-email"),
        pytest.param('=HYPERLINK("http://x.example"),yes', "email", "formula", id="formula-="),
        pytest.param("+ana.ruiz@agency.example,yes", "email", "formula", id="formula-plus"),
        pytest.param("-2+3,yes", "email", "formula", id="formula-minus"),
        pytest.param("@SUM(A1:A2),yes", "email", "formula", id="formula-at"),
        pytest.param(
            "ana.ruiz@agency.example,=1+1", "attended", "not yes or no", id="formula-in-attended"
        ),
    ],
)
def test_a_bad_row_is_named_by_line_and_column(row: str, column: str, words: str) -> None:
    parsed = parse(csv("email,attended", "ben.cho@agency.example,yes", row), REGISTERED)
    assert not parsed.ok
    (problem,) = parsed.problems
    assert (problem.line, problem.column) == (3, column)
    assert words in problem.message
    assert str(problem).startswith(f'line 3, column "{column}"')


def test_a_duplicate_email_names_the_first_line() -> None:
    parsed = parse(
        csv(
            "email,attended",
            "ana.ruiz@agency.example,yes",
            "ben.cho@agency.example,yes",
            "ANA.RUIZ@agency.example,no",
        ),
        REGISTERED,
    )
    assert not parsed.ok
    (problem,) = parsed.problems
    assert (problem.line, problem.column) == (4, "email")
    assert "already on line 2" in problem.message


def test_every_problem_is_reported_and_nothing_is_ok() -> None:
    parsed = parse(
        csv(
            "email,attended",
            "ana.ruiz@agency.example,yes",
            "stranger@agency.example,yes",
            "ben.cho@agency.example,perhaps",
            "=cmd|' /C calc'!A0,yes",
            "ana.ruiz@agency.example,no",
            "cy.diaz@agency.example,no",
        ),
        REGISTERED,
    )
    assert where(parsed) == [(3, "email"), (4, "attended"), (5, "email"), (6, "email")]
    assert not parsed.ok  # one good row among bad ones does not make the file usable
    assert all(str(p).startswith(f"line {p.line}, column ") for p in parsed.problems)


@pytest.mark.parametrize(
    ("data", "line", "words"),
    [
        pytest.param(b"", 1, "empty", id="empty-file"),
        pytest.param(b"\xef\xbb\xbf", 1, "empty", id="only-a-bom"),
        pytest.param(csv("email,attended"), 2, "no rows", id="header-only"),
        pytest.param(csv("email,attended", "", ","), 2, "no rows", id="header-and-blank-lines"),
        pytest.param(
            csv("name,attended", "Ana Ruiz,yes"), 1, '"email" column', id="no-email-column"
        ),
        pytest.param(
            csv("e-mail address,attended", "ana.ruiz@agency.example,yes"),
            1,
            '"email" column',
            id="other-email-heading",
        ),
        pytest.param(b"email\x00,attended\r\n", 1, "binary", id="binary"),
    ],
)
def test_a_file_that_cannot_be_read_at_all(data: bytes, line: int, words: str) -> None:
    parsed = parse(data, REGISTERED)
    assert not parsed.ok
    assert parsed.rows == ()
    (problem,) = parsed.problems
    assert (problem.line, problem.column) == (line, "")
    assert words in problem.message
    assert str(problem).startswith(f"line {line}: ")


def test_windows_1252_is_refused_not_guessed() -> None:
    data = "email,attended\r\nana.ruiz@agency.example,yes\r\njosé.peña@agency.example,sí\r\n"
    parsed = parse(data.encode("cp1252"), REGISTERED | {"josé.peña@agency.example"})
    assert not parsed.ok
    assert parsed.rows == ()
    (problem,) = parsed.problems
    assert problem == Problem(3, "", problem.message)
    assert "not UTF-8" in problem.message
    assert "0xE9" in problem.message
    assert "CSV UTF-8" in problem.message


def test_too_many_rows() -> None:
    registered = frozenset(f"p{n}@agency.example" for n in range(MAX_ROWS + 1))
    lines = ["email", *sorted(registered)]
    parsed = parse(csv(*lines), registered)
    assert not parsed.ok
    assert where(parsed) == [(MAX_ROWS + 2, "")]
    assert "split the file" in parsed.problems[0].message


def test_a_file_too_large() -> None:
    parsed = parse(b"email\r\n" + b"a" * (1024 * 1024), REGISTERED)
    assert where(parsed) == [(1, "")]
    assert "larger than 1 MB" in parsed.problems[0].message
