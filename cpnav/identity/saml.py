"""SAML 2.0 service provider: our metadata, the signed AuthnRequest, the checks on a
response, and the identity provider's single logout.

pysaml2 does the XML signature work (through the xmlsec1 binary) and its own
validation; every check that decides a refusal is also made here, explicitly and in
order, so the person sees which one failed and the audit trail records it.

Nothing lives in process memory: outstanding requests and used assertion IDs are
UsedOnce rows, and the result of a checked response waits in a one-time database
row (see ``keep_outcome``), so any app server may take any step.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import logging
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.oid import NameOID
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from cpnav.identity.models import IdentityProvider, UsedOnce
from cpnav.identity.provisioning import Claims, first_use, refuse

# pysaml2 names a cipher mode that cryptography has moved (a deprecation warning at
# import, which the test suite turns into an error); it is one we never use.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", CryptographyDeprecationWarning)
    from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, samlp
    from saml2.client import Saml2Client
    from saml2.client_base import SignOnError
    from saml2.config import SPConfig
    from saml2.metadata import entity_descriptor
    from saml2.s_utils import UnknownSystemEntity, UnsupportedBinding
    from saml2.saml import NAMEID_FORMAT_PERSISTENT, SCM_BEARER
    from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

# pysaml2 logs each subject's NameID and attributes at INFO: not for our logs.
logging.getLogger("saml2").setLevel(logging.WARNING)

# Clock difference tolerated between us and the identity provider.
LEEWAY = dt.timedelta(seconds=90)
# How long an AuthnRequest may wait for its answer (a person typing a password).
REQUEST_LIFETIME = dt.timedelta(minutes=10)
# How long a checked response waits for the browser's next request to our site.
OUTCOME_SECONDS = 120
MAX_MESSAGE_BYTES = 256 * 1024
SESSION_PENDING = "cpnav_saml_pending"
OUTCOME = "cpnav_saml_outcome"

# GFIPM 2.0 user attributes (the NIEF attribute registry). EmployerORI and
# SwornLawEnforcementOfficerIndicator were checked against the registry's pages; the
# other three follow its formal naming of the informal names "Email Address Text",
# "Full Name" and "Employer Name" and were not seen spelled out: a federation that
# names them otherwise is served by the provider's attribute map.
DEFAULT_ATTRIBUTE_MAP: dict[str, str] = {
    "email": "gfipm:2.0:user:EmailAddressText",
    "full_name": "gfipm:2.0:user:FullName",
    "ori": "gfipm:2.0:user:EmployerORI",
    "employer": "gfipm:2.0:user:EmployerName",
    "sworn": "gfipm:2.0:user:SwornLawEnforcementOfficerIndicator",
}
# Query-string signatures (HTTP-Redirect) we accept from an identity provider.
_REDIRECT_HASHES: dict[str, hashes.HashAlgorithm] = {
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256": hashes.SHA256(),
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384": hashes.SHA384(),
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512": hashes.SHA512(),
}


class Refusal(Exception):
    """A message we will not act on; ``reason`` goes to the audit trail."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.message = message


# --- Keys and addresses ----------------------------------------------------------------


def new_key_and_certificate(common_name: str, days: int = 3650) -> tuple[str, str]:
    """A 2048-bit RSA key and a self-signed certificate for it, both PEM."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64])])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return key_pem, certificate.public_bytes(serialization.Encoding.PEM).decode()


def ensure_sp_keys(provider: IdentityProvider) -> None:
    """Give the provider our signing key and certificate, once."""
    if provider.sp_private_key and provider.sp_certificate:
        return
    key, certificate = new_key_and_certificate(f"CP Navigator SAML {provider.slug}")
    provider.sp_private_key = key
    provider.sp_certificate = certificate
    provider.save(update_fields=["sp_private_key", "sp_certificate", "updated_at"])


def entity_id(provider: IdentityProvider) -> str:
    """Our entity ID is our metadata's address: stable, and it says where to look."""
    return settings.BASE_URL + reverse("saml:metadata", args=[provider.slug])


def acs_url(provider: IdentityProvider) -> str:
    return settings.BASE_URL + reverse("saml:acs", args=[provider.slug])


def slo_url(provider: IdentityProvider) -> str:
    return settings.BASE_URL + reverse("saml:slo", args=[provider.slug])


