"""Security keys: add one, sign in or confirm it is you with one, rename and remove.

The ceremonies run in the browser (cpnav/core/static/cpnav/webauthn.js), which
posts the authenticator's response in the hidden ``credential`` field of an
ordinary form; without JavaScript the key parts stay hidden and the code form
works as before.
"""

from __future__ import annotations

from uuid import UUID

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.signals import user_login_failed
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from cpnav.accounts import mfa, reauth, services, views, webauthn
from cpnav.accounts.access import not_found, signed_in
from cpnav.accounts.forms import CodeForm, ReauthForm, posted_data
from cpnav.accounts.models import SecurityKey, User
from cpnav.audit.models import Outcome
from cpnav.audit.services import record


class KeyNameForm(forms.Form):
    name = forms.CharField(
        label=gettext_lazy("Name of this key"),
        max_length=100,
        help_text=gettext_lazy(
            "So you can tell your keys apart, for example “Blue USB key” or “PIV card”."
        ),
    )


class KeyReauthForm(forms.Form):
    password = forms.CharField(
        label=gettext_lazy("Your password"),
        strip=False,
        max_length=1024,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


def _credential(request: HttpRequest) -> str:
    return request.POST.get("credential", "")


def refusal_message(refused: webauthn.Refused) -> str:
    """What the person is told; the audit trail has the exact reason."""
    if refused.reason.startswith("sign count"):
        return _(
            "This security key's use counter did not go up, which can mean the key was "
            "copied. It was refused. Use a code instead and tell your agency administrator."
        )
    if refused.reason in {"no challenge", "challenge expired", "challenge"}:
        return _("The request to your security key expired or was already used. Try again.")
    if refused.reason == "no response":
        return _("Your browser sent no response from a security key. Try again, or use a code.")
    if refused.reason == "key not registered to this account":
        return _("That security key is not registered to your account.")
    if refused.reason == "credential already registered":
        return _("That security key is already registered.")
    return _("Your security key's response could not be verified. Try again, or use a code.")


# ---- adding a key ---------------------------------------------------------------------


def security_key_add(request: HttpRequest) -> HttpResponse:
    """Register a security key: after the password step (first enrolment) or, signed
    in and re-authenticated, beside the factors the account has."""
    member = signed_in(request.user)
    user = member or views._pending_user(request)
    if user is None:
        return redirect(views._with_next("accounts:signin", request))
    if member is None and mfa.has_enrolled_factor(user):
        # Someone who only knows the password must not add a second factor.
        return redirect(views._with_next("accounts:verify", request))
    if not webauthn.available():
        messages.error(request, _("Security keys cannot be used at this web address."))
        return redirect("accounts:account" if member else "accounts:mfa_setup")
    if member is not None and not reauth.is_recent(request):
        target = reverse("accounts:confirm_identity")
        return redirect(f"{target}?{urlencode({'next': reverse('accounts:security_key_add')})}")
    form = KeyNameForm(posted_data(request))
    key_error, status = "", 200
    if request.method == "POST" and form.is_valid():
        try:
            key = webauthn.register(request, user, _credential(request), form.cleaned_data["name"])
        except webauthn.Refused as refused:
            record(
                "mfa.enrolment_failed",
                request=request,
                actor=user,
                outcome=Outcome.FAILURE,
                details={"type": "webauthn", **refused.details()},
            )
            key_error, status = refusal_message(refused), 400
        else:
            record(
                "mfa.enrolled",
                request=request,
                actor=user,
                object_type="security key",
                object_id=key.pk,
                details={"type": "webauthn", "replaced": False, "aaguid": key.aaguid},
            )
            reauth.spend(request)
            if member is None:
                request.session[views.NEW_CODES] = mfa.new_recovery_codes(user)
                # login() keeps the session's data, so the new codes survive it.
                views._complete_signin(request, user, "webauthn-enrolment")
                return redirect("accounts:recovery_codes")
            services.end_other_sessions(request, user, "security key added")
            messages.success(request, _("Security key “%(name)s” added.") % {"name": key.name})
            return redirect("accounts:account")
    elif request.method == "POST":
        status = 400
    context = {
        "form": form,
        "options": webauthn.registration_options(request, user),
        "key_error": key_error,
        "enrolling": member is None,
        "next": request.POST.get("next") or request.GET.get("next", ""),
    }
    return render(request, "accounts/security_key_add.html", context, status=status)


# ---- signing in and confirming identity ----------------------------------------------


@require_POST
def security_key_signin(request: HttpRequest) -> HttpResponse:
    """The second step with a security key, for someone who gave the password."""
    user = views._pending_user(request)
    if user is None:
        messages.info(request, _("Please sign in again."))
        return redirect(views._with_next("accounts:signin", request))
    if refused_address := views.too_many_attempts(request):
        return refused_address
    try:
        webauthn.authenticate(request, user, _credential(request), webauthn.Purpose.SIGNIN)
    except webauthn.Refused as refused:
        record(
            "signin.failure",
            request=request,
            actor_label=user.email,
            outcome=Outcome.FAILURE,
            details={**refused.details(), "reason": f"security key: {refused.reason}"},
        )
        # A refused key counts towards the lock-out like a wrong code.
        user_login_failed.send(
            sender=__name__, credentials={"username": user.email}, request=request
        )
        if getattr(request, "axes_locked_out", False):
            return views.locked_out(request)
        return views.verify_page(
            request, user, CodeForm(), key_error=refusal_message(refused), status=400
        )
    return views._complete_signin(request, user, "webauthn")


@require_POST
@login_required
def security_key_confirm(request: HttpRequest) -> HttpResponse:
    """Confirm it is you with the password and a security key (see views.confirm_identity)."""
    user = signed_in(request.user)
    assert user is not None
    form = KeyReauthForm(request.POST, prefix="key")
    key_error = ""
    if form.is_valid():
        refused: webauthn.Refused | None = None
        reason = ""
        if not user.check_password(form.cleaned_data["password"]):
            reason = "password"
        else:
            try:
                webauthn.authenticate(request, user, _credential(request), webauthn.Purpose.REAUTH)
            except webauthn.Refused as error:
                refused, reason = error, f"security key: {error.reason}"
        if not reason:
            record(
                "account.reauthenticated",
                request=request,
                object_type="user",
                object_id=user.pk,
                details={"factor": "webauthn"},
            )
            reauth.mark(request)
            return redirect(
                views._next_url(request) if views._has_next(request) else "accounts:account"
            )
        if services.count_failure(request, user, "account.reauthentication_failed", reason):
            return views.locked_while_signed_in(request, user)
        key_error = (
            refusal_message(refused) if refused is not None else _("That password is not right.")
        )
    return views.confirm_identity_page(
        request,
        user,
        ReauthForm(None, needs_code=mfa.has_second_factor(user)),
        key_form=form,
        key_error=key_error,
        status=400,
    )


# ---- the user's keys -----------------------------------------------------------------


def _own_key(request: HttpRequest, key_id: UUID) -> tuple[User, SecurityKey]:
    user = signed_in(request.user)
    assert user is not None
    key = webauthn.find_key(user, key_id)
    if key is None:
        raise not_found(request, "security key", key_id)
    return user, key


@login_required
def security_key(request: HttpRequest, key_id: UUID) -> HttpResponse:
    """One key: rename it, or remove it."""
    _user, key = _own_key(request, key_id)
    form = KeyNameForm(posted_data(request), initial={"name": key.name})
    if request.method == "POST" and form.is_valid():
        old = key.name
        webauthn.rename(key, form.cleaned_data["name"])
        record(
            "mfa.security_key_renamed",
            request=request,
            object_type="security key",
            object_id=key.pk,
            details={"from": old, "to": key.name},
        )
        messages.success(request, _("Security key renamed."))
        return redirect("accounts:account")
    return _key_page(request, key, form, status=400 if request.method == "POST" else 200)


def _key_page(
    request: HttpRequest, key: SecurityKey, form: KeyNameForm, *, error: str = "", status: int = 200
) -> HttpResponse:
    return render(
        request,
        "accounts/security_key.html",
        {"key": key, "form": form, "remove_error": error},
        status=status,
    )


@require_POST
@login_required
def security_key_remove(request: HttpRequest, key_id: UUID) -> HttpResponse:
    """Remove a key, after re-authentication, unless it is the account's last factor."""
    user, key = _own_key(request, key_id)
    here = reverse("accounts:security_key", args=[key.pk])
    if not reauth.is_recent(request):
        messages.info(request, _("Confirm it is you, then remove the key."))
        return redirect(f"{reverse('accounts:confirm_identity')}?{urlencode({'next': here})}")
    try:
        webauthn.remove(key)
    except webauthn.Refused as refused:
        record(
            "mfa.security_key_removed",
            request=request,
            object_type="security key",
            object_id=key.pk,
            outcome=Outcome.FAILURE,
            details=refused.details(),
        )
        error = _(
            "This is the only way you have to sign in after your password. Add another "
            "security key or set up an authenticator app first, then remove this one."
        )
        form = KeyNameForm(initial={"name": key.name})
        return _key_page(request, key, form, error=error, status=400)
    record(
        "mfa.security_key_removed",
        request=request,
        object_type="security key",
        object_id=key_id,
        details={"name": key.name},
    )
    reauth.spend(request)
    services.end_other_sessions(request, user, "security key removed")
    messages.success(request, _("Security key “%(name)s” removed.") % {"name": key.name})
    return redirect("accounts:account")
