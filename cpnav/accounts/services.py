"""Account work that spans models or talks to the outside world."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

from axes.utils import reset as axes_reset
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F, Q
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _

from cpnav.accounts.models import Agency, Invitation, Membership, Role, User, role_allowed
from cpnav.audit.models import Outcome
from cpnav.audit.services import record


def check_roles(agency: Agency, roles: Iterable[str]) -> list[str]:
    chosen = sorted(set(roles))
    if not chosen:
        raise ValidationError({"roles": _("Choose at least one role.")})
    for role in chosen:
        if role not in Role.values:
            raise ValidationError({"roles": _("Unknown role: %(role)s") % {"role": role}})
        if not role_allowed(agency, role):
            raise ValidationError(
                {"roles": _("%(role)s is not available at %(agency)s.")
                 % {"role": Role(role).label, "agency": agency.name}}
            )  # fmt: skip
    return chosen


def invite(
    request: HttpRequest, agency: Agency, *, email: str, full_name: str, roles: Iterable[str]
) -> Invitation:
    """Create an invitation and email its single-use link."""
    actor = request.user
    assert isinstance(actor, User)
    chosen = check_roles(agency, roles)
    email = email.strip().lower()
    if Membership.objects.filter(agency=agency, user__email=email).exists():
        raise ValidationError({"email": _("This person is already a member of the agency.")})
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        invitation = Invitation.objects.create(
            agency=agency,
            email=email,
            full_name=full_name.strip(),
            roles=chosen,
            token_hash=Invitation.hash_token(token),
            created_by=actor,
            expires_at=timezone.now() + timedelta(hours=settings.INVITATION_HOURS),
        )
        record(
            "invitation.created",
            request=request,
            agency_id=agency.pk,
            object_type="invitation",
            object_id=invitation.pk,
            details={"roles": chosen},
        )
        link = f"{settings.BASE_URL}/accounts/invitations/{token}/"
        body = render_to_string(
            "accounts/email/invitation.txt",
            {"invitation": invitation, "link": link, "hours": settings.INVITATION_HOURS},
        )
        transaction.on_commit(
            lambda: send_mail(
                _("Your invitation to CP Navigator"), body, None, [email], fail_silently=False
            )
        )
    return invitation


def find_invitation(token: str) -> Invitation | None:
    return (
        Invitation.objects.select_related("agency")
        .filter(token_hash=Invitation.hash_token(token))
        .first()
    )


def accept_invitation(
    request: HttpRequest, invitation: Invitation, *, user: User | None, password: str = ""
) -> User:
    """Join the agency; a new person gets an account with the password given.

    The invitation row is locked and re-checked so two tabs cannot both use it.
    """
    with transaction.atomic():
        fresh = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if not fresh.is_open:
            raise ValidationError(_("This invitation has already been used or has expired."))
        if user is None:
            if User.objects.filter(email=fresh.email).exists():
                raise ValidationError(_("Sign in with this email address to accept."))
            user = User.objects.create_user(fresh.email, password, full_name=fresh.full_name)
            record("account.created", request=request, actor=user, agency_id=fresh.agency_id)
        elif user.email != fresh.email:
            raise ValidationError(_("This invitation was sent to a different email address."))
        for role in fresh.roles:
            _membership, created = Membership.objects.get_or_create(
                user=user, agency=fresh.agency, role=role
            )
            if created:
                record(
                    "membership.role_added",
                    request=request,
                    actor=user,
                    agency_id=fresh.agency_id,
                    object_type="user",
                    object_id=user.pk,
                    details={"role": role, "via": "invitation"},
                )
        fresh.accepted_at = timezone.now()
        fresh.accepted_by = user
        fresh.save(update_fields=["accepted_at", "accepted_by"])
        record(
            "invitation.accepted",
            request=request,
            actor=user,
            agency_id=fresh.agency_id,
            object_type="invitation",
            object_id=fresh.pk,
        )
    return user


def revoke_invitation(request: HttpRequest, invitation: Invitation) -> None:
    if invitation.accepted_at or invitation.revoked_at:
        raise ValidationError(_("This invitation can no longer be revoked."))
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])
    record(
        "invitation.revoked",
        request=request,
        agency_id=invitation.agency_id,
        object_type="invitation",
        object_id=invitation.pk,
    )


def set_roles(request: HttpRequest, agency: Agency, member: User, roles: Iterable[str]) -> None:
    chosen = set(check_roles(agency, roles))
    with transaction.atomic():
        current = set(
            Membership.objects.filter(agency=agency, user=member).values_list("role", flat=True)
        )
        removing_admin = Role.AGENCY_ADMIN in current - chosen
        if removing_admin and not (
            Membership.objects.filter(agency=agency, role=Role.AGENCY_ADMIN, user__is_active=True)
            .exclude(user=member)
            .exists()
        ):
            raise ValidationError(
                {"roles": _("An agency needs at least one active administrator.")}
            )
        for role in sorted(current - chosen):
            Membership.objects.filter(agency=agency, user=member, role=role).delete()
            _role_event(request, "membership.role_removed", agency, member, role)
        for role in sorted(chosen - current):
            Membership.objects.create(agency=agency, user=member, role=role)
            _role_event(request, "membership.role_added", agency, member, role)


def _role_event(request: HttpRequest, action: str, agency: Agency, member: User, role: str) -> None:
    record(
        action,
        request=request,
        agency_id=agency.pk,
        object_type="user",
        object_id=member.pk,
        details={"role": role},
    )


def end_sessions(user: User, *, request: HttpRequest | None, reason: str) -> None:
    """End every session of the user, on every server, at their next request."""
    User.objects.filter(pk=user.pk).update(session_epoch=F("session_epoch") + 1)
    user.refresh_from_db(fields=["session_epoch"])
    record(
        "account.sessions_ended",
        request=request,
        object_type="user",
        object_id=user.pk,
        details={"reason": reason},
    )


def disable(user: User, *, request: HttpRequest | None, reason: str) -> None:
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(
            is_active=False, disabled_reason=reason[:200], session_epoch=F("session_epoch") + 1
        )
        user.refresh_from_db(fields=["is_active", "disabled_reason", "session_epoch"])
        record(
            "account.disabled",
            request=request,
            object_type="user",
            object_id=user.pk,
            details={"reason": reason[:200]},
        )


def enable(user: User, *, request: HttpRequest) -> None:
    user.is_active = True
    user.disabled_reason = ""
    # A re-enabled account counts as used today, or the inactivity sweep
    # would disable it again at its next run.
    user.last_login = timezone.now()
    user.save(update_fields=["is_active", "disabled_reason", "last_login"])
    record("account.enabled", request=request, object_type="user", object_id=user.pk)


def lock(email: str, *, request: HttpRequest | None) -> None:
    """Lock after too many failures; only an agency admin can unlock."""
    user = User.objects.filter(email=email.strip().lower()).first()
    if user is None or user.locked_at is not None:
        return
    User.objects.filter(pk=user.pk).update(locked_at=timezone.now())
    record(
        "signin.lockout",
        request=request,
        actor=user,
        outcome=Outcome.FAILURE,
        object_type="user",
        object_id=user.pk,
        details={
            "failures": settings.LOCKOUT_FAILURES,
            "window_minutes": settings.LOCKOUT_WINDOW_MINUTES,
        },
    )


def unlock(user: User, *, request: HttpRequest) -> None:
    User.objects.filter(pk=user.pk).update(locked_at=None)
    user.locked_at = None
    axes_reset(username=user.email)
    record("account.unlocked", request=request, object_type="user", object_id=user.pk)


def disable_inactive(now: datetime | None = None) -> list[User]:
    """Disable accounts unused for the configured number of days (CJIS: 90)."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.INACTIVE_ACCOUNT_DAYS)
    stale = list(
        User.objects.filter(is_active=True).filter(
            Q(last_login__lt=cutoff) | Q(last_login__isnull=True, date_joined__lt=cutoff)
        )
    )
    for user in stale:
        disable(
            user,
            request=None,
            reason=f"unused for {settings.INACTIVE_ACCOUNT_DAYS} days",
        )
    return stale
