"""Security keys (WebAuthn): the ceremonies against a software authenticator, and the pages.

``SoftKey`` builds what a browser and an authenticator send - "none" attestation
at registration, signed assertions at sign-in - for ES256 and RS256 keys, with
``cryptography`` and ``cbor2``, so every check py_webauthn and our service make
can be tried with one thing wrong at a time.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from base64 import urlsafe_b64decode, urlsafe_b64encode
from typing import Any

import cbor2
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.db import SessionStore
from django.test import Client, RequestFactory
from django.urls import reverse

from cpnav.accounts import mfa, reauth, services, webauthn
from cpnav.accounts.models import Agency, SecurityKey, User
from cpnav.accounts.views import PENDING
from cpnav.accounts.webauthn import Purpose, Refused
from cpnav.audit.models import AuditEvent, Outcome
from tests.conftest import PASSWORD, MakeUser, signed_in, totp_code

pytestmark = pytest.mark.django_db

RP_ID = "testserver"
ORIGIN = "http://testserver"
UP, UV, AT = 0x01, 0x04, 0x40


def b64u(data: bytes) -> str:
    return urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64u(text: str) -> bytes:
    return urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SoftKey:
    """A software authenticator: one credential, ES256 or RS256, with or without a counter."""

    def __init__(self, alg: str = "ES256", *, counter: bool = True) -> None:
        self.alg = alg
        self.counter = counter
        self.count = 0
        self.credential_id = os.urandom(32)
        if alg == "ES256":
            self.ec_key = ec.generate_private_key(ec.SECP256R1())
            numbers = self.ec_key.public_key().public_numbers()
            self.cose: dict[int, Any] = {
                1: 2, 3: -7, -1: 1,
                -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big"),
            }  # fmt: skip
        else:
            self.rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            rsa_numbers = self.rsa_key.public_key().public_numbers()
            self.cose = {
                1: 3, 3: -257,
                -1: rsa_numbers.n.to_bytes(256, "big"), -2: rsa_numbers.e.to_bytes(3, "big"),
            }  # fmt: skip

    def _client_data(self, kind: str, challenge: str, origin: str) -> bytes:
        return json.dumps(
            {"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": False}
        ).encode()

    def register(
        self,
        options: dict[str, Any],
        *,
        origin: str = ORIGIN,
        rp_id: str = RP_ID,
        flags: int = UP | UV | AT,
        kind: str = "webauthn.create",
    ) -> str:
        client_data = self._client_data(kind, options["challenge"], origin)
        auth_data = (
            hashlib.sha256(rp_id.encode()).digest()
            + bytes([flags])
            + self.count.to_bytes(4, "big")
            + bytes(16)  # AAGUID: none given
            + len(self.credential_id).to_bytes(2, "big")
            + self.credential_id
            + cbor2.dumps(self.cose)
        )
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return json.dumps({
            "id": b64u(self.credential_id), "rawId": b64u(self.credential_id),
            "type": "public-key",
            "response": {"clientDataJSON": b64u(client_data),
                         "attestationObject": b64u(attestation), "transports": ["usb", "nfc"]},
        })  # fmt: skip

    def sign(self, data: bytes) -> bytes:
        if self.alg == "ES256":
            return self.ec_key.sign(data, ec.ECDSA(hashes.SHA256()))
        return self.rsa_key.sign(data, padding.PKCS1v15(), hashes.SHA256())

    def assertion(
        self,
        options: dict[str, Any],
        *,
        origin: str = ORIGIN,
        rp_id: str = RP_ID,
        flags: int = UP | UV,
        count: int | None = None,
        tamper: bool = False,
    ) -> str:
        if count is None:
            self.count += 1 if self.counter else 0
            count = self.count
        client_data = self._client_data("webauthn.get", options["challenge"], origin)
        auth_data = (
            hashlib.sha256(rp_id.encode()).digest() + bytes([flags]) + count.to_bytes(4, "big")
        )
        signature = self.sign(auth_data + hashlib.sha256(client_data).digest())
        if tamper:
            auth_data = auth_data[:-1] + bytes([(auth_data[-1] + 1) % 256])
        return json.dumps({
            "id": b64u(self.credential_id), "rawId": b64u(self.credential_id),
            "type": "public-key",
            "response": {"clientDataJSON": b64u(client_data), "authenticatorData": b64u(auth_data),
                         "signature": b64u(signature), "userHandle": None},
        })  # fmt: skip


@pytest.fixture(autouse=True)
def _relying_party(settings: Any) -> None:
    """The test client's host is the relying party."""
    settings.WEBAUTHN_RP_ID = RP_ID
    settings.WEBAUTHN_ORIGINS = [ORIGIN]


