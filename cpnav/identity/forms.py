from __future__ import annotations

import json
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from cpnav.accounts.forms import RolesField, role_choices
from cpnav.accounts.models import Agency
from cpnav.identity.models import DEFAULT_MFA_AMR, IdentityProvider, ProviderKind

# Keys of the SAML attribute map: what cpnav reads from an assertion.
ATTRIBUTE_KEYS = ("email", "full_name", "ori", "employer", "sworn")
METADATA_MAX_CHARS = 200_000


class ProviderForm(forms.Form):
    name = forms.CharField(label=_("Name on the sign-in button"), max_length=100)
    slug = forms.SlugField(
        label=_("Short name"), max_length=50,
        help_text=_("Letters, digits and hyphens; part of the addresses you give the provider."),
    )  # fmt: skip
    kind = forms.ChoiceField(label=_("Protocol"), choices=ProviderKind.choices)
    enabled = forms.BooleanField(label=_("Enabled on the sign-in page"), required=False)
    agencies = forms.ModelMultipleChoiceField(
        label=_("Agencies whose members may use it"),
        queryset=Agency.objects.all(),
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    issuer = forms.URLField(
        label=_("Issuer (OpenID Connect)"), max_length=200, required=False, assume_scheme="https",
        help_text=_("For example https://idp.int.identitysandbox.gov/ (Login.gov's sandbox)."),
    )  # fmt: skip
    client_id = forms.CharField(
        label=_("Client ID (OpenID Connect)"), max_length=255, required=False
    )
    scopes = forms.CharField(
        label=_("Scopes (OpenID Connect)"), max_length=255, required=False,
        initial="openid email profile",
    )  # fmt: skip
    acr_values = forms.CharField(
        label=_("acr values to ask for (OpenID Connect)"), max_length=500, required=False
    )
    mfa_acr_values = forms.CharField(
        label=_("acr values that mean multi-factor"), max_length=2000, required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Separated by spaces. Otherwise people also use their CP Navigator code."),
    )  # fmt: skip
    mfa_amr_values = forms.CharField(
        label=_("amr values that mean multi-factor"), max_length=2000, required=False,
        initial=DEFAULT_MFA_AMR, widget=forms.Textarea(attrs={"rows": 2}),
    )  # fmt: skip
    idp_metadata_xml = forms.CharField(
        label=_("Identity provider metadata, XML (SAML)"), max_length=METADATA_MAX_CHARS,
        required=False, strip=False, widget=forms.Textarea(attrs={"rows": 6}),
    )  # fmt: skip
    attribute_map = forms.CharField(
        label=_("Attribute map, JSON (SAML)"), max_length=4000, required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_('For example {"email": "mail", "full_name": "displayName", "ori": "ori"}.'),
    )  # fmt: skip
    mfa_authn_contexts = forms.CharField(
        label=_("AuthnContextClassRef values that mean multi-factor (SAML)"), max_length=2000,
        required=False, widget=forms.Textarea(attrs={"rows": 2}),
    )  # fmt: skip

    def __init__(self, *args: Any, instance: IdentityProvider | None = None, **kwargs: Any) -> None:
        self.instance = instance
        if instance is not None:
            kwargs.setdefault("initial", {
                **{name: getattr(instance, name) for name in self.base_fields
                   if name not in ("agencies", "attribute_map")},
                "agencies": list(instance.agencies.all()),
                "attribute_map": json.dumps(instance.attribute_map) if instance.attribute_map else "",
            })  # fmt: skip
        super().__init__(*args, **kwargs)
        if instance is not None:
            # The short name is in the addresses registered at the provider.
            self.fields["slug"].disabled = True
            self.fields["kind"].disabled = True

    def clean_slug(self) -> str:
        slug = str(self.cleaned_data["slug"]).lower()
        others = IdentityProvider.objects.filter(slug=slug)
        if self.instance is not None:
            others = others.exclude(pk=self.instance.pk)
        if slug in {"admin", "agencies", "saml"} or others.exists():
            raise forms.ValidationError(_("This short name is taken."))
        return slug

    def clean_issuer(self) -> str:
        from cpnav.identity.oidc import issuer_allowed

        issuer = str(self.cleaned_data.get("issuer") or "")
        if issuer and not issuer_allowed(issuer):
            raise forms.ValidationError(_("The issuer must be an https address."))
        return issuer

    def clean_attribute_map(self) -> dict[str, str]:
        text = str(self.cleaned_data.get("attribute_map") or "").strip()
        if not text:
            return {}
        try:
            value = json.loads(text)
        except ValueError:
            raise forms.ValidationError(_("This is not valid JSON.")) from None
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and v for k, v in value.items()
        ):
            raise forms.ValidationError(_("Use an object of names to attribute names."))
        unknown = sorted(set(value) - set(ATTRIBUTE_KEYS))
        if unknown:
            raise forms.ValidationError(
                _("Unknown keys: %(keys)s. Known: %(known)s.")
                % {"keys": ", ".join(unknown), "known": ", ".join(ATTRIBUTE_KEYS)}
            )
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind = data.get("kind") or (self.instance.kind if self.instance else "")
        if kind == ProviderKind.OIDC:
            if not data.get("issuer"):
                self.add_error("issuer", _("An OpenID Connect provider needs its issuer."))
            if not data.get("client_id"):
                self.add_error("client_id", _("An OpenID Connect provider needs a client ID."))
            if "openid" not in str(data.get("scopes") or "").split():
                self.add_error("scopes", _("The scopes must include openid."))
        elif kind == ProviderKind.SAML and data.get("enabled") and not data.get("idp_metadata_xml"):
            self.add_error(
                "idp_metadata_xml", _("Paste the provider's metadata before enabling it.")
            )
        return data


DECISIONS = [("approve", _("Approve")), ("refuse", _("Refuse"))]


class AccessDecisionForm(forms.Form):
    decision = forms.ChoiceField(label=_("Decision"), choices=DECISIONS, widget=forms.RadioSelect)
    roles = RolesField(label=_("Roles (when approving)"), choices=(), required=False)

    def __init__(self, *args: Any, agency: Agency, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["roles"].choices = role_choices(agency)  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("decision") == "approve" and not data.get("roles"):
            self.add_error("roles", _("Choose at least one role."))
        return data
