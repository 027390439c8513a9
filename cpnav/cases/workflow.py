"""The route a CP request travels, as a state machine with named transitions.

draft -> awaiting_supervisor -> (non-federal agencies) awaiting_sponsor ->
submitted -> information_requested <-> submitted -> granted / denied;
withdraw from any open state. A supervisor can return a request; a federal
sponsor can decline it, and the agency then picks another partner.

Each transition checks the actor and the current state, writes the request's
history and the audit trail, and notifies people after the commit.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cpnav.accounts import access
from cpnav.accounts.models import Agency, Level, Membership, Role, User
from cpnav.audit.services import record
from cpnav.cases.models import (
    OPEN_STATUSES,
    CPRequest,
    Decision,
    DecisionKind,
    Notification,
    RequestEvent,
    Status,
)
from cpnav.policy import (
    FactsError,
    NoRuleSetError,
    determine,
    extension_term,
    parse_facts,
    term_for,
)
from cpnav.policy.engine import is_minor_on
from cpnav.policy.facts import Person as FactsPerson

log = logging.getLogger("cpnav.cases")


class TransitionError(ValueError):
    """A transition that cannot happen now; ``fields`` maps inputs to messages."""

    def __init__(self, message: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.fields = fields or {}


Check = Callable[[User, CPRequest], bool]


def _team(user: User, cp: CPRequest) -> bool:
    return access.on_case_team(user, cp.case)


def _supervisor(user: User, cp: CPRequest) -> bool:
    return access.supervises(user, cp.case)


def _team_or_supervisor(user: User, cp: CPRequest) -> bool:
    return _team(user, cp) or _supervisor(user, cp)


def is_sponsor(user: User, cp: CPRequest) -> bool:
    return (
        cp.sponsor_office_id is not None
        and Membership.objects.filter(
            user=user, agency_id=cp.sponsor_office_id, role=Role.FEDERAL_SPONSOR
        ).exists()
    )


def _ccht(user: User, cp: CPRequest) -> bool:
    return Membership.objects.filter(
        user=user, role=Role.CCHT_REVIEWER, agency__is_ccht=True
    ).exists()


def _responder(user: User, cp: CPRequest) -> bool:
    return _team(user, cp) or is_sponsor(user, cp)


@dataclass(frozen=True)
class Transition:
    name: str
    label: Any
    sources: tuple[str, ...]
    allowed: Check
    needs_comment: bool = False


TRANSITIONS: dict[str, Transition] = {
    t.name: t
    for t in [
        Transition("submit_for_approval", gettext_lazy("Send to supervisor"), (Status.DRAFT,), _team),
        Transition("approve", gettext_lazy("Approve"), (Status.AWAITING_SUPERVISOR,), _supervisor),
        Transition("return", gettext_lazy("Return with comments"), (Status.AWAITING_SUPERVISOR,),
                   _supervisor, needs_comment=True),
        Transition("endorse", gettext_lazy("Endorse and submit to CCHT"), (Status.AWAITING_SPONSOR,), is_sponsor),
        Transition("decline", gettext_lazy("Decline to sponsor"), (Status.AWAITING_SPONSOR,), is_sponsor,
                   needs_comment=True),
        Transition("record_receipt", gettext_lazy("Record receipt"), (Status.SUBMITTED,), _ccht),
        Transition("request_information", gettext_lazy("Request information"), (Status.SUBMITTED,), _ccht),
        Transition("respond", gettext_lazy("Send the information"), (Status.INFORMATION_REQUESTED,),
                   _responder, needs_comment=True),
        Transition("grant", gettext_lazy("Record grant"), (Status.SUBMITTED,), _ccht),
        Transition("deny", gettext_lazy("Record denial"), (Status.SUBMITTED,), _ccht, needs_comment=True),
        Transition("withdraw", gettext_lazy("Withdraw"), tuple(OPEN_STATUSES), _team_or_supervisor,
                   needs_comment=True),
    ]
}  # fmt: skip


def available(user: User, cp: CPRequest) -> list[Transition]:
    """Transitions this user may take on this request now (for buttons and the API)."""
    return [
        t
        for t in TRANSITIONS.values()
        if cp.status in t.sources
        and t.allowed(user, cp)
        and not (t.name == "record_receipt" and cp.received_at is not None)
    ]


def facts_for(cp: CPRequest, *, as_of: date | None = None) -> dict[str, Any]:
    """The request's facts with what the record itself knows filled in."""
    facts = dict(cp.facts or {})
    requester = dict(facts.get("requester") or {})
    requester["agency_level"] = cp.case.agency.level
    if cp.case.agency.level != Level.FEDERAL:
        requester["federal_partner_engaged"] = cp.sponsor_office_id is not None
    facts["requester"] = requester
    person = dict(facts.get("person") or {})
    if cp.person.citizenship != "unknown":
        person["citizenship"] = cp.person.citizenship
    if cp.person.date_of_birth:
        person["date_of_birth"] = cp.person.date_of_birth
    elif cp.person.age_estimate is not None:
        person["age_estimate"] = cp.person.age_estimate
    facts["person"] = person
    if as_of is not None:
        facts["as_of"] = as_of.isoformat()
    return facts


