"""Checking rows: every bad field named by line and column, nothing else. No database."""

from __future__ import annotations

import time
from datetime import date, datetime

import pytest

from cpnav.imports import checks
from cpnav.imports import fields as F
from cpnav.imports.checks import check, parse_date
from cpnav.imports.tables import open_table
from tests.imports.helpers import (
    AUTO_MAPPING,
    HEADER,
    csv_bytes,
    csv_text,
    person,
    template_rows,
    xlsx_bytes,
    xlsx_from_dicts,
)

TODAY = date(2026, 6, 1)


def run(data: bytes, mapping: dict[str, str] | None = None) -> checks.Checked:
    table = open_table(data)
    return check(table, mapping or F.suggest_mapping(table.columns), today=TODAY)


def messages(result: checks.Checked) -> list[str]:
    return [str(problem) for problem in result.problems]


def one_bad(**overrides: str) -> list[str]:
    return messages(run(csv_bytes([person(1), person(2, **overrides)])))


def test_a_good_file_gives_rows_and_no_problem() -> None:
    result = run(csv_bytes([person(1), person(2, **{"CP start": "", "CP end": ""})]))
    assert result.ok
    assert result.row_count == 2
    first, second = result.rows
    assert first.line == 2
    assert first.case_number == "2026-000001"
    assert first.full_name == "Synthetic Person 1"
    assert first.date_of_birth == date(1990, 1, 2)
    assert first.a_number == "A000000001"
    assert first.citizenship == "noncitizen"
    assert first.languages == ("Spanish", "English")
    assert first.trafficking_forms == ("labor",)
    assert (first.grant_start, first.grant_end) == (date(2025, 1, 6), date(2027, 1, 5))
    assert first.criminal_status == "investigating"  # empty means the default
    assert not second.has_grant
    assert (result.case_count, result.grant_count) == (2, 1)


def test_the_mapping_comes_from_the_header_names() -> None:
    assert F.suggest_mapping(HEADER) == AUTO_MAPPING
    assert F.suggest_mapping(["  CASE NUMBER ", "full_name", "Date Of Birth", "a#"]) == {
        "case_number": "  CASE NUMBER ",
        "full_name": "full_name",
        "date_of_birth": "Date Of Birth",
        "a_number": "a#",
    }


def test_the_users_choices_win_over_suggestions() -> None:
    mapping = F.suggest_mapping(HEADER, {"full_name": "Country", "country": ""})
    assert mapping["full_name"] == "Country"
    assert "country" not in mapping


def test_the_template_maps_itself_and_its_example_row_is_refused() -> None:
    table = open_table(F.template_csv().encode())
    assert F.suggest_mapping(table.columns) == {name: name for name in F.NAMES}
    result = check(table, F.suggest_mapping(table.columns), today=TODAY)
    assert messages(result) == [
        'line 2, column "case_number": this is the template\'s synthetic example row; delete it'
    ]
    example = dict(zip(F.NAMES, F.template_csv().splitlines()[1].split(","), strict=False))
    example["case_number"] = "2026-0099"
    example["aliases"] = "Ana E.; Anita"
    fixed = run(template_rows(example))
    assert fixed.ok, messages(fixed)
    assert fixed.rows[0].interpreter_needed
    assert fixed.rows[0].safe_contact == "Call the victim advocate first"


def test_missing_required_columns_are_named() -> None:
    header = ("Case #", "DOB")
    result = run(csv_bytes([person(1)], header))
    assert messages(result) == [
        'line 1, column "full_name": required column missing: full name. Choose the column '
        "that holds it, or add one named full_name."
    ]
    assert result.rows == []


def test_a_mapping_to_a_column_the_file_lacks_is_refused() -> None:
    result = run(csv_bytes([person(1)]), {**AUTO_MAPPING, "country": "Nation"})
    assert (
        'column "Nation": the file has no column with this name (for country)'
        in messages(result)[0]
    )


