"""The one way in to protected data.

Every query for data a user may or may not see starts here, scoped to that
user. A record the user may not see is answered with 404 - they should not
learn that it exists - and the refusal is written to the audit trail.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from uuid import UUID

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest

from cpnav.accounts.models import Agency, Membership, Role, User
from cpnav.audit.models import AuditEvent, Outcome
from cpnav.audit.services import record

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
