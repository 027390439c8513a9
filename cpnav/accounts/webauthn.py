"""Security keys (WebAuthn) as a second factor: the two ceremonies and the keys' upkeep.

py_webauthn checks each response (type, challenge, origin, RP ID hash, user
presence, signature, the key's algorithm). This module keeps the challenge
(in the session: database-backed, so any app server can finish a ceremony
another one started), picks the key among the user's own, refuses a sign count
that did not grow, and keeps the rule that an account never loses its last
second factor by the user's own hand.

Attestation is "none": CP Navigator makes no trust decision about the make of
an authenticator (a PIV card, a USB key and a laptop's platform authenticator
are all accepted), so asking for an attestation would only collect a device
fingerprint. The AAGUID kept with a key is what the authenticator says of itself.
"""

from __future__ import annotations

import ipaddress
import json
import time
from enum import StrEnum
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import (
    base64url_to_bytes,
    bytes_to_base64url,
    generate_challenge,
    options_to_json_dict,
    parse_authentication_credential_json,
)
from webauthn.helpers.cose import COSEAlgorithmIdentifier
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from cpnav.accounts import mfa
from cpnav.accounts.models import SecurityKey, User

REGISTRATION = "cpnav_webauthn_registration"
AUTHENTICATION = "cpnav_webauthn_authentication"
CHALLENGE_SECONDS = 5 * 60
# How long the browser waits for a touch: a hint, shorter than the challenge's life.
TIMEOUT_MS = 120_000
# ES256 for most keys; RS256 because PIV and other smart-card-backed credentials
# are often RSA. EdDSA is left out: FIPS 140 modules and PIV cards do not offer it.
ALGORITHMS = [
    COSEAlgorithmIdentifier.ECDSA_SHA_256,
    COSEAlgorithmIdentifier.RSASSA_PKCS1_v1_5_SHA_256,
]
# A real response is a few kilobytes (an RSA-4096 key with a long attestation
# under 10); anything much longer is refused before parsing.
MAX_RESPONSE_CHARS = 64_000
# Parsing attacker-shaped CBOR and JSON: py_webauthn wraps most failures in its
# own exceptions, but some malformed structures surface as these built-ins.
_MALFORMED = (WebAuthnException, ValueError, TypeError, KeyError, IndexError, OverflowError)
_TRANSPORTS = frozenset(t.value for t in AuthenticatorTransport)


class Purpose(StrEnum):
    SIGNIN = "signin"
    REAUTH = "reauth"
    REGISTER = "register"


