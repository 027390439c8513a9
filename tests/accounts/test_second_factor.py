"""Re-authentication (ASVS V7.5.1), recovery codes (V6.5.2, V11.5.1), TOTP window (V6.5.5)."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from django.contrib.auth.hashers import identify_hasher
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.urls import reverse
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from cpnav.accounts import mfa, reauth
from cpnav.accounts.models import RecoveryCode, User
from cpnav.audit.models import AuditEvent
from tests.conftest import PASSWORD, MakeUser, signed_in, totp_code

pytestmark = pytest.mark.django_db

SETUP = "/accounts/mfa/setup/"
CONFIRM = "/accounts/me/confirm/"
CODES = "/accounts/mfa/recovery-codes/"


def fresh_device(user: User) -> None:
    """django-otp waits after a failure; tests that fail on purpose start the next try clean."""
    TOTPDevice.objects.filter(user=user).update(throttling_failure_count=0)


def clean_slate(user: User) -> None:
    """No throttling, no remembered step and no learned clock drift: each check stands alone."""
    TOTPDevice.objects.filter(user=user).update(throttling_failure_count=0, last_t=-1, drift=0)


def pending_code(user: User) -> str:
    device = mfa.pending_device(user)
    assert device is not None
    return f"{TOTP(device.bin_key, device.step, device.t0, device.digits).token():06d}"


# --- Re-authentication before replacing the authenticator -------------------------------


def test_replacing_the_authenticator_asks_for_password_and_code_first(
    client: Client, teammate: User
) -> None:
    signed_in(client, teammate)
    response = client.get(SETUP)
    assert response.status_code == 302
    assert response["Location"] == f"{CONFIRM}?next=%2Faccounts%2Fmfa%2Fsetup%2F"
    page = client.get(response["Location"])
    assert b"Confirm it is you" in page.content
    # A session alone cannot start an enrolment, even by posting to it.
    assert client.post(SETUP, {"code": "123456"})["Location"].startswith(CONFIRM)
    assert mfa.pending_device(teammate) is None

    response = client.post(
        CONFIRM, {"password": PASSWORD, "code": totp_code(teammate), "next": SETUP}
    )
    assert response["Location"] == SETUP
    assert AuditEvent.objects.filter(action="account.reauthenticated").count() == 1
    assert b"<svg" in client.get(SETUP).content
    response = client.post(SETUP, {"code": pending_code(teammate)})
    assert response["Location"] == reverse("accounts:recovery_codes")
    assert TOTPDevice.objects.filter(user=teammate, confirmed=True).count() == 1
    enrolled = AuditEvent.objects.get(action="mfa.enrolled")
    assert enrolled.details == {"type": "totp", "replaced": True}
    # The confirmation is spent: another replacement asks again.
    assert client.get(SETUP)["Location"].startswith(CONFIRM)


@pytest.mark.parametrize(
    ("password", "code", "reason"),
    [("not my password at all", "right", "password"), (PASSWORD, "000000", "second factor")],
)
def test_a_wrong_password_or_code_is_refused_and_counted(
    client: Client, teammate: User, password: str, code: str, reason: str
) -> None:
    signed_in(client, teammate)
    code = totp_code(teammate) if code == "right" else code
    response = client.post(CONFIRM, {"password": password, "code": code, "next": SETUP})
    assert response.status_code == 200
    assert b"That password or code is not right" in response.content
    assert reauth.REAUTH_AT not in client.session
    failure = AuditEvent.objects.get(action="account.reauthentication_failed")
    assert failure.outcome == "failure"
    assert failure.details == {"reason": reason}


def test_five_failed_confirmations_lock_the_account(client: Client, teammate: User) -> None:
    signed_in(client, teammate)
    for _ in range(5):
        response = client.post(CONFIRM, {"password": PASSWORD, "code": "000000"})
        fresh_device(teammate)
    assert response.status_code == 403
    teammate.refresh_from_db()
    assert teammate.is_locked
    assert client.get(reverse("accounts:account")).status_code == 302


def test_a_recovery_code_also_confirms(client: Client, teammate: User) -> None:
    codes = mfa.new_recovery_codes(teammate)
    signed_in(client, teammate)
    response = client.post(CONFIRM, {"password": PASSWORD, "code": codes[3]})
    assert response["Location"] == reverse("accounts:account")
    assert mfa.unused_recovery_codes(teammate) == 9


def test_the_confirmation_lasts_five_minutes(client: Client, teammate: User) -> None:
    signed_in(client, teammate)
    client.post(CONFIRM, {"password": PASSWORD, "code": totp_code(teammate)})
    assert client.get(SETUP).status_code == 200
    session = client.session
    session[reauth.REAUTH_AT] = time.time() - reauth.REAUTH_SECONDS - 1
    session.save()
    assert client.get(SETUP)["Location"].startswith(CONFIRM)


def test_confirm_only_returns_to_local_pages(client: Client, teammate: User) -> None:
    signed_in(client, teammate)
    response = client.post(
        CONFIRM,
        {"password": PASSWORD, "code": totp_code(teammate), "next": "https://evil.example/"},
    )
    assert response["Location"] == reverse("core:home")


def test_first_enrolment_during_sign_in_needs_no_extra_confirmation(
    client: Client, make_user: MakeUser
) -> None:
    user = make_user("new@a.example", totp=False)
    client.post(reverse("accounts:notice"))
    client.post(reverse("accounts:signin"), {"email": user.email, "password": PASSWORD})
    assert client.get(SETUP).status_code == 200


# --- Recovery codes -----------------------------------------------------------------------


def test_regenerating_recovery_codes_asks_for_password_and_code(
    client: Client, teammate: User
) -> None:
    old = mfa.new_recovery_codes(teammate)
    signed_in(client, teammate)
    page = client.get(CODES)
    assert b"You have 10 unused recovery codes." in page.content
    assert b'name="password"' in page.content
    response = client.post(CODES, {})
    assert response.status_code == 200
    assert b"Please correct the following" in response.content
    response = client.post(CODES, {"password": PASSWORD, "code": "000000"})
    assert b"That password or code is not right" in response.content
    assert mfa.verify_second_factor(teammate, old[0]) == "recovery"
    fresh_device(teammate)

    response = client.post(CODES, {"password": PASSWORD, "code": totp_code(teammate)})
    assert response["Location"] == CODES
    shown = client.get(CODES)
    new = re.findall(r"<li>([a-z0-9-]+)</li>", shown.content.decode())
    assert len(new) == 10
    assert AuditEvent.objects.filter(action="mfa.recovery_codes_replaced").count() == 1
    assert mfa.verify_second_factor(teammate, old[1]) is None
    assert mfa.verify_second_factor(teammate, new[0]) == "recovery"


def test_recovery_codes_are_long_and_stored_with_a_salted_password_hash(teammate: User) -> None:
    codes = mfa.new_recovery_codes(teammate)
    assert len(set(codes)) == 10
    for code in codes:
        # Six groups of five from a 31-symbol alphabet: about 149 bits.
        assert re.fullmatch(r"([a-hj-km-np-z2-9]{5}-){5}[a-hj-km-np-z2-9]{5}", code)
    rows = list(RecoveryCode.objects.filter(user=teammate))
    assert len(rows) == 10
    for row in rows:
        assert identify_hasher(row.code_hash).algorithm  # Django's password hash format
        assert not any(code.replace("-", "") in row.code_hash for code in codes)
        assert row.tag in {code[:5] for code in codes}
    # Salted: the same code never gives the same stored value twice.
    again = mfa.new_recovery_codes(teammate)
    assert len({r.code_hash for r in RecoveryCode.objects.filter(user=teammate)}) == 10
    assert set(again).isdisjoint(codes)


def test_recovery_codes_work_once_and_only_whole(teammate: User, make_user: MakeUser) -> None:
    codes = mfa.new_recovery_codes(teammate)
    code = codes[0]
    assert mfa.verify_second_factor(teammate, code[:-1] + ("2" if code[-1] != "2" else "3")) is None
    assert mfa.verify_second_factor(teammate, code[:11]) is None
    assert mfa.verify_second_factor(teammate, "abcde-fghjk") is None  # the old, short kind
    # Case, spaces and dashes do not matter.
    assert mfa.verify_second_factor(teammate, " " + code.upper().replace("-", " ") + " ") == (
        "recovery"
    )
    assert mfa.verify_second_factor(teammate, code) is None
    # Another account's code is no use.
    other = make_user("other@a.example")
    assert mfa.verify_second_factor(other, codes[1]) is None
    assert mfa.unused_recovery_codes(teammate) == 9


def test_signing_in_without_recovery_codes_gives_a_notice(client: Client, teammate: User) -> None:
    assert mfa.unused_recovery_codes(teammate) == 0
    client.post(reverse("accounts:notice"))
    client.post(reverse("accounts:signin"), {"email": teammate.email, "password": PASSWORD})
    response = client.post(reverse("accounts:verify"), {"code": totp_code(teammate)}, follow=True)
    assert b"You have no recovery codes." in response.content
    assert b"You have no recovery codes." in client.get(reverse("accounts:account")).content


@pytest.mark.django_db(transaction=True)
def test_the_migration_withdraws_codes_of_the_old_kind(make_user: MakeUser) -> None:
    user = make_user("old@a.example")
    executor = MigrationExecutor(connection)
    # Back to 0002 unapplies every migration that depends on a later accounts one (the
    # identity app's too): forward again to the leaves of every app, not accounts' alone.
    before, after = [("accounts", "0002_api_tokens")], executor.loader.graph.leaf_nodes()
    try:
        executor.migrate(before)
        old_apps = executor.loader.project_state(before).apps
        OldCode: Any = old_apps.get_model("accounts", "RecoveryCode")
        OldCode.objects.create(user_id=user.pk, code_hash="0" * 64)
        executor = MigrationExecutor(connection)
        executor.migrate(after)
    finally:
        MigrationExecutor(connection).migrate(after)
    assert RecoveryCode.objects.count() == 0
    mfa.new_recovery_codes(user)
    assert mfa.unused_recovery_codes(user) == 10


# --- The TOTP window (ASVS V6.5.5) --------------------------------------------------------


def test_totp_accepts_one_step_either_side_by_default(teammate: User) -> None:
    verdicts = {}
    for offset in (-2, -1, 0, 1, 2):
        clean_slate(teammate)
        verdicts[offset] = mfa.verify_second_factor(teammate, totp_code(teammate, offset))
    assert verdicts == {-2: None, -1: "totp", 0: "totp", 1: "totp", 2: None}


def test_totp_tolerance_zero_accepts_only_the_current_step(
    teammate: User, settings: object
) -> None:
    settings.TOTP_TOLERANCE_STEPS = 0  # type: ignore[attr-defined]
    verdicts = {}
    for offset in (-1, 0, 1):
        clean_slate(teammate)
        verdicts[offset] = mfa.verify_second_factor(teammate, totp_code(teammate, offset))
    assert verdicts[-1] is None
    assert verdicts[1] is None
    # The step boundary may pass between making the code and checking it.
    assert verdicts[0] == "totp" or time.time() % 30 < 2


def test_the_setting_rules_over_the_device_row(teammate: User, settings: object) -> None:
    TOTPDevice.objects.filter(user=teammate).update(tolerance=5)
    assert mfa.verify_second_factor(teammate, totp_code(teammate, 3)) is None
    settings.TOTP_TOLERANCE_STEPS = 0  # type: ignore[attr-defined]
    device = mfa.start_enrolment(teammate)
    assert device.tolerance == 0


def test_an_account_without_a_second_factor_confirms_with_the_password(
    client: Client, make_user: MakeUser, settings: object
) -> None:
    settings.DEMO_MODE = True  # type: ignore[attr-defined]
    demo = make_user("demo@a.example", totp=False, is_demo=True)
    signed_in(client, demo)
    page = client.get(CONFIRM)
    assert b'name="code"' not in page.content
    assert client.post(CONFIRM, {"password": PASSWORD})["Location"] == reverse("accounts:account")
    assert client.get(SETUP).status_code == 200
