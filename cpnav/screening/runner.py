"""One question at a time, for any interview: the web side of cpnav/interview.

The engine decides which question comes next and validates answers; this
module turns a question into a USWDS form, reads the posted value back in the
shape the engine expects, and builds the step and review pages. Each answer is
saved when its step is submitted, so an interrupted interview resumes at the
same question.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render

from cpnav.interview import (
    AnswerError,
    Interview,
    Question,
    SectionProgress,
    answer,
    display,
    missing,
    next_question,
    review,
    screen,
)
from cpnav.interview.answers import YES_NO_UNKNOWN_LABELS, Raw

SPARE_PEOPLE_ROWS = 2


def _choices(question: Question) -> list[tuple[str, str]]:
    if question.type == "yes_no_unknown":
        return list(YES_NO_UNKNOWN_LABELS.items())
    return [(str(c.value), c.label) for c in question.choices or ()]


def form_for(question: Question, value: Any) -> forms.Form:
    """A one-field form to render the question with our USWDS field templates."""
    kind = question.type
    field: forms.Field
    common: dict[str, Any] = {
        "label": question.label,
        "help_text": question.help or "",
        "required": False,
    }
    if kind in {"yes_no_unknown", "choice"}:
        field = forms.ChoiceField(choices=_choices(question), widget=forms.RadioSelect, **common)
    elif kind == "multi_choice":
        field = forms.MultipleChoiceField(
            choices=_choices(question), widget=forms.CheckboxSelectMultiple, **common
        )
    elif kind == "date":
        field = forms.CharField(widget=forms.DateInput(attrs={"type": "date"}), **common)
    elif kind == "number":
        field = forms.CharField(widget=forms.TextInput(attrs={"inputmode": "numeric"}), **common)
    else:
        long_text = (question.max_length or 0) > 200
        widget = forms.Textarea(attrs={"rows": 5}) if long_text else forms.TextInput()
        field = forms.CharField(widget=widget, **common)
    form = forms.Form(initial={"answer": value} if value is not None else {})
    form.fields["answer"] = field
    return form


def raw_from(question: Question, data: QueryDict) -> Any:
    """The posted input in the shape parse_answer takes."""
    if question.type == "multi_choice":
        return data.getlist("answer")
    if question.type == "people":
        rows = []
        rows_posted = data.get("rows", "")
        count = min(int(rows_posted), 50) if rows_posted.isdecimal() else 0
        for index in range(count):
            rows.append({f.id: data.get(f"p{index}-{f.id}", "") for f in question.fields or ()})
        return rows
    return data.get("answer", "")


@dataclass(frozen=True)
class Step:
    """Where an interview is kept and how to save it; supplied by each host view."""

    interview: Interview
    answers: dict[str, Any]
    save: Callable[[dict[str, Any]], None]
    url: Callable[[str | None], str]  # the step page for a question id (None: next)
    review_url: str
    title: str
    today: date
    extra: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Show:
    """A step page to render."""

    question: Question
    progress: list[SectionProgress]
    previous: str | None  # the question before this one, for the Back link
    value: Any  # what the form shows: the saved answer, or the input just refused
    error: str | None


@dataclass(frozen=True, slots=True)
class Saved:
    """An accepted answer: save ``answers``, then show ``following`` (None: no
    question named, so the step page picks the next one or the review)."""

    answers: dict[str, Any]
    following: str | None


def visit(
    interview: Interview,
    answers: Mapping[str, Any],
    question_id: str | None,
    posted: Callable[[Question], Raw] | None,
    *,
    today: date,
    to_review: bool = False,
) -> Show | Saved | None:
    """The engine's side of one request to a step page, without HTTP or templates.

    The question is ``question_id`` if it names one, else the next to ask.
    GET (``posted`` None) shows it, with progress and the Back link. POST
    reads its input with ``posted`` and applies it: accepted, the new answers
    and the question to go to (not looked for when ``to_review``); refused,
    the page again with the error and what was typed. None: nothing is left
    to ask (the review). Each request does only the engine work it needs.
    """
    question = _question(interview, question_id)
    if posted is not None:
        if question is None:
            question = next_question(interview, answers, today=today)
            if question is None:
                return None
        raw = posted(question)
        try:
            updated = answer(interview, answers, question.id, raw, today=today)
        except AnswerError as problem:
            return _show(interview, answers, question, today, raw, str(problem))
        if to_review:
            return Saved(updated, None)
        following = next_question(interview, updated, today=today)
        return Saved(updated, following.id if following else None)
    return _show(interview, answers, question, today, None, None)


def _show(
    interview: Interview,
    answers: Mapping[str, Any],
    question: Question | None,
    today: date,
    refused: Raw | None,
    error: str | None,
) -> Show | None:
    page = screen(interview, answers, question.id if question else None, today=today)
    question = question or page.next_question
    if question is None:
        return None
    value = answers.get(question.id) if error is None else refused
    return Show(question, page.progress, page.previous, value, error)


def handle(request: HttpRequest, step: Step, question_id: str | None) -> HttpResponse:
    """GET shows a question (the next one, or ?q= for going back and editing);
    POST validates and saves its answer, then moves on."""
    posting = request.method == "POST"
    to_review = posting and request.POST.get("action") == "review"
    outcome = visit(
        step.interview,
        step.answers,
        question_id,
        (lambda question: raw_from(question, request.POST)) if posting else None,
        today=step.today,
        to_review=to_review,
    )
    if outcome is None:
        return redirect(step.review_url)
    if isinstance(outcome, Saved):
        step.save(outcome.answers)
        return redirect(step.review_url if to_review else step.url(outcome.following))
    question, value, error = outcome.question, outcome.value, outcome.error
    form = form_for(question, value if question.type != "people" else None)
    if error:
        form.cleaned_data = {}  # an unbound form has none; add_error expects it
        form.add_error("answer", error)
    people = _people_rows(question, value)
    return render(
        request,
        "screening/step.html",
        {
            "step": step,
            "question": question,
            "form": form,
            "people": people,
            "people_count": len(people),
            "progress": outcome.progress,
            "previous_url": step.url(outcome.previous) if outcome.previous else None,
            "error": error,
            **step.extra,
        },
    )


def _question(interview: Interview, question_id: str | None) -> Question | None:
    if not question_id:
        return None
    try:
        return interview.question(question_id)
    except KeyError:
        return None


def _people_rows(question: Question, value: Any) -> list[list[tuple[str, str, str, str]]]:
    if question.type != "people":
        return []
    records = value if isinstance(value, list) else []
    rows = [*records, *({} for _ in range(SPARE_PEOPLE_ROWS))]
    return [
        [
            (
                f"p{index}-{f.id}",
                f.label,
                f.type,
                str(record.get(f.id, "")) if isinstance(record, dict) else "",
            )
            for f in question.fields or ()
        ]
        for index, record in enumerate(rows)
    ]


def review_page(
    request: HttpRequest, step: Step, template: str = "screening/review.html"
) -> HttpResponse:
    sections = review(step.interview, step.answers, today=step.today)
    still_needed = missing(step.interview, step.answers, today=step.today)
    return render(
        request,
        template,
        {"step": step, "sections": sections, "missing": still_needed, **step.extra},
    )


__all__ = [
    "Saved",
    "Show",
    "Step",
    "display",
    "form_for",
    "handle",
    "raw_from",
    "review_page",
    "visit",
]
