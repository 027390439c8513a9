from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from cpnav.accounts.models import Agency, Role, User, role_allowed


class SignInForm(forms.Form):
    email = forms.EmailField(label=_("Email address"), max_length=254)
    password = forms.CharField(
        label=_("Password"), strip=False, max_length=1024, widget=forms.PasswordInput
    )


class CodeForm(forms.Form):
    code = forms.CharField(
        label=_("Code"),
        max_length=32,
        help_text=_("The 6-digit code from your authenticator app, or a recovery code."),
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "text"}),
    )


class EnrolForm(forms.Form):
    code = forms.CharField(
        label=_("6-digit code from your app"),
        max_length=12,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


class SetPasswordForm(forms.Form):
    """Choose a password; validators run against the account's own details."""

    full_name = forms.CharField(label=_("Full name"), max_length=200)
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        max_length=1024,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_(
            "At least 15 characters. Spaces are fine: a phrase of several words works well."
        ),
    )
    confirm = forms.CharField(
        label=_("Password again"),
        strip=False,
        max_length=1024,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args: Any, email: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.email = email

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        password, confirm = data.get("password"), data.get("confirm")
        if password and confirm and password != confirm:
            self.add_error("confirm", _("The two passwords do not match."))
        if password:
            probe = User(email=self.email, full_name=data.get("full_name", ""))
            try:
                validate_password(password, probe)
            except ValidationError as error:
                self.add_error("password", error)
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
