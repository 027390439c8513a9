"""Identity providers (OpenID Connect, SAML 2.0), the identities they vouch for,
first sign-ins held for an administrator, and the shared replay guard."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID
from django.db import models
from django.utils.translation import gettext_lazy as _
from joserfc.jwk import RSAKey

from cpnav.core.crypto import EncryptedTextField

DEFAULT_MFA_AMR = "mfa hwk swk otp sc pop"


class ProviderKind(models.TextChoices):
    OIDC = "oidc", _("OpenID Connect")
    SAML = "saml", _("SAML 2.0")


def new_client_jwk() -> str:
    """A fresh RS256 key for private_key_jwt, as a private JWK (JSON), named by its thumbprint."""
    key = RSAKey.generate_key(2048, private=True)
    key.ensure_kid()
    data = key.as_dict(private=True)
    data.update({"use": "sig", "alg": "RS256"})
    return json.dumps(data)


class IdentityProvider(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    slug = models.SlugField(_("short name"), unique=True, max_length=50)
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=8, choices=ProviderKind.choices)
    enabled = models.BooleanField(_("enabled"), default=False)
    agencies = models.ManyToManyField(
        "accounts.Agency", blank=True, related_name="identity_providers"
    )
    # OpenID Connect
    issuer = models.URLField(_("issuer"), blank=True)
    client_id = models.CharField(_("client ID"), max_length=255, blank=True)
    scopes = models.CharField(_("scopes"), max_length=255, default="openid email profile")
    acr_values = models.CharField(_("acr values to ask for"), max_length=500, blank=True)
    mfa_acr_values = models.TextField(_("acr values that mean multi-factor"), blank=True)
    mfa_amr_values = models.TextField(
        _("amr values that mean multi-factor"), blank=True, default=DEFAULT_MFA_AMR
    )
    client_private_jwk = EncryptedTextField(blank=True, default="")
    # SAML 2.0
    idp_metadata_xml = models.TextField(_("identity provider metadata (XML)"), blank=True)
    attribute_map = models.JSONField(_("attribute map"), default=dict, blank=True)
    mfa_authn_contexts = models.TextField(
        _("AuthnContextClassRef values that mean multi-factor"), blank=True
    )
    sp_private_key = EncryptedTextField(blank=True, default="")
    sp_certificate = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: object, **kwargs: object) -> None:
        if self.kind == ProviderKind.OIDC and not self.client_private_jwk:
            self.client_private_jwk = new_client_jwk()
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    @property
    def is_oidc(self) -> bool:
        return self.kind == ProviderKind.OIDC

    def public_jwks(self) -> dict[str, object]:
        """The public half of the client key, published for private_key_jwt."""
        if not self.client_private_jwk:
            return {"keys": []}
        key = RSAKey.import_key(json.loads(self.client_private_jwk))
        public = key.as_dict(private=False)
        public.update({"use": "sig", "alg": "RS256", "kid": key.kid or key.thumbprint()})
        return {"keys": [public]}

    def client_certificate_pem(self) -> str:
        """The client key's public half as a self-signed certificate: Login.gov takes a
        certificate, not a JWKS address. Made from fixed fields, so it never changes."""
        if not self.client_private_jwk:
            return ""
        key = RSAKey.import_key(json.loads(self.client_private_jwk))
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"cpnav {self.slug}"[:64])])
        start = (self.created_at or datetime(2026, 1, 1, tzinfo=UTC)).replace(microsecond=0)
        serial = int.from_bytes(hashlib.sha256(key.thumbprint().encode()).digest()[:16]) >> 1
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key)
            .serial_number(serial)
            .not_valid_before(start)
            .not_valid_after(start + timedelta(days=3650))
            .sign(key.private_key, hashes.SHA256())  # type: ignore[arg-type]
        )
        return certificate.public_bytes(serialization.Encoding.PEM).decode()


class ExternalIdentity(models.Model):
    """A provider's subject linked to a cpnav user: how a returning person is recognised."""

    provider = models.ForeignKey(
        IdentityProvider, on_delete=models.CASCADE, related_name="identities"
    )
    subject = models.CharField(max_length=255)
    user = models.ForeignKey(
        "accounts.User", on_delete=models.CASCADE, related_name="external_identities"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_signin_at = models.DateTimeField(null=True, blank=True)
    last_assurance = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["provider", "subject"], name="external_identity_unique")
        ]

    def __str__(self) -> str:
        return f"{self.provider_id}:{self.subject}"


class AccessStatus(models.TextChoices):
    PENDING = "pending", _("Waiting")
    APPROVED = "approved", _("Approved")
    REFUSED = "refused", _("Refused")


class AccessRequest(models.Model):
    """A first sign-in held for an agency administrator's decision."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    provider = models.ForeignKey(
        IdentityProvider, on_delete=models.CASCADE, related_name="access_requests"
    )
    subject = models.CharField(max_length=255)
    email = models.EmailField(blank=True)
    full_name = models.CharField(max_length=200, blank=True)
    attributes = models.JSONField(default=dict, blank=True)
    agency = models.ForeignKey(
        "accounts.Agency", null=True, blank=True, on_delete=models.CASCADE,
        related_name="access_requests",
    )  # fmt: skip
    status = models.CharField(
        max_length=8, choices=AccessStatus.choices, default=AccessStatus.PENDING
    )
    decided_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"access request {self.pk}"


class UsedOnce(models.Model):
    """Replay guard shared by every app server: a key may be inserted once."""

    key = models.CharField(max_length=255, unique=True)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return self.key