def attribute_map(provider: IdentityProvider) -> dict[str, str]:
    """The provider's names where it sets them, GFIPM's otherwise."""
    chosen = dict(DEFAULT_ATTRIBUTE_MAP)
    if isinstance(provider.attribute_map, dict):
        chosen.update({str(k): str(v) for k, v in provider.attribute_map.items() if v})
    return chosen


def _config(provider: IdentityProvider, folder: Path, *, with_idp: bool) -> SPConfig:
    (folder / "sp.key").write_text(provider.sp_private_key)
    (folder / "sp.crt").write_text(provider.sp_certificate)
    conf: dict[str, Any] = {
        "entityid": entity_id(provider),
        "xmlsec_binary": shutil.which("xmlsec1") or "/usr/bin/xmlsec1",
        "key_file": str(folder / "sp.key"),
        "cert_file": str(folder / "sp.crt"),
        "metadata": {"inline": [provider.idp_metadata_xml]} if with_idp else {},
        "accepted_time_diff": int(LEEWAY.total_seconds()),
        # Never trust a certificate that comes inside the message itself.
        "only_use_keys_in_metadata": True,
        "allow_unknown_attributes": True,
        "delete_tmpfiles": True,
        "service": {
            "sp": {
                "name": "CP Navigator",
                "endpoints": {
                    "assertion_consumer_service": [(acs_url(provider), BINDING_HTTP_POST)],
                    "single_logout_service": [(slo_url(provider), BINDING_HTTP_REDIRECT)],
                },
                "authn_requests_signed": True,
                "logout_requests_signed": True,
                "logout_responses_signed": True,
                "want_assertions_signed": True,
                "want_response_signed": False,
                "allow_unsolicited": False,
                "name_id_format": [NAMEID_FORMAT_PERSISTENT],
                "signing_algorithm": SIG_RSA_SHA256,
                "digest_algorithm": DIGEST_SHA256,
            }
        },
    }
    config = SPConfig()
    config.load(conf)
    return config


@contextmanager
def service_provider(provider: IdentityProvider, *, with_idp: bool = True) -> Iterator[Saml2Client]:
    """A pysaml2 client for the provider. xmlsec1 reads keys from files: ours is written
    to a private temporary folder for the length of one request and removed after."""
    ensure_sp_keys(provider)
    folder = Path(tempfile.mkdtemp(prefix="cpnav-saml-"))
    try:
        try:
            config = _config(
                provider, folder, with_idp=with_idp and bool(provider.idp_metadata_xml)
            )
        except Exception as exc:  # pysaml2 raises many kinds for metadata it cannot read
            raise Refusal(
                "metadata",
                _("The identity provider's metadata could not be read. An administrator "
                  "must paste it again."),
            ) from exc  # fmt: skip
        yield Saml2Client(config=config)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def idp_entity_id(client: Saml2Client) -> str:
    found = list(client.metadata.identity_providers())
    if len(found) != 1:
        raise Refusal(
            "metadata",
            _("The identity provider's metadata must describe exactly one identity provider."),
        )
    return str(found[0])


def metadata_xml(provider: IdentityProvider) -> str:
    """Our metadata, unsigned: it is served over TLS at our entity ID's address, and an
    administrator pastes it into the identity provider from there."""
    with service_provider(provider, with_idp=False) as client:
        descriptor = entity_descriptor(client.config)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + str(descriptor.to_string().decode())


# --- Starting a sign-in ----------------------------------------------------------------


def _request_key(provider: IdentityProvider, request_id: str, test: bool) -> str:
    return f"saml-request:{provider.pk}:{'test' if test else 'signin'}:{request_id}"


