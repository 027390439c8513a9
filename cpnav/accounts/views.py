"""Sign-in, second factor, invitations and the user's own account."""

from __future__ import annotations

import time
from typing import Any
from uuid import UUID

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, login, logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cpnav.accounts import mfa, services, tokens
from cpnav.accounts.access import not_found, signed_in
from cpnav.accounts.forms import CodeForm, EnrolForm, SetPasswordForm, SignInForm, TokenForm
from cpnav.accounts.middleware import LAST_SEEN, SIGNED_IN_AT
from cpnav.accounts.models import APIToken, User
from cpnav.audit.models import Outcome
from cpnav.audit.services import record

NOTICE_ACCEPTED = "cpnav_notice_accepted"
PENDING = "cpnav_pending_signin"
NEW_CODES = "cpnav_new_recovery_codes"
# A password step not followed by a second factor within this time is void.
PENDING_SECONDS = 300


def _next_url(request: HttpRequest) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse("core:home")


def _with_next(name: str, request: HttpRequest) -> str:
    target = reverse(name)
    nxt = request.POST.get("next") or request.GET.get("next")
    return f"{target}?{urlencode({'next': nxt})}" if nxt else target


def notice(request: HttpRequest) -> HttpResponse:
    """The system-use notice, acknowledged before anyone may sign in."""
    if request.method == "POST":
        request.session[NOTICE_ACCEPTED] = True
        return redirect(_with_next("accounts:signin", request))
    return render(request, "accounts/notice.html", {"next": request.GET.get("next", "")})


