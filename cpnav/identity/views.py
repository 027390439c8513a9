"""Sign-in through an identity provider: start, callback, our public keys, and the
provider's back-channel logout."""

from __future__ import annotations

import time

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from cpnav.accounts import services as account_services
from cpnav.accounts.access import signed_in
from cpnav.accounts.models import Invitation
from cpnav.audit.models import Outcome
from cpnav.audit.services import record
from cpnav.identity import oidc
from cpnav.identity.models import ExternalIdentity, IdentityProvider, ProviderKind
from cpnav.identity.provisioning import INVITATION, NEXT, end_sessions_for, federated_signin, refuse

# An identity provider's error codes we explain; any other is reported as a refusal.
PROVIDER_ERRORS = {
    "access_denied": gettext_lazy(
        "You cancelled the sign-in, or the identity provider refused it."
    ),
    "login_required": gettext_lazy("The identity provider needs you to sign in first."),
}


def _provider(request: HttpRequest, slug: str, *, test: bool) -> IdentityProvider:
    """An enabled provider; a system administrator's test may use a disabled one."""
    found = IdentityProvider.objects.filter(slug=slug).first()
    if found is None or not (found.enabled or test):
        raise Http404("No such identity provider.")
    return found


def _is_admin(request: HttpRequest) -> bool:
    user = signed_in(request.user)
    return user is not None and user.is_system_admin


def _safe(request: HttpRequest, candidate: str) -> str:
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return ""


@require_GET
def start(request: HttpRequest, slug: str) -> HttpResponse:
    from cpnav.accounts.views import NOTICE_ACCEPTED

    test = request.GET.get("test") == "1"
    if test and not _is_admin(request):
        raise Http404("No such identity provider.")
    provider = _provider(request, slug, test=test)
    next_url = _safe(request, request.GET.get("next", ""))
    token = request.GET.get("invitation", "")
    if token:
        invitation = account_services.find_invitation(token)
        if invitation is None or not invitation.is_open or not provider.agencies.filter(
                pk=invitation.agency_id).exists():  # fmt: skip
            return refuse(request, provider, "invitation", _(
                "This invitation cannot be accepted with this sign-in. Use the link in "
                "your invitation email again, or ask your agency administrator."), status=404)  # fmt: skip
        request.session[INVITATION] = Invitation.hash_token(token)
    if not test:
        if signed_in(request.user):
            return redirect("core:home")
        if not request.session.get(NOTICE_ACCEPTED):
            target = reverse("accounts:notice")
            return redirect(f"{target}?{urlencode({'next': next_url})}" if next_url else target)
    record(
        "identity.signin_started",
        request=request,
        object_type="identity_provider",
        object_id=provider.pk,
        details={"provider": provider.slug, "test": test},
    )
    if provider.kind == ProviderKind.SAML:
        from cpnav.identity import saml

        response: HttpResponse = saml.start(request, provider, test, next_url)
        return response
    try:
        return oidc.start(request, provider, test=test, next_url=next_url)
    except oidc.Refused as refused:
        return refuse(request, provider, refused.reason, refused.message, status=502)


@require_GET
def callback(request: HttpRequest, slug: str) -> HttpResponse:
    provider = IdentityProvider.objects.filter(slug=slug, kind=ProviderKind.OIDC).first()
    if provider is None:
        raise Http404("No such identity provider.")
    try:
        flow = oidc.take_flow(request, provider, request.GET.get("state", ""))
    except oidc.Refused as refused:
        return refuse(request, provider, refused.reason, refused.message)
    if flow.test and not _is_admin(request):
        raise Http404("No such identity provider.")
    if not (provider.enabled or flow.test):
        return refuse(request, provider, "disabled_provider", _(
            "Sign-in with %(name)s is turned off.") % {"name": provider.name}, status=403)  # fmt: skip
    error = request.GET.get("error", "")
    if error:
        text = str(PROVIDER_ERRORS.get(error, _("The identity provider refused the sign-in.")))
        return refuse(request, provider, f"provider_error:{error[:40]}", text, status=403)
    try:
        claims = oidc.finish(request, provider, flow)
    except oidc.Refused as refused:
        return refuse(request, provider, refused.reason, refused.message)
    request.session[NEXT] = flow.next
    return federated_signin(request, provider, claims, test=flow.test)


@require_GET
def jwks(request: HttpRequest, slug: str) -> JsonResponse:
    """Our public key for private_key_jwt, at the address given to the provider."""
    provider = IdentityProvider.objects.filter(slug=slug, kind=ProviderKind.OIDC).first()
    if provider is None:
        raise Http404("No such identity provider.")
    response = JsonResponse(provider.public_jwks())
    response["Cache-Control"] = "public, max-age=300"
    return response


@csrf_exempt
@require_POST
def backchannel_logout(request: HttpRequest, slug: str) -> JsonResponse:
    """OpenID Connect Back-Channel Logout 1.0: the provider ends a person's sessions."""
    provider = IdentityProvider.objects.filter(slug=slug, kind=ProviderKind.OIDC).first()
    if provider is None:
        raise Http404("No such identity provider.")
    token = request.POST.get("logout_token", "")
    try:
        claims = oidc.check_logout_token(provider, token, time.time())
    except oidc.Refused as refused:
        record(
            "identity.backchannel_logout",
            request=request,
            outcome=Outcome.FAILURE,
            object_type="identity_provider",
            object_id=provider.pk,
            details={"provider": provider.slug, "reason": refused.reason},
        )
        response = JsonResponse({"error": "invalid_request"}, status=400)
        response["Cache-Control"] = "no-store"
        return response
    subject = claims.get("sub")
    if not isinstance(subject, str):
        link = ExternalIdentity.objects.filter(
            provider=provider, last_assurance__sid=claims.get("sid")
        ).first()
        subject = link.subject if link is not None else ""
    ended = bool(subject) and end_sessions_for(
        provider, subject, request=None, reason=f"signed out at {provider.slug}"
    )
    record(
        "identity.backchannel_logout",
        request=request,
        object_type="identity_provider",
        object_id=provider.pk,
        details={"provider": provider.slug, "known": ended},
    )
    response = JsonResponse({})
    response["Cache-Control"] = "no-store"
    return response
