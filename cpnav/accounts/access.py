"""The one way in to protected data.

Every query for data a user may or may not see starts here, scoped to that
user. A record the user may not see is answered with 404 - they should not
learn that it exists - and the refusal is written to the audit trail.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from functools import reduce
from typing import TYPE_CHECKING, Any
from uuid import UUID

from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404, HttpRequest
from django.utils import timezone

from cpnav.accounts.models import Agency, Membership, Role, User
from cpnav.audit.models import AuditEvent, Outcome
from cpnav.audit.services import record
from cpnav.cases.models import Case, CaseMember, CPRequest, Person, Share

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser


def signed_in(user: User | AnonymousUser) -> User | None:
    return user if isinstance(user, User) and user.is_authenticated and user.is_active else None


def memberships(user: User | AnonymousUser) -> QuerySet[Membership]:
    member = signed_in(user)
    if member is None:
        return Membership.objects.none()
    return Membership.objects.filter(user=member).select_related("agency")


def roles_at(user: User | AnonymousUser, agency: Agency) -> frozenset[str]:
    return frozenset(memberships(user).filter(agency=agency).values_list("role", flat=True))


def all_roles(user: User | AnonymousUser) -> frozenset[str]:
    return frozenset(memberships(user).values_list("role", flat=True))


def agencies_where(user: User | AnonymousUser, role: str) -> QuerySet[Agency]:
    member = signed_in(user)
    if member is None:
        return Agency.objects.none()
    return Agency.objects.filter(memberships__user=member, memberships__role=role).distinct()


def user_agencies(user: User | AnonymousUser) -> QuerySet[Agency]:
    member = signed_in(user)
    if member is None:
        return Agency.objects.none()
    return Agency.objects.filter(memberships__user=member).distinct()


def administered_agencies(user: User | AnonymousUser) -> QuerySet[Agency]:
    member = signed_in(user)
    if member is not None and member.is_system_admin:
        return Agency.objects.all()
    return agencies_where(user, Role.AGENCY_ADMIN)


def can_audit(user: User | AnonymousUser) -> bool:
    member = signed_in(user)
    return member is not None and (member.is_system_admin or Role.AUDITOR in all_roles(member))


def visible_audit_events(user: User | AnonymousUser) -> QuerySet[AuditEvent]:
    """System admins read the whole log; an auditor reads their agencies' events."""
    member = signed_in(user)
    if member is None:
        return AuditEvent.objects.none()
    if member.is_system_admin:
        return AuditEvent.objects.all()
    ids = list(agencies_where(member, Role.AUDITOR).values_list("id", flat=True))
    return AuditEvent.objects.filter(agency_id__in=ids)


def not_found(request: HttpRequest, object_type: str, object_id: object) -> Http404:
    """Log a refused look-up and return the 404 to raise."""
    record(
        "access.denied",
        request=request,
        object_type=object_type,
        object_id=str(object_id)[:64],
        outcome=Outcome.DENIED,
        details={"path": request.path[:200]},
    )
    return Http404(f"No such {object_type}.")


def forbidden(request: HttpRequest, what: str) -> PermissionDenied:
    """Log a refused action on something the user may know exists."""
    record(
        "access.denied",
        request=request,
        object_type=what,
        outcome=Outcome.DENIED,
        details={"path": request.path[:200]},
    )
    return PermissionDenied(what)


def get_administered_agency(request: HttpRequest, agency_id: UUID) -> Agency:
    agency = administered_agencies(request.user).filter(pk=agency_id).first()
    if agency is None:
        raise not_found(request, "agency", agency_id)
    return agency


def agency_members(agency: Agency) -> QuerySet[User]:
    return User.objects.filter(memberships__agency=agency).distinct()


def get_agency_member(request: HttpRequest, agency: Agency, user_id: UUID) -> User:
    member = agency_members(agency).filter(pk=user_id).first()
    if member is None:
        raise not_found(request, "user", user_id)
    return member


def require_audit_access(request: HttpRequest) -> User:
    member = signed_in(request.user)
    if member is None or not can_audit(member):
        raise forbidden(request, "audit log")
    return member


def is_engagement_coordinator(user: User | AnonymousUser) -> bool:
    """CCHT's engagement coordinators run meeting requests and sessions."""
    member = signed_in(user)
    return (
        member is not None
        and Membership.objects.filter(
            user=member, role=Role.ENGAGEMENT_COORDINATOR, agency__is_ccht=True
        ).exists()
    )


# --- Cases, people and CP requests -------------------------------------------
# A record is visible to its case team, the owning agency's supervisors, the
# federal sponsor's office once the request was routed to it, and CCHT once it
# was submitted - nobody else.


def _ccht_reviewer(user: User) -> bool:
    return Membership.objects.filter(
        user=user, role=Role.CCHT_REVIEWER, agency__is_ccht=True
    ).exists()


# A user's team cases are listed in the query itself below this many (an index
# lookup on both databases); above it, a subquery.
TEAM_LIST_MAX = 2000


@dataclass(frozen=True)
class _Reach:
    """The ways one user reaches records, read with two small queries.

    Each becomes its own index-friendly term of the visibility rule, and a way
    the user does not have is left out instead of becoming an always-false join:
    an OR across joins made both databases read every case at national scale.
    """

    member: User
    team: list[UUID] | None  # None: too many to list
    supervised: list[UUID]
    sponsoring: list[UUID]
    ccht: bool

    def team_ids(self) -> Any:
        """The team's case ids: a list, or a subquery when there are many."""
        if self.team is None:
            return CaseMember.objects.filter(user=self.member).values("case_id")
        return self.team