@pytest.fixture
def http(rf: RequestFactory) -> Any:
    """A request with a session, as the services see it."""
    request = rf.post("/")
    request.session = SessionStore()
    request.user = AnonymousUser()
    return request


def enrol(request: Any, user: User, key: SoftKey, name: str = "Blue USB key") -> SecurityKey:
    options = webauthn.registration_options(request, user)
    return webauthn.register(request, user, key.register(options), name)


def refusal(call: Any) -> str:
    with pytest.raises(Refused) as refused:
        call()
    return refused.value.reason


# ---- registration ---------------------------------------------------------------------


def test_registration_options_ask_for_es256_and_rs256_without_attestation(
    http: Any, teammate: User
) -> None:
    enrol(http, teammate, SoftKey())
    options = webauthn.registration_options(http, teammate)
    assert [p["alg"] for p in options["pubKeyCredParams"]] == [-7, -257]
    assert options["attestation"] == "none"
    assert options["authenticatorSelection"]["userVerification"] == "preferred"
    assert options["rp"] == {"id": RP_ID, "name": "CP Navigator"}
    assert unb64u(options["user"]["id"]) == teammate.pk.bytes  # no personal data
    # Keys already registered are excluded, so a key is not registered twice.
    assert [d["id"] for d in options["excludeCredentials"]] == [
        k.credential_id for k in SecurityKey.objects.filter(user=teammate)
    ]
    assert http.session[webauthn.REGISTRATION]["purpose"] == "register"


@pytest.mark.parametrize("alg", ["ES256", "RS256"])
def test_a_key_registers_and_only_public_material_is_kept(
    http: Any, teammate: User, alg: str
) -> None:
    soft = SoftKey(alg)
    key = enrol(http, teammate, soft)
    assert key.user == teammate
    assert key.credential_id == b64u(soft.credential_id)
    assert cbor2.loads(bytes(key.public_key)) == soft.cose
    assert key.sign_count == 0
    assert key.transports == ["usb", "nfc"]
    assert key.aaguid == "00000000-0000-0000-0000-000000000000"
    assert key.name == "Blue USB key"
    assert mfa.has_security_key(teammate)
    assert mfa.has_second_factor(teammate)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"origin": "https://evil.example"}, "origin"),
        ({"rp_id": "evil.example"}, "rp id"),
        ({"flags": AT}, "user presence"),
        ({"kind": "webauthn.get"}, "type"),
    ],
)
def test_registration_refuses_a_response_with_one_thing_wrong(
    http: Any, teammate: User, change: dict[str, Any], reason: str
) -> None:
    options = webauthn.registration_options(http, teammate)
    response = SoftKey().register(options, **change)
    assert refusal(lambda: webauthn.register(http, teammate, response, "k")) == reason
    assert not SecurityKey.objects.exists()


def test_registration_refuses_another_challenge_and_a_reused_one(http: Any, teammate: User) -> None:
    soft = SoftKey()
    options = webauthn.registration_options(http, teammate)
    forged = soft.register({**options, "challenge": b64u(os.urandom(32))})
    assert refusal(lambda: webauthn.register(http, teammate, forged, "k")) == "challenge"
    # The challenge was spent by the refused attempt: the genuine response is refused too.
    genuine = soft.register(options)
    assert refusal(lambda: webauthn.register(http, teammate, genuine, "k")) == "no challenge"


def test_a_challenge_expires_after_five_minutes(http: Any, teammate: User) -> None:
    options = webauthn.registration_options(http, teammate)
    http.session[webauthn.REGISTRATION]["at"] -= webauthn.CHALLENGE_SECONDS + 1
    response = SoftKey().register(options)
    assert refusal(lambda: webauthn.register(http, teammate, response, "k")) == "challenge expired"


def test_a_challenge_is_for_one_account(http: Any, teammate: User, owner: User) -> None:
    options = webauthn.registration_options(http, owner)
    response = SoftKey().register(options)
    assert refusal(lambda: webauthn.register(http, teammate, response, "k")) == (
        "challenge issued for another account or purpose"
    )


