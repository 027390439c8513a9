"""OpenID Connect relying party: authorization code flow with PKCE (S256) and
private_key_jwt client authentication, as Login.gov requires.

authlib builds the authorization request and calls the token endpoint; joserfc
checks every JWT. Everything a later request needs is in the session or the
database (UsedOnce), never in process memory: any app server may take the callback.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey

from cpnav.identity.models import IdentityProvider
from cpnav.identity.provisioning import Claims, first_use, key_digest

# Asymmetric signatures only: "none" and the HMAC algorithms (keyed with the client
# secret we do not have) are refused before any key is looked at.
ALLOWED_ALGS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}
)
FLOWS = "cpnav_oidc_flows"
# A sign-in left at the provider's pages longer than this starts again.
FLOW_SECONDS = 600
# Several tabs may start sign-ins; each keeps its own state, up to this many.
FLOW_LIMIT = 3
BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
TIMEOUT = 10


class Refused(Exception):
    """A sign-in refused for ``reason`` (audited) with ``message`` (shown)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.message = message


def issuer_allowed(url: str) -> bool:
    """https, or plain http to the loopback address when the setting allows it (tests)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return True
    return (
        settings.IDENTITY_ALLOW_HTTP_LOOPBACK
        and parts.scheme == "http"
        and parts.hostname in {"127.0.0.1", "localhost", "::1"}
    )


def redirect_uri(provider: IdentityProvider) -> str:
    return settings.BASE_URL + reverse("identity:callback", args=[provider.slug])


def jwks_url(provider: IdentityProvider) -> str:
    return settings.BASE_URL + reverse("identity:jwks", args=[provider.slug])


def backchannel_url(provider: IdentityProvider) -> str:
    return settings.BASE_URL + reverse("identity:backchannel_logout", args=[provider.slug])


# --- The provider's published documents (cached in the shared database cache) ------------


def _get_json(url: str) -> dict[str, Any]:
    if not issuer_allowed(url):
        raise Refused("discovery", _("The identity provider's address is not allowed."))
    try:
        # Never followed to another address: a redirect could lead to plain http.
        response = requests.get(
            url, timeout=TIMEOUT, headers={"Accept": "application/json"}, allow_redirects=False
        )
        response.raise_for_status()
        data = response.json()
    except (requests.RequestException, ValueError):
        raise Refused(
            "discovery", _("The identity provider could not be reached. Try again later.")
        ) from None
    if not isinstance(data, dict):
        raise Refused("discovery", _("The identity provider sent an unreadable answer."))
    return data


def discovery(provider: IdentityProvider) -> dict[str, Any]:
    key = f"identity:oidc:{provider.pk}:{key_digest(provider.issuer)}:discovery"
    found = cache.get(key)
    if isinstance(found, dict):
        return found
    document = _get_json(provider.issuer.rstrip("/") + "/.well-known/openid-configuration")
    if document.get("issuer") != provider.issuer:
        raise Refused("discovery", _("The identity provider's configuration names another issuer."))
    for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not isinstance(document.get(name), str) or not issuer_allowed(document[name]):
            raise Refused("discovery", _("The identity provider's configuration is incomplete."))
    cache.set(key, document, settings.IDENTITY_METADATA_SECONDS)
    return document


# An unknown key id fetches the keys again at most this often per provider: anyone can
# post a token naming a made-up key to the back-channel logout address.
REFRESH_AT_MOST_EVERY = 60


def provider_keys(provider: IdentityProvider, *, refresh: bool = False) -> KeySet:
    document = discovery(provider)
    key = f"identity:oidc:{provider.pk}:{key_digest(document['jwks_uri'])}:jwks"
    if refresh and not cache.add(f"{key}:refreshed", True, REFRESH_AT_MOST_EVERY):
        refresh = False  # fetched again less than a minute ago, on some app server
    found = None if refresh else cache.get(key)
    if not isinstance(found, dict):
        found = _get_json(document["jwks_uri"])
        cache.set(key, found, settings.IDENTITY_METADATA_SECONDS)
    try:
        return KeySet.import_key_set(found)  # type: ignore[arg-type]
    except (JoseError, KeyError, TypeError, ValueError):
        raise Refused("jwks", _("The identity provider's keys could not be read.")) from None


# --- JWT checks ----------------------------------------------------------------------


def verify_signature(
    provider: IdentityProvider, token: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and claims of a JWT signed by one of the provider's published keys."""
    try:
        compact = jws.extract_compact(token.encode())
        header = compact.headers()
    except (JoseError, ValueError, UnicodeError):
        raise Refused("malformed", _("The identity provider's answer could not be read.")) from None
    alg = header.get("alg")
    if alg not in ALLOWED_ALGS:
        raise Refused("algorithm", _("The identity provider's answer is not signed as required."))
    kid = header.get("kid")
    keys = provider_keys(provider)
    if kid is not None and not any(k.kid == kid for k in keys):
        keys = provider_keys(provider, refresh=True)  # the provider may have rotated its keys
    try:
        key = keys.get_by_kid(kid)
    except JoseError:
        raise Refused(
            "unknown_key", _("The identity provider's answer is signed with an unknown key.")
        ) from None
    if key.get("alg") not in (None, alg):
        raise Refused("algorithm", _("The identity provider's answer is not signed as required."))
    try:
        if not jws.validate_compact(compact, key, algorithms=[alg]):
            raise Refused(
                "signature", _("The identity provider's answer has an invalid signature.")
            )
    except JoseError:
        raise Refused(
            "signature", _("The identity provider's answer has an invalid signature.")
        ) from None
    try:
        claims = json.loads(compact.payload)
    except ValueError:
        raise Refused("malformed", _("The identity provider's answer could not be read.")) from None
    if not isinstance(claims, dict):
        raise Refused("malformed", _("The identity provider's answer could not be read."))
    return header, claims


