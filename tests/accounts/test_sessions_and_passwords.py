from __future__ import annotations

import time
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cpnav.accounts.middleware import LAST_SEEN, SIGNED_IN_AT
from cpnav.accounts.models import User
from cpnav.audit.models import AuditEvent
from tests.conftest import MakeUser, signed_in

pytestmark = pytest.mark.django_db


def age_session(client: Client, **seconds: float) -> None:
    session = client.session
    for key, ago in seconds.items():
        session[{"idle": LAST_SEEN, "signed_in": SIGNED_IN_AT}[key]] = time.time() - ago
    session.save()


def test_idle_session_ends_after_thirty_minutes(client: Client, teammate: User) -> None:
    signed_in(client, teammate)
    age_session(client, idle=29 * 60)
    assert client.get(reverse("accounts:account")).status_code == 200
    age_session(client, idle=30 * 60 + 1)
    response = client.get(reverse("accounts:account"))
    assert response.status_code == 302
    assert "next=%2Faccounts%2Fme%2F" in response["Location"]
    assert AuditEvent.objects.filter(action="signout.timeout", details__reason="idle").exists()
    follow = client.get(response["Location"], follow=True)
    assert b"without activity" in follow.content


def test_session_ends_after_twelve_hours_even_when_active(client: Client, teammate: User) -> None:
    signed_in(client, teammate)
    age_session(client, idle=10, signed_in=12 * 3600 + 1)
    assert client.get(reverse("accounts:account")).status_code == 302


def test_keepalive_refreshes_the_idle_clock(client: Client, teammate: User) -> None:
    signed_in(client, teammate)
    age_session(client, idle=29 * 60)
    assert client.post(reverse("accounts:keepalive")).status_code == 200
    assert time.time() - client.session[LAST_SEEN] < 5
    assert Client().post(reverse("accounts:keepalive")).status_code == 401


def test_json_requests_get_json_when_the_session_times_out(client: Client, teammate: User) -> None:
    signed_in(client, teammate)
    age_session(client, idle=31 * 60)
    response = client.get(reverse("cases:cases"), HTTP_ACCEPT="application/json")
    assert response.status_code == 401
    assert response.json()["detail"]


def test_the_api_never_reads_the_session(client: Client, teammate: User) -> None:
    # The API takes tokens only (ADR 17): a session cookie is neither used nor timed.
    signed_in(client, teammate)
    assert client.get("/api/v1/cases").status_code == 401
    assert client.get("/api/anything").status_code == 404


def test_sign_out_everywhere_ends_other_sessions(teammate: User) -> None:
    laptop, phone = signed_in(Client(), teammate), signed_in(Client(), teammate)
    laptop.post(reverse("accounts:signout_everywhere"))
    assert phone.get(reverse("accounts:account")).status_code == 302
    assert laptop.get(reverse("accounts:account")).status_code == 302


def test_signed_in_pages_are_never_cached(client: Client, teammate: User) -> None:
    signed_in(client, teammate)
    response = client.get(reverse("accounts:account"))
    assert "no-store" in response["Cache-Control"]


@pytest.mark.parametrize(
    ("password", "ok"),
    [
        ("fourteen chars", False),
        ("fifteen chars!!", True),
        ("all lowercase words are fine here", True),
        ("x" * 64 + "yz", True),
        ("q" * 257, False),
        ("1q2w3e4r5t6y7u8i", False),
    ],
)
def test_password_rules_follow_nist(password: str, ok: bool) -> None:
    user = User(email="someone@a.example", full_name="Some One")
    if ok:
        validate_password(password, user)
    else:
        with pytest.raises(ValidationError):
            validate_password(password, user)


def test_password_on_the_breached_list_is_refused(tmp_path: Path, settings: object) -> None:
    listing = tmp_path / "breached.txt"
    listing.write_text("correct horse battery staple\n")
    settings.BREACHED_PASSWORDS_FILE = str(listing)  # type: ignore[attr-defined]
    with pytest.raises(ValidationError, match="breached"):
        validate_password("Correct Horse Battery Staple", User(email="a@b.example"))


def test_accounts_unused_for_ninety_days_are_disabled(make_user: MakeUser) -> None:
    stale = make_user("stale@a.example")
    fresh = make_user("fresh@a.example")
    never = make_user("never@a.example")
    User.objects.filter(pk=stale.pk).update(last_login=timezone.now() - timedelta(days=91))
    User.objects.filter(pk=fresh.pk).update(last_login=timezone.now() - timedelta(days=89))
    User.objects.filter(pk=never.pk).update(date_joined=timezone.now() - timedelta(days=95))
    out = StringIO()
    call_command("disable_inactive", stdout=out)
    assert "disabled 2 account(s)" in out.getvalue()
    assert {u.email for u in User.objects.filter(is_active=False)} == {stale.email, never.email}
    assert AuditEvent.objects.filter(action="account.disabled").count() == 2


def test_sign_out_asks_the_browser_to_clear_site_data(teammate: User) -> None:
    """ASVS V14.3.1: cache and storage go when the session ends; cookies carry the message."""
    client = signed_in(Client(), teammate)
    response = client.post(reverse("accounts:signout"))
    assert response["Clear-Site-Data"] == '"cache", "storage"'
    client = signed_in(Client(), teammate)
    response = client.post(reverse("accounts:signout_everywhere"))
    assert response["Clear-Site-Data"] == '"cache", "storage"'
    assert b"You are signed out" in client.get(response["Location"]).content


@pytest.mark.parametrize("accept", ["text/html", "application/json"])
def test_session_time_out_asks_the_browser_to_clear_site_data(
    client: Client, teammate: User, accept: str
) -> None:
    signed_in(client, teammate)
    assert "Clear-Site-Data" not in client.get(reverse("accounts:account"))
    age_session(client, idle=31 * 60)
    response = client.get(reverse("accounts:account"), HTTP_ACCEPT=accept)
    assert response.status_code in {302, 401}
    assert response["Clear-Site-Data"] == '"cache", "storage"'
