"""The shape of an interview definition, validated by pydantic when loaded.

These models are also what the host application reads (labels, help, choices)
to render a question; they are frozen so a cached interview cannot be changed
by one request and seen by the next. Checks that need more than one field at a
time (choices for a choice question, ids unique across the interview, the
expressions) live in ``loader.py``, where they can point at a line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
)

from cpnav.interview.exprtypes import Fn

QuestionType = Literal[
    "yes_no_unknown", "date", "choice", "multi_choice", "text", "number", "people"
]

# Ids become names in expressions, so they follow the expression language's
# identifier rule; lower case keeps the YAML and the answers JSON predictable.
Ident = Annotated[StrictStr, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
ChoiceValue = Annotated[StrictStr, Field(pattern=r"^[a-z0-9][a-z0-9_]*$", max_length=64)]
Text = Annotated[StrictStr, Field(min_length=1, max_length=2000)]
ShortText = Annotated[StrictStr, Field(min_length=1, max_length=120)]
PositiveInt = Annotated[StrictInt, Field(ge=1)]


def _bound(value: object) -> object:
    # A union would report two errors ("not an int", "not a str") for one
    # mistake; one message that says what is accepted is kinder to authors.
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError("expected a whole number, a date as YYYY-MM-DD, or today")
    return value


Bound = Annotated[int | str, BeforeValidator(_bound)]


class _Definition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Choice(_Definition):
    value: ChoiceValue
    label: Text
    # An exclusive choice ("None yet", "Not yet known") cannot be picked
    # together with others in a multi_choice question.
    exclusive: StrictBool = False


class PersonField(_Definition):
    """One field of each record in a ``people`` question."""

    id: Ident
    label: ShortText
    type: Literal["text", "date"] = "text"
    required: StrictBool = False
    max_length: PositiveInt | None = None
    min: StrictStr | None = None
    max: StrictStr | None = None


class Question(_Definition):
    id: Ident
    type: QuestionType
    label: Text
    # Used in error messages and on the review page where the full label
    # would be too long ("Date of birth" rather than the whole question).
    short_label: ShortText | None = None
    help: Text | None = None
    required: StrictBool = True
    condition: StrictStr | None = None
    choices: tuple[Choice, ...] | None = None
    min: Bound | None = None
    max: Bound | None = None
    max_length: PositiveInt | None = None
    fields: tuple[PersonField, ...] | None = None
    prefill: StrictStr | None = None

    @property
    def name(self) -> str:
        return self.short_label or self.label


class Section(_Definition):
    id: Ident
    title: ShortText
    intro: Text | None = None
    questions: tuple[Question, ...] = Field(min_length=1)


class InterviewDefinition(_Definition):
    """The file as validated; the loader turns it into an ``Interview``."""

    id: Ident
    title: ShortText
    version: PositiveInt
    sections: tuple[Section, ...] = Field(min_length=1)
    computed: dict[Ident, StrictStr] = Field(default_factory=dict)
    facts: dict[StrictStr, StrictStr] = Field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Step:
    """One question with everything ``state()`` needs, precompiled."""

    question: Question
    section: int
    condition: Fn | None
    is_date: bool
    # Computed values whose inputs are all settled once this question is.
    then: tuple[tuple[str, Fn], ...]


# (question id, required, is a date, condition, computed values to settle):
# a Step unpacked into a tuple, because the walk over them is the hot path.
FastStep = tuple[str, bool, bool, Fn | None, tuple[tuple[str, Fn], ...]]


@dataclass(frozen=True, slots=True)
class Plan:
    steps: tuple[Step, ...]
    fast: tuple[FastStep, ...]
    before: tuple[tuple[str, Fn], ...]  # computed values that read no question
    facts: tuple[tuple[tuple[str, ...], Fn], ...]
    index: dict[str, int]


@dataclass(frozen=True, slots=True, eq=False)
class Interview:
    """A loaded, checked and compiled interview (built only by the loader).

    Compared by identity: two loads of one file are two interviews.
    """

    id: str
    title: str
    version: int
    sections: tuple[Section, ...]
    questions: tuple[Question, ...]
    computed: Mapping[str, str]
    facts: Mapping[str, str]
    path: Path
    plan: Plan = field(repr=False)

    def question(self, question_id: str) -> Question:
        """The question with this id; KeyError if there is none."""
        index = self.plan.index.get(question_id)
        if index is None:
            raise KeyError(f"interview {self.id!r} has no question {question_id!r}")
        return self.questions[index]