def refresh_determination(cp: CPRequest) -> None:
    """Snapshot the policy engine's determination with its rules version."""
    try:
        result = determine(parse_facts(facts_for(cp)))
    except FactsError as error:
        raise TransitionError(
            _("Some facts are not valid: ") + "; ".join(f"{p}: {m}" for p, m in error.errors)
        ) from error
    cp.determination = result.to_json()
    cp.rules_version = result.rules_version
    minor = is_minor_on(parse_facts(facts_for(cp)).person or FactsPerson(), result.as_of)
    cp.age_group = {True: "minor", False: "adult", None: "unknown"}[minor]


def perform(
    http: HttpRequest | None, cp: CPRequest, name: str, actor: User, **data: Any
) -> CPRequest:
    """Run one named transition, or raise TransitionError / PermissionDenied."""
    transition = TRANSITIONS.get(name)
    if transition is None:
        raise TransitionError(_("Unknown action."))
    with transaction.atomic():
        fresh = (
            CPRequest.objects.select_for_update(of=("self",))
            .select_related("case", "case__agency", "person", "sponsor_office")
            .get(pk=cp.pk)
        )
        if fresh.status not in transition.sources:
            raise TransitionError(
                _("This request is %(status)s; it cannot be changed with “%(action)s” now.")
                % {"status": fresh.get_status_display().lower(), "action": transition.label}
            )
        denied = not transition.allowed(actor, fresh)
        if not denied:
            fresh = _run(http, fresh, transition, actor, data)
    if denied:
        # Recorded after the transaction ends, so the refusal is not rolled back with it.
        if http is not None:
            raise access.forbidden(http, f"request transition {name}")
        raise PermissionError(name)
    return fresh


def _run(
    http: HttpRequest | None,
    fresh: CPRequest,
    transition: Transition,
    actor: User,
    data: dict[str, Any],
) -> CPRequest:
    """Apply an allowed transition inside perform()'s transaction."""
    comment = str(data.get("comment", "")).strip()
    if transition.needs_comment and not comment:
        raise TransitionError(
            _("Say why, or what the answer is."), {"comment": str(_("This is required."))}
        )
    before = fresh.status
    recipients = _apply(fresh, transition.name, actor, comment, data)
    fresh.version += 1
    fresh.save()
    RequestEvent.objects.create(
        request=fresh,
        transition=transition.name,
        from_status=before,
        to_status=fresh.status,
        actor=actor,
        comment=comment,
    )
    record(
        f"request.{transition.name}",
        request=http,
        actor=actor,
        agency_id=fresh.case.agency_id,
        object_type="request",
        object_id=fresh.pk,
        details={"from": before, "to": fresh.status},
    )
    message = _notice(fresh, transition.name)
    users = [u for u in recipients if u.pk != actor.pk and u.is_active]
    transaction.on_commit(lambda: notify(users, message, fresh))
    return fresh