def _reach(member: User) -> _Reach:
    roles = Membership.objects.filter(
        user=member, role__in=[Role.SUPERVISOR, Role.FEDERAL_SPONSOR, Role.CCHT_REVIEWER]
    ).values_list("agency_id", "role", "agency__is_ccht")
    supervised, sponsoring, ccht = [], [], False
    for agency_id, role, is_ccht in roles:
        if role == Role.SUPERVISOR:
            supervised.append(agency_id)
        elif role == Role.FEDERAL_SPONSOR:
            sponsoring.append(agency_id)
        elif is_ccht:
            ccht = True
    team = list(
        CaseMember.objects.filter(user=member).values_list("case_id", flat=True)[
            : TEAM_LIST_MAX + 1
        ]
    )
    return _Reach(member, None if len(team) > TEAM_LIST_MAX else team, supervised, sponsoring, ccht)


def _any(terms: list[Q]) -> Q | None:
    return reduce(operator.or_, terms) if terms else None


def visible_requests(user: User | AnonymousUser) -> QuerySet[CPRequest]:
    """Requests of the user's case teams and supervised agencies, routed to their
    sponsoring office, and - for CCHT reviewers - every submitted one."""
    member = signed_in(user)
    if member is None:
        return CPRequest.objects.none()
    reach = _reach(member)
    terms = []
    if reach.team is None or reach.team:
        terms.append(Q(case_id__in=reach.team_ids()))
    if reach.supervised:
        terms.append(Q(case__agency_id__in=reach.supervised))
    if reach.sponsoring:
        terms.append(Q(sponsor_office_id__in=reach.sponsoring, routed_to_sponsor_at__isnull=False))
    if reach.ccht:
        terms.append(Q(submitted_at__isnull=False))
    rule = _any(terms)
    if rule is None:
        return CPRequest.objects.none()
    return CPRequest.objects.filter(rule).select_related(
        "case", "case__agency", "person", "sponsor_office"
    )


def visible_cases(user: User | AnonymousUser) -> QuerySet[Case]:
    """Cases the user is on the team of or supervises, and cases with a request
    visible to them (routed to their office, or submitted to CCHT)."""
    member = signed_in(user)
    if member is None:
        return Case.objects.none()
    reach = _reach(member)
    terms = []
    if reach.team is None or reach.team:
        terms.append(Q(pk__in=reach.team_ids()))
    if reach.supervised:
        terms.append(Q(agency_id__in=reach.supervised))
    # Correlated EXISTS for the routes with many cases: probed through the
    # request's case index for the rows at hand, never materialised whole.
    if reach.sponsoring:
        routed = CPRequest.objects.filter(
            case=OuterRef("pk"),
            sponsor_office_id__in=reach.sponsoring,
            routed_to_sponsor_at__isnull=False,
        )
        terms.append(Q(Exists(routed)))
    if reach.ccht:
        submitted = CPRequest.objects.filter(case=OuterRef("pk"), submitted_at__isnull=False)
        terms.append(Q(Exists(submitted)))
    rule = _any(terms)
    if rule is None:
        return Case.objects.none()
    return Case.objects.filter(rule).select_related(
        "agency", "lead_investigator", "federal_partner"
    )


def on_case_team(user: User | AnonymousUser, case: Case) -> bool:
    member = signed_in(user)
    return member is not None and case.members.filter(user=member).exists()


def supervises(user: User | AnonymousUser, case: Case) -> bool:
    return Role.SUPERVISOR in roles_at(user, case.agency)


def can_edit_case(user: User | AnonymousUser, case: Case) -> bool:
    return on_case_team(user, case) or supervises(user, case)


def get_case(request: HttpRequest, case_id: UUID) -> Case:
    case = visible_cases(request.user).filter(pk=case_id).first()
    if case is None:
        raise not_found(request, "case", case_id)
    return case


def get_cp_request(request: HttpRequest, request_id: UUID) -> CPRequest:
    found = visible_requests(request.user).filter(pk=request_id).first()
    if found is None:
        raise not_found(request, "request", request_id)
    return found


def active_share(user: User | AnonymousUser, person: Person) -> Share | None:
    member = signed_in(user)
    if member is None:
        return None
    return (
        Share.objects.filter(
            person=person, grantee=member, revoked_at__isnull=True, expires_at__gt=timezone.now()
        )
        .order_by("-expires_at")
        .first()
    )


def get_person(request: HttpRequest, person_id: UUID) -> tuple[Person, Share | None]:
    """The person and, when seen through a share, the share that limits the fields."""
    person = Person.objects.filter(pk=person_id).select_related("case", "case__agency").first()
    if person is not None:
        if visible_cases(request.user).filter(pk=person.case_id).exists():
            return person, None
        share = active_share(request.user, person)
        if share is not None:
            return person, share
    raise not_found(request, "person", person_id)


REDACTED = "[redacted]"


def identifying_view(request: HttpRequest, person: Person, share: Share | None) -> dict[str, Any]:
    """The person's identifying fields for display, redacted to the share, and audited.

    Every call writes "who saw what, when" to the audit trail.
    """
    allowed = set(Person.IDENTIFYING) if share is None else set(share.fields)
    values: dict[str, Any] = {
        name: getattr(person, name) if name in allowed else REDACTED for name in Person.IDENTIFYING
    }
    record(
        "person.viewed",
        request=request,
        agency_id=person.case.agency_id,
        object_type="person",
        object_id=person.pk,
        details={"fields": sorted(allowed), "via_share": str(share.pk) if share else None},
    )
    return values