def test_one_key_cannot_be_registered_to_two_accounts(
    http: Any, teammate: User, owner: User
) -> None:
    soft = SoftKey()
    enrol(http, owner, soft)
    assert refusal(lambda: enrol(http, teammate, soft)) == "credential already registered"


@pytest.mark.parametrize("response", ["", "{", "[]", '{"id": 1}', "x" * 70_000])
def test_malformed_responses_are_refused_not_crashes(
    http: Any, teammate: User, response: str
) -> None:
    webauthn.registration_options(http, teammate)
    assert refusal(lambda: webauthn.register(http, teammate, response, "k"))
    enrol(http, teammate, SoftKey())
    webauthn.authentication_options(http, teammate, Purpose.SIGNIN)
    assert refusal(lambda: webauthn.authenticate(http, teammate, response, Purpose.SIGNIN))


# ---- authentication -------------------------------------------------------------------


def sign_in_options(http: Any, user: User) -> dict[str, Any]:
    options = webauthn.authentication_options(http, user, Purpose.SIGNIN)
    assert options is not None
    return options


@pytest.mark.parametrize("alg", ["ES256", "RS256"])
def test_a_registered_key_signs_in_and_its_count_is_kept(
    http: Any, teammate: User, alg: str
) -> None:
    soft = SoftKey(alg)
    key = enrol(http, teammate, soft)
    options = sign_in_options(http, teammate)
    assert options["allowCredentials"] == [
        {"type": "public-key", "id": key.credential_id, "transports": ["usb", "nfc"]}
    ]
    assert options["userVerification"] == "preferred"
    used = webauthn.authenticate(http, teammate, soft.assertion(options), Purpose.SIGNIN)
    assert used.pk == key.pk
    key.refresh_from_db()
    assert key.sign_count == 1
    assert key.last_used_at is not None


def test_no_options_without_a_key(http: Any, teammate: User) -> None:
    assert webauthn.authentication_options(http, teammate, Purpose.SIGNIN) is None


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"origin": "https://evil.example"}, "origin"),
        ({"rp_id": "evil.example"}, "rp id"),
        ({"tamper": True}, "signature"),
        ({"flags": UV}, "user presence"),
    ],
)
def test_an_assertion_with_one_thing_wrong_is_refused(
    http: Any, teammate: User, change: dict[str, Any], reason: str
) -> None:
    soft = SoftKey()
    key = enrol(http, teammate, soft)
    options = sign_in_options(http, teammate)
    response = soft.assertion(options, **change)
    assert refusal(lambda: webauthn.authenticate(http, teammate, response, Purpose.SIGNIN)) == (
        reason
    )
    key.refresh_from_db()
    assert key.sign_count == 0
    assert key.last_used_at is None


def test_an_assertion_for_another_challenge_or_a_reused_one_is_refused(
    http: Any, teammate: User
) -> None:
    soft = SoftKey()
    enrol(http, teammate, soft)
    options = sign_in_options(http, teammate)
    response = soft.assertion(options)
    webauthn.authenticate(http, teammate, response, Purpose.SIGNIN)
    # Replayed: the challenge was single-use.
    assert refusal(lambda: webauthn.authenticate(http, teammate, response, Purpose.SIGNIN)) == (
        "no challenge"
    )
    # Made for another challenge (a recorded response, replayed into a new ceremony).
    sign_in_options(http, teammate)
    assert refusal(lambda: webauthn.authenticate(http, teammate, response, Purpose.SIGNIN)) == (
        "challenge"
    )


def test_options_for_one_purpose_do_not_serve_another(http: Any, teammate: User) -> None:
    soft = SoftKey()
    enrol(http, teammate, soft)
    options = webauthn.authentication_options(http, teammate, Purpose.REAUTH)
    assert options is not None
    response = soft.assertion(options)
    assert refusal(lambda: webauthn.authenticate(http, teammate, response, Purpose.SIGNIN)) == (
        "challenge issued for another account or purpose"
    )


