"""Field encryption: round trips, rotation, tamper and context binding, blind
indexes, the model fields and the start-up key check. No database needed."""

from __future__ import annotations

import base64
import os

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.core.checks import registry
from django.core.exceptions import FieldError, ImproperlyConfigured
from django.db import connection, models
from django.utils.translation import gettext_lazy
from hypothesis import given
from hypothesis import strategies as st
from pytest_django.fixtures import Settings

from cpnav.core import crypto
from cpnav.core.crypto import (
    DecryptionError,
    EncryptedJSONField,
    EncryptedTextField,
    blind_index,
    check_field_keys,
    decrypt,
    encrypt,
    key_id_of,
    needs_rotation,
    normalize,
)
from cpnav.envconf import FieldKey

CONTEXT = "cases.person.names"


class CryptoSample(models.Model):
    secret = EncryptedTextField("secret", blank=True, default="")
    other = EncryptedTextField()
    aliases = EncryptedJSONField(default=list, blank=True, null=True)

    objects: models.Manager[CryptoSample] = models.Manager()

    class Meta:
        app_label = "core"
        managed = False

    def __str__(self) -> str:
        return f"sample {self.pk}"


def _key(key_id: str) -> FieldKey:
    return FieldKey(key_id, os.urandom(32))


@pytest.fixture
def k1(settings: Settings) -> FieldKey:
    key = _key("k1")
    settings.FIELD_ENCRYPTION_KEYS = (key,)
    settings.FIELD_INDEX_KEY = os.urandom(32)
    return key


def _raw(token: str) -> bytes:
    return base64.urlsafe_b64decode(token.split(":")[2])


def _with_raw(token: str, raw: bytes) -> str:
    version, key_id, _ = token.split(":")
    return f"{version}:{key_id}:{base64.urlsafe_b64encode(raw).decode()}"


@pytest.mark.parametrize(
    "plaintext",
    [
        "Ana María López",
        "محمد بن علي",
        "王小明",
        "Nguyễn Thị Hương 👩‍👧",
        "",
        "x" * 10_000,
        "line one\nline two\ttab\x00nul",
    ],
)
def test_round_trip(k1: FieldKey, plaintext: str) -> None:
    token = encrypt(plaintext, context=CONTEXT)
    assert token.isascii()
    assert token.startswith("v1:k1:")
    assert plaintext not in token or plaintext == ""
    assert decrypt(token, context=CONTEXT) == plaintext


@given(st.text())
def test_round_trip_any_text(plaintext: str) -> None:
    # Uses the configured (local) keys: hypothesis runs many examples per fixture.
    assert decrypt(encrypt(plaintext, context=CONTEXT), context=CONTEXT) == plaintext


def test_fresh_nonce_each_time(k1: FieldKey) -> None:
    tokens = {encrypt("same value", context=CONTEXT) for _ in range(20)}
    assert len(tokens) == 20
    assert len({_raw(token)[:12] for token in tokens}) == 20


def test_token_layout(k1: FieldKey) -> None:
    token = encrypt("abc", context=CONTEXT)
    version, key_id, payload = token.split(":")
    assert (version, key_id) == ("v1", "k1")
    # 12-byte nonce + ciphertext (as long as the plaintext) + 16-byte tag.
    assert len(base64.urlsafe_b64decode(payload)) == 12 + 3 + 16


def test_rotation(settings: Settings) -> None:
    old, new = _key("old"), _key("new")
    settings.FIELD_ENCRYPTION_KEYS = (old,)
    old_token = encrypt("Ana", context=CONTEXT)
    assert key_id_of(old_token) == "old"
    assert not needs_rotation(old_token)

    settings.FIELD_ENCRYPTION_KEYS = (new, old)
    assert decrypt(old_token, context=CONTEXT) == "Ana"
    new_token = encrypt("Ana", context=CONTEXT)
    assert key_id_of(new_token) == "new"
    assert needs_rotation(old_token)
    assert not needs_rotation(new_token)
    assert decrypt(new_token, context=CONTEXT) == "Ana"

    settings.FIELD_ENCRYPTION_KEYS = (new,)
    with pytest.raises(DecryptionError, match="key 'old' is not configured in CPNAV_FIELD_KEYS"):
        decrypt(old_token, context=CONTEXT)
    assert decrypt(new_token, context=CONTEXT) == "Ana"


