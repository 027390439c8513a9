"""Screening: start from the home page, answer one question at a time, review, hand to a case."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cpnav.accounts import access
from cpnav.accounts.models import User
from cpnav.audit.services import record
from cpnav.cases import services
from cpnav.cases.models import Person
from cpnav.interview import interview_by_id, state, to_facts
from cpnav.interview.answers import CONTROL_CHARACTERS
from cpnav.screening.models import Screening
from cpnav.screening.runner import Step, handle, review_page

INTERVIEW = "screening"


def _user(request: HttpRequest) -> User:
    user = access.signed_in(request.user)
    assert user is not None
    return user


def _mine(request: HttpRequest, screening_id: UUID) -> Screening:
    """Screenings are the officer's own working notes: nobody else sees them."""
    found = Screening.objects.filter(pk=screening_id, owner=_user(request)).first()
    if found is None:
        raise access.not_found(request, "screening", screening_id)
    return found


def _step(screening: Screening) -> Step:
    def save(answers: dict[str, Any]) -> None:
        Screening.objects.filter(pk=screening.pk).update(answers=answers, updated_at=timezone.now())
        screening.answers = answers

    return Step(
        interview=interview_by_id(INTERVIEW),
        answers=dict(screening.answers or {}),
        save=save,
        url=lambda qid: (
            reverse("screening:step", args=[screening.pk]) + (f"?q={qid}" if qid else "")
        ),
        review_url=reverse("screening:review", args=[screening.pk]),
        title=_("Screening"),
        today=date.today(),
        extra={"screening": screening, "step_base": reverse("screening:step", args=[screening.pk])},
    )


@login_required
def index(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    return render(
        request,
        "screening/index.html",
        {
            "screenings": Screening.objects.filter(owner=user)[:50],
            "agencies": list(access.user_agencies(user)),
        },
    )


@require_POST
@login_required
def start(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    agency = access.user_agencies(user).first()
    if agency is None:
        raise access.forbidden(request, "screening without an agency")
    label = request.POST.get("label", "")[:80]
    if CONTROL_CHARACTERS.search(label):
        # NUL cannot be stored by PostgreSQL; no control character is meant here.
        messages.error(request, _("The reference contains characters that cannot be saved; please retype it."))  # fmt: skip
        return redirect("screening:index")
    screening = Screening.objects.create(owner=user, agency=agency, label=label)
    record(
        "screening.started",
        request=request,
        agency_id=agency.pk,
        object_type="screening",
        object_id=screening.pk,
    )
    return redirect("screening:step", screening_id=screening.pk)


@login_required
def step(request: HttpRequest, screening_id: UUID) -> HttpResponse:
    screening = _mine(request, screening_id)
    return handle(request, _step(screening), request.GET.get("q"))


@login_required
def review(request: HttpRequest, screening_id: UUID) -> HttpResponse:
    screening = _mine(request, screening_id)
    step_ = _step(screening)
    current = state(step_.interview, step_.answers, today=step_.today)
    people = Person.objects.filter(case__in=access.visible_cases(request.user)).select_related(
        "case"
    )
    step_.extra.update(
        {"computed": current.computed, "people": people if screening.handed_to is None else []}
    )
    return review_page(request, step_, "screening/review.html")


@require_POST
@login_required
def hand_off(request: HttpRequest, screening_id: UUID) -> HttpResponse:
    """Give the screening's answers to a case: a new draft CP request for a person on it."""
    screening = _mine(request, screening_id)
    person_id = request.POST.get("person", "")
    try:
        person, share = access.get_person(request, UUID(person_id))
    except ValueError:
        messages.error(request, _("Choose the person the screening is about."))
        return redirect("screening:review", screening_id=screening.pk)
    if share is not None:
        raise access.forbidden(request, "hand off screening")
    cp = services.start_request(request, _user(request), person)
    facts = to_facts(interview_by_id(INTERVIEW), screening.answers, today=date.today())
    cp.facts = {key: facts[key] for key in ("exploitation", "witness") if key in facts}
    cp.save(update_fields=["facts"])
    screening.handed_to = cp
    screening.save(update_fields=["handed_to"])
    record(
        "screening.handed_off",
        request=request,
        agency_id=person.case.agency_id,
        object_type="screening",
        object_id=screening.pk,
        details={"request": str(cp.pk)},
    )
    messages.success(request, _("The screening's answers started a draft CP request."))
    return redirect("cases:request", request_id=cp.pk)