class Refused(Exception):
    """A response or a change the server will not accept.

    ``reason`` is a short code for the audit trail; ``detail`` py_webauthn's own
    words, if any (no secret: responses hold only public material).
    """

    def __init__(self, reason: str, *, detail: str = "", key: SecurityKey | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail[:200]
        self.key = key

    def details(self) -> dict[str, str]:
        out = {"reason": self.reason}
        if self.detail:
            out["detail"] = self.detail
        if self.key is not None:
            out["key"] = str(self.key.pk)
        return out


def available() -> bool:
    """Browsers refuse an IP address as the relying party ID: on one, keys are not offered."""
    rp_id = settings.WEBAUTHN_RP_ID
    try:
        ipaddress.ip_address(rp_id)
    except ValueError:
        return bool(rp_id)
    return False


def keys_of(user: User) -> QuerySet[SecurityKey]:
    return SecurityKey.objects.filter(user=user)


def find_key(user: User, key_id: UUID) -> SecurityKey | None:
    """The user's own key, or None: another user's key is as unknown as a missing one."""
    return keys_of(user).filter(pk=key_id).first()


# ---- challenges ---------------------------------------------------------------------


def _issue(request: HttpRequest, slot: str, user: User, purpose: Purpose) -> bytes:
    challenge = generate_challenge()
    request.session[slot] = {
        "challenge": bytes_to_base64url(challenge),
        "at": time.time(),
        "user": str(user.pk),
        "purpose": str(purpose),
    }
    return challenge


def _take(request: HttpRequest, slot: str, user: User, purpose: Purpose) -> bytes:
    """The challenge issued for this user and purpose, spent whatever happens next."""
    issued = request.session.pop(slot, None)
    if not isinstance(issued, dict) or not isinstance(issued.get("challenge"), str):
        raise Refused("no challenge")
    if issued.get("user") != str(user.pk) or issued.get("purpose") != str(purpose):
        raise Refused("challenge issued for another account or purpose")
    try:
        age = time.time() - float(issued.get("at", 0))
    except (TypeError, ValueError):
        age = CHALLENGE_SECONDS + 1
    if not 0 <= age <= CHALLENGE_SECONDS:
        raise Refused("challenge expired")
    return base64url_to_bytes(issued["challenge"])


def _reason(error: Exception) -> str:
    """A stable audit code for py_webauthn's message."""
    text = str(error).lower()
    for needle, code in (
        ("challenge", "challenge"),
        ("origin", "origin"),
        ("rp id", "rp id"),
        ("signature", "signature"),
        ("present", "user presence"),
        ("client data type", "type"),
        ("alg", "algorithm"),
    ):
        if needle in text:
            return code
    return "malformed response"


def _checked_size(response: str) -> str:
    if not response:
        raise Refused("no response")
    if len(response) > MAX_RESPONSE_CHARS:
        raise Refused("response too long")
    return response


# ---- registration -------------------------------------------------------------------


def registration_options(request: HttpRequest, user: User) -> dict[str, Any]:
    """Options for ``navigator.credentials.create``, with a fresh challenge in the session."""
    challenge = _issue(request, REGISTRATION, user, Purpose.REGISTER)
    options = generate_registration_options(
        rp_id=settings.WEBAUTHN_RP_ID,
        rp_name=settings.WEBAUTHN_RP_NAME,
        user_name=user.email,
        # The user handle is the account's random UUID: no personal data.
        user_id=user.pk.bytes,
        user_display_name=user.full_name or user.email,
        challenge=challenge,
        timeout=TIMEOUT_MS,
        attestation=AttestationConveyancePreference.NONE,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.DISCOURAGED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
        exclude_credentials=_descriptors(user),
        supported_pub_key_algs=ALGORITHMS,
    )
    return options_to_json_dict(options)


def register(request: HttpRequest, user: User, response: str, name: str) -> SecurityKey:
    """Verify the browser's response to the registration options and keep the key."""
    challenge = _take(request, REGISTRATION, user, Purpose.REGISTER)
    _checked_size(response)
    try:
        verified = verify_registration_response(
            credential=response,
            expected_challenge=challenge,
            expected_rp_id=settings.WEBAUTHN_RP_ID,
            expected_origin=list(settings.WEBAUTHN_ORIGINS),
            require_user_presence=True,
            supported_pub_key_algs=ALGORITHMS,
        )
    except _MALFORMED as error:
        raise Refused(_reason(error), detail=str(error)) from error
    try:
        with transaction.atomic():
            return SecurityKey.objects.create(
                user=user,
                credential_id=bytes_to_base64url(verified.credential_id),
                public_key=verified.credential_public_key,
                sign_count=verified.sign_count,
                transports=_transports(response),
                aaguid=verified.aaguid,
                name=name.strip() or "Security key",
            )
    except IntegrityError as error:
        # excludeCredentials stops a browser from registering one key twice;
        # this is a replayed response or a key registered to someone else.
        raise Refused("credential already registered") from error


def _transports(response: str) -> list[str]:
    """The transports the browser reported, kept to hint the next sign-in."""
    try:
        listed = json.loads(response).get("response", {}).get("transports", [])
    except (ValueError, AttributeError):
        return []
    if not isinstance(listed, list):
        return []
    return [t for t in listed if isinstance(t, str) and t in _TRANSPORTS][:8]


def _descriptors(user: User) -> list[PublicKeyCredentialDescriptor]:
    return [
        PublicKeyCredentialDescriptor(
            id=base64url_to_bytes(key.credential_id),
            transports=[AuthenticatorTransport(t) for t in key.transports if t in _TRANSPORTS],
        )
        for key in keys_of(user)
    ]


# ---- authentication -----------------------------------------------------------------


def authentication_options(
    request: HttpRequest, user: User, purpose: Purpose
) -> dict[str, Any] | None:
    """Options for ``navigator.credentials.get`` naming the user's keys; None without keys."""
    allowed = _descriptors(user) if available() else []
    if not allowed:
        return None
    challenge = _issue(request, AUTHENTICATION, user, purpose)
    options = generate_authentication_options(
        rp_id=settings.WEBAUTHN_RP_ID,
        challenge=challenge,
        timeout=TIMEOUT_MS,
        allow_credentials=allowed,
        user_verification=UserVerificationRequirement.PREFERRED,
    )
    return options_to_json_dict(options)


def authenticate(request: HttpRequest, user: User, response: str, purpose: Purpose) -> SecurityKey:
    """Verify an assertion by one of the user's keys; record its use.

    The sign count is compared here, after the signature is verified, so a
    refusal for a count that did not grow means a genuine signature from a
    second copy of the key (a clone), not a forgery. Authenticators that keep
    no count send 0 every time and are accepted on the signature alone.
    """
    challenge = _take(request, AUTHENTICATION, user, purpose)
    _checked_size(response)
    try:
        credential = parse_authentication_credential_json(response)
    except _MALFORMED as error:
        raise Refused("malformed response", detail=str(error)) from error
    credential_id = bytes_to_base64url(credential.raw_id)
    with transaction.atomic():
        key = (
            SecurityKey.objects.select_for_update()
            .filter(user=user, credential_id=credential_id)
            .first()
        )
        if key is None:
            raise Refused("key not registered to this account")
        try:
            verified = verify_authentication_response(
                credential=credential,
                expected_challenge=challenge,
                expected_rp_id=settings.WEBAUTHN_RP_ID,
                expected_origin=list(settings.WEBAUTHN_ORIGINS),
                credential_public_key=bytes(key.public_key),
                # Compared below, once the signature is known to be good.
                credential_current_sign_count=0,
            )
        except _MALFORMED as error:
            raise Refused(_reason(error), detail=str(error), key=key) from error
        count = verified.new_sign_count
        if (count > 0 or key.sign_count > 0) and count <= key.sign_count:
            raise Refused(
                "sign count did not grow (cloned key?)",
                detail=f"stored {key.sign_count}, received {count}",
                key=key,
            )
        key.sign_count = count
        key.last_used_at = timezone.now()
        key.save(update_fields=["sign_count", "last_used_at"])
    return key


# ---- upkeep ---------------------------------------------------------------------------


def rename(key: SecurityKey, name: str) -> None:
    key.name = name.strip() or key.name
    key.save(update_fields=["name"])


def remove(key: SecurityKey) -> None:
    """Delete a key, unless it is the account's last authenticator.

    Recovery codes alone do not count: they are for a lost key, not a way to
    sign in day to day. The user's row is locked so two removals racing cannot
    each see the other's key and leave none.
    """
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=key.user_id)
        others = keys_of(user).exclude(pk=key.pk).exists()
        if not (others or mfa.has_confirmed_totp(user)) and mfa.mfa_required(user):
            raise Refused("last second factor", key=key)
        key.delete()
