"""Account work that spans models or talks to the outside world."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

from axes.utils import reset as axes_reset
from django.conf import settings
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F, Q
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _

from cpnav.accounts import mfa
from cpnav.accounts.models import (
    PASSWORD_RESET_HOURS,
    Agency,
    Invitation,
    Membership,
    PasswordReset,
    Role,
    User,
    role_allowed,
)
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
        mail_after_commit(
            _("Your invitation to CP Navigator"),
            "accounts/email/invitation.txt",
            {"invitation": invitation, "link": link, "hours": settings.INVITATION_HOURS},
            email,
        )
    return invitation


def mail_after_commit(subject: str, template: str, context: dict[str, object], to: str) -> None:
    """Render the message now (in the request's language) and send it once the
    transaction that made its link commits: never a link to a row that was rolled back."""
    body = render_to_string(template, context)
    transaction.on_commit(lambda: send_mail(subject, body, None, [to], fail_silently=False))


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


# --- Passwords and second factors -------------------------------------------------------


def count_failure(request: HttpRequest, user: User, action: str, reason: str) -> bool:
    """Audit a failed check of a signed-in or resetting user; True once it locks the account.

    A wrong password or code counts towards the lock-out like one at sign-in
    (ADR 2), so a stolen session or reset link cannot be used to guess.
    """
    record(
        action,
        request=request,
        actor=user,
        outcome=Outcome.FAILURE,
        object_type="user",
        object_id=user.pk,
        details={"reason": reason},
    )
    user_login_failed.send(sender=__name__, credentials={"username": user.email}, request=request)
    return bool(getattr(request, "axes_locked_out", False))


def reauthenticate(request: HttpRequest, user: User, *, password: str, code: str) -> str | None:
    """Check the password and a second factor again; return the reason for a refusal."""
    if not user.check_password(password):
        return "password"
    if mfa.has_second_factor(user) and mfa.verify_second_factor(user, code) is None:
        return "second factor"
    record("account.reauthenticated", request=request, object_type="user", object_id=user.pk)
    return None


def end_other_sessions(request: HttpRequest, user: User, reason: str) -> None:
    """After a factor changed (ASVS V7.4.3): every other session of the user ends at its
    next request; this one goes on."""
    end_sessions(user, request=request, reason=reason)
    update_session_auth_hash(request, user)


def change_password(request: HttpRequest, user: User, new_password: str) -> None:
    """Set a new password, end the user's other sessions and keep this one."""
    with transaction.atomic():
        user.set_password(new_password)
        user.save(update_fields=["password"])
        record("account.password_changed", request=request, object_type="user", object_id=user.pk)
        # The new password alone ends the other sessions (the session hash is
        # derived from it); the epoch makes it explicit and audited (ADR 3).
        end_other_sessions(request, user, "password changed")


def issue_password_reset(request: HttpRequest, agency: Agency, member: User) -> PasswordReset:
    """Email the member a single-use link to set a new password; older links stop working."""
    if not member.is_active:
        raise ValidationError(_("Enable the account before sending a reset link."))
    actor = request.user
    assert isinstance(actor, User)
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    with transaction.atomic():
        replaced = PasswordReset.objects.filter(
            user=member, used_at__isnull=True, revoked_at__isnull=True
        ).update(revoked_at=now)
        reset = PasswordReset.objects.create(
            user=member,
            agency=agency,
            token_hash=PasswordReset.hash_token(token),
            created_by=actor,
            expires_at=now + timedelta(hours=PASSWORD_RESET_HOURS),
        )
        record(
            "password_reset.issued",
            request=request,
            agency_id=agency.pk,
            object_type="user",
            object_id=member.pk,
            details={"reset": str(reset.pk), "replaced": replaced},
        )
        # The person gets a fresh count of tries on the reset page.
        axes_reset(username=member.email)
        link = f"{settings.BASE_URL}/accounts/password-reset/{token}/"
        mail_after_commit(
            _("Set a new password for CP Navigator"),
            "accounts/email/password_reset.txt",
            {
                "reset": reset,
                "link": link,
                "hours": PASSWORD_RESET_HOURS,
                "needs_code": mfa.has_second_factor(member),
            },
            member.email,
        )
    return reset


def find_password_reset(token: str) -> PasswordReset | None:
    return (
        PasswordReset.objects.select_related("user", "agency")
        .filter(token_hash=PasswordReset.hash_token(token))
        .first()
    )


def complete_password_reset(request: HttpRequest, reset: PasswordReset, password: str) -> User:
    """Use the link: set the password, end sessions and lift a lock-out.

    The caller has checked the second factor. A correct reset lifts the lock:
    the administrator started it and the person proved the link and the factor.
    """
    with transaction.atomic():
        fresh = PasswordReset.objects.select_for_update().select_related("user").get(pk=reset.pk)
        if not fresh.is_open or not fresh.user.is_active:
            raise ValidationError(_("This link has already been used or has expired."))
        user = fresh.user
        was_locked = user.is_locked
        user.set_password(password)
        user.locked_at = None
        user.save(update_fields=["password", "locked_at"])
        fresh.used_at = timezone.now()
        fresh.save(update_fields=["used_at"])
        record(
            "password_reset.completed",
            request=request,
            actor=user,
            agency_id=fresh.agency_id,
            object_type="user",
            object_id=user.pk,
            details={"reset": str(fresh.pk), "unlocked": was_locked},
        )
        end_sessions(user, request=request, reason="password reset")
    axes_reset(username=user.email)
    return user


def burn_password_reset(request: HttpRequest, reset: PasswordReset, reason: str) -> None:
    PasswordReset.objects.filter(pk=reset.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    record(
        "password_reset.revoked",
        request=request,
        actor=reset.user,
        agency_id=reset.agency_id,
        object_type="user",
        object_id=reset.user_id,
        outcome=Outcome.FAILURE,
        details={"reset": str(reset.pk), "reason": reason},
    )


def reset_authenticator(request: HttpRequest, agency: Agency, member: User) -> None:
    """Remove the member's authenticator and recovery codes and end their sessions.

    The next sign-in after the password enrols a new authenticator. The
    administrator confirms the person's identity first (ASVS V6.4.4).
    """
    with transaction.atomic():
        mfa.remove_second_factors(member)
        record(
            "mfa.reset",
            request=request,
            agency_id=agency.pk,
            object_type="user",
            object_id=member.pk,
            details={"identity_confirmed": True},
        )
        end_sessions(member, request=request, reason="authenticator reset by an administrator")
