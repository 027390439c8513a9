"""System administrators configure identity providers; agency administrators decide
the access requests of first sign-ins."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from cpnav.accounts import access
from cpnav.accounts.models import User
from cpnav.audit.services import record
from cpnav.identity import oidc, provisioning
from cpnav.identity.forms import AccessDecisionForm, ProviderForm
from cpnav.identity.models import AccessStatus, IdentityProvider, ProviderKind

FIELDS = (
    "name", "issuer", "client_id", "scopes", "acr_values", "mfa_acr_values", "mfa_amr_values",
    "idp_metadata_xml", "attribute_map", "mfa_authn_contexts", "enabled",
)  # fmt: skip


def _system_admin(request: HttpRequest) -> User:
    user = access.signed_in(request.user)
    if user is None or not user.is_system_admin:
        raise access.not_found(request, "identity provider settings", request.path)
    return user


def save_provider(
    request: HttpRequest, provider: IdentityProvider | None, data: dict[str, Any]
) -> IdentityProvider:
    """Create or change a provider; each change is audited, enabling apart."""
    with transaction.atomic():
        created = provider is None
        if provider is None:
            provider = IdentityProvider(slug=data["slug"], kind=data["kind"])
        was_enabled = False if created else provider.enabled
        changed = [name for name in FIELDS if getattr(provider, name) != data.get(name)]
        for name in FIELDS:
            setattr(provider, name, data.get(name))
        provider.save()
        before = set() if created else set(provider.agencies.values_list("pk", flat=True))
        provider.agencies.set(data.get("agencies") or [])
        after = set(provider.agencies.values_list("pk", flat=True))
        if before != after:
            changed.append("agencies")
        details = {"provider": provider.slug, "kind": provider.kind, "changed": sorted(changed)}
        record(
            "identity.provider_created" if created else "identity.provider_changed",
            request=request,
            object_type="identity_provider",
            object_id=provider.pk,
            details=details,
        )
        if provider.enabled != was_enabled:
            record(
                "identity.provider_enabled" if provider.enabled else "identity.provider_disabled",
                request=request,
                object_type="identity_provider",
                object_id=provider.pk,
                details={"provider": provider.slug},
            )
    return provider


@login_required
def providers(request: HttpRequest) -> HttpResponse:
    _system_admin(request)
    listed = IdentityProvider.objects.prefetch_related("agencies")
    return render(request, "identity/providers.html", {"providers": listed})


@login_required
def provider_new(request: HttpRequest) -> HttpResponse:
    _system_admin(request)
    form = ProviderForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        provider = save_provider(request, None, form.cleaned_data)
        messages.success(request, _("Identity provider saved."))
        return redirect("identity:provider", slug=provider.slug)
    return render(request, "identity/provider_form.html", {"form": form, "provider": None})


@login_required
def provider(request: HttpRequest, slug: str) -> HttpResponse:
    _system_admin(request)
    found = IdentityProvider.objects.filter(slug=slug).first()
    if found is None:
        raise access.not_found(request, "identity provider", slug)
    form = ProviderForm(request.POST or None, instance=found)
    if request.method == "POST" and form.is_valid():
        save_provider(request, found, form.cleaned_data)
        messages.success(request, _("Identity provider saved."))
        return redirect("identity:provider", slug=found.slug)
    setup: dict[str, str] = {}
    if found.kind == ProviderKind.OIDC:
        setup = {
            _("Redirect URI"): oidc.redirect_uri(found),
            _("Public key (JWKS) URL"): oidc.jwks_url(found),
            _("Back-channel logout URI"): oidc.backchannel_url(found),
        }
    else:
        from django.conf import settings

        setup = {_("Service provider metadata URL"):
                 f"{settings.BASE_URL}/identity/saml/{found.slug}/metadata/"}  # fmt: skip
    return render(
        request,
        "identity/provider_form.html",
        {
            "form": form,
            "provider": found,
            "setup": setup,
            "certificate": found.client_certificate_pem() if found.is_oidc else "",
        },
    )


# --- Access requests (agency administrators) ---------------------------------------------


@login_required
def access_requests(request: HttpRequest, agency_id: UUID) -> HttpResponse:
    agency = access.get_administered_agency(request, agency_id)
    found = provisioning.requests_for(agency)
    return render(
        request,
        "identity/access_requests.html",
        {
            "agency": agency,
            "pending": found.filter(status=AccessStatus.PENDING),
            "decided": found.exclude(status=AccessStatus.PENDING)[:50],
        },
    )


@login_required
def access_request(request: HttpRequest, agency_id: UUID, access_request_id: UUID) -> HttpResponse:
    agency = access.get_administered_agency(request, agency_id)
    held = provisioning.requests_for(agency).filter(pk=access_request_id).first()
    if held is None:
        raise access.not_found(request, "access request", access_request_id)
    form = AccessDecisionForm(request.POST or None, agency=agency)
    if request.method == "POST" and held.status == AccessStatus.PENDING and form.is_valid():
        try:
            if form.cleaned_data["decision"] == "approve":
                provisioning.approve(request, held, agency, form.cleaned_data["roles"])
                messages.success(request, _("Approved: %(email)s can now sign in.")
                                 % {"email": held.email})  # fmt: skip
            else:
                provisioning.refuse_request(request, held, agency)
                messages.success(request, _("Request refused."))
        except ValidationError as error:
            if hasattr(error, "error_dict"):
                for field, errors in error.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                form.add_error(None, error.messages)
        else:
            return redirect("identity:access_requests", agency_id=agency.pk)
    existing = User.objects.filter(email__iexact=held.email).first() if held.email else None
    return render(
        request,
        "identity/access_request.html",
        {"agency": agency, "held": held, "form": form, "existing": existing},
    )
