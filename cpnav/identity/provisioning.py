"""What a verified sign-in at an identity provider leads to in cpnav.

Shared by OpenID Connect and SAML: the protocol code checks the assertion and
hands over ``Claims``; this module decides. A returning person is recognised by
the provider's subject alone. A first sign-in is matched to an invitation or held
for an agency administrator: no role ever comes from an attribute the provider
sends, and an existing account is never linked without an administrator.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _

from cpnav.accounts import mfa, services
from cpnav.accounts.models import Agency, Invitation, Membership, User
from cpnav.audit.models import Outcome
from cpnav.audit.services import record
from cpnav.identity.models import (
    AccessRequest,
    AccessStatus,
    ExternalIdentity,
    IdentityProvider,
    UsedOnce,
)

# The session key holding the hash of the invitation whose page started a sign-in.
INVITATION = "cpnav_identity_invitation"
# Where to go after a sign-in: set by a protocol's start view, read by federated_signin.
NEXT = "cpnav_identity_next"


@dataclass(frozen=True)
class Claims:
    subject: str
    email: str
    email_verified: bool
    full_name: str
    attributes: dict[str, str]
    mfa: bool
    assurance: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Plan:
    """What a sign-in would do; test sign-ins show it, real ones carry it out."""

    action: str  # signin | invitation | request | waiting | refuse
    user: User | None = None
    invitation: Invitation | None = None
    agency: Agency | None = None
    reason: str = ""
    message: str = ""


def key_digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def first_use(key: str, expires_at: datetime) -> bool:
    """Record a one-time value; False if it was seen before (on any app server)."""
    if len(key) > 255:
        key = key[:190] + ":" + key_digest(key)
    try:
        with transaction.atomic():
            UsedOnce.objects.create(key=key, expires_at=expires_at)
    except IntegrityError:
        return False
    # Pruning now and then keeps the table small without a scheduled job.
    if int(time.time()) % 10 == 0:
        UsedOnce.objects.filter(expires_at__lt=timezone.now()).delete()
    return True


def refuse(
    request: HttpRequest,
    provider: IdentityProvider | None,
    reason: str,
    message: str,
    *,
    status: int = 400,
) -> HttpResponse:
    """A refused sign-in: a clear page for the person, an audit event for the record."""
    record(
        "identity.signin_refused",
        request=request,
        outcome=Outcome.FAILURE,
        object_type="identity_provider",
        object_id=provider.pk if provider is not None else "",
        details={"provider": provider.slug if provider is not None else "", "reason": reason},
    )
    return render(
        request,
        "identity/refused.html",
        {"provider": provider, "message": message, "reason": reason},
        status=status,
    )


def end_sessions_for(
    provider: IdentityProvider, subject: str, *, request: HttpRequest | None, reason: str
) -> bool:
    link = (
        ExternalIdentity.objects.filter(provider=provider, subject=subject)
        .select_related("user")
        .first()
    )
    if link is None:
        return False
    services.end_sessions(link.user, request=request, reason=reason)
    return True


# --- Deciding ------------------------------------------------------------------------


def provider_agencies(provider: IdentityProvider) -> QuerySet[Agency]:
    return provider.agencies.all()


def _open_invitations(provider: IdentityProvider) -> QuerySet[Invitation]:
    return Invitation.objects.select_related("agency").filter(
        agency__in=provider_agencies(provider),
        accepted_at__isnull=True,
        revoked_at__isnull=True,
        expires_at__gt=timezone.now(),
    )


def _agency_from_ori(provider: IdentityProvider, claims: Claims) -> Agency | None:
    agencies = provider_agencies(provider)
    ori = claims.attributes.get("ori", "").strip().upper()
    if ori:
        return agencies.filter(ori=ori).first()
    # A provider serving one agency needs no attribute to say which.
    return agencies.first() if agencies.count() == 1 else None


def plan(request: HttpRequest, provider: IdentityProvider, claims: Claims) -> Plan:
    """Decide without changing anything."""
    link = (
        ExternalIdentity.objects.filter(provider=provider, subject=claims.subject)
        .select_related("user")
        .first()
    )
    if link is not None:
        user = link.user
        if not user.is_active:
            return Plan("refuse", user=user, reason="disabled", message=_(
                "Your CP Navigator account is disabled. Ask your agency administrator."))  # fmt: skip
        if user.is_locked:
            return Plan("refuse", user=user, reason="locked", message=_(
                "Your CP Navigator account is locked. Ask your agency administrator to unlock it."))  # fmt: skip
        if not Membership.objects.filter(
            user=user, agency__in=provider_agencies(provider)
        ).exists():
            return Plan("refuse", user=user, reason="not_member", message=_(
                "This sign-in is not open to your agency. Sign in another way, or ask your "
                "agency administrator."))  # fmt: skip
        return Plan("signin", user=user)
    if not claims.email:
        return Plan("refuse", reason="no_email", message=_(
            "The identity provider did not send an email address, which CP Navigator needs."))  # fmt: skip
    pending = AccessRequest.objects.filter(provider=provider, subject=claims.subject)
    if pending.filter(status=AccessStatus.PENDING).exists():
        return Plan("waiting")
    if pending.filter(status=AccessStatus.REFUSED).exists():
        return Plan("refuse", reason="request_refused", message=_(
            "Your request for access was refused. If this is a mistake, ask your agency "
            "administrator for an invitation."))  # fmt: skip
    existing = User.objects.filter(email__iexact=claims.email).exists()
    invitations = _open_invitations(provider)
    invitation = None
    hashed = request.session.get(INVITATION)
    if isinstance(hashed, str):
        invitation = invitations.filter(token_hash=hashed).first()
    elif claims.email_verified:
        matching = list(invitations.filter(email__iexact=claims.email)[:2])
        invitation = matching[0] if len(matching) == 1 else None
    if invitation is not None:
        invited_exists = User.objects.filter(email__iexact=invitation.email).exists()
        if not invited_exists and not existing:
            return Plan("invitation", invitation=invitation, agency=invitation.agency)
    # An unlinked existing account, or no invitation: an administrator decides.
    agency = invitation.agency if invitation is not None else _agency_from_ori(provider, claims)
    return Plan("request", agency=agency, reason="existing_account" if existing else "")


# --- Carrying it out -----------------------------------------------------------------


def _safe_next(request: HttpRequest, candidate: str) -> str:
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return ""


def _link(
    request: HttpRequest, provider: IdentityProvider, claims: Claims, user: User
) -> ExternalIdentity:
    link = ExternalIdentity.objects.create(
        provider=provider,
        subject=claims.subject,
        user=user,
        last_signin_at=timezone.now(),
        last_assurance=claims.assurance,
    )
    record(
        "identity.linked",
        request=request,
        actor=user,
        object_type="user",
        object_id=user.pk,
        details={"provider": provider.slug},
    )
    return link


def _sign_in(
    request: HttpRequest, provider: IdentityProvider, claims: Claims, user: User, next_url: str
) -> HttpResponse:
    from cpnav.accounts.views import PENDING, _complete_signin

    ExternalIdentity.objects.filter(provider=provider, subject=claims.subject).update(
        last_signin_at=timezone.now(), last_assurance=claims.assurance
    )
    record(
        "identity.signin",
        request=request,
        actor=user,
        object_type="identity_provider",
        object_id=provider.pk,
        details={
            "provider": provider.slug,
            "mfa": claims.mfa,
            # Without the provider's multi-factor, the sign-in completes after our own code.
            "local_factor": not claims.mfa and mfa.mfa_required(user),
            **_assurance(claims),
        },
    )
    if claims.mfa or not mfa.mfa_required(user):
        _complete_signin(request, user, f"{provider.kind}:{provider.slug}")
        return redirect(next_url or "core:home")
    # The provider did not assert multi-factor: our own second factor comes next.
    request.session[PENDING] = {"user": str(user.pk), "at": time.time()}
    target = reverse("accounts:verify" if mfa.has_second_factor(user) else "accounts:mfa_setup")
    return redirect(f"{target}?{urlencode({'next': next_url})}" if next_url else target)


def _assurance(claims: Claims) -> dict[str, Any]:
    keep = ("acr", "amr", "auth_time", "authn_context", "authn_instant")
    return {k: claims.assurance[k] for k in keep if k in claims.assurance}


def hold(
    request: HttpRequest, provider: IdentityProvider, claims: Claims, agency: Agency | None
) -> AccessRequest:
    held = AccessRequest.objects.create(
        provider=provider,
        subject=claims.subject,
        email=claims.email.strip().lower(),
        full_name=claims.full_name[:200],
        attributes={**claims.attributes, "email_verified": claims.email_verified},
        agency=agency,
    )
    record(
        "identity.access_requested",
        request=request,
        actor_label=held.email,
        agency_id=agency.pk if agency is not None else None,
        object_type="access_request",
        object_id=held.pk,
        details={"provider": provider.slug},
    )
    return held


def federated_signin(
    request: HttpRequest,
    provider: IdentityProvider,
    claims: Claims,
    *,
    test: bool = False,
    next_url: str = "",
) -> HttpResponse:
    decided = plan(request, provider, claims)
    # The start's next address and invitation link count for this sign-in only.
    stored_next = str(request.session.pop(NEXT, ""))
    request.session.pop(INVITATION, None)
    if test:
        record(
            "identity.test_signin",
            request=request,
            object_type="identity_provider",
            object_id=provider.pk,
            details={"provider": provider.slug, "would": decided.action, **_assurance(claims)},
        )
        return render(
            request,
            "identity/test_result.html",
            {"provider": provider, "claims": claims, "plan": decided},
        )
    next_url = _safe_next(request, next_url or stored_next)
    if decided.action == "refuse":
        return refuse(request, provider, decided.reason, decided.message, status=403)
    if decided.action == "signin":
        assert decided.user is not None
        return _sign_in(request, provider, claims, decided.user, next_url)
    if decided.action == "invitation":
        assert decided.invitation is not None
        try:
            with transaction.atomic():
                user = services.accept_invitation(request, decided.invitation, user=None)
                if claims.full_name and not user.full_name:
                    user.full_name = claims.full_name[:200]
                    user.save(update_fields=["full_name"])
                _link(request, provider, claims, user)
        except ValidationError as error:
            return refuse(request, provider, "invitation", " ".join(error.messages))
        return _sign_in(request, provider, claims, user, next_url)
    if decided.action == "request":
        hold(request, provider, claims, decided.agency)
    return render(request, "identity/waiting.html", {"provider": provider})


# --- Administrators' decisions ---------------------------------------------------------


def requests_for(agency: Agency) -> QuerySet[AccessRequest]:
    """Access requests an administrator of the agency decides: its own, and those no
    ORI placed, made through a provider that serves the agency."""
    return (
        AccessRequest.objects.select_related("provider", "agency")
        .filter(Q(agency=agency) | Q(agency__isnull=True, provider__agencies=agency))
        .distinct()
    )


def _pending(held: AccessRequest) -> AccessRequest:
    """The request locked for a decision, if no one has decided it meanwhile."""
    fresh = AccessRequest.objects.select_for_update().get(pk=held.pk)
    if fresh.status != AccessStatus.PENDING:
        raise ValidationError(_("This request has already been decided."))
    return fresh


def _decide(
    request: HttpRequest, fresh: AccessRequest, status: str, agency: Agency,
    details: dict[str, Any],
) -> None:  # fmt: skip
    """Record the administrator's decision on the request and audit it."""
    fresh.status = status
    fresh.agency = agency
    fresh.decided_by = request.user if isinstance(request.user, User) else None
    fresh.decided_at = timezone.now()
    fresh.save(update_fields=["status", "agency", "decided_by", "decided_at"])
    action = "approved" if status == AccessStatus.APPROVED else "refused"
    record(
        f"identity.access_{action}",
        request=request,
        agency_id=agency.pk,
        object_type="access_request",
        object_id=fresh.pk,
        details={**details, "provider": fresh.provider.slug},
    )