def test_one_column_cannot_feed_two_fields() -> None:
    result = run(csv_bytes([person(1)]), {**AUTO_MAPPING, "aliases": "Victim name"})
    assert "chosen for both full_name and aliases" in messages(result)[0]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"Victim name": ""}, 'line 3, column "Victim name": is required'),
        ({"Case #": "  "}, 'line 3, column "Case #": is required'),
        ({"Case #": "x" * 61}, "is 61 characters long; at most 60 are allowed"),
        ({"Victim name": "=HYPERLINK(\"https://evil.example\",\"click\")"},
         'column "Victim name": starts with "=". Cells starting with =, +, - or @ are refused'),
        ({"Country": "+cmd|' /C calc'!A0"}, 'column "Country": starts with "+"'),
        ({"Country": "-2+3"}, 'starts with "-"'),
        ({"Country": "@SUM(1)"}, 'starts with "@"'),
        ({"Languages": "Spanish; =1+1"}, "an item starts with \"=\""),
        ({"Citizenship": "martian"}, '"martian" is not one of: unknown, noncitizen, us_citizen'),
        ({"Trafficking type": "labor; fishing"}, '"fishing" is not one of: sex, labor'),
        ({"A-Number": "12345"}, '"12345" is not an A-number; write the letter A and 8 or 9'),
        ({"Languages": "x" * 41}, "an item is 41 characters long; at most 40 are allowed"),
        ({"CP start": "2025-01-06", "CP end": ""}, 'column "CP end": give the end of the term'),
        ({"CP start": "", "CP end": "2027-01-05"}, 'column "CP start": give the start of the term'),
        ({"CP start": "2025-01-06", "CP end": "2025-01-01"}, "the term ends before it starts"),
        ({"CP start": "1999-01-06"}, "check the year: Continued Presence began in 2000"),
        ({"DOB": "2030-01-01"}, "the date of birth is in the future"),
        ({"DOB": "1850-01-01"}, "check the year of birth"),
    ],
)  # fmt: skip
def test_each_bad_field_is_named(overrides: dict[str, str], expected: str) -> None:
    found = one_bad(**overrides)
    assert len(found) == 1, found
    assert expected in found[0]
    assert found[0].startswith("line 3")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-15", date(2024, 3, 15)),
        ("03/15/2024", date(2024, 3, 15)),
        ("3/5/2024", date(2024, 3, 5)),
        ("2024-02-29", date(2024, 2, 29)),
    ],
)
def test_accepted_dates(text: str, expected: date) -> None:
    assert parse_date(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("15/03/2024", "looks like day/month/year, which is refused"),
        ("03/15/24", "has a two-digit year, which is ambiguous"),
        ("15.03.2024", "looks like day/month/year, which is refused"),
        ("04.03.2024", "whether the day or the month comes first is ambiguous"),
        ("03-04-2024", "whether the day or the month comes first is ambiguous"),
        ("2024/03/15", "is not a date in an accepted format"),
        ("March 15, 2024", "is not a date in an accepted format"),
        ("20240315", "is not a date in an accepted format"),
        ("2024-03-15 00:00:00", "is not a date in an accepted format"),
        ("2023-02-29", "is not a real date"),
        ("13/13/2024", "is not a real date"),
    ],
)
def test_ambiguous_or_wrong_dates_are_refused_with_the_accepted_formats(
    text: str, expected: str
) -> None:
    message = parse_date(text)
    assert isinstance(message, str)
    assert expected in message
    if "real date" not in expected:
        assert "write YYYY-MM-DD (2024-03-15) or MM/DD/YYYY (03/15/2024)" in message


def test_a_bad_date_is_reported_in_its_row_and_column() -> None:
    assert one_bad(DOB="15/03/1990") == [
        'line 3, column "DOB": "15/03/1990" looks like day/month/year, which is refused; '
        "write YYYY-MM-DD (2024-03-15) or MM/DD/YYYY (03/15/2024)"
    ]


def test_every_problem_of_every_row_is_reported_in_file_order() -> None:
    rows = [
        person(1, DOB="31/12/1990", **{"A-Number": "A1"}),
        person(2),
        person(3, **{"Victim name": "@x", "Citizenship": "x", "CP end": "01/02/25"}),
    ]
    result = run(csv_bytes(rows))
    assert [(p.line, p.column) for p in result.problems] == [
        (2, "DOB"), (2, "A-Number"),
        (4, "Victim name"), (4, "Citizenship"), (4, "CP end"),
    ]  # fmt: skip
    assert result.rows_with_problems == 2
    assert [row.line for row in result.rows] == [3]
    assert checks.summary(len(result.problems), result.rows_with_problems) == (
        "5 problems in 2 rows; nothing was imported."
    )


def test_duplicate_people_in_the_file_are_refused() -> None:
    rows = [
        person(1),
        person(2, **{"A-Number": "a-000000001"}),  # the same number, written differently
        person(3, **{"Victim name": "  synthetic   PERSON 1 ", "A-Number": ""}),
        person(4, **{"Victim name": "Synthetic Person 1", "DOB": "1990-01-03"}),  # another person
    ]
    assert messages(run(csv_bytes(rows))) == [
        'line 3, column "A-Number": the same A-number as line 2',
        'line 4, column "Victim name": the same name and date of birth as line 2',
    ]


def test_a_row_with_another_problem_still_counts_for_duplicates() -> None:
    rows = [person(1, DOB="bad"), person(2, **{"A-Number": "A000000001"})]
    assert [p.line for p in run(csv_bytes(rows)).problems] == [2, 3]


