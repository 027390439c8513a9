"""runner.visit: the engine's side of a step page, without HTTP; and the step
view's Back link, redirects and refused input through HTTP."""

from __future__ import annotations

from datetime import date
from html import unescape
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from cpnav.interview import (
    Interview,
    Question,
    interview_by_id,
    next_question,
    previous_question,
    state,
)
from cpnav.interview.answers import Raw
from cpnav.screening import runner
from cpnav.screening.models import Screening
from cpnav.screening.runner import Saved, Show, visit
from tests.conftest import signed_in
from tests.route import Route

TODAY = date(2025, 6, 1)
# The path where every follow-up is asked, and its answers as stored.
YES_PATH = {
    "came_from_abroad": "yes",
    "recruited_with_promises": "yes",
    "job_differs_from_promise": "yes",
}


@pytest.fixture(scope="module")
def screening() -> Interview:
    return interview_by_id("screening")


def typed(value: Raw) -> Any:
    return lambda _question: value


def complete(interview: Interview) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    while (page := visit(interview, answers, None, None, today=TODAY)) is not None:
        assert isinstance(page, Show)
        raw: Raw = "unknown" if page.question.type == "yes_no_unknown" else ""
        if page.question.type == "choice":
            raw = str((page.question.choices or ())[0].value)
        if page.question.type == "multi_choice":
            raw = []
        saved = visit(interview, answers, page.question.id, typed(raw), today=TODAY)
        assert isinstance(saved, Saved), saved
        answers = saved.answers
    return answers


def test_get_shows_the_next_question_with_progress_and_back(screening: Interview) -> None:
    page = visit(screening, YES_PATH, None, None, today=TODAY)
    assert isinstance(page, Show)
    assert page.question.id == "works_for_someone"
    assert page.progress == state(screening, YES_PATH, today=TODAY).progress
    assert page.previous == "job_differs_from_promise"
    assert page.value is None
    assert page.error is None


def test_get_of_a_named_question_shows_its_saved_answer(screening: Interview) -> None:
    page = visit(screening, YES_PATH, "recruited_with_promises", None, today=TODAY)
    assert isinstance(page, Show)
    assert page.question.id == "recruited_with_promises"
    assert page.value == "yes"
    assert page.previous == "came_from_abroad"
    first = visit(screening, YES_PATH, "came_from_abroad", None, today=TODAY)
    assert isinstance(first, Show)
    assert first.previous is None


def test_an_unknown_question_id_falls_back_to_the_next_question(screening: Interview) -> None:
    for stale in ("no_such_question", ""):
        page = visit(screening, YES_PATH, stale, None, today=TODAY)
        assert isinstance(page, Show)
        assert page.question.id == "works_for_someone"
        saved = visit(screening, YES_PATH, stale, typed("no"), today=TODAY)
        assert isinstance(saved, Saved)
        assert saved.answers == {**YES_PATH, "works_for_someone": "no"}


def test_an_irrelevant_question_can_still_be_shown_and_answered(screening: Interview) -> None:
    answers = {**YES_PATH, "recruited_with_promises": "no"}
    page = visit(screening, answers, "job_differs_from_promise", None, today=TODAY)
    assert isinstance(page, Show)
    assert page.question.id == "job_differs_from_promise"
    assert page.value == "yes"  # kept while irrelevant
    assert page.previous == "recruited_with_promises"
    saved = visit(screening, answers, "job_differs_from_promise", typed("no"), today=TODAY)
    assert saved == Saved({**answers, "job_differs_from_promise": "no"}, "works_for_someone")


def test_post_saves_and_names_the_next_question_without_a_full_state(
    screening: Interview, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_state(*args: object, **kwargs: object) -> None:
        raise AssertionError("a POST that is accepted needs no full walk")

    monkeypatch.setattr(runner, "screen", no_state)
    before = dict(YES_PATH)
    saved = visit(screening, before, None, typed("yes"), today=TODAY)
    assert saved == Saved({**YES_PATH, "works_for_someone": "yes"}, "excessive_hours")
    assert before == YES_PATH  # the input is not changed
    named = visit(screening, before, "came_from_abroad", typed("no"), today=TODAY)
    # Answers later in the interview are kept; the next open question is named.
    assert named == Saved({**YES_PATH, "came_from_abroad": "no"}, "works_for_someone")


def test_post_back_to_the_review_does_not_look_for_the_next_question(
    screening: Interview, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []

    def counted(interview: Interview, answers: dict[str, Any], *, today: date) -> Question | None:
        calls.append("next")
        return next_question(interview, answers, today=today)

    monkeypatch.setattr(runner, "next_question", counted)
    saved = visit(screening, YES_PATH, "came_from_abroad", typed("no"), today=TODAY, to_review=True)
    assert saved == Saved({**YES_PATH, "came_from_abroad": "no"}, None)
    assert calls == []


def test_refused_input_shows_the_page_again_with_what_was_typed(screening: Interview) -> None:
    page = visit(screening, YES_PATH, "date_of_birth", typed("31/02/2001"), today=TODAY)
    assert isinstance(page, Show)
    assert page.question.id == "date_of_birth"
    assert page.error
    assert page.value == "31/02/2001"
    assert page.progress == state(screening, YES_PATH, today=TODAY).progress
    assert page.previous == previous_question(screening, YES_PATH, "date_of_birth", today=TODAY)


def test_the_last_answer_goes_on_to_the_step_page_then_the_review(screening: Interview) -> None:
    answers = complete(screening)
    assert state(screening, answers, today=TODAY).complete
    assert visit(screening, answers, None, None, today=TODAY) is None
    assert visit(screening, answers, None, typed("yes"), today=TODAY) is None
    last = screening.questions[-1]
    again = visit(screening, answers, last.id, typed("unknown"), today=TODAY)
    assert again == Saved({**answers, last.id: "unknown"}, None)


# ---- through HTTP ---------------------------------------------------------------


@pytest.mark.django_db
def test_step_page_back_link_redirects_and_refused_input(route: Route) -> None:
    client = signed_in(Client(), route.investigator)
    client.post(reverse("screening:start"), {"label": "roadside stop"})
    screening = Screening.objects.get()
    url = reverse("screening:step", args=[screening.pk])
    first = client.get(url).content.decode()
    assert "Back" not in first
    going = client.post(url, {"answer": "yes"})
    assert going["Location"] == f"{url}?q=recruited_with_promises"
    client.post(f"{url}?q=recruited_with_promises", {"answer": "no"})
    page = unescape(client.get(f"{url}?q=works_for_someone").content.decode())
    # job_differs_from_promise is skipped: Back goes to the question before it.
    assert f'href="{url}?q=recruited_with_promises"' in page
    refused = unescape(
        client.post(f"{url}?q=date_of_birth", {"answer": "31/02/2001"}).content.decode()
    )
    assert "usa-error-message" in refused
    assert 'value="31/02/2001"' in refused
    to_review = client.post(f"{url}?q=came_from_abroad", {"answer": "no", "action": "review"})
    assert to_review["Location"] == reverse("screening:review", args=[screening.pk])
    screening.refresh_from_db()
    assert screening.answers == {"came_from_abroad": "no", "recruited_with_promises": "no"}
