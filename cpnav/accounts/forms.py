from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.http import HttpRequest, QueryDict
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from cpnav.accounts.models import PASSWORD_RESET_HOURS, Agency, Role, User, role_allowed
from cpnav.accounts.passwords import CONTEXT_AGENCIES


def posted_data(request: HttpRequest) -> QueryDict | None:
    """Bind a form on every POST, even an empty one: an empty form must show its errors."""
    return request.POST if request.method == "POST" else None


class SignInForm(forms.Form):
    email = forms.EmailField(
        label=_("Email address"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "username"}),
    )
    # Checked exactly as typed (strip=False), pasted or filled by a password manager.
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        max_length=1024,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class CodeForm(forms.Form):
    code = forms.CharField(
        label=_("Code"),
        max_length=64,
        help_text=_("The 6-digit code from your authenticator app, or a recovery code."),
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "text"}),
    )


class EnrolForm(forms.Form):
    code = forms.CharField(
        label=_("6-digit code from your app"),
        max_length=12,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


def _new_password_field(label: Any = None) -> forms.CharField:
    return forms.CharField(
        label=label or _("Password"),
        strip=False,
        max_length=1024,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_(
            "At least 15 characters. Spaces are fine: a phrase of several words works well. "
            "Do not use the names of this system, your agency or its roles."
        ),
    )


def _confirm_field() -> forms.CharField:
    return forms.CharField(
        label=_("Password again"),
        strip=False,
        max_length=1024,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )


def _check_new_password(form: forms.Form, data: dict[str, Any], field: str, user: User) -> None:
    """The two entries match and the project's validators accept the password."""
    password, confirm = data.get(field), data.get("confirm")
    if password and confirm and password != confirm:
        form.add_error("confirm", _("The two passwords do not match."))
    if password:
        try:
            validate_password(password, user)
        except ValidationError as error:
            form.add_error(field, error)


class SetPasswordForm(forms.Form):
    """Choose a password; validators run against the account's own details."""

    full_name = forms.CharField(label=_("Full name"), max_length=200)
    password = _new_password_field()
    confirm = _confirm_field()

    def __init__(self, *args: Any, email: str, agency: Agency | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.email = email
        self.agency = agency

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        probe = User(email=self.email, full_name=data.get("full_name", ""))
        setattr(probe, CONTEXT_AGENCIES, [self.agency] if self.agency else [])
        _check_new_password(self, data, "password", probe)
        return data


class PasswordChangeForm(forms.Form):
    """Change one's own password: the current one first (ASVS V6.2.3)."""

    current_password = forms.CharField(
        label=_("Current password"),
        strip=False,
        max_length=1024,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    new_password = _new_password_field(_("New password"))
    confirm = _confirm_field()

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        _check_new_password(self, data, "new_password", self.user)
        current, new = data.get("current_password"), data.get("new_password")
        if current and new and current == new:
            self.add_error("new_password", _("Choose a password different from the current one."))
        return data


class ReauthForm(forms.Form):
    """Prove it is still you: the password and a second factor (ASVS V7.5.1)."""

    password = forms.CharField(
        label=_("Your password"),
        strip=False,
        max_length=1024,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    code = forms.CharField(
        label=_("Code"),
        max_length=64,
        help_text=_("The 6-digit code from your authenticator app, or a recovery code."),
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "text"}),
    )

    def __init__(self, *args: Any, needs_code: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not needs_code:
            del self.fields["code"]


class PasswordResetForm(forms.Form):
    """Set a new password from an administrator's reset link."""

    password = _new_password_field(_("New password"))
    confirm = _confirm_field()
    code = forms.CharField(
        label=_("Code"),
        max_length=64,
        help_text=_("The 6-digit code from your authenticator app, or a recovery code."),
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "text"}),
    )

    def __init__(self, *args: Any, user: User, needs_code: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        if not needs_code:
            del self.fields["code"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        _check_new_password(self, data, "password", self.user)
        return data


class MemberResetForm(forms.Form):
    """An administrator helps a member who cannot sign in (ASVS V6.4.3, V6.4.4)."""

    send_link = forms.BooleanField(
        label=_("Email a link to set a new password"),
        required=False,
    )
    reset_authenticator = forms.BooleanField(
        label=_("Reset the authenticator app"),
        required=False,
        help_text=_(
            "Removes their authenticator and recovery codes and ends their sessions. "
            "They set up a new authenticator at their next sign-in. If someone else may "
            "know the password, send a reset link too."
        ),
    )
    identity_confirmed = forms.BooleanField(
        label=_(
            "I have confirmed this person's identity, in person or by calling "
            "a phone number already on file."
        ),
        error_messages={"required": _("Confirm the person's identity first.")},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["send_link"].help_text = gettext(
            "The link works once and expires in %(hours)d hours. "
            "Setting the password still takes their authenticator app, unless you reset it too."
        ) % {"hours": PASSWORD_RESET_HOURS}

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("send_link") and not data.get("reset_authenticator"):
            raise ValidationError(_("Choose at least one thing to reset."))
        return data


class RolesField(forms.MultipleChoiceField):
    widget = forms.CheckboxSelectMultiple


class InviteForm(forms.Form):
    full_name = forms.CharField(label=_("Full name"), max_length=200)
    email = forms.EmailField(label=_("Work email address"), max_length=254)
    roles = RolesField(label=_("Roles"), choices=())

    def __init__(self, *args: Any, agency: Agency, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["roles"].choices = role_choices(agency)  # type: ignore[attr-defined]


class MemberRolesForm(forms.Form):
    roles = RolesField(label=_("Roles"), choices=())

    def __init__(self, *args: Any, agency: Agency, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["roles"].choices = role_choices(agency)  # type: ignore[attr-defined]


def role_choices(agency: Agency) -> list[tuple[str, str]]:
    return [(str(role.value), str(role.label)) for role in Role if role_allowed(agency, role)]


class TokenForm(forms.Form):
    name = forms.CharField(label=_("What the token is for"), max_length=100)
    scopes = forms.MultipleChoiceField(
        label=_("Access"),
        choices=[("read", _("Read")), ("write", _("Write"))],
        widget=forms.CheckboxSelectMultiple,
    )
    days = forms.IntegerField(label=_("Valid for (days)"), min_value=1, max_value=365, initial=90)
