"""One question at a time, for any interview: the web side of cpnav/interview.

The engine decides which question comes next and validates answers; this
module turns a question into a USWDS form, reads the posted value back in the
shape the engine expects, and builds the step and review pages. Each answer is
saved when its step is submitted, so an interrupted interview resumes at the
same question.
"""

from __future__ import annotations

from collections.abc import Callable
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
    answer,
    display,
    missing,
    review,
    state,
)
from cpnav.interview.answers import YES_NO_UNKNOWN_LABELS

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
        count = min(int(data.get("rows", "0") or 0), 50)
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


def handle(request: HttpRequest, step: Step, question_id: str | None) -> HttpResponse:
    """GET shows a question (the next one, or ?q= for going back and editing);
    POST validates and saves its answer, then moves on."""
    current = state(step.interview, step.answers, today=step.today)
    question = _question(step, question_id) or current.next_question
    if question is None:
        return redirect(step.review_url)
    error = None
    value = step.answers.get(question.id)
    if request.method == "POST":
        raw = raw_from(question, request.POST)
        try:
            updated = answer(step.interview, step.answers, question.id, raw, today=step.today)
        except AnswerError as problem:
            error, value = str(problem), raw
        else:
            step.save(updated)
            if request.POST.get("action") == "review":
                return redirect(step.review_url)
            following = state(step.interview, updated, today=step.today).next_question
            return redirect(step.url(following.id if following else None))
    form = form_for(question, value if question.type != "people" else None)
    if error:
        form.cleaned_data = {}  # an unbound form has none; add_error expects it
        form.add_error("answer", error)
    previous = _previous(step, question)
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
            "progress": current.progress,
            "previous_url": step.url(previous) if previous else None,
            "error": error,
            **step.extra,
        },
    )


def _question(step: Step, question_id: str | None) -> Question | None:
    if not question_id:
        return None
    try:
        return step.interview.question(question_id)
    except KeyError:
        return None


def _previous(step: Step, question: Question) -> str | None:
    """The relevant answered question just before this one, for the Back link."""
    rows = [
        row
        for section in review(step.interview, step.answers, today=step.today)
        for row in section.rows
        if row.relevant
    ]
    ids = [row.question_id for row in rows]
    order = [q.id for q in step.interview.questions]
    earlier = [qid for qid in ids if order.index(qid) < order.index(question.id)]
    return earlier[-1] if earlier else None


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


__all__ = ["Step", "display", "form_for", "handle", "raw_from", "review_page"]