def test_a_sign_count_that_does_not_grow_is_refused_as_a_clone(http: Any, teammate: User) -> None:
    soft = SoftKey()
    key = enrol(http, teammate, soft)

    def use(count: int | None = None) -> SecurityKey:
        response = soft.assertion(sign_in_options(http, teammate), count=count)
        return webauthn.authenticate(http, teammate, response, Purpose.SIGNIN)

    use()
    # The same count again, and one that went back.
    assert refusal(lambda: use(1)).startswith("sign count did not grow")
    assert refusal(lambda: use(0)).startswith("sign count did not grow")
    key.refresh_from_db()
    assert key.sign_count == 1
    use()  # the genuine key, whose count goes on, still works


def test_a_key_that_keeps_no_count_is_accepted_on_its_signature(http: Any, teammate: User) -> None:
    soft = SoftKey(counter=False)
    key = enrol(http, teammate, soft)
    for _ in range(2):
        options = sign_in_options(http, teammate)
        webauthn.authenticate(http, teammate, soft.assertion(options), Purpose.SIGNIN)
    key.refresh_from_db()
    assert key.sign_count == 0
    assert key.last_used_at is not None


def test_another_users_key_or_a_removed_one_is_refused(
    http: Any, teammate: User, owner: User
) -> None:
    theirs, mine = SoftKey(), SoftKey()
    enrol(http, owner, theirs)
    key = enrol(http, teammate, mine)
    options = sign_in_options(http, teammate)
    response = theirs.assertion(options)
    assert refusal(lambda: webauthn.authenticate(http, teammate, response, Purpose.SIGNIN)) == (
        "key not registered to this account"
    )
    webauthn.remove(key)  # teammate still has the authenticator app
    challenge = webauthn._issue(http, webauthn.AUTHENTICATION, teammate, Purpose.SIGNIN)
    response = mine.assertion({"challenge": b64u(challenge)})
    assert refusal(lambda: webauthn.authenticate(http, teammate, response, Purpose.SIGNIN)) == (
        "key not registered to this account"
    )


# ---- upkeep ---------------------------------------------------------------------------


def test_the_last_second_factor_cannot_be_removed(http: Any, make_user: MakeUser) -> None:
    user = make_user("keyonly@a.example", totp=False)
    first = enrol(http, user, SoftKey())
    second = enrol(http, user, SoftKey("RS256"), "PIV card")
    webauthn.remove(second)
    assert refusal(lambda: webauthn.remove(first)) == "last second factor"
    assert SecurityKey.objects.filter(pk=first.pk).exists()


def test_a_key_can_go_when_the_authenticator_app_stays(http: Any, teammate: User) -> None:
    key = enrol(http, teammate, SoftKey())
    webauthn.remove(key)
    assert not mfa.has_security_key(teammate)


def test_an_administrators_reset_removes_keys_too(
    http: Any, teammate: User, owner: User, agency_a: Agency
) -> None:
    enrol(http, teammate, SoftKey())
    http.user = owner
    services.reset_authenticator(http, agency_a, teammate)
    assert not mfa.has_security_key(teammate)
    assert not mfa.has_second_factor(teammate)
    assert AuditEvent.objects.filter(action="mfa.reset", object_id=str(teammate.pk)).exists()


# ---- the pages: sign-in ---------------------------------------------------------------


def options_on(page: Any) -> dict[str, Any]:
    text = page.content.decode()
    start = text.index('<script id="webauthn-options" type="application/json">') + len(
        '<script id="webauthn-options" type="application/json">'
    )
    return dict(json.loads(text[start : text.index("</script>", start)]))


def password_step(client: Client, user: User) -> Any:
    client.post(reverse("accounts:notice"))
    return client.post(reverse("accounts:signin"), {"email": user.email, "password": PASSWORD})


def key_user(make_user: MakeUser, agency: Agency | None = None) -> tuple[User, SoftKey]:
    """An account whose only authenticator is a security key."""
    user = make_user("keyholder@a.example", agency, ("investigator",) if agency else (), totp=False)
    soft = SoftKey()
    request = RequestFactory().post("/")
    request.session = SessionStore()
    enrol(request, user, soft)
    return user, soft


def test_sign_in_with_password_and_security_key(client: Client, make_user: MakeUser) -> None:
    user, soft = key_user(make_user)
    response = password_step(client, user)
    assert response["Location"] == reverse("accounts:verify")  # a key is a factor
    page = client.get(response["Location"])
    assert b"Use your security key" in page.content
    assert b"Or enter a code" in page.content  # the fallback is on the page
    signed = client.post(
        reverse("accounts:security_key_signin"), {"credential": soft.assertion(options_on(page))}
    )
    assert signed.status_code == 302
    assert signed["Location"] == reverse("core:home")
    assert client.session.get("_auth_user_id") == str(user.pk)
    event = AuditEvent.objects.filter(action="signin.success").latest("seq")
    assert event.details == {"factor": "webauthn"}


