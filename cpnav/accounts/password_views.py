"""Changing one's own password, and setting one from an administrator's reset link."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from cpnav.accounts import mfa, services
from cpnav.accounts.access import signed_in
from cpnav.accounts.forms import PasswordChangeForm, PasswordResetForm, posted_data
from cpnav.accounts.views import locked_out, locked_while_signed_in, refused_link


@login_required
def password_change(request: HttpRequest) -> HttpResponse:
    """ASVS V6.2.2, V6.2.3: the current password, then the new one; other sessions end."""
    user = signed_in(request.user)
    assert user is not None
    form = PasswordChangeForm(posted_data(request), user=user)
    if request.method == "POST" and form.is_valid():
        if user.check_password(form.cleaned_data["current_password"]):
            services.change_password(request, user, form.cleaned_data["new_password"])
            messages.success(
                request,
                _("Your password is changed. You stay signed in here; other sessions have ended."),
            )
            return redirect("accounts:account")
        if services.count_failure(
            request, user, "account.password_change_failed", "current password"
        ):
            return locked_while_signed_in(request, user)
        form.add_error("current_password", _("That is not your current password."))
    return render(request, "accounts/password_change.html", {"form": form})


def password_reset(request: HttpRequest, token: str) -> HttpResponse:
    """The link an agency administrator sent: a new password, and the second factor."""
    found = services.find_password_reset(token)
    if found is None or not found.is_open or not found.user.is_active:
        return refused_link(request, "password_reset", found)
    user = found.user
    needs_code = mfa.has_second_factor(user)
    form = PasswordResetForm(posted_data(request), user=user, needs_code=needs_code)
    if request.method == "POST" and form.is_valid():
        if needs_code and mfa.verify_second_factor(user, form.cleaned_data["code"]) is None:
            if services.count_failure(request, user, "password_reset.failed", "second factor"):
                # Five wrong codes: the link is spent; the administrator must send another.
                services.burn_password_reset(request, found, "too many wrong codes")
                return locked_out(request)
            form.add_error("code", _("That code is not right, or it has already been used."))
        else:
            try:
                services.complete_password_reset(request, found, form.cleaned_data["password"])
            except ValidationError as error:
                form.add_error(None, error)
            else:
                messages.success(request, _("Your new password is set. Sign in with it now."))
                return redirect("accounts:signin")
    return render(
        request,
        "accounts/password_reset.html",
        {"form": form, "reset": found, "needs_code": needs_code},
    )