def start(
    request: HttpRequest, provider: IdentityProvider, test: bool, next_url: str
) -> HttpResponse:
    """Send the browser to the identity provider with a signed AuthnRequest (a GET)."""
    try:
        with service_provider(provider) as client:
            idp = idp_entity_id(client)
            request_id, info = client.prepare_for_authenticate(
                entityid=idp,
                binding=BINDING_HTTP_REDIRECT,
                sign=True,
                sigalg=SIG_RSA_SHA256,
                digest_alg=DIGEST_SHA256,
                nameid_format=NAMEID_FORMAT_PERSISTENT,
            )
    except Refusal as refusal:
        return refuse(request, provider, refusal.reason, refusal.message)
    except (UnknownSystemEntity, UnsupportedBinding, SignOnError):
        return refuse(request, provider, "metadata", _(
            "The identity provider's metadata names no sign-in address we can use "
            "(HTTP-Redirect binding)."))  # fmt: skip
    # The ACS (reached without our session cookie) finds the request here...
    UsedOnce.objects.create(
        key=_request_key(provider, request_id, test),
        expires_at=timezone.now() + REQUEST_LIFETIME,
    )
    # ...and the browser that started it must be the one that finishes it.
    pending = request.session.get(SESSION_PENDING)
    pending = pending if isinstance(pending, dict) else {}
    now = timezone.now().timestamp()
    pending = {
        k: v
        for k, v in pending.items()
        if isinstance(v, dict) and now - float(v.get("at", 0)) < REQUEST_LIFETIME.total_seconds()
    }
    pending[request_id] = {"provider": provider.slug, "test": test, "next": next_url, "at": now}
    request.session[SESSION_PENDING] = pending
    location = dict(info["headers"])["Location"]
    return HttpResponseRedirect(location)


# --- Checking a response ---------------------------------------------------------------


@dataclass(frozen=True)
class CheckedResponse:
    request_id: str
    test: bool
    claims: Claims