def _number(claims: dict[str, Any], name: str) -> float:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Refused("malformed", _("The identity provider's answer is incomplete."))
    return float(value)


def check_common(provider: IdentityProvider, claims: dict[str, Any], now: float) -> None:
    """iss, aud (and azp), iat: the same for ID tokens and logout tokens."""
    leeway = settings.IDENTITY_LEEWAY_SECONDS
    if claims.get("iss") != provider.issuer:
        raise Refused("issuer", _("The answer did not come from the expected identity provider."))
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    if provider.client_id not in audiences:
        raise Refused("audience", _("The answer was meant for another application."))
    if len(audiences) > 1 and claims.get("azp") != provider.client_id:
        raise Refused("audience", _("The answer was meant for another application."))
    if _number(claims, "iat") > now + leeway:
        raise Refused("issued_in_future", _("The answer is dated in the future. Check the clocks."))
    if "nbf" in claims and _number(claims, "nbf") > now + leeway:
        raise Refused("not_yet_valid", _("The answer is not valid yet. Check the clocks."))


def _half_hash(value: str, alg: str) -> str:
    digest = {"256": hashlib.sha256, "384": hashlib.sha384, "512": hashlib.sha512}[alg[-3:]]
    half = digest(value.encode("ascii")).digest()
    return base64.urlsafe_b64encode(half[: len(half) // 2]).rstrip(b"=").decode()


def check_id_token(
    provider: IdentityProvider, token: str, *, nonce: str, access_token: str, now: float
) -> dict[str, Any]:
    header, claims = verify_signature(provider, token)
    check_common(provider, claims, now)
    if _number(claims, "exp") < now - settings.IDENTITY_LEEWAY_SECONDS:
        raise Refused("expired", _("The sign-in took too long and expired. Start again."))
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise Refused("malformed", _("The identity provider's answer is incomplete."))
    if not isinstance(claims.get("nonce"), str) or not secrets.compare_digest(
        claims["nonce"], nonce
    ):
        raise Refused("nonce", _("The answer does not belong to this sign-in. Start again."))
    if "at_hash" in claims and claims["at_hash"] != _half_hash(access_token, header["alg"]):
        raise Refused("at_hash", _("The identity provider's answer is inconsistent."))
    expires = datetime.fromtimestamp(_number(claims, "exp"), tz=UTC)
    if not first_use(f"oidc-id-token:{provider.pk}:{key_digest(token)}", expires):
        raise Refused("replay", _("This sign-in answer was already used. Start again."))
    return claims


# --- The flow ------------------------------------------------------------------------


def _session(provider: IdentityProvider, document: dict[str, Any]) -> OAuth2Session:
    private = RSAKey.import_key(json.loads(provider.client_private_jwk))
    session = OAuth2Session(
        client_id=provider.client_id,
        client_secret=private,
        scope=provider.scopes,
        redirect_uri=redirect_uri(provider),
        code_challenge_method="S256",
        token_endpoint_auth_method=PrivateKeyJWT.name,
    )
    session.max_redirects = 0  # the token endpoint answers itself, never elsewhere
    # The assertion's audience is the token endpoint; the kid names our published key.
    session.register_client_auth_method(
        PrivateKeyJWT(document["token_endpoint"], headers={"kid": private.kid})
    )
    return session


def start(
    request: HttpRequest, provider: IdentityProvider, *, test: bool, next_url: str
) -> HttpResponse:
    """Send the browser to the provider with a fresh state, nonce and PKCE verifier."""
    document = discovery(provider)
    state = secrets.token_urlsafe(32)
    nonce = secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)
    extra: dict[str, str] = {"nonce": nonce}
    if provider.acr_values.strip():
        extra["acr_values"] = " ".join(provider.acr_values.split())
    url, _state = _session(provider, document).create_authorization_url(
        document["authorization_endpoint"], state=state, code_verifier=verifier, **extra
    )
    flows = {
        k: v
        for k, v in dict(request.session.get(FLOWS) or {}).items()
        if isinstance(v, dict) and time.time() - float(v.get("at", 0)) < FLOW_SECONDS
    }
    flows[key_digest(state)] = {
        "provider": provider.slug,
        "nonce": nonce,
        "verifier": verifier,
        "test": test,
        "next": next_url,
        "at": time.time(),
    }
    request.session[FLOWS] = dict(list(flows.items())[-FLOW_LIMIT:])
    return HttpResponseRedirect(url)


@dataclass(frozen=True)
class Flow:
    nonce: str
    verifier: str
    test: bool
    next: str


def take_flow(request: HttpRequest, provider: IdentityProvider, state: str) -> Flow:
    """The sign-in this callback answers; each state is good for one callback."""
    flows = dict(request.session.get(FLOWS) or {})
    found = flows.pop(key_digest(state), None) if state else None
    request.session[FLOWS] = flows
    if (
        not isinstance(found, dict)
        or found.get("provider") != provider.slug
        or time.time() - float(found.get("at", 0)) > FLOW_SECONDS
    ):
        raise Refused("state", _("This sign-in has expired or was already used. Start again."))
    # Two requests carrying the same callback can both read the session before either
    # saves it: the database decides which one is first.
    if not first_use(f"oidc-state:{key_digest(state)}", datetime.fromtimestamp(
            float(found["at"]) + FLOW_SECONDS, tz=UTC)):  # fmt: skip
        raise Refused("replay", _("This sign-in answer was already used. Start again."))
    return Flow(
        str(found["nonce"]), str(found["verifier"]), bool(found["test"]), str(found["next"])
    )


def finish(request: HttpRequest, provider: IdentityProvider, flow: Flow) -> Claims:
    """Exchange the code, check the ID token and build the claims."""
    code = request.GET.get("code", "")
    if not code:
        raise Refused("malformed", _("The identity provider's answer is incomplete."))
    document = discovery(provider)
    session = _session(provider, document)
    try:
        token = session.fetch_token(
            document["token_endpoint"],
            grant_type="authorization_code",
            code=code,
            code_verifier=flow.verifier,
            timeout=TIMEOUT,
        )
    except (OAuthError, requests.RequestException, ValueError, JoseError):
        raise Refused(
            "token_endpoint", _("The identity provider did not complete the sign-in. Start again.")
        ) from None
    id_token = token.get("id_token")
    access_token = str(token.get("access_token") or "")
    if not isinstance(id_token, str):
        raise Refused("malformed", _("The identity provider's answer is incomplete."))
    claims = check_id_token(
        provider, id_token, nonce=flow.nonce, access_token=access_token, now=time.time()
    )
    if "email" not in claims and document.get("userinfo_endpoint") and access_token:
        claims = {**_userinfo(document["userinfo_endpoint"], access_token, claims["sub"]), **claims}
    return to_claims(provider, claims)


def _userinfo(url: str, access_token: str, subject: str) -> dict[str, Any]:
    if not issuer_allowed(url):
        raise Refused("userinfo", _("The identity provider's address is not allowed."))
    try:
        response = requests.get(
            url,
            timeout=TIMEOUT,
            headers={"Authorization": f"Bearer {access_token}"},
            allow_redirects=False,
        )
        response.raise_for_status()
        data = response.json()
    except (requests.RequestException, ValueError):
        raise Refused("userinfo", _("The identity provider did not send your details.")) from None
    if not isinstance(data, dict) or data.get("sub") != subject:
        raise Refused("userinfo", _("The identity provider sent details of someone else."))
    return data


def to_claims(provider: IdentityProvider, claims: dict[str, Any]) -> Claims:
    acr = str(claims.get("acr") or "")
    amr_raw = claims.get("amr")
    amr = [str(v) for v in amr_raw] if isinstance(amr_raw, list) else []
    mfa = (bool(acr) and acr in provider.mfa_acr_values.split()) or bool(
        set(amr) & set(provider.mfa_amr_values.split())
    )
    name = str(claims.get("name") or " ".join(
        str(claims.get(k) or "") for k in ("given_name", "family_name")).strip())  # fmt: skip
    attributes = {
        key: str(claims[key])
        for key in ("ori", "employer", "sworn", "preferred_username")
        if key in claims and isinstance(claims[key], str | int | bool)
    }
    assurance: dict[str, Any] = {"acr": acr, "amr": amr}
    if isinstance(claims.get("auth_time"), int):
        assurance["auth_time"] = claims["auth_time"]
    if isinstance(claims.get("sid"), str):
        assurance["sid"] = claims["sid"][:255]
    return Claims(
        subject=str(claims["sub"])[:255],
        email=str(claims.get("email") or "").strip().lower()[:254],
        email_verified=claims.get("email_verified") is True,
        full_name=name[:200],
        attributes=attributes,
        mfa=mfa,
        assurance=assurance,
    )


def check_logout_token(provider: IdentityProvider, token: str, now: float) -> dict[str, Any]:
    """OpenID Connect Back-Channel Logout 1.0, section 2.6."""
    _header, claims = verify_signature(provider, token)
    check_common(provider, claims, now)
    if now - _number(claims, "iat") > FLOW_SECONDS:
        raise Refused("expired", "logout token too old")
    events = claims.get("events")
    if not isinstance(events, dict) or BACKCHANNEL_EVENT not in events:
        raise Refused("malformed", "no back-channel logout event")
    if "nonce" in claims:
        raise Refused("nonce", "a logout token carries no nonce")
    if not isinstance(claims.get("sub"), str) and not isinstance(claims.get("sid"), str):
        raise Refused("malformed", "neither sub nor sid")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti:
        raise Refused("malformed", "no jti")
    expires = datetime.fromtimestamp(now + 2 * FLOW_SECONDS, tz=UTC)
    if not first_use(f"oidc-logout:{provider.pk}:{key_digest(jti)}", expires):
        raise Refused("replay", "logout token replayed")
    return claims