def test_a_refused_key_shows_why_is_audited_and_counts_towards_the_lock_out(
    client: Client, make_user: MakeUser
) -> None:
    user, soft = key_user(make_user)
    password_step(client, user)
    page = client.get(reverse("accounts:verify"))
    bad = soft.assertion(options_on(page), origin="https://evil.example")
    response = client.post(reverse("accounts:security_key_signin"), {"credential": bad})
    assert response.status_code == 400
    assert b"could not be verified" in response.content
    assert b"Use your security key" in response.content
    assert b"Or enter a code" in response.content
    event = AuditEvent.objects.filter(action="signin.failure").latest("seq")
    assert event.outcome == Outcome.FAILURE
    assert event.details["reason"] == "security key: origin"
    assert "_auth_user_id" not in client.session
    for _ in range(4):
        response = client.post(reverse("accounts:security_key_signin"), {"credential": ""})
    assert response.status_code == 403
    user.refresh_from_db()
    assert user.is_locked


def test_a_cloned_key_is_refused_and_audited(client: Client, make_user: MakeUser) -> None:
    user, soft = key_user(make_user)
    SecurityKey.objects.filter(user=user).update(sign_count=7)
    password_step(client, user)
    page = client.get(reverse("accounts:verify"))
    response = client.post(
        reverse("accounts:security_key_signin"),
        {"credential": soft.assertion(options_on(page), count=7)},
    )
    assert response.status_code == 400
    assert b"can mean the key was copied" in response.content
    event = AuditEvent.objects.filter(action="signin.failure").latest("seq")
    assert event.details["reason"].startswith("security key: sign count did not grow")
    assert event.details["detail"] == "stored 7, received 7"


def test_the_code_still_signs_in_someone_with_a_key(
    client: Client, teammate: User, http: Any
) -> None:
    enrol(http, teammate, SoftKey())
    password_step(client, teammate)
    assert b"Use your security key" in client.get(reverse("accounts:verify")).content
    response = client.post(reverse("accounts:verify"), {"code": totp_code(teammate)})
    assert response.status_code == 302
    assert client.session.get("_auth_user_id") == str(teammate.pk)


def test_no_key_step_without_a_password_step(client: Client, make_user: MakeUser) -> None:
    _user, soft = key_user(make_user)
    response = client.post(
        reverse("accounts:security_key_signin"), {"credential": soft.assertion({"challenge": ""})}
    )
    assert response["Location"].startswith(reverse("accounts:signin"))
    assert "_auth_user_id" not in client.session


def test_a_user_without_a_key_sees_the_code_page_as_before(client: Client, teammate: User) -> None:
    password_step(client, teammate)
    page = client.get(reverse("accounts:verify"))
    assert b"Enter your code" in page.content
    assert b"webauthn-options" not in page.content


# ---- the pages: enrolment -------------------------------------------------------------


def test_first_enrolment_with_a_security_key(client: Client, make_user: MakeUser) -> None:
    user = make_user("new@a.example", totp=False)
    response = password_step(client, user)
    assert response["Location"] == reverse("accounts:mfa_setup")
    setup = client.get(response["Location"])
    assert b"Recommended: a security key" in setup.content
    add = client.get(reverse("accounts:security_key_add"))
    assert add.status_code == 200
    soft = SoftKey("RS256")
    response = client.post(
        reverse("accounts:security_key_add"),
        {"name": "PIV card", "credential": soft.register(options_on(add))},
    )
    assert response["Location"] == reverse("accounts:recovery_codes")
    assert client.session.get("_auth_user_id") == str(user.pk)
    assert client.get(response["Location"]).content.count(b"<li>") >= 10
    event = AuditEvent.objects.filter(action="mfa.enrolled").latest("seq")
    assert event.details["type"] == "webauthn"
    assert event.actor_id == user.pk
    assert SecurityKey.objects.get(user=user).name == "PIV card"