def test_same_id_different_key_fails(settings: Settings) -> None:
    settings.FIELD_ENCRYPTION_KEYS = (_key("k1"),)
    token = encrypt("Ana", context=CONTEXT)
    settings.FIELD_ENCRYPTION_KEYS = (_key("k1"),)
    with pytest.raises(DecryptionError, match="authentication failed with key 'k1'"):
        decrypt(token, context=CONTEXT)


def test_tampering_with_any_byte_fails(k1: FieldKey) -> None:
    token = encrypt("Ana María", context=CONTEXT)
    raw = _raw(token)
    for index in range(len(raw)):
        for flip in (0x01, 0x80):
            changed = bytearray(raw)
            changed[index] ^= flip
            with pytest.raises(DecryptionError, match="authentication failed with key 'k1'"):
                decrypt(_with_raw(token, bytes(changed)), context=CONTEXT)
    # Cutting or extending the data fails too.
    with pytest.raises(DecryptionError):
        decrypt(_with_raw(token, raw[:-1]), context=CONTEXT)
    with pytest.raises(DecryptionError):
        decrypt(_with_raw(token, raw + b"\x00"), context=CONTEXT)


def test_wrong_context_fails(k1: FieldKey) -> None:
    token = encrypt("A123456789", context="cases.person.a_number")
    with pytest.raises(DecryptionError, match=r"key 'k1' for 'cases\.person\.contact'"):
        decrypt(token, context="cases.person.contact")


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("", "malformed token"),
        ("v1:x", "malformed token"),
        ("v1:k1", "malformed token"),
        ("v1::AAAA", "malformed token"),
        ("v1:k1:a:b", "malformed token"),
        ("v2:k1:abc", "unsupported token version 'v2' .key 'k1'"),
        ("v1:k1:", "malformed token for key 'k1'"),
        ("v1:k1:!!!!", "not url-safe base64"),
        ("v1:k1:ab+/", "not url-safe base64"),
        ("v1:k1:a b=", "not url-safe base64"),
        ("v1:k1:abc", "bad base64"),
        ("v1:k1:AAAA", "too short"),
        ("v1:k1:ÄÄÄÄ", "not an ASCII string"),
        ("plain text someone stored", "malformed token"),
    ],
)
def test_malformed_tokens(k1: FieldKey, token: str, message: str) -> None:
    with pytest.raises(DecryptionError, match=message):
        decrypt(token, context=CONTEXT)
    with pytest.raises(DecryptionError):
        key_id_of(token)


def test_decryption_error_is_a_value_error() -> None:
    assert issubclass(DecryptionError, ValueError)


def test_no_keys_is_a_configuration_error(settings: Settings) -> None:
    settings.FIELD_ENCRYPTION_KEYS = ()
    with pytest.raises(ImproperlyConfigured, match="CPNAV_FIELD_KEYS"):
        encrypt("x", context=CONTEXT)


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("  José  GARCÍA", "josé garcía"),
        ("JOSÉ\tgarcía\n", "José García"),
        ("\uff2a\uff2f\uff33\uff25", "jose"),  # full-width letters
        ("STRASSE", "straße"),  # casefold, not just lower
        ("محمد   علي", "محمد علي"),
        ("王\u3000小明", "王 小明"),  # ideographic space
        ("Jose\u0301", "José"),  # combining accent vs precomposed
    ],
)
def test_blind_index_normalises(k1: FieldKey, typed: str, stored: str) -> None:
    assert blind_index(typed, purpose="name_dob") == blind_index(stored, purpose="name_dob")


