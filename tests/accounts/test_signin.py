from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from cpnav.accounts import mfa
from cpnav.accounts.models import User
from cpnav.audit.models import AuditEvent
from tests.conftest import PASSWORD, MakeUser, totp_code

pytestmark = pytest.mark.django_db


def accept_notice(client: Client) -> None:
    client.post(reverse("accounts:notice"))


def password_step(client: Client, email: str, password: str = PASSWORD) -> Any:
    return client.post(reverse("accounts:signin"), {"email": email, "password": password})


def test_signin_requires_the_system_use_notice_first(client: Client) -> None:
    response = client.get(reverse("accounts:signin"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:notice"))
    page = client.get(response["Location"])
    assert b"monitored" in page.content
    assert b"consent" in page.content


def test_signin_with_password_and_totp(client: Client, teammate: User) -> None:
    accept_notice(client)
    response = password_step(client, "TEAMMATE@a.example")
    assert response["Location"].startswith(reverse("accounts:verify"))
    # Not signed in yet: the second factor is still missing.
    assert client.get(reverse("accounts:account")).status_code == 302
    response = client.post(reverse("accounts:verify"), {"code": totp_code(teammate)})
    assert response.status_code == 302
    assert client.get(reverse("accounts:account")).status_code == 200
    event = AuditEvent.objects.filter(action="signin.success").get()
    assert event.actor_id == teammate.pk
    assert event.details == {"factor": "totp"}


def test_wrong_password_gives_a_clear_message_and_keeps_the_email(
    client: Client, teammate: User
) -> None:
    accept_notice(client)
    response = password_step(client, teammate.email, "not the right password at all")
    assert response.status_code == 200
    assert b"do not match an account" in response.content
    assert b'value="teammate@a.example"' in response.content
    failure = AuditEvent.objects.get(action="signin.failure")
    assert failure.actor_label == teammate.email
    assert failure.outcome == "failure"


def test_wrong_and_reused_totp_codes_are_refused(client: Client, teammate: User) -> None:
    accept_notice(client)
    password_step(client, teammate.email)
    response = client.post(reverse("accounts:verify"), {"code": "000000"})
    assert b"not right, or it has already been used" in response.content
    code = totp_code(teammate)
    # django-otp throttles after a failure; a fresh device state isolates reuse.
    from django_otp.plugins.otp_totp.models import TOTPDevice

    TOTPDevice.objects.filter(user=teammate).update(throttling_failure_count=0)
    assert mfa.verify_second_factor(teammate, code) == "totp"
    assert mfa.verify_second_factor(teammate, code) is None


def test_recovery_code_works_once(client: Client, teammate: User) -> None:
    codes = mfa.new_recovery_codes(teammate)
    accept_notice(client)
    password_step(client, teammate.email)
    response = client.post(reverse("accounts:verify"), {"code": codes[0].upper()})
    assert response.status_code == 302
    client.post(reverse("accounts:signout"))
    accept_notice(client)
    password_step(client, teammate.email)
    response = client.post(reverse("accounts:verify"), {"code": codes[0]})
    assert response.status_code == 200
    assert mfa.unused_recovery_codes(teammate) == 9


def test_five_failures_lock_the_account_until_an_admin_unlocks_it(
    client: Client, teammate: User, owner: User
) -> None:
    accept_notice(client)
    for _ in range(5):
        password_step(client, teammate.email, "wrong wrong wrong wrong")
    teammate.refresh_from_db()
    assert teammate.is_locked
    assert AuditEvent.objects.filter(action="signin.lockout", actor_id=teammate.pk).exists()
    # Even the right password is refused now.
    response = password_step(client, teammate.email)
    assert response.status_code == 403
    assert b"locked" in response.content
    # An administrator of the agency unlocks; the right password works again.
    admin = Client()
    from tests.conftest import signed_in

    signed_in(admin, owner)
    agency = owner.memberships.get().agency
    admin.post(reverse("accounts:member_action", args=[agency.pk, teammate.pk, "unlock"]))
    teammate.refresh_from_db()
    assert not teammate.is_locked
    response = password_step(client, teammate.email)
    assert response["Location"].startswith(reverse("accounts:verify"))


def test_wrong_second_factor_counts_towards_the_lock_out(client: Client, teammate: User) -> None:
    accept_notice(client)
    password_step(client, teammate.email)
    for _ in range(5):
        response = client.post(reverse("accounts:verify"), {"code": "123456"})
    assert response.status_code == 403
    teammate.refresh_from_db()
    assert teammate.is_locked


def test_new_account_without_a_device_must_enrol(client: Client, make_user: MakeUser) -> None:
    user = make_user("new@a.example", totp=False)
    accept_notice(client)
    response = password_step(client, user.email)
    assert response["Location"].startswith(reverse("accounts:mfa_setup"))
    page = client.get(response["Location"])
    assert b"<svg" in page.content
    device = mfa.pending_device(user)
    assert device is not None
    bad = client.post(reverse("accounts:mfa_setup"), {"code": "000000"})
    assert b"not right" in bad.content
    device.refresh_from_db()
    device.throttling_failure_count = 0
    device.save()
    from django_otp.oath import TOTP

    code = f"{TOTP(device.bin_key, device.step, device.t0, device.digits).token():06d}"
    response = client.post(reverse("accounts:mfa_setup"), {"code": code})
    assert response["Location"] == reverse("accounts:recovery_codes")
    codes_page = client.get(reverse("accounts:recovery_codes"))
    assert codes_page.content.count(b"<li>") >= 10
    assert mfa.has_confirmed_totp(user)
    assert AuditEvent.objects.filter(action="mfa.enrolled", actor_id=user.pk).exists()


def test_password_alone_cannot_replace_an_enrolled_device(client: Client, teammate: User) -> None:
    accept_notice(client)
    password_step(client, teammate.email)
    response = client.get(reverse("accounts:mfa_setup"))
    assert response["Location"].startswith(reverse("accounts:verify"))


def test_demo_accounts_skip_mfa_only_in_demo_mode(
    client: Client, make_user: MakeUser, settings: object
) -> None:
    user = make_user("demo@a.example", totp=False, is_demo=True)
    settings.DEMO_MODE = True  # type: ignore[attr-defined]
    accept_notice(client)
    response = password_step(client, user.email)
    assert response["Location"] == reverse("core:home")
    client.post(reverse("accounts:signout"))
    settings.DEMO_MODE = False  # type: ignore[attr-defined]
    accept_notice(client)
    response = password_step(client, user.email)
    assert response["Location"].startswith(reverse("accounts:mfa_setup"))


def test_disabled_account_cannot_sign_in(client: Client, teammate: User) -> None:
    User.objects.filter(pk=teammate.pk).update(is_active=False)
    accept_notice(client)
    response = password_step(client, teammate.email)
    assert b"do not match an account" in response.content


def test_next_parameter_is_kept_and_only_local(client: Client, teammate: User) -> None:
    accept_notice(client)
    client.post(
        reverse("accounts:signin") + "?next=/accounts/me/",
        {"email": teammate.email, "password": PASSWORD, "next": "/accounts/me/"},
    )
    response = client.post(
        reverse("accounts:verify"), {"code": totp_code(teammate), "next": "/accounts/me/"}
    )
    assert response["Location"] == "/accounts/me/"
    client.post(reverse("accounts:signout"))
    accept_notice(client)
    client.post(reverse("accounts:signin"), {"email": teammate.email, "password": PASSWORD})
    response = client.post(
        reverse("accounts:verify"),
        {"code": totp_code(teammate, offset_steps=1), "next": "https://evil.example/"},
    )
    assert response["Location"] == reverse("core:home")


def test_missing_csrf_token_gets_a_clear_page(teammate: User) -> None:
    client = Client(enforce_csrf_checks=True)
    response = client.post(reverse("accounts:notice"))
    assert response.status_code == 403
    assert b"This form has expired" in response.content
