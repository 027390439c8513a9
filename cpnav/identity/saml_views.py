"""SAML 2.0 endpoints: our metadata, the assertion consumer service (ACS), the
same-site step that finishes a sign-in, and single logout."""

from __future__ import annotations

from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from cpnav.accounts.access import signed_in
from cpnav.accounts.middleware import clear_site_data
from cpnav.audit.models import Outcome
from cpnav.audit.services import record
from cpnav.identity import saml
from cpnav.identity.models import IdentityProvider, ProviderKind
from cpnav.identity.provisioning import end_sessions_for, federated_signin, refuse


def _provider(slug: str) -> IdentityProvider | None:
    return IdentityProvider.objects.filter(slug=slug, kind=ProviderKind.SAML).first()


def _unknown(request: HttpRequest) -> HttpResponse:
    return refuse(request, None, "unknown_provider", _(
        "There is no such sign-in. Start again from CP Navigator's sign-in page."),
        status=404)  # fmt: skip


def _disabled(request: HttpRequest, provider: IdentityProvider) -> HttpResponse:
    return refuse(request, provider, "disabled_provider", _(
        "Sign-in with %(name)s is turned off.") % {"name": provider.name}, status=403)  # fmt: skip


@require_GET
def metadata(request: HttpRequest, slug: str) -> HttpResponse:
    """Our metadata, at the address that is also our entity ID."""
    provider = _provider(slug)
    if provider is None:
        return _unknown(request)
    response = HttpResponse(
        saml.metadata_xml(provider), content_type="application/samlmetadata+xml"
    )
    response["Content-Disposition"] = f'inline; filename="cpnav-{provider.slug}-metadata.xml"'
    response["Cache-Control"] = "public, max-age=300"
    return response


@csrf_exempt  # posted by the identity provider's page; the signed assertion is the proof
@require_POST
def acs(request: HttpRequest, slug: str) -> HttpResponse:
    """Check the posted SAMLResponse. This cross-site POST carries no session cookie
    (SameSite=Lax), so the result waits under a one-time token for a same-site GET."""
    provider = _provider(slug)
    if provider is None:
        return _unknown(request)
    try:
        outcome = saml.check_response(provider, request.POST.get("SAMLResponse", ""))
    except saml.Refusal as refusal:
        status = 403 if refusal.reason in {"signature", "unsigned", "replay"} else 400
        return refuse(request, provider, refusal.reason, refusal.message, status=status)
    if not (provider.enabled or outcome.test):
        return _disabled(request, provider)
    token = saml.keep_outcome(provider, outcome)
    target = reverse("saml:complete", args=[provider.slug])
    return HttpResponseRedirect(f"{target}?{urlencode({'t': token})}", status=303)


@require_GET
def complete(request: HttpRequest, slug: str) -> HttpResponse:
    """The same browser, now with its session: hand the checked claims over."""
    provider = _provider(slug)
    if provider is None:
        return _unknown(request)
    outcome = saml.take_outcome(provider, request.GET.get("t", ""))
    if outcome is None:
        return refuse(request, provider, "outcome", _(
            "This sign-in link has expired or has already been used. Sign in again."))  # fmt: skip
    started = saml.started_here(request, provider, outcome.request_id)
    if started is None or bool(started.get("test")) != outcome.test:
        return refuse(request, provider, "browser", _(
            "This sign-in was not started in this browser. Start again from CP Navigator's "
            "sign-in page."), status=403)  # fmt: skip
    if outcome.test:
        user = signed_in(request.user)
        if user is None or not user.is_system_admin:
            return refuse(request, provider, "browser", _(
                "Only a signed-in system administrator may test a sign-in."), status=403)  # fmt: skip
        return federated_signin(request, provider, outcome.claims, test=True)
    if not provider.enabled:
        return _disabled(request, provider)
    return federated_signin(
        request, provider, outcome.claims, next_url=str(started.get("next") or "")
    )


@require_GET
def slo(request: HttpRequest, slug: str) -> HttpResponse:
    """Single logout started at the identity provider (a person signed out there, or was
    disabled): end the person's cpnav sessions and answer with a LogoutResponse."""
    provider = _provider(slug)
    if provider is None:
        return _unknown(request)
    if "SAMLRequest" not in request.GET:
        return refuse(request, provider, "slo_unsupported", _(
            "CP Navigator takes only sign-out requests from the identity provider here."))  # fmt: skip
    try:
        asked = saml.receive_logout(provider, request)
    except saml.Refusal as refusal:
        record(
            "identity.saml_logout",
            request=request,
            outcome=Outcome.FAILURE,
            object_type="identity_provider",
            object_id=provider.pk,
            details={"provider": provider.slug, "reason": refusal.reason},
        )
        return refuse(request, provider, refusal.reason, refusal.message)
    known = end_sessions_for(
        provider, asked.name_id, request=request, reason="identity provider single logout"
    )
    record(
        "identity.saml_logout",
        request=request,
        object_type="identity_provider",
        object_id=provider.pk,
        details={"provider": provider.slug, "known": known},
    )
    logout(request)
    if asked.response_location:
        return clear_site_data(HttpResponseRedirect(asked.response_location))
    return clear_site_data(render(request, "identity/saml_signed_out.html", {"provider": provider}))