def _when(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise Refusal(
            "malformed", _("The identity provider's answer has a bad time in it.")
        ) from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _expired() -> Refusal:
    return Refusal(
        "expired",
        _("The identity provider's answer has expired. Sign in again; if this keeps "
          "happening, the clocks of CP Navigator and the identity provider differ."),
    )  # fmt: skip


def _decode(data: str) -> str:
    if not data or len(data) > MAX_MESSAGE_BYTES:
        raise Refusal("malformed", _("No readable answer came from the identity provider."))
    try:
        return base64.b64decode(data, validate=False).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise Refusal(
            "malformed", _("No readable answer came from the identity provider.")
        ) from exc


def _parse(xml: str) -> samlp.Response:
    try:
        response = samlp.response_from_string(xml)
    except Exception as exc:  # XML errors, and defusedxml's refusals of entities
        raise Refusal(
            "malformed", _("No readable answer came from the identity provider.")
        ) from exc
    if response is None:
        raise Refusal("malformed", _("No readable answer came from the identity provider."))
    return response


def _check_signatures(client: Saml2Client, xml: str, response: samlp.Response) -> Any:
    bad = Refusal(
        "signature",
        _("The identity provider's signature on this answer is not valid. It may be forged; "
          "the attempt has been recorded."),
    )  # fmt: skip
    if response.encrypted_assertion:
        raise Refusal("encrypted", _(
            "The identity provider encrypted its assertion; CP Navigator accepts signed, "
            "unencrypted assertions over TLS."))  # fmt: skip
    if len(response.assertion) != 1:
        raise Refusal("malformed", _("The identity provider's answer must hold one assertion."))
    assertion = response.assertion[0]
    try:
        if response.signature:
            client.sec.correctly_signed_response(xml)
        if not assertion.signature:
            raise Refusal("unsigned", _(
                "The identity provider did not sign its assertion, which CP Navigator "
                "requires."))  # fmt: skip
        if not client.sec.check_signature(
            assertion, "urn:oasis:names:tc:SAML:2.0:assertion:Assertion", xml
        ):
            raise bad
    except Refusal:
        raise
    except Exception as exc:  # SignatureError, MissingKey, xmlsec1 failures
        raise bad from exc
    return assertion


def _check_conditions(provider: IdentityProvider, assertion: Any, now: dt.datetime) -> dt.datetime:
    """Audience and validity window; returns when the assertion stops being valid."""
    conditions = assertion.conditions
    audiences = [
        (audience.text or "").strip()
        for restriction in (conditions.audience_restriction if conditions else [])
        for audience in restriction.audience
    ]
    if entity_id(provider) not in audiences:
        raise Refusal("audience", _(
            "The identity provider's answer was meant for another service, not CP Navigator."))  # fmt: skip
    not_before = _when(conditions.not_before)
    not_after = _when(conditions.not_on_or_after)
    if not_before is not None and now + LEEWAY < not_before:
        raise Refusal("not_yet_valid", _(
            "The identity provider's answer is not valid yet. The clocks of CP Navigator "
            "and the identity provider differ."))  # fmt: skip
    if not_after is None or now - LEEWAY >= not_after:
        raise _expired()
    return not_after


def _check_subject(
    provider: IdentityProvider, response: Any, assertion: Any, now: dt.datetime
) -> tuple[str, dt.datetime]:
    """The NameID, and when the bearer confirmation stops being valid."""
    subject = assertion.subject
    name_id = subject.name_id if subject is not None else None
    if name_id is None or not (name_id.text or "").strip():
        raise Refusal("nameid", _("The identity provider did not say who signed in."))
    if name_id.format != NAMEID_FORMAT_PERSISTENT:
        raise Refusal("nameid", _(
            "The identity provider must identify people with a persistent NameID, so "
            "that the same person is recognised next time."))  # fmt: skip
    bearers = [c for c in subject.subject_confirmation if c.method == SCM_BEARER]
    data = bearers[0].subject_confirmation_data if len(bearers) == 1 else None
    if data is None:
        raise Refusal("recipient", _("The identity provider's answer has no bearer confirmation."))
    if (data.recipient or "").strip() != acs_url(provider):
        raise Refusal("recipient", _(
            "The identity provider's answer was addressed to another place, not this "
            "CP Navigator."))  # fmt: skip
    until = _when(data.not_on_or_after)
    if until is None or now - LEEWAY >= until:
        raise _expired()
    if (data.in_response_to or "") != (response.in_response_to or ""):
        raise Refusal("in_response_to", _(
            "The identity provider's answer does not match the sign-in it answers."))  # fmt: skip
    return name_id.text.strip(), until


def _attributes(assertion: Any) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for statement in assertion.attribute_statement:
        for attribute in statement.attribute:
            values = [(v.text or "").strip() for v in attribute.attribute_value]
            found.setdefault(attribute.name, []).extend(v for v in values if v)
    return found


def _boolean(value: str) -> str:
    lowered = value.strip().lower()
    if lowered in {"true", "1"}:
        return "true"
    if lowered in {"false", "0"}:
        return "false"
    return ""


def claims_from(provider: IdentityProvider, assertion: Any, subject: str, idp: str) -> Claims:
    raw = _attributes(assertion)
    mapping = attribute_map(provider)

    def first(key: str) -> str:
        values = raw.get(mapping.get(key, ""), [])
        return values[0] if values else ""

    found = {
        "ori": first("ori").upper(),
        "employer": first("employer"),
        "sworn": _boolean(first("sworn")),
    }
    attributes = {key: value for key, value in found.items() if value}
    statement = assertion.authn_statement[0] if assertion.authn_statement else None
    context = ""
    instant = ""
    if statement is not None:
        instant = statement.authn_instant or ""
        ref = statement.authn_context.authn_context_class_ref if statement.authn_context else None
        context = (ref.text or "").strip() if ref is not None else ""
    mfa = bool(context) and context in provider.mfa_authn_contexts.split()
    return Claims(
        subject=subject,
        # SAML has no "verified" flag: a provider an administrator trusts is trusted for it.
        email=first("email").strip().lower(),
        email_verified=True,
        full_name=first("full_name")[:200],
        attributes=attributes,
        mfa=mfa,
        assurance={"authn_context": context, "authn_instant": instant, "issuer": idp},
    )


def check_response(provider: IdentityProvider, saml_response: str) -> CheckedResponse:
    """Every check on a posted SAMLResponse, in order; raises Refusal on the first failure."""
    xml = _decode(saml_response)
    response = _parse(xml)
    now = timezone.now()
    with service_provider(provider) as client:
        idp = idp_entity_id(client)
        # The Response's Issuer is optional; each assertion's is not.
        issuers = [a.issuer for a in response.assertion]
        if response.issuer is not None:
            issuers.append(response.issuer)
        if any(i is None or (i.text or "").strip() != idp for i in issuers):
            raise Refusal("issuer", _(
                "The answer does not come from the identity provider set up for this sign-in."))  # fmt: skip
        status = response.status.status_code.value if response.status else None
        if status != samlp.STATUS_SUCCESS:
            raise Refusal("status", _("The identity provider did not sign you in."))
        assertion = _check_signatures(client, xml, response)
        if response.destination and response.destination != acs_url(provider):
            raise Refusal("recipient", _(
                "The identity provider's answer was addressed to another place, not this "
                "CP Navigator."))  # fmt: skip
        valid_until = _check_conditions(provider, assertion, now)
        subject, confirmed_until = _check_subject(provider, response, assertion, now)
        request_id = (response.in_response_to or "").strip()
        if not request_id:
            raise Refusal("unsolicited", _(
                "CP Navigator accepts only answers to sign-ins started here. Start from "
                "CP Navigator's sign-in page."))  # fmt: skip
        # pysaml2's own checks over the whole message, after ours named the usual faults.
        try:
            client.parse_authn_request_response(
                saml_response, BINDING_HTTP_POST, outstanding={request_id: "/"}
            )
        except Exception as exc:  # any of pysaml2's many kinds
            raise Refusal("invalid", _("The identity provider's answer is not valid.")) from exc
        claims = claims_from(provider, assertion, subject, idp)
    expiry = max(valid_until, confirmed_until) + LEEWAY
    if not first_use(f"saml:{provider.pk}:{assertion.id}", expiry):
        raise Refusal("replay", _(
            "This answer from the identity provider has already been used. Sign in again."))  # fmt: skip
    test = _consume_request(provider, request_id)
    return CheckedResponse(request_id=request_id, test=test, claims=claims)


def _consume_request(provider: IdentityProvider, request_id: str) -> bool:
    """Use up the outstanding request; True when it was an administrator's test."""
    now = timezone.now()
    for test in (False, True):
        used, _rows = UsedOnce.objects.filter(
            key=_request_key(provider, request_id, test), expires_at__gt=now
        ).delete()
        if used:
            return test
    raise Refusal("in_response_to", _(
        "This answer does not belong to a sign-in started here, or that sign-in took too "
        "long. Start again from CP Navigator."))  # fmt: skip


def is_test_request(provider: IdentityProvider, request_id: str) -> bool | None:
    """Whether an outstanding request is a test (None: no such request)."""
    for test in (False, True):
        if UsedOnce.objects.filter(
            key=_request_key(provider, request_id, test), expires_at__gt=timezone.now()
        ).exists():
            return test
    return None


# --- The one-time hand-over from the ACS to our own page --------------------------------


def keep_outcome(provider: IdentityProvider, outcome: CheckedResponse) -> str:
    """Keep a checked response for the browser's next (same-site) request; returns the
    one-time token. A database session row: shared by every app server, expiring by
    itself, holding no user (so it signs no one in if presented as a cookie)."""
    store = SessionStore()
    claims = outcome.claims
    store[OUTCOME] = {
        "provider": str(provider.pk),
        "request_id": outcome.request_id,
        "test": outcome.test,
        "claims": {
            "subject": claims.subject,
            "email": claims.email,
            "email_verified": claims.email_verified,
            "full_name": claims.full_name,
            "attributes": claims.attributes,
            "mfa": claims.mfa,
            "assurance": claims.assurance,
        },
    }
    store.set_expiry(OUTCOME_SECONDS)
    store.create()
    assert store.session_key is not None
    return store.session_key


def take_outcome(provider: IdentityProvider, token: str) -> CheckedResponse | None:
    """The kept outcome, once; None when unknown, used, expired or another provider's."""
    if not token or len(token) > 64 or not token.isalnum():
        return None
    store = SessionStore(session_key=token)
    kept = store.get(OUTCOME)
    if not isinstance(kept, dict):
        return None
    store.delete()
    if kept.get("provider") != str(provider.pk):
        return None
    data = kept["claims"]
    return CheckedResponse(
        request_id=str(kept["request_id"]),
        test=bool(kept["test"]),
        claims=Claims(
            subject=str(data["subject"]),
            email=str(data["email"]),
            email_verified=bool(data["email_verified"]),
            full_name=str(data["full_name"]),
            attributes={str(k): str(v) for k, v in dict(data["attributes"]).items()},
            mfa=bool(data["mfa"]),
            assurance=dict(data["assurance"]),
        ),
    )


def started_here(
    request: HttpRequest, provider: IdentityProvider, request_id: str
) -> dict[str, Any] | None:
    """The browser's own record of the sign-in it started (test, next), used up."""
    pending = request.session.get(SESSION_PENDING)
    if not isinstance(pending, dict):
        return None
    entry = pending.pop(request_id, None)
    request.session[SESSION_PENDING] = pending
    if not isinstance(entry, dict) or entry.get("provider") != provider.slug:
        return None
    return entry


# --- Single logout (the identity provider's LogoutRequest, HTTP-Redirect) ----------------


def _raw_query_values(query_string: str) -> dict[str, str]:
    """The query's parameters exactly as sent: the signature covers these octets."""
    raw: dict[str, str] = {}
    for part in query_string.split("&"):
        name, _sep, value = part.partition("=")
        if name and name not in raw:
            raw[name] = value
    return raw


def _check_redirect_signature(client: Saml2Client, idp: str, query_string: str) -> None:
    bad = Refusal("signature", _(
        "The identity provider's signature on this sign-out message is not valid."))  # fmt: skip
    raw = _raw_query_values(query_string)
    if "Signature" not in raw or "SigAlg" not in raw:
        raise Refusal("unsigned", _(
            "The identity provider did not sign this sign-out message, which CP Navigator "
            "requires."))  # fmt: skip
    algorithm = _REDIRECT_HASHES.get(unquote(raw["SigAlg"]))
    if algorithm is None:
        raise bad
    signed = "&".join(
        f"{name}={raw[name]}" for name in ("SAMLRequest", "RelayState", "SigAlg") if name in raw
    ).encode()
    try:
        signature = base64.b64decode(unquote(raw["Signature"]))
    except (binascii.Error, ValueError) as exc:
        raise bad from exc
    for _name, cert in client.metadata.certs(idp, "idpsso", "signing"):
        pem = cert if "BEGIN CERTIFICATE" in cert else (
            "-----BEGIN CERTIFICATE-----\n" + cert.strip() + "\n-----END CERTIFICATE-----\n"
        )  # fmt: skip
        public_key = x509.load_pem_x509_certificate(pem.encode()).public_key()
        if not isinstance(public_key, rsa.RSAPublicKey):
            continue
        try:
            public_key.verify(signature, signed, padding.PKCS1v15(), algorithm)
        except InvalidSignature:
            continue
        return
    raise bad


@dataclass(frozen=True)
class LogoutRequest:
    name_id: str
    response_location: str  # where our signed LogoutResponse goes ("" if nowhere)


def receive_logout(provider: IdentityProvider, request: HttpRequest) -> LogoutRequest:
    """Check a LogoutRequest and build the LogoutResponse's address."""
    query = request.META.get("QUERY_STRING", "")
    saml_request = request.GET.get("SAMLRequest", "")
    if not saml_request or len(saml_request) > MAX_MESSAGE_BYTES:
        raise Refusal(
            "malformed", _("No readable sign-out message came from the identity provider.")
        )
    with service_provider(provider) as client:
        idp = idp_entity_id(client)
        _check_redirect_signature(client, idp, query)
        try:
            parsed = client.parse_logout_request(saml_request, BINDING_HTTP_REDIRECT)
        except Exception as exc:  # pysaml2's checks: destination, version, issue instant
            raise Refusal("malformed", _(
                "No readable sign-out message came from the identity provider.")) from exc  # fmt: skip
        message = parsed.message if parsed is not None else None
        if message is None:
            raise Refusal(
                "malformed", _("No readable sign-out message came from the identity provider.")
            )
        if message.issuer is None or (message.issuer.text or "").strip() != idp:
            raise Refusal("issuer", _(
                "The sign-out message does not come from the identity provider set up here."))  # fmt: skip
        if message.destination and message.destination != slo_url(provider):
            raise Refusal("recipient", _("The sign-out message was addressed to another place."))
        now = timezone.now()
        until = _when(message.not_on_or_after) or (now + dt.timedelta(minutes=10))
        if now - LEEWAY >= until:
            raise _expired()
        if not first_use(f"saml-logout:{provider.pk}:{message.id}", until + dt.timedelta(days=1)):
            raise Refusal("replay", _("This sign-out message has already been used."))
        if message.name_id is None or not (message.name_id.text or "").strip():
            raise Refusal("nameid", _("The sign-out message does not say who signed out."))
        try:
            destinations = client.metadata.single_logout_service(
                idp, BINDING_HTTP_REDIRECT, "idpsso"
            )
        except (UnknownSystemEntity, UnsupportedBinding):
            destinations = []
        location = ""
        if destinations:
            target = destinations[0].get("response_location") or destinations[0]["location"]
            answer = client.create_logout_response(message, [BINDING_HTTP_REDIRECT], sign=False)
            info = client.apply_binding(
                BINDING_HTTP_REDIRECT,
                str(answer),
                target,
                relay_state=request.GET.get("RelayState", ""),
                response=True,
                sign=True,
                sigalg=SIG_RSA_SHA256,
            )
            location = dict(info["headers"])["Location"]
        return LogoutRequest(name_id=message.name_id.text.strip(), response_location=location)