def test_rows_with_one_case_number_share_the_case_and_must_agree() -> None:
    rows = [
        person(1),
        person(2, **{"Case #": "2026-000001", "Trafficking type": ""}),
        person(3, **{"Case #": "2026-000001", "Trafficking type": "sex"}),
    ]
    result = run(csv_bytes(rows))
    assert messages(result) == [
        'line 4, column "Trafficking type": differs from line 2, which has the same case '
        "number; rows of one case must agree on the case's details (or leave them empty)"
    ]
    assert result.case_count == 1


def test_choices_accept_codes_labels_and_a_few_words() -> None:
    header = ("Case #", "Victim name", "Citizenship", "Trafficking type", "Criminal status",
              "Interpreter", "Age")  # fmt: skip
    rows = [
        {"Case #": "1", "Victim name": "A", "Citizenship": "U.S. citizen",
         "Trafficking type": "Sex trafficking and labor", "Criminal status": "Charges filed",
         "Interpreter": "Y", "Age": "17"},
        {"Case #": "2", "Victim name": "B", "Citizenship": "LPR", "Trafficking type": "both",
         "Criminal status": "TRIAL", "Interpreter": "no", "Age": ""},
    ]  # fmt: skip
    result = run(csv_bytes(rows, header))
    assert result.ok, messages(result)
    first, second = result.rows
    assert (first.citizenship, first.trafficking_forms, first.criminal_status) == (
        "us_citizen",
        ("sex", "labor"),
        "charged",
    )
    assert first.interpreter_needed
    assert first.age_estimate == 17
    assert (second.citizenship, second.trafficking_forms, second.criminal_status) == (
        "lawful_permanent_resident",
        ("sex", "labor"),
        "trial",
    )


@pytest.mark.parametrize(
    ("header", "value", "expected"),
    [
        ("Interpreter", "maybe", 'write "yes" or "no", not "maybe"'),
        ("Age", "12.5", '"12.5" is not a whole number from 0 to 120'),
        ("Age", "121", '"121" is not a whole number from 0 to 120'),
        ("EAD received", "2025-02-01", "work permit dates are recorded with a grant"),
    ],
)
def test_other_fields(header: str, value: str, expected: str) -> None:
    data = csv_bytes([{"Case #": "1", "Victim name": "A", header: value}],
                     ("Case #", "Victim name", header))  # fmt: skip
    found = messages(run(data))
    assert len(found) == 1, found
    assert expected in found[0]


def test_xlsx_rows_are_checked_like_csv_rows() -> None:
    rows = [
        person(1, DOB=datetime(1990, 1, 2), **{"CP start": date(2025, 1, 6)}),  # type: ignore[arg-type]
        person(2, **{"Victim name": '=HYPERLINK("https://evil.example","x")'}),
        person(3, DOB="02/30/1990"),
        person(4, DOB=datetime(1990, 1, 2, 8, 0)),  # type: ignore[arg-type]
    ]
    result = run(xlsx_from_dicts(rows))
    assert messages(result) == [
        'line 3, column "Victim name": the cell holds a formula (=HYPERLINK("https://evil.example","x")); '
        "formulas are refused because spreadsheet programs run them. Paste the value instead.",
        'line 4, column "DOB": "02/30/1990" is not a real date (check the month and the day)',
        'line 5, column "DOB": holds a date and a time (1990-01-02 08:00:00); give the date only',
    ]
    assert result.rows[0].date_of_birth == date(1990, 1, 2)
    assert result.rows[0].grant_start == date(2025, 1, 6)


def test_missing_required_columns_are_named_in_xlsx_too() -> None:
    data = xlsx_bytes([["Synthetic", "1990-01-02"]], header=["Victim name", "DOB"])
    assert "required column missing: case number" in messages(run(data))[0]


def test_a_header_without_rows_is_reported() -> None:
    assert messages(run(csv_text([]).encode())) == ["line 1: the file has a header but no rows"]


def test_progress_is_reported_every_n_rows() -> None:
    seen: list[int] = []
    table = open_table(csv_bytes([person(n) for n in range(1, 8)]))
    check(table, AUTO_MAPPING, today=TODAY, progress=seen.append, every=3)
    assert seen == [3, 6, 7]


def test_a_hundred_thousand_rows_are_read_and_checked() -> None:
    rows = "".join(
        f"2026-{n:06d},Synthetic Person {n},1990-01-02,A{n:09d},noncitizen,Examplestan,"
        f"Spanish,labor,2025-01-06,2027-01-05\r\n"
        for n in range(1, 100_001)
    )
    data = (",".join(HEADER) + "\r\n" + rows).encode()
    started = time.perf_counter()
    table = open_table(data)
    assert table.row_estimate == 100_000
    result = check(table, AUTO_MAPPING, today=TODAY)
    assert result.ok, messages(result)[:5]
    assert result.row_count == len(result.rows) == 100_000
    assert result.rows[-1].line == 100_001
    assert (result.case_count, result.grant_count) == (100_000, 100_000)
    print(f"100,000 rows checked in {time.perf_counter() - started:.1f} s")  # no assertion on time
