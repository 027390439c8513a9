from __future__ import annotations

from html import unescape
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from cpnav.audit.models import AuditEvent
from cpnav.cases.models import CPRequest
from cpnav.interview import interview_by_id
from cpnav.screening.models import Screening
from tests.conftest import signed_in
from tests.route import Route

pytestmark = pytest.mark.django_db

YES = {"yes_no_unknown": "yes", "date": "2012-05-01", "number": "14"}


def start(client: Client) -> Screening:
    response = client.post(reverse("screening:start"), {"label": "roadside stop"})
    screening = Screening.objects.get()
    assert response["Location"] == reverse("screening:step", args=[screening.pk])
    return screening


def answer_all(client: Client, screening: Screening, value_for: dict[str, Any]) -> int:
    steps = 0
    interview = interview_by_id("screening")
    while True:
        page = client.get(reverse("screening:step", args=[screening.pk]))
        if page.status_code == 302:
            return steps
        html = unescape(page.content.decode())
        question = next(q for q in interview.questions if q.label in html)
        value = value_for.get(question.type, "unknown")
        if question.type == "choice":
            value = (question.choices or ())[0].value
        response = client.post(reverse("screening:step", args=[screening.pk]), {"answer": value})
        assert response.status_code == 302, response.content.decode()[:300]
        steps += 1
        assert steps <= len(interview.questions)


def test_screening_walk_saves_every_answer_and_resumes(route: Route) -> None:
    client = signed_in(Client(), route.investigator)
    screening = start(client)
    first = client.get(reverse("screening:step", args=[screening.pk])).content.decode()
    interview = interview_by_id("screening")
    assert interview.questions[0].label in first
    client.post(reverse("screening:step", args=[screening.pk]), {"answer": "yes"})
    screening.refresh_from_db()
    assert screening.answers == {interview.questions[0].id: "yes"}
    # A new session (browser closed) resumes at the next question.
    again = signed_in(Client(), route.investigator)
    html = again.get(reverse("screening:step", args=[screening.pk])).content.decode()
    assert interview.questions[1].label in html
    assert "Back" in html
    steps = answer_all(again, screening, YES)
    assert steps >= 10
    review = again.get(reverse("screening:review", args=[screening.pk])).content.decode()
    assert "Indicators of" in review
    assert "notify HHS within 24 hours" in review


def test_bad_answers_are_explained_and_nothing_is_saved(route: Route) -> None:
    client = signed_in(Client(), route.investigator)
    screening = start(client)
    html = client.post(
        reverse("screening:step", args=[screening.pk]), {"answer": "perhaps"}
    ).content.decode()
    assert "usa-error-message" in html
    screening.refresh_from_db()
    assert screening.answers == {}


def test_editing_an_earlier_answer_keeps_later_ones(route: Route) -> None:
    client = signed_in(Client(), route.investigator)
    screening = start(client)
    answer_all(client, screening, YES)
    screening.refresh_from_db()
    before = dict(screening.answers)
    first = interview_by_id("screening").questions[0]
    client.post(
        reverse("screening:step", args=[screening.pk]) + f"?q={first.id}",
        {"answer": "no", "action": "review"},
    )
    screening.refresh_from_db()
    assert screening.answers[first.id] == "no"
    assert {k: v for k, v in screening.answers.items() if k != first.id} == {
        k: v for k, v in before.items() if k != first.id
    }


def test_screenings_are_private_to_the_officer(route: Route) -> None:
    client = signed_in(Client(), route.investigator)
    screening = start(client)
    for persona in ("supervisor", "teammate", "outsider"):
        other = signed_in(Client(), getattr(route, persona))
        for name in ("screening:step", "screening:review"):
            assert other.get(reverse(name, args=[screening.pk])).status_code == 404
    assert AuditEvent.objects.filter(action="access.denied", object_type="screening").exists()


def test_hand_off_starts_a_draft_request_with_the_facts(route: Route) -> None:
    client = signed_in(Client(), route.investigator)
    screening = start(client)
    answer_all(client, screening, YES)
    response = client.post(
        reverse("screening:hand_off", args=[screening.pk]), {"person": str(route.person.pk)}
    )
    screening.refresh_from_db()
    cp = screening.handed_to
    assert cp is not None
    assert response["Location"] == reverse("cases:request", args=[cp.pk])
    assert cp.status == "draft"
    assert cp.facts["exploitation"]["commercial_sex_act"] is True
    outsider = signed_in(Client(), route.outsider)
    assert (
        outsider.post(
            reverse("screening:hand_off", args=[screening.pk]), {"person": str(route.person.pk)}
        ).status_code
        == 404
    )
    assert CPRequest.objects.count() == 2


def test_screening_can_run_without_naming_anyone(route: Route) -> None:
    client = signed_in(Client(), route.investigator)
    screening = start(client)
    answer_all(client, screening, YES)
    assert all(
        q.type != "text" or "name" not in q.id for q in interview_by_id("screening").questions
    )
