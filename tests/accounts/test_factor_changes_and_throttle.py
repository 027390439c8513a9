"""Other sessions end when a factor changes (ASVS V7.4.3); one client address cannot
try sign-ins without end (V2.4.1)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from cpnav.accounts.models import User
from cpnav.audit.models import AuditEvent
from tests.conftest import PASSWORD, MakeUser, signed_in, totp_code

pytestmark = pytest.mark.django_db


def test_new_recovery_codes_end_the_other_sessions(teammate: User) -> None:
    laptop, phone = signed_in(Client(), teammate), signed_in(Client(), teammate)
    answer = laptop.post(
        reverse("accounts:recovery_codes"), {"password": PASSWORD, "code": totp_code(teammate)}
    )
    assert answer.status_code == 302
    assert laptop.get(reverse("accounts:account")).status_code == 200
    assert phone.get(reverse("accounts:account")).status_code == 302
    ended = AuditEvent.objects.get(action="account.sessions_ended")
    assert ended.details == {"reason": "recovery codes replaced"}


def test_sign_in_attempts_from_one_address_are_throttled(
    settings: Any, make_user: MakeUser
) -> None:
    settings.SIGNIN_ADDRESS_RATE = "3/min"
    users = [make_user(f"officer{n}@a.example") for n in range(3)]
    browser = Client(REMOTE_ADDR="198.51.100.23")
    browser.post(reverse("accounts:notice"))
    for user in users:  # three accounts, one wrong password each: under every lock-out
        answer = browser.post(
            reverse("accounts:signin"), {"email": user.email, "password": "wrong guess here"}
        )
        assert answer.status_code == 200
    refused = browser.post(
        reverse("accounts:signin"), {"email": users[0].email, "password": PASSWORD}
    )
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 60
    assert b"Too many sign-in attempts" in refused.content
    assert AuditEvent.objects.filter(action="ratelimit.refused").get().details["limit"] == "signin"
    # Another address is not held back; nor is any account locked by this.
    other = Client(REMOTE_ADDR="198.51.100.24")
    other.post(reverse("accounts:notice"))
    answer = other.post(reverse("accounts:signin"), {"email": users[0].email, "password": PASSWORD})
    assert answer.status_code == 302
    assert not User.objects.filter(locked_at__isnull=False).exists()
