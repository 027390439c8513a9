"""Field-level encryption for victims' identifying data, and blind indexes to
find duplicates among it without decrypting.

Tokens look like ``v1:<key_id>:<urlsafe-b64(nonce + ciphertext + tag)>``:
AES-256-GCM with a fresh 96-bit random nonce and a *context* (for model fields
``"<app_label>.<model>.<field>"``) as associated data, so a value copied into
another field or row type fails to decrypt instead of being shown there.
``settings.FIELD_ENCRYPTION_KEYS`` is newest first: the first key encrypts,
every configured key decrypts, which is what lets keys be rotated
(``cpnav keys rotate`` and the start-up check of stored values: cpnav/core/keys.py).

GCM hides content, not length: a ciphertext is always 28 bytes longer than
the UTF-8 plaintext.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import unicodedata
from collections.abc import Sequence
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django import forms
from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, register
from django.core.exceptions import FieldError, ImproperlyConfigured
from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.lookups import Lookup, Transform

from cpnav.envconf import FieldKey

VERSION = "v1"
_NONCE_BYTES = 12
_TAG_BYTES = 16
# Strict alphabet: the stdlib decoder silently skips stray characters, and a
# token that is not exactly what we wrote must be refused, not half-read.
_PAYLOAD = re.compile(r"[A-Za-z0-9_-]+={0,2}")


class DecryptionError(ValueError):
    """A stored value could not be decrypted; never answered with a guess."""


def _keys() -> tuple[FieldKey, ...]:
    keys: tuple[FieldKey, ...] = tuple(settings.FIELD_ENCRYPTION_KEYS)
    if not keys:
        raise ImproperlyConfigured("CPNAV_FIELD_KEYS: no keys configured")
    return keys


def _encrypt_with(key: FieldKey, plaintext: str, context: str) -> str:
    # Random nonces are safe for about 2**32 encryptions per key; rotation
    # keeps each key far below that.
    nonce = os.urandom(_NONCE_BYTES)
    sealed = AESGCM(key.key).encrypt(nonce, plaintext.encode("utf-8"), context.encode("utf-8"))
    payload = base64.urlsafe_b64encode(nonce + sealed).decode("ascii")
    return f"{VERSION}:{key.key_id}:{payload}"


def _split(token: str) -> tuple[str, bytes]:
    """Return (key_id, nonce + ciphertext + tag) or raise DecryptionError."""
    if not isinstance(token, str) or not token.isascii():
        raise DecryptionError("malformed token: not an ASCII string")
    parts = token.split(":")
    if len(parts) != 3 or not parts[1]:
        raise DecryptionError("malformed token: expected 'v1:<key id>:<data>'")
    version, key_id, payload = parts
    if version != VERSION:
        raise DecryptionError(f"unsupported token version {version[:10]!r} (key {key_id!r})")
    if not _PAYLOAD.fullmatch(payload):
        raise DecryptionError(f"malformed token for key {key_id!r}: data is not url-safe base64")
    try:
        raw = base64.urlsafe_b64decode(payload)
    except (binascii.Error, ValueError):
        raise DecryptionError(f"malformed token for key {key_id!r}: bad base64") from None
    if len(raw) < _NONCE_BYTES + _TAG_BYTES:
        raise DecryptionError(f"malformed token for key {key_id!r}: too short")
    return key_id, raw


def encrypt(plaintext: str, *, context: str) -> str:
    """Encrypt with the newest key, binding the token to ``context``."""
    return _encrypt_with(_keys()[0], plaintext, context)


def decrypt(token: str, *, context: str) -> str:
    """Decrypt a token made by encrypt() with the same context."""
    key_id, raw = _split(token)
    key = next((k for k in _keys() if k.key_id == key_id), None)
    if key is None:
        raise DecryptionError(f"key {key_id!r} is not configured in CPNAV_FIELD_KEYS")
    nonce, sealed = raw[:_NONCE_BYTES], raw[_NONCE_BYTES:]
    try:
        plain = AESGCM(key.key).decrypt(nonce, sealed, context.encode("utf-8"))
    except InvalidTag:
        raise DecryptionError(
            f"authentication failed with key {key_id!r} for {context!r}: the value was "
            "altered, belongs to another field, or the key material changed"
        ) from None
    return plain.decode("utf-8")


def key_id_of(token: str) -> str:
    return _split(token)[0]


def needs_rotation(token: str) -> bool:
    """True when the token was not encrypted with the newest key."""
    return key_id_of(token) != _keys()[0].key_id


def key_ids() -> tuple[str, ...]:
    """The configured key ids, newest (the one that encrypts) first."""
    return tuple(key.key_id for key in _keys())


def reencrypt(token: str, *, context: str) -> str:
    """The same plaintext under the newest key; the plaintext never leaves this call."""
    return encrypt(decrypt(token, context=context), context=context)


def normalize(value: str) -> str:
    """Fold the ways one name gets typed into one form (case, width, spacing).

    NFKC again after casefold because casefolding can un-normalise a few
    characters; accents are kept, since they tell names apart.
    """
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", value).casefold())
    return " ".join(folded.split())


def secret_digest(secret: str) -> str:
    """What is stored for a random secret handed out once (a link or API token): its SHA-256.

    The secrets are long and random, so a plain hash is enough to keep a stolen
    database from yielding working links; unlike blind_index it needs no key.
    """
    return hashlib.sha256(secret.encode()).hexdigest()


def blind_index(value: str, *, purpose: str) -> str:
    """Keyed hash for equality search; ``purpose`` keeps indexes of different things apart."""
    # The NUL separates purpose from value; a NUL inside purpose would let two
    # (purpose, value) pairs share one message.
    if not purpose or "\x00" in purpose:
        raise ValueError("purpose must be a non-empty string without NUL")
    message = f"{purpose}\x00{normalize(value)}".encode()
    return hmac.new(settings.FIELD_INDEX_KEY, message, hashlib.sha256).hexdigest()


class EncryptedField(models.TextField):  # type: ignore[type-arg]
    """Shared by the fields: context from the model, lookups refused. `cpnav keys`
    finds every encrypted column by this class.

    The context is ``<app_label>.<model>.<field>``, so renaming the model or
    field needs a data migration that re-encrypts; a bare rename leaves the old
    values unreadable (DecryptionError), never wrong.
    """

    @property
    def context(self) -> str:
        model: type[models.Model] | None = getattr(self, "model", None)
        if model is None:
            raise ImproperlyConfigured(f"{type(self).__name__} used before it was added to a model")
        return f"{model._meta.label_lower}.{self.name}"

    def _refuse(self, lookup_name: str) -> FieldError:
        return FieldError(
            f"{self.context} is encrypted and only supports the isnull lookup, not "
            f"{lookup_name!r}; search a blind index instead"
        )

    def get_lookup(self, lookup_name: str) -> type[Lookup[Any]] | None:
        # Comparing ciphertexts is meaningless (fresh nonces); an error beats an empty result.
        if lookup_name != "isnull":
            raise self._refuse(lookup_name)
        return super().get_lookup(lookup_name)

    def get_transform(self, lookup_name: str) -> type[Transform] | None:
        raise self._refuse(lookup_name)


class EncryptedTextField(EncryptedField):
    """Text encrypted at rest. ``""`` is encrypted too, so every non-NULL value in
    the column is a token and anything else there is an error, not plaintext."""

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        return None if value is None else encrypt(value, context=self.context)

    def from_db_value(
        self, value: str | None, expression: object, connection: BaseDatabaseWrapper
    ) -> str | None:
        return None if value is None else decrypt(value, context=self.context)


class EncryptedJSONField(EncryptedField):
    """Any JSON-serialisable value, encrypted as JSON text. Python None is SQL
    NULL, so a JSON null cannot be stored apart from "no value"."""

    def to_python(self, value: Any) -> Any:
        return value

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None:
            return None
        try:
            text = json.dumps(value, ensure_ascii=False)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{self.context}: value is not JSON-serialisable: {exc}") from None
        return encrypt(text, context=self.context)

    def from_db_value(
        self, value: str | None, expression: object, connection: BaseDatabaseWrapper
    ) -> Any:
        return None if value is None else json.loads(decrypt(value, context=self.context))

    def value_to_string(self, obj: models.Model) -> Any:
        # Let serializers write the list/dict itself rather than its repr().
        return self.value_from_object(obj)

    def formfield(
        self,
        form_class: type[forms.Field] | None = None,
        choices_form_class: type[forms.ChoiceField] | None = None,
        **kwargs: Any,
    ) -> forms.Field | None:
        # A JSON form field, so admin shows and parses JSON rather than a repr().
        return super().formfield(
            form_class=form_class or forms.JSONField,
            choices_form_class=choices_form_class,
            **kwargs,
        )


_PROBE = "cpnav field-key probe"
_PROBE_CONTEXT = "cpnav.core.crypto.check"


def _probe_problem(key: FieldKey) -> str | None:
    # AESGCM also takes 16- and 24-byte keys; only AES-256 is our policy.
    if len(key.key) != 32:
        return f"must be 32 bytes (AES-256), got {len(key.key)}"
    try:
        token = _encrypt_with(key, _PROBE, _PROBE_CONTEXT)
        same = decrypt(token, context=_PROBE_CONTEXT) == _PROBE
    except (ValueError, TypeError, InvalidTag) as exc:
        return str(exc) or type(exc).__name__
    return None if same else "the probe came back different"


@register()
def check_field_keys(
    *,
    app_configs: Sequence[AppConfig] | None = None,
    databases: Sequence[str] | None = None,
    **kwargs: Any,
) -> list[CheckMessage]:
    """Round-trip a probe through every key, so a bad key stops start-up, not a read."""
    errors: list[CheckMessage] = []
    for key in settings.FIELD_ENCRYPTION_KEYS:
        problem = _probe_problem(key)
        if problem is not None:
            errors.append(
                Error(
                    f"Field-encryption key {key.key_id!r} failed a probe round trip: {problem}",
                    hint="Check CPNAV_FIELD_KEYS: each key is 'id:base64(32 bytes)', ids unique.",
                    id="cpnav.E001",
                )
            )
    return errors
