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
from django.db.models import Model
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cpnav.accounts import mfa, reauth, services, tokens, webauthn
from cpnav.accounts.access import not_found, signed_in
from cpnav.accounts.forms import (
    CodeForm,
    EnrolForm,
    ReauthForm,
    SetPasswordForm,
    SignInForm,
    TokenForm,
    posted_data,
)
from cpnav.accounts.middleware import LAST_SEEN, SIGNED_IN_AT, clear_site_data
from cpnav.accounts.models import APIToken, User
from cpnav.audit.models import Outcome
from cpnav.audit.services import record
from cpnav.core import ratelimit

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
    if method in {"totp", "webauthn"} and mfa.unused_recovery_codes(user) == 0:
        # Also how people learn that codes of the old, shorter kind were withdrawn.
        messages.warning(
            request,
            _(
                "You have no recovery codes. Make new ones on your account page, "
                "in case you lose your authenticator."
            ),
        )
    return redirect(nxt)


def too_many_attempts(request: HttpRequest) -> HttpResponse | None:
    """Count a sign-in attempt (password, code or key) from this client address; the
    refusal page once the address is over CPNAV_SIGNIN_ADDRESS_RATE (ASVS V2.4.1).
    Lock-out counts per account; this slows one address trying many accounts."""
    rate = ratelimit.parse_rate("CPNAV_SIGNIN_ADDRESS_RATE", settings.SIGNIN_ADDRESS_RATE)
    wait = ratelimit.hit(request, "signin", rate)
    if wait is None:
        return None
    response = render(request, "accounts/too_many.html", {"minutes": -(-wait // 60)}, status=429)
    response["Retry-After"] = str(wait)
    return response


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
    if request.method == "POST" and (refused := too_many_attempts(request)):
        return refused
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
            if mfa.has_enrolled_factor(user):
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
    if request.method == "POST" and (refused := too_many_attempts(request)):
        return refused
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
    return verify_page(request, user, form)


def verify_page(
    request: HttpRequest, user: User, form: CodeForm, *, key_error: str = "", status: int = 200
) -> HttpResponse:
    """The second step: the user's security key first when they have one, the code form
    as the fallback (and the only way without JavaScript)."""
    context = {
        "form": form,
        "next": request.POST.get("next") or request.GET.get("next", ""),
        "key_options": webauthn.authentication_options(request, user, webauthn.Purpose.SIGNIN),
        "key_error": key_error,
    }
    return render(request, "accounts/verify.html", context, status=status)


def mfa_setup(request: HttpRequest) -> HttpResponse:
    """Enrol an authenticator app: after the password step, or to replace one."""
    member = signed_in(request.user)
    user = member or _pending_user(request)
    if user is None:
        return redirect(_with_next("accounts:signin", request))
    if member is None and mfa.has_enrolled_factor(user):
        # Someone who only knows the password must not replace the second factor.
        return redirect(_with_next("accounts:verify", request))
    if member is not None and not reauth.is_recent(request):
        # Nor may someone who only holds a signed-in session (ASVS V7.5.1).
        target = reverse("accounts:confirm_identity")
        return redirect(f"{target}?{urlencode({'next': reverse('accounts:mfa_setup')})}")
    device = mfa.pending_device(user) if request.method == "POST" else None
    device = device or mfa.start_enrolment(user)
    form = EnrolForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if mfa.confirm_enrolment(device, form.cleaned_data["code"]):
            record(
                "mfa.enrolled",
                request=request,
                actor=user,
                details={"type": "totp", "replaced": member is not None},
            )
            request.session[NEW_CODES] = mfa.new_recovery_codes(user)
            reauth.spend(request)
            if member is not None:
                services.end_other_sessions(request, user, "authenticator app replaced")
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
        "offer_key": webauthn.available(),
    }
    return render(request, "accounts/mfa_setup.html", context)


def locked_while_signed_in(request: HttpRequest, user: User) -> HttpResponse:
    """Too many wrong checks from a signed-in session: end every session, show the lock."""
    services.end_sessions(user, request=request, reason="locked after failed checks")
    logout(request)
    return clear_site_data(locked_out(request))


def _check_identity(request: HttpRequest, user: User, form: ReauthForm) -> HttpResponse | None:
    """Re-authenticate from a valid form.

    Returns the locked page once failures lock the account; otherwise None, and a
    refused check leaves its error on the form.
    """
    refused = services.reauthenticate(
        request,
        user,
        password=form.cleaned_data["password"],
        code=form.cleaned_data.get("code", ""),
    )
    if refused is None:
        return None
    if services.count_failure(request, user, "account.reauthentication_failed", refused):
        return locked_while_signed_in(request, user)
    form.add_error(
        None, _("That password or code is not right, or the code has already been used.")
    )
    return None


@login_required
def confirm_identity(request: HttpRequest) -> HttpResponse:
    """Enter the password and a code again before changing how you sign in."""
    user = signed_in(request.user)
    assert user is not None
    form = ReauthForm(posted_data(request), needs_code=mfa.has_second_factor(user))
    if request.method == "POST" and form.is_valid():
        locked = _check_identity(request, user, form)
        if locked is not None:
            return locked
        if not form.errors:
            reauth.mark(request)
            return redirect(_next_url(request) if _has_next(request) else "accounts:account")
    return confirm_identity_page(request, user, form)


def confirm_identity_page(
    request: HttpRequest,
    user: User,
    form: ReauthForm,
    *,
    key_form: Any = None,
    key_error: str = "",
    status: int = 200,
) -> HttpResponse:
    """Password and code, or (for a user with a key) password and security key."""
    # Imported here: webauthn_views builds on this module's views.
    from cpnav.accounts.webauthn_views import KeyReauthForm

    options = webauthn.authentication_options(request, user, webauthn.Purpose.REAUTH)
    context = {
        "form": form,
        "next": request.POST.get("next") or request.GET.get("next", ""),
        "key_options": options,
        "key_form": key_form or (KeyReauthForm(prefix="key") if options else None),
        "key_error": key_error,
    }
    return render(request, "accounts/confirm_identity.html", context, status=status)


def _has_next(request: HttpRequest) -> bool:
    return bool(request.POST.get("next") or request.GET.get("next"))


@login_required
def recovery_codes(request: HttpRequest) -> HttpResponse:
    user = signed_in(request.user)
    assert user is not None
    form = ReauthForm(posted_data(request), needs_code=mfa.has_second_factor(user))
    if request.method == "POST" and form.is_valid():
        locked = _check_identity(request, user, form)
        if locked is not None:
            return locked
        if not form.errors:
            request.session[NEW_CODES] = mfa.new_recovery_codes(user)
            record("mfa.recovery_codes_replaced", request=request)
            services.end_other_sessions(request, user, "recovery codes replaced")
            return redirect("accounts:recovery_codes")
    codes = request.session.pop(NEW_CODES, None)
    return render(
        request,
        "accounts/recovery_codes.html",
        {"codes": codes, "unused": mfa.unused_recovery_codes(user), "form": form},
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
            "security_keys": webauthn.keys_of(user),
            "keys_available": webauthn.available(),
        },
    )


@require_POST
def signout(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        record("signout", request=request)
    logout(request)
    messages.info(request, _("You are signed out."))
    return clear_site_data(redirect("core:home"))


@require_POST
@login_required
def signout_everywhere(request: HttpRequest) -> HttpResponse:
    user = signed_in(request.user)
    assert user is not None
    services.end_sessions(user, request=request, reason="signed out everywhere")
    logout(request)
    messages.info(request, _("You are signed out on every device."))
    return clear_site_data(redirect("core:home"))


@require_POST
def keepalive(request: HttpRequest) -> JsonResponse:
    if not request.user.is_authenticated:
        return JsonResponse({"detail": _("Not signed in.")}, status=401)
    request.session[LAST_SEEN] = time.time()
    return JsonResponse({"idle_seconds": settings.SESSION_IDLE_SECONDS})


def refused_link(request: HttpRequest, kind: str, found: Model | None) -> HttpResponse:
    """An emailed link (``kind``: invitation, password_reset) that is unknown, used,
    revoked or expired: audited, and the same 404 page whichever it is."""
    record(
        f"{kind}.refused",
        request=request,
        outcome=Outcome.FAILURE,
        object_type=kind,
        object_id=found.pk if found else "",
        details={"reason": "unknown" if found is None else "used, revoked or expired"},
    )
    return render(request, f"accounts/{kind}_invalid.html", status=404)


def invitation(request: HttpRequest, token: str) -> HttpResponse:
    found = services.find_invitation(token)
    if found is None or not found.is_open:
        return refused_link(request, "invitation", found)
    member = signed_in(request.user)
    existing = User.objects.filter(email=found.email).exists()
    form = (
        None
        if existing
        else SetPasswordForm(
            request.POST or None,
            email=found.email,
            agency=found.agency,
            initial={"full_name": found.full_name},
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
                # The page shows the system-use notice above the button, whose
                # use is the acknowledgement (CJIS AC-8), as on the notice page.
                request.session[NOTICE_ACCEPTED] = True
                record(
                    "notice.acknowledged",
                    request=request,
                    actor=user,
                    agency_id=found.agency_id,
                    details={"via": "invitation"},
                )
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
        try:  # a posted id that is not a UUID names no token (not a server error)
            token = APIToken.objects.filter(user=user, pk=UUID(request.POST["revoke"])).first()
        except ValueError:
            token = None
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
