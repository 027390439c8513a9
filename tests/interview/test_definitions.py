"""Definition files: the shipped ones load; bad ones fail with file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from cpnav.interview import (
    InterviewNotFound,
    interview_by_id,
    load_interview,
    shipped_interview_ids,
)
from cpnav.interview.loader import DEFINITIONS_DIR

from .helpers import definition_error, line_of, load_text

GOOD = """
id: demo
title: Demo
version: 1
sections:
  - id: first
    title: First
    questions:
      - id: a
        type: yes_no_unknown
        label: A?
      - id: b
        type: yes_no_unknown
        label: B?
        condition: yes(a)
computed:
  both: yes(a) and yes(b)
facts:
  witness.potential_witness: tri(a)
"""


def test_every_shipped_definition_loads() -> None:
    assert set(shipped_interview_ids()) >= {"screening", "cp_request", "extension"}
    for name in shipped_interview_ids():
        interview = load_interview(DEFINITIONS_DIR / f"{name}.yaml")
        assert interview.id == name
        assert interview.questions
        assert interview.facts, f"{name} maps no facts for the policy engine"


def test_interview_by_id_loads_each_file_once() -> None:
    assert interview_by_id("screening") is interview_by_id("screening")


@pytest.mark.parametrize("name", ["nope", "../policy/rules/sets/x", "Screening", ""])
def test_unknown_interview_ids_are_refused(name: str) -> None:
    with pytest.raises(InterviewNotFound):
        interview_by_id(name)


def test_a_good_definition_loads(tmp_path: Path) -> None:
    interview = load_text(tmp_path, GOOD)
    assert [q.id for q in interview.questions] == ["a", "b"]
    assert interview.question("b").condition == "yes(a)"
    with pytest.raises(KeyError):
        interview.question("zz")


def test_unknown_key_names_the_line_and_the_allowed_keys(tmp_path: Path) -> None:
    err = definition_error(tmp_path, GOOD.replace("label: B?", "label: B?\n        colour: red"))
    assert err.line == line_of(tmp_path, "colour:")
    assert "question 'b': unknown key 'colour'" in str(err)
    assert "allowed here: id, type, label" in str(err)


def test_every_schema_problem_is_listed(tmp_path: Path) -> None:
    text = GOOD.replace("label: A?", "label: A?\n        requird: false").replace(
        "type: yes_no_unknown\n        label: B?", "type: maybe\n        label: B?"
    )
    err = definition_error(tmp_path, text)
    assert [line for line, _ in err.problems] == [
        line_of(tmp_path, "requird"),
        line_of(tmp_path, "type: maybe"),
    ]


def test_yaml_booleans_get_a_hint(tmp_path: Path) -> None:
    text = GOOD.replace(
        "type: yes_no_unknown\n        label: B?",
        "type: choice\n        label: B?\n        choices:\n          - value: x\n            label: No\n          - value: y\n            label: Y",
    )
    err = definition_error(tmp_path, text)
    assert err.line == line_of(tmp_path, "label: No")
    assert "put it in quotes" in str(err)


def test_duplicate_question_ids(tmp_path: Path) -> None:
    err = definition_error(tmp_path, GOOD.replace("- id: b", "- id: a"))
    assert err.line == line_of(tmp_path, "label: B?") - 2
    assert f"duplicate question id 'a' (first used on line {line_of(tmp_path, '- id: a')})" in str(
        err
    )


def test_duplicate_yaml_keys(tmp_path: Path) -> None:
    err = definition_error(tmp_path, GOOD.replace("label: B?", "label: B?\n        label: C?"))
    assert err.line == line_of(tmp_path, "label: C?")
    assert "duplicate key 'label'" in str(err)


def test_choice_question_without_choices(tmp_path: Path) -> None:
    err = definition_error(
        tmp_path,
        GOOD.replace("type: yes_no_unknown\n        label: B?", "type: choice\n        label: B?"),
    )
    assert err.line == line_of(tmp_path, "label: B?") - 2  # the question's own line
    assert "question 'b' is a choice question and needs choices" in str(err)


def test_choices_on_a_question_that_takes_none(tmp_path: Path) -> None:
    text = GOOD.replace(
        "label: A?", "label: A?\n        choices:\n          - value: x\n            label: X"
    )
    err = definition_error(tmp_path, text)
    assert err.line == line_of(tmp_path, "choices:")


def test_bad_expression_points_at_the_condition(tmp_path: Path) -> None:
    err = definition_error(tmp_path, GOOD.replace("condition: yes(a)", "condition: yes(a) and"))
    assert err.line == line_of(tmp_path, "condition:")
    assert "question 'b' condition: expected a value" in str(err)
    assert "    yes(a) and\n" in str(err)


@pytest.mark.parametrize(
    ("expression", "words"),
    [
        ("yes(zz)", "unknown name 'zz'"),
        ("maybe(a)", "unknown function 'maybe'"),
        ("yes(a, a)", "takes 1 argument (2 given)"),
        ("a = 1", "use =="),
    ],
)
def test_expression_errors_in_computed_values(tmp_path: Path, expression: str, words: str) -> None:
    err = definition_error(tmp_path, GOOD.replace("both: yes(a) and yes(b)", f"both: {expression}"))
    assert err.line == line_of(tmp_path, "both:")
    assert "computed 'both'" in str(err)
    assert words in str(err)


def test_computed_cycle_is_named(tmp_path: Path) -> None:
    text = GOOD.replace(
        "both: yes(a) and yes(b)",
        "both: yes(a) and third\n  second: both or yes(b)\n  third: second",
    )
    err = definition_error(tmp_path, text)
    assert err.line == line_of(tmp_path, "both:")
    assert "in a loop: both -> third -> second -> both" in str(err)


def test_computed_value_that_reads_itself(tmp_path: Path) -> None:
    err = definition_error(tmp_path, GOOD.replace("both: yes(a) and yes(b)", "both: both"))
    assert "in a loop: both -> both" in str(err)


def test_condition_reading_a_later_question(tmp_path: Path) -> None:
    text = GOOD.replace("label: A?", "label: A?\n        condition: yes(b)")
    err = definition_error(tmp_path, text)
    assert err.line == line_of(tmp_path, "condition: yes(b)")
    assert "question 'a' condition depends on 'b', which is asked later" in str(err)
    assert "a -> b." in str(err)


def test_condition_reading_a_later_question_through_a_computed_value(tmp_path: Path) -> None:
    text = GOOD.replace("label: A?", "label: A?\n        condition: not both")
    err = definition_error(tmp_path, text)
    assert "depends on 'a', which is this same question: a -> both -> a" in str(err)


def test_condition_reading_its_own_question(tmp_path: Path) -> None:
    err = definition_error(tmp_path, GOOD.replace("condition: yes(a)", "condition: yes(b)"))
    assert "which is this same question: b -> b" in str(err)


def test_condition_must_be_true_or_false(tmp_path: Path) -> None:
    err = definition_error(tmp_path, GOOD.replace("condition: yes(a)", "condition: a"))
    assert err.line == line_of(tmp_path, "condition: a")
    assert "must be true or false" in str(err)


def test_unknown_fact(tmp_path: Path) -> None:
    err = definition_error(
        tmp_path, GOOD.replace("witness.potential_witness", "witness.cooperating")
    )
    assert err.line == line_of(tmp_path, "witness.cooperating")
    assert "not a fact the policy engine knows" in str(err)


def test_fact_of_the_wrong_type(tmp_path: Path) -> None:
    err = definition_error(tmp_path, GOOD.replace("tri(a)", "a"))
    assert err.line == line_of(tmp_path, "witness.potential_witness")
    assert "needs true/false" in str(err)
    assert "use tri(...)" in str(err)


def test_fact_with_a_value_the_policy_engine_does_not_take(tmp_path: Path) -> None:
    text = GOOD.replace(
        "witness.potential_witness: tri(a)", """exploitation.means: '["force", "magic"]'"""
    )
    err = definition_error(tmp_path, text)
    assert err.line == line_of(tmp_path, "exploitation.means")
    assert 'but this can be "magic"' in str(err)


def test_expression_that_yaml_reads_as_a_list(tmp_path: Path) -> None:
    text = GOOD.replace("witness.potential_witness: tri(a)", 'exploitation.means: ["force"]')
    err = definition_error(tmp_path, text)
    assert err.line == line_of(tmp_path, "exploitation.means")
    assert "put it in quotes" in str(err)


def test_unknown_prefill_key(tmp_path: Path) -> None:
    err = definition_error(
        tmp_path, GOOD.replace("label: A?", "label: A?\n        prefill: person.shoe_size")
    )
    assert err.line == line_of(tmp_path, "prefill:")
    assert "unknown prefill key 'person.shoe_size'" in str(err)


def test_prefill_key_for_the_wrong_type(tmp_path: Path) -> None:
    err = definition_error(
        tmp_path, GOOD.replace("label: A?", "label: A?\n        prefill: person.date_of_birth")
    )
    assert "fills date questions, not yes_no_unknown" in str(err)


def test_bounds_only_where_they_mean_something(tmp_path: Path) -> None:
    err = definition_error(tmp_path, GOOD.replace("label: A?", "label: A?\n        max: 3"))
    assert err.line == line_of(tmp_path, "max: 3")
    err = definition_error(
        tmp_path,
        GOOD.replace(
            "type: yes_no_unknown\n        label: A?",
            "type: number\n        label: A?\n        min: 5\n        max: 1",
        )
        .replace("tri(a)", "tri(b)")
        .replace("yes(a)", "yes(b)")
        .replace("condition: yes(b)", ""),
    )
    assert "min is greater than max" in str(err)


def test_id_must_match_the_file_name(tmp_path: Path) -> None:
    err = definition_error(tmp_path, GOOD, name="other")
    assert err.line == 1
    assert "must match the file name 'other'" in str(err)


def test_reserved_words_cannot_be_ids(tmp_path: Path) -> None:
    err = definition_error(tmp_path, GOOD.replace("both:", "age:"))
    assert "'age' is a reserved word" in str(err)


def test_invalid_yaml(tmp_path: Path) -> None:
    err = definition_error(tmp_path, GOOD.replace("label: B?", "label: [B?"))
    assert "invalid YAML" in str(err)
    assert err.line >= line_of(tmp_path, "label: [B?")


def test_not_a_mapping(tmp_path: Path) -> None:
    err = definition_error(tmp_path, "- just\n- a list\n")
    assert err.line == 1
