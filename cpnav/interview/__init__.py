"""CP Navigator's interview engine: question graphs and next-question logic.

Pure Python (no Django): a view, the API and the command line all call these
same functions with the answers they hold. Interviews are YAML files in
``definitions/``, validated and compiled once when first used.

* ``interview_by_id`` / ``load_interview`` -> ``Interview`` (sections of
  ``Question`` s, computed values, a mapping into the policy engine's facts).
* ``state`` -> ``State`` (next question, progress, irrelevant answers,
  computed values); ``next_question`` is its fast path.
* ``parse_answer`` / ``answer`` - form input to a stored value, or an
  ``AnswerError`` whose message names the field.
* ``prefill`` - answers from the case record (keys in ``PREFILL_KEYS``).
* ``review`` / ``missing`` - for the review page and the "still needed" list.
* ``previous_question`` - the question before a given one, for a Back link.
* ``screen`` -> ``Screen`` - a step page's next question, progress and Back
  link from one walk.
* ``to_facts`` - the answers as ``cpnav.policy.parse_facts`` input.

Conditions and computed values are written in a small expression language
(see ``expressions.py``) compiled into closures - never ``eval``.
"""

from cpnav.interview.answers import AnswerValue, display, parse_answer
from cpnav.interview.engine import (
    ReviewRow,
    ReviewSection,
    Screen,
    SectionProgress,
    State,
    answer,
    missing,
    next_question,
    previous_question,
    review,
    screen,
    state,
    to_facts,
)
from cpnav.interview.errors import (
    AnswerError,
    ExpressionError,
    InterviewDefinitionError,
    InterviewNotFound,
)
from cpnav.interview.loader import interview_by_id, load_interview, shipped_interview_ids
from cpnav.interview.model import Choice, Interview, PersonField, Question, Section
from cpnav.interview.prefill import PREFILL_KEYS, prefill

__all__ = [
    "PREFILL_KEYS",
    "AnswerError",
    "AnswerValue",
    "Choice",
    "ExpressionError",
    "Interview",
    "InterviewDefinitionError",
    "InterviewNotFound",
    "PersonField",
    "Question",
    "ReviewRow",
    "ReviewSection",
    "Screen",
    "Section",
    "SectionProgress",
    "State",
    "answer",
    "display",
    "interview_by_id",
    "load_interview",
    "missing",
    "next_question",
    "parse_answer",
    "prefill",
    "previous_question",
    "review",
    "screen",
    "shipped_interview_ids",
    "state",
    "to_facts",
]