def _apply(cp: CPRequest, name: str, actor: User, comment: str, data: dict[str, Any]) -> list[User]:
    now = timezone.now()
    case = cp.case
    if name == "submit_for_approval":
        if case.agency.level != Level.FEDERAL and not cp.sponsor_office_id:
            raise TransitionError(
                _("Choose the federal partner office that will sponsor this request first."),
                {"sponsor_office": str(_("A federal partner is required for this agency."))},
            )
        refresh_determination(cp)
        cp.status = Status.AWAITING_SUPERVISOR
        return _people(case.agency, Role.SUPERVISOR)
    if name == "approve":
        if case.agency.level == Level.FEDERAL:
            cp.status = Status.SUBMITTED
            cp.submitted_at = now
            return [*_ccht_reviewers(), *_team_of(cp)]
        cp.status = Status.AWAITING_SPONSOR
        cp.routed_to_sponsor_at = now
        assert cp.sponsor_office is not None
        return _people(cp.sponsor_office, Role.FEDERAL_SPONSOR)
    if name == "return":
        cp.status = Status.DRAFT
        return _team_of(cp)
    if name == "endorse":
        cp.status = Status.SUBMITTED
        cp.sponsor = actor
        cp.submitted_at = now
        return [*_ccht_reviewers(), *_team_of(cp)]
    if name == "decline":
        cp.status = Status.DRAFT
        cp.sponsor_office = None
        cp.routed_to_sponsor_at = None
        return [*_team_of(cp), *_people(case.agency, Role.SUPERVISOR)]
    if name == "record_receipt":
        if cp.received_at is not None:
            raise TransitionError(_("Receipt was already recorded."))
        cp.received_at = now
        Decision.objects.create(request=cp, kind=DecisionKind.RECEIVED, recorded_by=actor)
        return _team_of(cp)
    if name == "request_information":
        what = str(data.get("information", "")).strip()
        due = data.get("due_date")
        errors = {}
        if not what:
            errors["information"] = str(_("Say what information is needed."))
        if not isinstance(due, date):
            errors["due_date"] = str(_("Give a due date."))
        elif due < timezone.localdate():
            errors["due_date"] = str(_("The due date is in the past."))
        if errors:
            raise TransitionError(_("Some details are missing."), errors)
        Decision.objects.create(
            request=cp, kind=DecisionKind.INFORMATION_REQUESTED, information_requested=what,
            due_date=due, recorded_by=actor,
        )  # fmt: skip
        cp.status = Status.INFORMATION_REQUESTED
        return [*_team_of(cp), *([cp.sponsor] if cp.sponsor else [])]
    if name == "respond":
        cp.status = Status.SUBMITTED
        return _ccht_reviewers()
    if name == "grant":
        # Grants build on cases; imported here so cases never import grants at load.
        from cpnav.grants.services import extension_dates, record_grant

        start = data.get("start_date")
        chained = extension_dates(cp.person) if cp.kind == "extension" else None
        if not isinstance(start, date) and chained is not None:
            start = chained[0]  # an extension runs on from the previous end
        if not isinstance(start, date):
            raise TransitionError(_("Give the start date from CCHT's notice."),
                                  {"start_date": str(_("This is required."))})  # fmt: skip
        # An extension's length comes from the rules in force when it starts.
        try:
            default_end = (
                extension_term(start - timedelta(days=1)).end
                if cp.kind == "extension"
                else term_for(start).end
            )
        except NoRuleSetError as error:  # a date before CP existed
            raise TransitionError(str(error), {"start_date": str(error)}) from error
        end = data.get("end_date") or default_end
        if end < start:
            raise TransitionError(_("The end date is before the start date."),
                                  {"end_date": str(_("The end date is before the start date."))})  # fmt: skip
        decision = Decision.objects.create(
            request=cp, kind=DecisionKind.GRANTED, start_date=start, end_date=end,
            recorded_by=actor, reason=comment,
        )  # fmt: skip
        record_grant(cp, decision)
        cp.status = Status.GRANTED
        cp.decided_at = now
        return _decision_audience(cp)
    if name == "deny":
        Decision.objects.create(
            request=cp, kind=DecisionKind.DENIED, reason=comment, recorded_by=actor
        )
        cp.status = Status.DENIED
        cp.decided_at = now
        return _decision_audience(cp)
    if name == "withdraw":
        Decision.objects.create(
            request=cp, kind=DecisionKind.WITHDRAWN, reason=comment, recorded_by=actor
        )
        was_submitted = cp.submitted_at is not None
        cp.status = Status.WITHDRAWN
        return [
            *_people(case.agency, Role.SUPERVISOR),
            *([cp.sponsor] if cp.sponsor else []),
            *(_ccht_reviewers() if was_submitted else []),
        ]
    raise TransitionError(_("Unknown action."))


def _people(agency: Agency, role: str) -> list[User]:
    return list(
        User.objects.filter(memberships__agency=agency, memberships__role=role, is_active=True)
    )


def _ccht_reviewers() -> list[User]:
    return list(
        User.objects.filter(
            memberships__role=Role.CCHT_REVIEWER, memberships__agency__is_ccht=True, is_active=True
        ).distinct()
    )


def _team_of(cp: CPRequest) -> list[User]:
    return list(User.objects.filter(team_cases=cp.case, is_active=True))


def _decision_audience(cp: CPRequest) -> list[User]:
    return [
        *_team_of(cp),
        *_people(cp.case.agency, Role.SUPERVISOR),
        *([cp.sponsor] if cp.sponsor else []),
    ]


def reference(cp: CPRequest) -> str:
    """A short reference that names no one: safe for email subjects and calendars."""
    return f"CP-{str(cp.pk)[:8].upper()}"


def _notice(cp: CPRequest, name: str) -> str:
    texts = {
        "submit_for_approval": _("%(ref)s is waiting for your approval."),
        "approve": _("%(ref)s has been approved and routed to you."),
        "return": _("%(ref)s was returned with comments."),
        "endorse": _("%(ref)s was endorsed and submitted to CCHT."),
        "decline": _("%(ref)s was declined by the federal partner; choose another partner."),
        "record_receipt": _("CCHT recorded receipt of %(ref)s."),
        "request_information": _("CCHT asks for more information on %(ref)s."),
        "respond": _("Information was sent for %(ref)s."),
        "grant": _("CCHT granted %(ref)s."),
        "deny": _("CCHT denied %(ref)s."),
        "withdraw": _("%(ref)s was withdrawn."),
    }
    return str(texts[name]) % {"ref": reference(cp)}


def notify(users: Iterable[User], message: str, cp: CPRequest) -> None:
    """In-app notice and email: a reference and a link, never a victim's name."""
    link = f"/requests/{cp.pk}/"
    unique = {user.pk: user for user in users}.values()
    Notification.objects.bulk_create(
        Notification(user=u, message=message, link=link) for u in unique
    )
    for user in unique:
        try:
            send_mail(
                f"CP Navigator: {message}",
                f"{message}\n\nOpen the request (sign-in required):\n{settings.BASE_URL}{link}\n",
                None,
                [user.email],
            )
        except (smtplib.SMTPException, OSError):
            # The in-app notice is already saved; a mail outage must not undo the transition.
            log.warning("notification email to user %s failed for %s", user.pk, reference(cp))