def test_a_refused_registration_is_shown_and_audited(client: Client, make_user: MakeUser) -> None:
    user = make_user("new@a.example", totp=False)
    password_step(client, user)
    add = client.get(reverse("accounts:security_key_add"))
    bad = SoftKey().register(options_on(add), rp_id="evil.example")
    response = client.post(reverse("accounts:security_key_add"), {"name": "k", "credential": bad})
    assert response.status_code == 400
    assert b"could not be verified" in response.content
    event = AuditEvent.objects.filter(action="mfa.enrolment_failed").latest("seq")
    assert event.outcome == Outcome.FAILURE
    assert event.details["reason"] == "rp id"
    assert not SecurityKey.objects.exists()


def test_password_alone_cannot_add_a_key_to_an_enrolled_account(
    client: Client, teammate: User
) -> None:
    password_step(client, teammate)
    response = client.get(reverse("accounts:security_key_add"))
    assert response["Location"].startswith(reverse("accounts:verify"))
    assert client.post(reverse("accounts:security_key_add"), {"name": "k"})["Location"].startswith(
        reverse("accounts:verify")
    )


def test_a_signed_in_user_adds_a_key_after_confirming_it_is_them(
    client: Client, teammate: User
) -> None:
    signed_in(client, teammate)
    response = client.get(reverse("accounts:security_key_add"))
    assert response["Location"].startswith(reverse("accounts:confirm_identity"))
    client.post(
        reverse("accounts:confirm_identity"), {"password": PASSWORD, "code": totp_code(teammate)}
    )
    add = client.get(reverse("accounts:security_key_add"))
    response = client.post(
        reverse("accounts:security_key_add"),
        {"name": "Blue USB key", "credential": SoftKey().register(options_on(add))},
    )
    assert response["Location"] == reverse("accounts:account")
    account = client.get(reverse("accounts:account"))
    assert b"Blue USB key" in account.content
    assert b"Not used yet" in account.content
    assert reauth.REAUTH_AT not in client.session  # adding a key spent the confirmation


# ---- the pages: confirming identity with a key -----------------------------------------


def test_a_key_confirms_identity(client: Client, make_user: MakeUser) -> None:
    user, soft = key_user(make_user)
    signed_in(client, user)
    page = client.get(reverse("accounts:confirm_identity"))
    assert b"Continue with security key" in page.content
    options = options_on(page)
    wrong = client.post(
        reverse("accounts:security_key_confirm"),
        {"key-password": "not it", "credential": soft.assertion(options)},
    )
    assert wrong.status_code == 400
    assert b"password is not right" in wrong.content
    assert AuditEvent.objects.filter(
        action="account.reauthentication_failed", outcome=Outcome.FAILURE
    ).exists()
    response = client.post(
        reverse("accounts:security_key_confirm"),
        {
            "key-password": PASSWORD,
            "credential": soft.assertion(options_on(wrong)),
            "next": reverse("accounts:security_key_add"),
        },
    )
    assert response["Location"] == reverse("accounts:security_key_add")
    assert client.get(reverse("accounts:security_key_add")).status_code == 200


# ---- the pages: the user's keys ---------------------------------------------------------


def test_rename_and_remove_a_key(client: Client, teammate: User, http: Any) -> None:
    key = enrol(http, teammate, SoftKey())
    signed_in(client, teammate)
    url = reverse("accounts:security_key", args=[key.pk])
    assert b"Rename" in client.get(url).content
    assert client.post(url, {"name": "Desk key"})["Location"] == reverse("accounts:account")
    key.refresh_from_db()
    assert key.name == "Desk key"
    assert AuditEvent.objects.filter(action="mfa.security_key_renamed").exists()
    remove = reverse("accounts:security_key_remove", args=[key.pk])
    response = client.post(remove)
    assert response["Location"].startswith(reverse("accounts:confirm_identity"))
    assert SecurityKey.objects.filter(pk=key.pk).exists()
    client.post(
        reverse("accounts:confirm_identity"), {"password": PASSWORD, "code": totp_code(teammate)}
    )
    assert client.post(remove)["Location"] == reverse("accounts:account")
    assert not SecurityKey.objects.filter(pk=key.pk).exists()
    event = AuditEvent.objects.filter(action="mfa.security_key_removed").latest("seq")
    assert event.outcome == Outcome.SUCCESS