def test_blind_index_properties(settings: Settings, k1: FieldKey) -> None:
    digest = blind_index("A123456789", purpose="a_number")
    assert len(digest) == 64
    assert int(digest, 16) >= 0
    assert digest == blind_index("a123456789", purpose="a_number")
    assert digest != blind_index("A123456789", purpose="name_dob")
    assert digest != blind_index("A123456788", purpose="a_number")
    # Accents tell names apart, so they are kept.
    assert blind_index("José", purpose="n") != blind_index("Jose", purpose="n")
    # The digest depends on the index key, so it cannot be recomputed without it.
    settings.FIELD_INDEX_KEY = os.urandom(32)
    assert digest != blind_index("A123456789", purpose="a_number")


def test_blind_index_refuses_ambiguous_purpose(k1: FieldKey) -> None:
    for purpose in ("", "a\x00b"):
        with pytest.raises(ValueError, match="purpose"):
            blind_index("x", purpose=purpose)


def test_normalize() -> None:
    assert normalize("  José \t GARCÍA\n") == "josé garcía"
    assert normalize("") == ""


@given(st.text())
def test_normalize_is_idempotent(value: str) -> None:
    assert normalize(normalize(value)) == normalize(value)


def test_text_field_round_trip(k1: FieldKey) -> None:
    field = CryptoSample._meta.get_field("secret")
    assert isinstance(field, EncryptedTextField)
    assert field.context == "core.cryptosample.secret"
    for value in ("Ana María", "محمد", "王小明", "😀", "", "y" * 10_000):
        stored = field.get_prep_value(value)
        assert isinstance(stored, str)
        assert stored.startswith("v1:k1:")
        assert decrypt(stored, context="core.cryptosample.secret") == value
        assert field.from_db_value(stored, None, connection) == value
    assert field.get_prep_value(None) is None
    assert field.from_db_value(None, None, connection) is None
    # Lazy translation strings are resolved before encrypting.
    assert field.from_db_value(field.get_prep_value(gettext_lazy("x")), None, connection) == "x"
    # to_python sees plaintext (forms, full_clean) and leaves it alone.
    assert field.to_python("Ana") == "Ana"


def test_text_field_value_does_not_move_between_fields(k1: FieldKey) -> None:
    secret = CryptoSample._meta.get_field("secret")
    other = CryptoSample._meta.get_field("other")
    assert isinstance(secret, EncryptedTextField)
    assert isinstance(other, EncryptedTextField)
    with pytest.raises(DecryptionError, match=r"core\.cryptosample\.other"):
        other.from_db_value(secret.get_prep_value("Ana"), None, connection)


def test_text_field_refuses_plaintext_in_the_column(k1: FieldKey) -> None:
    field = CryptoSample._meta.get_field("secret")
    assert isinstance(field, EncryptedTextField)
    with pytest.raises(DecryptionError):
        field.from_db_value("", None, connection)
    with pytest.raises(DecryptionError):
        field.from_db_value("Ana María", None, connection)


def test_json_field_round_trip(k1: FieldKey) -> None:
    field = CryptoSample._meta.get_field("aliases")
    assert isinstance(field, EncryptedJSONField)
    values: list[object] = [
        ["Ana", "آنا", "安娜", "🦋"],
        [],
        {"name": "Ana", "dob": "1999-02-03", "n": 3, "ok": True},
        "just a string",
        0,
    ]
    for value in values:
        stored = field.get_prep_value(value)
        assert isinstance(stored, str)
        assert stored.startswith("v1:k1:")
        assert "Ana" not in stored
        assert field.from_db_value(stored, None, connection) == value
    assert field.get_prep_value(None) is None
    assert field.from_db_value(None, None, connection) is None
    assert field.to_python(["Ana"]) == ["Ana"]
    with pytest.raises(TypeError, match=r"core\.cryptosample\.aliases"):
        field.get_prep_value({"when": object()})


