from __future__ import annotations

from functools import cache
from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from cpnav.check.forms import FIELD_FOR_PATH, STEPS, facts_from
from cpnav.policy import FactsError, NoRuleSetError, determine, parse_facts
from cpnav.policy.citations import citations

URGENCY_ORDER = {"immediate": 0, "soon": 1, "routine": 2}


@cache
def citation_urls() -> dict[str, str]:
    return {c.label: c.url for c in citations().values() if c.url}


def _field_names(step: type[forms.Form]) -> list[str]:
    return list(step.base_fields)


def _hidden(request: HttpRequest, skip: int) -> list[tuple[str, str]]:
    """Answers of the other steps, carried along as hidden fields."""
    pairs: list[tuple[str, str]] = []
    for index, step in enumerate(STEPS):
        if index == skip:
            continue
        for name in _field_names(step):
            pairs.extend((name, value) for value in request.POST.getlist(name))
    return pairs


def _render_step(request: HttpRequest, index: int, form: forms.Form) -> HttpResponse:
    return render(
        request,
        "check/step.html",
        {
            "form": form,
            "index": index,
            "number": index + 1,
            "total": len(STEPS),
            "title": form.title,  # type: ignore[attr-defined]
            "hidden": _hidden(request, index),
        },
    )


def check(request: HttpRequest) -> HttpResponse:
    """Public eligibility check: four short steps, then the determination."""
    if request.method != "POST":
        return _render_step(request, 0, STEPS[0]())
    try:
        index = min(max(int(request.POST.get("step", "0")), 0), len(STEPS) - 1)
    except ValueError:
        index = 0
    action = request.POST.get("action", "next")
    if action.startswith("goto-"):
        target = action.removeprefix("goto-")
        goto = int(target) if target.isdigit() and int(target) < len(STEPS) else 0
        return _render_step(request, goto, STEPS[goto](request.POST))
    form = STEPS[index](request.POST)
    if not form.is_valid():
        return _render_step(request, index, form)
    if action == "back" and index > 0:
        return _render_step(request, index - 1, STEPS[index - 1](request.POST))
    if index < len(STEPS) - 1:
        return _render_step(request, index + 1, STEPS[index + 1](request.POST))
    return _result(request)


def _result(request: HttpRequest) -> HttpResponse:
    answers: dict[str, Any] = {}
    summary: list[tuple[int, str, list[tuple[str, str]]]] = []
    for index, step in enumerate(STEPS):
        form = step(request.POST)
        if not form.is_valid():
            return _render_step(request, index, form)
        answers.update(form.cleaned_data)
        summary.append((index, str(form.title), _answers(form)))  # type: ignore[attr-defined]
    try:
        determination = determine(parse_facts(facts_from(answers)))
    except FactsError as error:
        return _show_engine_errors(request, error.errors)
    except NoRuleSetError as error:
        return _show_engine_errors(request, [("$.as_of", str(error))])
    result = determination.to_json()
    result["actions"].sort(key=lambda action: URGENCY_ORDER[action["urgency"]])
    urls = citation_urls()
    for item in [*result["criteria"], *result["actions"]]:
        item["links"] = [(label, urls.get(label)) for label in item["citations"]]
    return render(
        request,
        "check/result.html",
        {
            "determination": result,
            "summary": summary,
            "hidden": _hidden(request, -1),
        },
    )


def _answers(form: forms.Form) -> list[tuple[str, str]]:
    """Each question with the answer given, in words, for the review list."""
    rows = []
    for name, field in form.fields.items():
        value = form.cleaned_data.get(name)
        choices = dict(getattr(field, "choices", []))
        if value in (None, "", []):
            shown = str(choices.get("", "")) or "-"
        elif isinstance(value, list):
            shown = ", ".join(str(choices.get(v, v)) for v in value)
        else:
            shown = str(choices.get(value, value))
        rows.append((str(field.label), shown))
    return rows


def _show_engine_errors(request: HttpRequest, errors: list[tuple[str, str]]) -> HttpResponse:
    for index, step in enumerate(STEPS):
        form = step(request.POST)
        form.is_valid()
        placed = False
        for path, message in errors:
            name = FIELD_FOR_PATH.get(path)
            if name in form.fields:
                form.add_error(name, message)
                placed = True
        if placed:
            return _render_step(request, index, form)
    form = STEPS[-1](request.POST)
    form.is_valid()
    for path, message in errors:
        form.add_error(None, f"{path}: {message}")
    return _render_step(request, len(STEPS) - 1, form)