def test_removing_the_last_factor_is_refused_with_an_explanation(
    client: Client, make_user: MakeUser
) -> None:
    user, _soft = key_user(make_user)
    key = SecurityKey.objects.get(user=user)
    signed_in(client, user)
    session = client.session
    session[reauth.REAUTH_AT] = time.time()
    session.save()
    response = client.post(reverse("accounts:security_key_remove", args=[key.pk]))
    assert response.status_code == 400
    assert b"only way you have to sign in" in response.content
    event = AuditEvent.objects.filter(action="mfa.security_key_removed").latest("seq")
    assert event.outcome == Outcome.FAILURE
    assert event.details["reason"] == "last second factor"
    assert SecurityKey.objects.filter(pk=key.pk).exists()


@pytest.mark.parametrize("persona", ["teammate", "outsider"])
def test_nobody_else_can_see_rename_or_remove_a_key(
    client: Client, owner: User, persona: str, request: pytest.FixtureRequest, http: Any
) -> None:
    key = enrol(http, owner, SoftKey())
    other: User = request.getfixturevalue(persona)
    signed_in(client, other)
    session = client.session
    session[reauth.REAUTH_AT] = time.time()
    session.save()
    url = reverse("accounts:security_key", args=[key.pk])
    assert client.get(url).status_code == 404
    assert client.post(url, {"name": "mine now"}).status_code == 404
    assert client.post(reverse("accounts:security_key_remove", args=[key.pk])).status_code == 404
    key.refresh_from_db()
    assert key.name == "Blue USB key"
    assert (
        AuditEvent.objects.filter(
            action="access.denied", object_type="security key", actor_id=other.pk
        ).count()
        == 3
    )
    assert owner.email.encode() not in client.get(reverse("accounts:account")).content


def test_the_key_pages_need_a_signed_in_user(client: Client, owner: User, http: Any) -> None:
    key = enrol(http, owner, SoftKey())
    for url in (
        reverse("accounts:security_key", args=[key.pk]),
        reverse("accounts:security_key_remove", args=[key.pk]),
        reverse("accounts:security_key_confirm"),
    ):
        assert client.post(url).status_code == 302  # to the sign-in
    assert SecurityKey.objects.filter(pk=key.pk).exists()


def test_pending_session_contract_is_unchanged(client: Client, make_user: MakeUser) -> None:
    """Federated sign-in sends people here with only PENDING set, possibly with more keys."""
    user, soft = key_user(make_user)
    session = client.session
    session[PENDING] = {"user": str(user.pk), "at": time.time(), "via": "oidc"}
    session.save()
    page = client.get(reverse("accounts:verify"))
    response = client.post(
        reverse("accounts:security_key_signin"), {"credential": soft.assertion(options_on(page))}
    )
    assert response.status_code == 302
    assert client.session.get("_auth_user_id") == str(user.pk)


# ---- configuration ----------------------------------------------------------------------


def test_keys_are_not_offered_on_an_ip_address(
    client: Client, make_user: MakeUser, settings: Any
) -> None:
    user, _soft = key_user(make_user)
    newcomer = make_user("new@a.example", totp=False)
    settings.WEBAUTHN_RP_ID = "127.0.0.1"  # browsers refuse it
    settings.WEBAUTHN_ORIGINS = ["http://127.0.0.1:8000"]
    password_step(client, user)
    page = client.get(reverse("accounts:verify"))
    assert b"webauthn-options" not in page.content  # recovery codes remain
    other = Client()
    password_step(other, newcomer)
    assert b"Recommended: a security key" not in other.get(reverse("accounts:mfa_setup")).content
    assert other.get(reverse("accounts:security_key_add"))["Location"] == reverse(
        "accounts:mfa_setup"
    )


def test_an_origin_outside_the_relying_party_stops_start_up(tmp_path: Any) -> None:
    from tests.core.test_settings import run_check

    result = run_check(
        {
            "CPNAV_WEBAUTHN_RP_ID": "cpnav.example.gov",
            "CPNAV_WEBAUTHN_ORIGINS": "https://evil.example",
        },
        tmp_path,
    )
    assert result.returncode != 0
    assert "CPNAV_WEBAUTHN_ORIGINS" in result.stderr
    fine = {"CPNAV_BASE_URL": "https://cpnav.example.gov", "CPNAV_WEBAUTHN_ORIGINS": (
        "https://cpnav.example.gov,https://www.cpnav.example.gov")}  # fmt: skip
    assert "CPNAV_WEBAUTHN" not in run_check(fine, tmp_path).stderr