def locked_out(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """Shown when django-axes or our own lock refuses a sign-in."""
    return render(request, "accounts/locked.html", status=403)


def _pending_user(request: HttpRequest) -> User | None:
    pending = request.session.get(PENDING)
    if not isinstance(pending, dict) or time.time() - float(pending.get("at", 0)) > PENDING_SECONDS:
        request.session.pop(PENDING, None)
        return None
    try:
        user_id = UUID(str(pending.get("user")))
    except ValueError:
        request.session.pop(PENDING, None)
        return None
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or user.is_locked:
        request.session.pop(PENDING, None)
        return None
    return user


def _complete_signin(request: HttpRequest, user: User, method: str) -> HttpResponse:
    nxt = _next_url(request)
    request.session.pop(PENDING, None)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    now = time.time()
    request.session[SIGNED_IN_AT] = now
    request.session[LAST_SEEN] = now
    request.session[NOTICE_ACCEPTED] = True
    record("signin.success", request=request, actor=user, details={"factor": method})
    return redirect(nxt)


def _failure(request: HttpRequest, email: str, reason: str) -> None:
    record(
        "signin.failure",
        request=request,
        actor_label=email,
        outcome=Outcome.FAILURE,
        details={"reason": reason},
    )


def signin(request: HttpRequest) -> HttpResponse:
    if signed_in(request.user):
        return redirect("core:home")
    if not request.session.get(NOTICE_ACCEPTED):
        return redirect(_with_next("accounts:notice", request))
    form = SignInForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"].strip().lower()
        user = authenticate(request, username=email, password=form.cleaned_data["password"])
        if getattr(request, "axes_locked_out", False):
            _failure(request, email, "locked")
            return locked_out(request)
        if not isinstance(user, User):
            _failure(request, email, "password")
            form.add_error(None, _("That email address and password do not match an account."))
        elif user.is_locked:
            _failure(request, email, "locked")
            return locked_out(request)
        elif not mfa.mfa_required(user):
            return _complete_signin(request, user, "demo-account")
        else:
            request.session[PENDING] = {"user": str(user.pk), "at": time.time()}
            if mfa.has_confirmed_totp(user):
                return redirect(_with_next("accounts:verify", request))
            return redirect(_with_next("accounts:mfa_setup", request))
    return render(
        request, "accounts/signin.html", {"form": form, "next": request.GET.get("next", "")}
    )


def verify(request: HttpRequest) -> HttpResponse:
    user = _pending_user(request)
    if user is None:
        messages.info(request, _("Please sign in again."))
        return redirect(_with_next("accounts:signin", request))
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        method = mfa.verify_second_factor(user, form.cleaned_data["code"])
        if method is not None:
            if method == "recovery":
                messages.warning(
                    request,
                    _(
                        "You used a recovery code; %(left)d remain. Make new ones on your account page."
                    )
                    % {"left": mfa.unused_recovery_codes(user)},
                )
            return _complete_signin(request, user, method)
        _failure(request, user.email, "second factor")
        # A wrong second factor counts towards the lock-out like a wrong password.
        user_login_failed.send(
            sender=__name__, credentials={"username": user.email}, request=request
        )
        if getattr(request, "axes_locked_out", False):
            return locked_out(request)
        form.add_error("code", _("That code is not right, or it has already been used."))
    return render(
        request, "accounts/verify.html", {"form": form, "next": request.GET.get("next", "")}
    )


def mfa_setup(request: HttpRequest) -> HttpResponse:
    """Enrol an authenticator app: after the password step, or to replace one."""
    member = signed_in(request.user)
    user = member or _pending_user(request)
    if user is None:
        return redirect(_with_next("accounts:signin", request))
    if member is None and mfa.has_confirmed_totp(user):
        # Someone who only knows the password must not replace the second factor.
        return redirect(_with_next("accounts:verify", request))
    device = mfa.pending_device(user) if request.method == "POST" else None
    device = device or mfa.start_enrolment(user)
    form = EnrolForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if mfa.confirm_enrolment(device, form.cleaned_data["code"]):
            record("mfa.enrolled", request=request, actor=user, details={"type": "totp"})
            request.session[NEW_CODES] = mfa.new_recovery_codes(user)
            if member is None:
                # login() keeps the session's data, so the new codes survive it.
                _complete_signin(request, user, "totp-enrolment")
            return redirect("accounts:recovery_codes")
        form.add_error(
            "code", _("That code is not right. Check the time on your phone and try again.")
        )
    context = {
        "form": form,
        "qr": mfa.qr_svg(device, user),
        "key": mfa.manual_key(device),
        "next": request.GET.get("next", ""),
    }
    return render(request, "accounts/mfa_setup.html", context)


@login_required
def recovery_codes(request: HttpRequest) -> HttpResponse:
    user = signed_in(request.user)
    assert user is not None
    if request.method == "POST":
        request.session[NEW_CODES] = mfa.new_recovery_codes(user)
        record("mfa.recovery_codes_replaced", request=request)
        return redirect("accounts:recovery_codes")
    codes = request.session.pop(NEW_CODES, None)
    return render(
        request,
        "accounts/recovery_codes.html",
        {"codes": codes, "unused": mfa.unused_recovery_codes(user)},
    )


@login_required
def account(request: HttpRequest) -> HttpResponse:
    user = signed_in(request.user)
    assert user is not None
    return render(
        request,
        "accounts/account.html",
        {
            "memberships": user.memberships.select_related("agency"),
            "has_totp": mfa.has_confirmed_totp(user),
            "unused_codes": mfa.unused_recovery_codes(user),
        },
    )


@require_POST
def signout(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        record("signout", request=request)
    logout(request)
    messages.info(request, _("You are signed out."))
    return redirect("core:home")


@require_POST
@login_required
def signout_everywhere(request: HttpRequest) -> HttpResponse:
    user = signed_in(request.user)
    assert user is not None
    services.end_sessions(user, request=request, reason="signed out everywhere")
    logout(request)
    messages.info(request, _("You are signed out on every device."))
    return redirect("core:home")


@require_POST
def keepalive(request: HttpRequest) -> JsonResponse:
    if not request.user.is_authenticated:
        return JsonResponse({"detail": _("Not signed in.")}, status=401)
    request.session[LAST_SEEN] = time.time()
    return JsonResponse({"idle_seconds": settings.SESSION_IDLE_SECONDS})


def invitation(request: HttpRequest, token: str) -> HttpResponse:
    found = services.find_invitation(token)
    if found is None or not found.is_open:
        record(
            "invitation.refused",
            request=request,
            outcome=Outcome.FAILURE,
            object_type="invitation",
            object_id=found.pk if found else "",
            details={"reason": "unknown" if found is None else "used, revoked or expired"},
        )
        return render(request, "accounts/invitation_invalid.html", status=404)
    member = signed_in(request.user)
    existing = User.objects.filter(email=found.email).exists()
    form = (
        None
        if existing
        else SetPasswordForm(
            request.POST or None, email=found.email, initial={"full_name": found.full_name}
        )
    )
    if request.method == "POST":
        try:
            if existing:
                if member is None or member.email != found.email:
                    raise ValidationError(
                        _("Sign in as %(email)s first, then open the link again.")
                        % {"email": found.email}
                    )
                services.accept_invitation(request, found, user=member)
                messages.success(
                    request, _("You have joined %(agency)s.") % {"agency": found.agency}
                )
                return redirect("core:home")
            assert form is not None
            if form.is_valid():
                user = services.accept_invitation(
                    request, found, user=None, password=form.cleaned_data["password"]
                )
                if form.cleaned_data["full_name"] != user.full_name:
                    user.full_name = form.cleaned_data["full_name"]
                    user.save(update_fields=["full_name"])
                request.session[NOTICE_ACCEPTED] = True
                request.session[PENDING] = {"user": str(user.pk), "at": time.time()}
                if not mfa.mfa_required(user):
                    return _complete_signin(request, user, "demo-account")
                return redirect("accounts:mfa_setup")
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
    return render(
        request,
        "accounts/invitation.html",
        {"invitation": found, "form": form, "existing": existing, "member": member},
    )


@login_required
def api_tokens(request: HttpRequest) -> HttpResponse:
    """Personal API tokens: create (the secret is shown once) and revoke."""
    user = signed_in(request.user)
    assert user is not None
    form = TokenForm(request.POST or None)
    secret = None
    if request.method == "POST" and request.POST.get("revoke"):
        token = APIToken.objects.filter(user=user, pk=request.POST["revoke"]).first()
        if token is None:
            raise not_found(request, "api token", request.POST["revoke"])
        tokens.revoke(request, token)
        messages.success(request, _("Token revoked."))
        return redirect("accounts:api_tokens")
    if request.method == "POST" and form.is_valid():
        _token, secret = tokens.issue(
            request, user, form.cleaned_data["name"], form.cleaned_data["scopes"],
            form.cleaned_data["days"],
        )  # fmt: skip
        form = TokenForm()
    return render(
        request,
        "accounts/api_tokens.html",
        {"form": form, "secret": secret, "tokens": APIToken.objects.filter(user=user)},
    )
