"""Administrator-started password reset and authenticator reset (ASVS V6.4.3, V6.4.4).

Personas: owner (administrator of agency A), teammate (investigator at A),
outsider (administrator of agency B, who must get 404).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from cpnav.accounts import mfa
from cpnav.accounts.models import Agency, PasswordReset, RecoveryCode, Role, User
from cpnav.audit.models import AuditEvent
from tests.conftest import PASSWORD, MakeUser, signed_in, totp_code

pytestmark = pytest.mark.django_db

NEW = "a brand new synthetic passphrase"
SURE = {"identity_confirmed": "on"}


def reset_url(agency: Agency, user: User) -> str:
    return reverse("accounts:member_reset", args=[agency.pk, user.pk])


def start_reset(client: Client, agency: Agency, user: User, capture: Any, **choices: str) -> Any:
    with capture(execute=True):
        return client.post(reset_url(agency, user), {**SURE, **choices})


def link_from_mail() -> str:
    match = re.search(r"http://\S+(/accounts/password-reset/\S+/)", str(mail.outbox[-1].body))
    assert match is not None
    return match.group(1)


def sign_in_password(client: Client, email: str, password: str) -> Any:
    client.post(reverse("accounts:notice"))
    return client.post(reverse("accounts:signin"), {"email": email, "password": password})


@pytest.fixture
def capture(django_capture_on_commit_callbacks: Any) -> Any:
    return django_capture_on_commit_callbacks


# --- Need to know ---------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["teammate", "outsider"])
def test_only_the_members_own_agency_administrators_may_reset(
    client: Client, persona: str, owner: User, teammate: User, outsider: User, agency_a: Agency
) -> None:
    other = {"teammate": teammate, "outsider": outsider}[persona]
    signed_in(client, other)
    url = reset_url(agency_a, owner)
    assert client.get(url).status_code == 404
    choices = {**SURE, "send_link": "on", "reset_authenticator": "on"}
    assert client.post(url, choices).status_code == 404
    assert TOTPDevice.objects.filter(user=owner).exists()
    assert not PasswordReset.objects.exists()
    assert len(mail.outbox) == 0
    assert AuditEvent.objects.filter(action="access.denied", outcome="denied").count() == 2


def test_an_administrator_of_b_cannot_reach_a_member_of_a_through_b(
    client: Client, teammate: User, outsider: User, agency_b: Agency
) -> None:
    signed_in(client, outsider)
    assert client.get(reset_url(agency_b, teammate)).status_code == 404


def test_administrators_use_their_own_account_page_for_themselves(
    client: Client, owner: User, agency_a: Agency
) -> None:
    signed_in(client, owner)
    response = client.post(reset_url(agency_a, owner), {**SURE, "reset_authenticator": "on"})
    assert response["Location"] == reverse("accounts:member", args=[agency_a.pk, owner.pk])
    assert TOTPDevice.objects.filter(user=owner).exists()


def test_a_system_administrator_is_not_reset_by_an_agency_administrator(
    client: Client, owner: User, agency_a: Agency, make_user: MakeUser
) -> None:
    root = make_user(
        "root@a.example", agency_a, (Role.INVESTIGATOR,), is_staff=True, is_superuser=True
    )
    signed_in(client, owner)
    assert client.get(reset_url(agency_a, root)).status_code == 404


def test_the_admin_must_confirm_identity_and_choose_something(
    client: Client, owner: User, teammate: User, agency_a: Agency
) -> None:
    signed_in(client, owner)
    page = client.get(reset_url(agency_a, teammate))
    assert page.status_code == 200
    assert b"confirmed this person&#x27;s identity" in page.content
    response = client.post(reset_url(agency_a, teammate), {"reset_authenticator": "on"})
    assert response.status_code == 200
    assert b"Confirm the person&#x27;s identity first." in response.content
    # The administrator's choice is kept on the page with the error.
    assert b'id="id_reset_authenticator" checked' in response.content
    response = client.post(reset_url(agency_a, teammate), SURE)
    assert b"Choose at least one thing to reset." in response.content
    assert TOTPDevice.objects.filter(user=teammate).exists()
    assert not PasswordReset.objects.exists()


# --- The reset link -------------------------------------------------------------------------


def test_reset_link_sets_a_new_password_and_still_needs_the_authenticator(
    client: Client, owner: User, teammate: User, agency_a: Agency, capture: Any
) -> None:
    mfa.new_recovery_codes(teammate)
    old_session = signed_in(Client(), teammate)
    signed_in(client, owner)
    response = start_reset(client, agency_a, teammate, capture, send_link="on")
    assert response["Location"] == reverse("accounts:member", args=[agency_a.pk, teammate.pk])
    assert (
        b"Password reset link sent to teammate@a.example"
        in client.get(response["Location"]).content
    )
    assert mail.outbox[-1].to == [teammate.email]
    reset = PasswordReset.objects.get()
    assert reset.token_hash not in mail.outbox[-1].body  # only the hash is kept
    assert reset.expires_at - timezone.now() <= timedelta(hours=24)
    issued = AuditEvent.objects.get(action="password_reset.issued")
    assert (issued.actor_id, issued.agency_id, issued.object_id) == (
        owner.pk,
        agency_a.pk,
        str(teammate.pk),
    )
    # Issuing alone changes nothing yet.
    assert old_session.get(reverse("accounts:account")).status_code == 200

    link = link_from_mail()
    person = Client()
    page = person.get(link)
    assert page.status_code == 200
    assert b'name="code"' in page.content
    response = person.post(link, {"password": NEW, "confirm": NEW, "code": "000000"})
    assert b"That code is not right" in response.content
    teammate.refresh_from_db()
    assert teammate.check_password(PASSWORD)
    assert AuditEvent.objects.filter(action="password_reset.failed").count() == 1
    TOTPDevice.objects.filter(user=teammate).update(throttling_failure_count=0)

    response = person.post(link, {"password": NEW, "confirm": NEW, "code": totp_code(teammate)})
    assert response["Location"] == reverse("accounts:signin")
    teammate.refresh_from_db()
    assert teammate.check_password(NEW)
    reset.refresh_from_db()
    assert reset.used_at is not None
    completed = AuditEvent.objects.get(action="password_reset.completed")
    assert completed.actor_id == teammate.pk
    assert old_session.get(reverse("accounts:account")).status_code == 302
    # Still two factors: the new password leads to the code step, not in.
    response = sign_in_password(Client(), teammate.email, NEW)
    assert response["Location"].startswith(reverse("accounts:verify"))
    # The link works once.
    again = person.get(link)
    assert again.status_code == 404
    assert b"does not work" in again.content
    assert AuditEvent.objects.filter(action="password_reset.refused").exists()


def test_a_recovery_code_also_completes_the_reset(
    client: Client, owner: User, teammate: User, agency_a: Agency, capture: Any
) -> None:
    codes = mfa.new_recovery_codes(teammate)
    signed_in(client, owner)
    start_reset(client, agency_a, teammate, capture, send_link="on")
    response = Client().post(link_from_mail(), {"password": NEW, "confirm": NEW, "code": codes[0]})
    assert response.status_code == 302
    assert mfa.unused_recovery_codes(teammate) == 9


def test_the_new_password_follows_the_rules_and_errors_are_clear(
    client: Client, owner: User, teammate: User, agency_a: Agency, capture: Any
) -> None:
    signed_in(client, owner)
    start_reset(client, agency_a, teammate, capture, send_link="on")
    link = link_from_mail()
    response = Client().post(
        link, {"password": "cpnav rules forever", "confirm": "cpnav rules forever", "code": "1"}
    )
    assert b"Please correct the following" in response.content
    assert b"cpnav" in response.content
    assert b"cpnav rules forever" not in response.content
    assert PasswordReset.objects.get().used_at is None


def test_an_expired_or_replaced_link_does_not_work(
    client: Client, owner: User, teammate: User, agency_a: Agency, capture: Any
) -> None:
    signed_in(client, owner)
    start_reset(client, agency_a, teammate, capture, send_link="on")
    first = link_from_mail()
    start_reset(client, agency_a, teammate, capture, send_link="on")
    second = link_from_mail()
    assert Client().get(first).status_code == 404
    issued = AuditEvent.objects.filter(action="password_reset.issued").order_by("seq")
    assert [event.details["replaced"] for event in issued] == [0, 1]
    assert Client().get(second).status_code == 200
    PasswordReset.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert Client().get(second).status_code == 404
    assert Client().get("/accounts/password-reset/not-a-token/").status_code == 404


def test_a_disabled_account_gets_no_link(
    client: Client, owner: User, teammate: User, agency_a: Agency, capture: Any
) -> None:
    User.objects.filter(pk=teammate.pk).update(is_active=False)
    signed_in(client, owner)
    response = start_reset(client, agency_a, teammate, capture, send_link="on")
    assert response.status_code == 200
    assert b"Enable the account before sending a reset link." in response.content
    assert not PasswordReset.objects.exists()
    assert len(mail.outbox) == 0


def test_a_completed_reset_lifts_a_lock_out(
    client: Client, owner: User, teammate: User, agency_a: Agency, capture: Any
) -> None:
    User.objects.filter(pk=teammate.pk).update(locked_at=timezone.now())
    signed_in(client, owner)
    start_reset(client, agency_a, teammate, capture, send_link="on")
    response = Client().post(
        link_from_mail(), {"password": NEW, "confirm": NEW, "code": totp_code(teammate)}
    )
    assert response.status_code == 302
    teammate.refresh_from_db()
    assert not teammate.is_locked
    assert AuditEvent.objects.get(action="password_reset.completed").details["unlocked"] is True


def test_five_wrong_codes_spend_the_link_and_lock_the_account(
    client: Client, owner: User, teammate: User, agency_a: Agency, capture: Any
) -> None:
    signed_in(client, owner)
    start_reset(client, agency_a, teammate, capture, send_link="on")
    link = link_from_mail()
    person = Client()
    for _ in range(5):
        response = person.post(link, {"password": NEW, "confirm": NEW, "code": "000000"})
        TOTPDevice.objects.filter(user=teammate).update(throttling_failure_count=0)
    assert response.status_code == 403
    teammate.refresh_from_db()
    assert teammate.is_locked
    assert teammate.check_password(PASSWORD)
    assert PasswordReset.objects.get().revoked_at is not None
    assert person.get(link).status_code == 404


# --- Resetting the authenticator ------------------------------------------------------------


def test_reset_authenticator_forces_enrolment_at_the_next_sign_in(
    client: Client, owner: User, teammate: User, agency_a: Agency, capture: Any
) -> None:
    mfa.new_recovery_codes(teammate)
    old_session = signed_in(Client(), teammate)
    signed_in(client, owner)
    response = start_reset(client, agency_a, teammate, capture, reset_authenticator="on")
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=teammate).exists()
    assert not RecoveryCode.objects.filter(user=teammate).exists()
    assert old_session.get(reverse("accounts:account")).status_code == 302
    event = AuditEvent.objects.get(action="mfa.reset")
    assert (event.actor_id, event.agency_id, event.object_id) == (
        owner.pk,
        agency_a.pk,
        str(teammate.pk),
    )
    assert event.details == {"identity_confirmed": True}
    response = sign_in_password(Client(), teammate.email, PASSWORD)
    assert response["Location"].startswith(reverse("accounts:mfa_setup"))


def test_reset_link_with_authenticator_reset_asks_for_no_code(
    client: Client, owner: User, teammate: User, agency_a: Agency, capture: Any
) -> None:
    signed_in(client, owner)
    start_reset(client, agency_a, teammate, capture, send_link="on", reset_authenticator="on")
    assert "set up a new one" in mail.outbox[-1].body
    link = link_from_mail()
    person = Client()
    page = person.get(link)
    assert b'name="code"' not in page.content
    assert person.post(link, {"password": NEW, "confirm": NEW})["Location"] == reverse(
        "accounts:signin"
    )
    response = sign_in_password(person, teammate.email, NEW)
    assert response["Location"].startswith(reverse("accounts:mfa_setup"))


def test_the_member_page_offers_the_reset_and_shows_an_open_link(
    client: Client, owner: User, teammate: User, agency_a: Agency, capture: Any
) -> None:
    signed_in(client, owner)
    member = reverse("accounts:member", args=[agency_a.pk, teammate.pk])
    assert reset_url(agency_a, teammate).encode() in client.get(member).content
    start_reset(client, agency_a, teammate, capture, send_link="on")
    assert b"A password reset link is open until" in client.get(member).content
    # Not for oneself.
    own = reverse("accounts:member", args=[agency_a.pk, owner.pk])
    assert reset_url(agency_a, owner).encode() not in client.get(own).content


def test_the_sign_in_page_says_what_the_administrator_can_do(client: Client) -> None:
    client.post(reverse("accounts:notice"))
    page = client.get(reverse("accounts:signin"))
    assert b"email you a link to set a new password" in page.content
    assert b"reset your authenticator" in page.content
    client.post(reverse("set_language"), {"language": "es", "next": "/"})
    page = client.get(reverse("accounts:signin"))
    assert "restablecer su aplicación de autenticación".encode() in page.content


def test_a_link_used_twice_at_once_sets_the_password_once(
    client: Client, owner: User, teammate: User, agency_a: Agency, capture: Any, rf: Any
) -> None:
    from django.core.exceptions import ValidationError

    from cpnav.accounts import services

    signed_in(client, owner)
    start_reset(client, agency_a, teammate, capture, send_link="on")
    reset = PasswordReset.objects.get()  # both tabs loaded the link while it was open
    request = rf.post("/")
    request.user = teammate
    services.complete_password_reset(request, reset, NEW)
    with pytest.raises(ValidationError, match="already been used"):
        services.complete_password_reset(request, reset, "yet another synthetic passphrase")
    teammate.refresh_from_db()
    assert teammate.check_password(NEW)