def test_json_field_serialises_as_json(k1: FieldKey) -> None:
    sample = CryptoSample(aliases=["Ana", "安娜"])
    field = CryptoSample._meta.get_field("aliases")
    assert field.value_to_string(sample) == ["Ana", "安娜"]
    form_field = field.formfield()
    assert form_field is not None
    assert form_field.clean('["Ana"]') == ["Ana"]


def test_field_not_on_a_model_refuses() -> None:
    with pytest.raises(ImproperlyConfigured, match="before it was added to a model"):
        EncryptedTextField().get_prep_value("x")


@pytest.mark.parametrize(
    "lookup",
    ["secret", "secret__exact", "secret__iexact", "secret__icontains", "secret__in"],
)
def test_lookups_refused(lookup: str) -> None:
    value: object = ["x"] if lookup.endswith("__in") else "x"
    with pytest.raises(FieldError, match=r"core\.cryptosample\.secret is encrypted.*blind index"):
        CryptoSample.objects.filter(**{lookup: value})


def test_transforms_and_json_lookups_refused() -> None:
    with pytest.raises(FieldError, match="is encrypted"):
        CryptoSample.objects.filter(secret__lower__exact="x")
    with pytest.raises(FieldError, match=r"core\.cryptosample\.aliases is encrypted"):
        CryptoSample.objects.filter(aliases__contains="Ana")


def test_isnull_allowed() -> None:
    sql = str(CryptoSample.objects.filter(secret__isnull=True, aliases__isnull=False).query)
    assert "IS NULL" in sql
    assert "IS NOT NULL" in sql


@pytest.mark.parametrize("field_class", [EncryptedTextField, EncryptedJSONField])
def test_deconstruct_is_stable(field_class: type[EncryptedTextField | EncryptedJSONField]) -> None:
    field = field_class("label", blank=True, default="")
    _name, path, args, kwargs = field.deconstruct()
    assert path == f"cpnav.core.crypto.{field_class.__name__}"
    assert kwargs == {"verbose_name": "label", "blank": True, "default": ""}
    rebuilt = field_class(*args, **kwargs)
    assert rebuilt.deconstruct()[1:] == (path, args, kwargs)


def test_check_passes_with_good_keys(settings: Settings) -> None:
    settings.FIELD_ENCRYPTION_KEYS = (_key("k1"), _key("k2"))
    assert check_field_keys() == []


def test_check_is_registered() -> None:
    assert check_field_keys in registry.registry.get_checks()


def test_check_reports_the_failing_key(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    good, bad = _key("k1"), _key("k2")
    settings.FIELD_ENCRYPTION_KEYS = (good, bad)
    real = AESGCM

    class FailsForBad:
        def __init__(self, key: bytes) -> None:
            self._key = key
            self._real = real(key)

        def encrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes:
            return self._real.encrypt(nonce, data, associated_data)

        def decrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes:
            if self._key == bad.key:
                raise InvalidTag
            return self._real.decrypt(nonce, data, associated_data)

    monkeypatch.setattr(crypto, "AESGCM", FailsForBad)
    errors = check_field_keys()
    assert [error.id for error in errors] == ["cpnav.E001"]
    assert "'k2'" in errors[0].msg
    assert "'k1'" not in errors[0].msg


def test_check_reports_short_and_duplicate_keys(settings: Settings) -> None:
    settings.FIELD_ENCRYPTION_KEYS = (
        _key("k1"),
        FieldKey("short", os.urandom(16)),
        _key("k1"),  # same id, other key: its values could never be read back
    )
    errors = check_field_keys()
    assert [error.id for error in errors] == ["cpnav.E001", "cpnav.E001"]
    assert "'short'" in errors[0].msg
    assert "32 bytes" in errors[0].msg
    assert "'k1'" in errors[1].msg
