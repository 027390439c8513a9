"""The guided CP request (and extension) interview, saved into the request as it goes.

Pre-filled from the case and the person so officers answer only what is
missing; every saved answer refreshes the facts and the determination.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.translation import gettext as _

from cpnav.accounts import access
from cpnav.accounts.models import User
from cpnav.audit.services import record
from cpnav.cases import services, workflow
from cpnav.cases.models import CPRequest, DecisionKind
from cpnav.interview import Interview, interview_by_id, prefill, to_facts
from cpnav.screening.runner import Step, handle, review_page

CIVIL = {"none": "not_filed", "filed": "filed", "pending": "filed"}


def interview_id(cp: CPRequest) -> str:
    return "extension" if cp.kind == "extension" else "cp_request"


def known_from_record(cp: CPRequest, user: User) -> dict[str, Any]:
    """What the case, the person and the signed-in official already tell us."""
    case, person = cp.case, cp.person
    known: dict[str, Any] = {
        "requester.agency_level": case.agency.level,
        "requester.federal_partner_engaged": cp.sponsor_office_id is not None or None,
        "requester.name": user.full_name,
        "requester.email": user.email,
        "case.reference": case.case_number,
        "case.trafficking_forms": list(case.trafficking_forms),
        "case.civil_status": CIVIL.get(case.civil_status, "unknown"),
        "person.citizenship": person.citizenship,
        "person.date_of_birth": person.date_of_birth or None,
        "person.age_estimate": person.age_estimate,
        "person.language": ", ".join(person.languages or []) or None,
    }
    grant = (
        cp.person.requests.filter(decisions__kind=DecisionKind.GRANTED)
        .exclude(pk=cp.pk)
        .order_by("-decided_at")
        .first()
    )
    if grant is not None:
        decision = (
            grant.decisions.filter(kind=DecisionKind.GRANTED).order_by("-recorded_at").first()
        )
        if decision is not None and decision.end_date:
            known["grant.term_end"] = decision.end_date
            known["grant.reference"] = workflow.reference(grant)
    return {key: value for key, value in known.items() if value not in (None, "", [])}


def save_answers(
    http: HttpRequest, cp: CPRequest, interview: Interview, updated: dict[str, Any], *, today: date
) -> CPRequest:
    """Merge answers onto the latest saved ones and refresh facts and determination.

    One answer at a time onto the latest saved answers: two people answering
    different questions never overwrite each other.
    """
    with transaction.atomic():
        fresh = (
            CPRequest.objects.select_for_update(of=("self",))
            .select_related("case", "case__agency", "person", "sponsor_office")
            .get(pk=cp.pk)
        )
        merged = {**(fresh.answers or {}), **updated}
        facts = to_facts(interview, merged, today=today)
        fresh.answers = merged
        fresh.facts = {k: facts[k] for k in ("exploitation", "witness") if k in facts}
        fresh.narrative = str(merged.get("investigation_summary") or fresh.narrative)
        workflow.refresh_determination(fresh)
        fresh.version += 1
        fresh.save()
        record("request.answered", request=http, agency_id=fresh.case.agency_id,
               object_type="request", object_id=fresh.pk)  # fmt: skip
    return fresh


def answers_with_prefill(
    cp: CPRequest, user: User, interview: Interview, today: date
) -> dict[str, Any]:
    return prefill(interview, known_from_record(cp, user), cp.answers or {}, today=today)


def _step(request: HttpRequest, cp: CPRequest) -> Step:
    user = access.signed_in(request.user)
    assert user is not None
    interview = interview_by_id(interview_id(cp))
    today = date.today()
    answers = answers_with_prefill(cp, user, interview, today)

    def save(updated: dict[str, Any]) -> None:
        save_answers(request, cp, interview, updated, today=today)

    base = reverse("cases:request_interview", args=[cp.pk])
    return Step(
        interview=interview,
        answers=answers,
        save=save,
        url=lambda qid: base + (f"?q={qid}" if qid else ""),
        review_url=reverse("cases:request_review", args=[cp.pk]),
        title=_("Extension request") if cp.kind == "extension" else _("CP request"),
        today=today,
        extra={"cp": cp, "reference": workflow.reference(cp), "step_base": base},
    )


def _editable(request: HttpRequest, request_id: UUID) -> CPRequest:
    cp = access.get_cp_request(request, request_id)
    user = access.signed_in(request.user)
    if user is None or not services.editable(user, cp):
        raise access.forbidden(request, "request interview")
    return cp


@login_required
def interview(request: HttpRequest, request_id: UUID) -> HttpResponse:
    cp = _editable(request, request_id)
    return handle(request, _step(request, cp), request.GET.get("q"))


@login_required
def interview_review(request: HttpRequest, request_id: UUID) -> HttpResponse:
    cp = _editable(request, request_id)
    return review_page(request, _step(request, cp), "cases/request_review.html")
