"""Changing one's own password (ASVS V6.2.2, V6.2.3) and the context word list (V6.1.2)."""

from __future__ import annotations

from typing import Any

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from cpnav.accounts.forms import SetPasswordForm
from cpnav.accounts.models import Agency, User
from cpnav.accounts.passwords import PRODUCT_WORDS, context_words
from cpnav.audit.models import AuditEvent
from tests.conftest import PASSWORD, signed_in

pytestmark = pytest.mark.django_db

NEW = "another long synthetic passphrase"
URL = "/accounts/me/password/"


def change(client: Client, current: str = PASSWORD, new: str = NEW, confirm: str = "") -> Any:
    return client.post(
        URL, {"current_password": current, "new_password": new, "confirm": confirm or new}
    )


def test_the_account_page_links_to_the_change(client: Client, teammate: User) -> None:
    signed_in(client, teammate)
    assert reverse("accounts:password_change") == URL
    assert URL.encode() in client.get(reverse("accounts:account")).content
    assert client.get(URL).status_code == 200


def test_signed_out_visitors_are_sent_to_sign_in(client: Client) -> None:
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:signin"))


def test_change_keeps_this_session_and_ends_the_others(teammate: User) -> None:
    laptop, phone = signed_in(Client(), teammate), signed_in(Client(), teammate)
    response = change(laptop)
    assert response["Location"] == reverse("accounts:account")
    page = laptop.get(reverse("accounts:account"))
    assert page.status_code == 200
    assert b"other sessions have ended" in page.content
    assert phone.get(reverse("accounts:account")).status_code == 302
    teammate.refresh_from_db()
    assert teammate.check_password(NEW)
    assert teammate.session_epoch == 1
    changed = AuditEvent.objects.get(action="account.password_changed")
    assert changed.actor_id == teammate.pk
    assert changed.object_id == str(teammate.pk)
    ended = AuditEvent.objects.get(action="account.sessions_ended")
    assert ended.details == {"reason": "password changed"}


def test_wrong_current_password_is_refused_audited_and_counted(
    client: Client, teammate: User
) -> None:
    signed_in(client, teammate)
    response = change(client, current="not my password at all, sorry")
    assert response.status_code == 200
    assert b"That is not your current password." in response.content
    teammate.refresh_from_db()
    assert teammate.check_password(PASSWORD)
    failure = AuditEvent.objects.get(action="account.password_change_failed")
    assert failure.outcome == "failure"
    assert failure.details == {"reason": "current password"}
    assert AccessAttempt.objects.get(username=teammate.email).failures_since_start == 1


def test_five_wrong_current_passwords_lock_the_account_and_end_the_session(
    client: Client, teammate: User
) -> None:
    signed_in(client, teammate)
    for _ in range(4):
        assert change(client, current="guessing the password again").status_code == 200
    response = change(client, current="guessing the password again")
    assert response.status_code == 403
    assert b"This account is locked" in response.content
    teammate.refresh_from_db()
    assert teammate.is_locked
    assert client.get(reverse("accounts:account")).status_code == 302


@pytest.mark.parametrize(
    ("new", "confirm", "message"),
    [
        (NEW, "a different long passphrase", b"The two passwords do not match."),
        ("too short", "too short", b"too short"),
        (PASSWORD, PASSWORD, b"different from the current one"),
        ("my cp navigator passphrase", "my cp navigator passphrase", b"cp navigator"),
    ],
)
def test_bad_new_passwords_get_clear_errors_and_are_not_echoed(
    client: Client, teammate: User, new: str, confirm: str, message: bytes
) -> None:
    signed_in(client, teammate)
    response = change(client, new=new, confirm=confirm)
    assert response.status_code == 200
    assert b"Please correct the following" in response.content
    assert message in response.content
    # Password fields are never sent back to the browser.
    assert PASSWORD.encode() not in response.content
    assert b'value="' + new.encode() not in response.content
    teammate.refresh_from_db()
    assert teammate.check_password(PASSWORD)
    assert not AuditEvent.objects.filter(action="account.password_changed").exists()


def test_the_change_page_exists_in_spanish(client: Client, teammate: User) -> None:
    signed_in(client, teammate)
    client.post(reverse("set_language"), {"language": "es", "next": "/"})
    page = client.get(URL)
    assert "Cambie su contraseña".encode() in page.content
    response = change(client, current="not my password at all, sorry")
    assert "no es su contraseña actual".encode() in response.content


# --- Context words (ASVS V6.1.2, V6.2.11) ------------------------------------------------


@pytest.mark.parametrize(
    "password",
    [
        "my CP Navigator passphrase 2026",
        "cp-nav is where i work daily",
        "Continued-Presence forever and ever",
        "the ccht approves everything",
        "a good Investigator never sleeps",
        "the agency administrator said so",
        "el investigador nunca duerme jamas",
        "especialista en victimas de noche",
    ],
)
def test_context_words_are_refused_in_any_case_or_spacing(password: str) -> None:
    with pytest.raises(ValidationError) as refused:
        validate_password(password, User(email="someone@a.example", full_name="Some One"))
    assert "password_context_word" in [e.code for e in refused.value.error_list]


def test_the_agency_name_and_ori_are_refused_for_its_members_only(
    teammate: User, outsider: User, agency_a: Agency
) -> None:
    agency_a.ori = "OH1234567"
    agency_a.save()
    for password in ["agency a county sheriff rocks", "my ori is oh-123-4567 ok then"]:
        with pytest.raises(ValidationError, match="agency"):
            validate_password(password, teammate)
        validate_password(password, outsider)  # agency B's member: not their context


def test_someone_accepting_an_invitation_cannot_use_the_agency_name(agency_a: Agency) -> None:
    data = {"full_name": "Pat Newman", "password": "AgencyACountySheriff 4ever"}
    data["confirm"] = data["password"]
    form = SetPasswordForm(data, email="pat@a.example", agency=agency_a)
    assert not form.is_valid()
    assert "Agency A County Sheriff" in str(form.errors["password"])


def test_the_word_list_is_the_documented_one() -> None:
    words = [w.lower() for w in context_words()]
    assert set(PRODUCT_WORDS) <= set(words)
    for role in ["investigator", "supervisor", "federal sponsor", "auditor", "investigador"]:
        assert role in words
    # An ordinary passphrase passes every validator.
    validate_password(PASSWORD, User(email="someone@a.example"))