def approve(request: HttpRequest, held: AccessRequest, agency: Agency, roles: list[str]) -> User:
    """Make the account and membership and link the identity; the next sign-in works."""
    chosen = services.check_roles(agency, roles)
    with transaction.atomic():
        fresh = _pending(held)
        user = User.objects.filter(email__iexact=fresh.email).first()
        if user is not None and not fresh.attributes.get("email_verified"):
            raise ValidationError(
                _("An account with this email address exists, and the identity provider did "
                  "not verify the address: refuse, and ask the person to sign in with their "
                  "password.")
            )  # fmt: skip
        if user is None:
            user = User.objects.create_user(fresh.email, None, full_name=fresh.full_name)
            record("account.created", request=request, actor=user, agency_id=agency.pk)
        for role in chosen:
            _membership, created = Membership.objects.get_or_create(
                user=user, agency=agency, role=role
            )
            if created:
                record(
                    "membership.role_added",
                    request=request,
                    agency_id=agency.pk,
                    object_type="user",
                    object_id=user.pk,
                    details={"role": role, "via": "access_request"},
                )
        ExternalIdentity.objects.create(provider=fresh.provider, subject=fresh.subject, user=user)
        record(
            "identity.linked",
            request=request,
            agency_id=agency.pk,
            object_type="user",
            object_id=user.pk,
            details={"provider": fresh.provider.slug, "via": "access_request"},
        )
        _decide(request, fresh, AccessStatus.APPROVED, agency, {"roles": chosen})
    return user


def refuse_request(request: HttpRequest, held: AccessRequest, agency: Agency) -> None:
    with transaction.atomic():
        fresh = _pending(held)
        _decide(request, fresh, AccessStatus.REFUSED, agency, {})
