"""ASVS rows that were met by configuration or structure, now each with a test
(docs/security.md section 4)."""

from __future__ import annotations

import logging
import re
import string
from pathlib import Path

import pytest
from django.core import mail
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from cpnav.accounts.models import User
from cpnav.audit.models import AuditEvent
from tests.conftest import PASSWORD, MakeUser, signed_in, totp_code
from tests.route import Route

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db


def test_referrer_policy_is_sent(client: Client) -> None:  # V3.4.5
    assert client.get("/")["Referrer-Policy"] == "same-origin"


def test_no_cross_origin_reads_are_allowed(client: Client) -> None:  # V3.4.2
    evil = "https://evil.example"
    for answer in [
        client.get("/", HTTP_ORIGIN=evil),
        client.get("/api/v1/openapi.json", HTTP_ORIGIN=evil),
        client.options(
            "/api/v1/cases/", HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET", HTTP_ORIGIN=evil
        ),
    ]:
        assert not [h for h in answer.headers if h.lower().startswith("access-control-")]


def test_our_scripts_write_text_never_markup() -> None:  # V3.2.2
    sinks = re.compile(r"\.(innerHTML|outerHTML|insertAdjacentHTML)\b|document\.write|\beval\(")
    scripts = sorted((ROOT / "cpnav").rglob("static/cpnav/*.js"))
    assert scripts
    for script in scripts:
        assert not sinks.search(script.read_text()), script.name


def test_password_fields_are_masked_and_may_be_pasted_or_filled(client: Client) -> None:
    # V6.2.6, V6.2.7: type=password, password managers told what the field is, no paste block
    client.post(reverse("accounts:notice"))
    page = client.get(reverse("accounts:signin")).content.decode()
    assert re.search(
        r'<input type="password" name="password" autocomplete="current-password"', page
    )
    assert 'autocomplete="username"' in page
    assert "onpaste" not in page.lower()
    assert "paste" not in (ROOT / "cpnav/core/static/cpnav/session.js").read_text()


def test_a_password_is_checked_exactly_as_typed(client: Client, make_user: MakeUser) -> None:
    # V6.2.8: no trimming, no case folding, no truncation.
    spaced = f"  {PASSWORD} "
    user = make_user("spaced@a.example")
    user.set_password(spaced)
    user.save()
    client.post(reverse("accounts:notice"))
    for wrong in [PASSWORD, spaced.strip(), spaced.upper(), spaced[:-1]]:
        answer = client.post(reverse("accounts:signin"), {"email": user.email, "password": wrong})
        assert answer.status_code == 200, wrong
    answer = client.post(reverse("accounts:signin"), {"email": user.email, "password": spaced})
    assert answer.status_code == 302


def test_sign_in_starts_a_new_session_key(client: Client, teammate: User) -> None:
    # V7.2.4 (a key fixed before sign-in is worthless after it) and V7.2.3 (its form).
    client.post(reverse("accounts:notice"))
    before = client.cookies["cpnav_session"].value
    client.post(reverse("accounts:signin"), {"email": teammate.email, "password": PASSWORD})
    client.post(reverse("accounts:verify"), {"code": totp_code(teammate)})
    after = client.cookies["cpnav_session"].value
    assert after != before
    assert len(after) == 32
    assert set(after) <= set(string.ascii_lowercase + string.digits)
    assert client.get(reverse("accounts:account")).status_code == 200
    stale = Client()
    stale.cookies["cpnav_session"] = before
    assert stale.get(reverse("accounts:account")).status_code == 302


def test_no_directory_is_listed(client: Client) -> None:  # V13.4.3
    for folder in ["/static/", "/static/cpnav/", "/static/vendor/", "/media/", "/attachments/"]:
        assert client.get(folder).status_code == 404, folder


def test_repeated_parameters_do_not_merge(route: Route) -> None:  # V15.3.7
    client = signed_in(Client(), route.investigator)
    number = route.case.case_number
    last_real = client.get(reverse("cases:cases"), {"q": ["nothing-matches", number]})
    last_absent = client.get(reverse("cases:cases"), {"q": [number, "nothing-matches"]})
    # One value is used - the last - never a list, a merge or an error.
    row = reverse("cases:case", args=[route.case.pk])
    assert row in last_real.content.decode()
    assert row not in last_absent.content.decode()


def test_identifying_values_stay_out_of_audit_details_and_logs(
    route: Route, caplog: pytest.LogCaptureFixture
) -> None:
    # V16.2.5: reading and exporting a person writes who/what/when, never the values.
    caplog.set_level(logging.DEBUG)
    client = signed_in(Client(), route.investigator)
    person = route.person
    for url in [
        reverse("cases:person", args=[person.pk]),
        reverse("cases:case", args=[route.case.pk]),
        reverse("cases:request", args=[route.cp.pk]),
        reverse("cases:person_edit", args=[person.pk]),
    ]:
        assert client.get(url).status_code == 200, url
    call_command("send_reminders", verbosity=0)
    secrets = [person.full_name, person.a_number, str(person.date_of_birth), person.contact]
    written = [
        f"{e.action} {e.actor_label} {e.object_type} {e.object_id} {e.details}"
        for e in AuditEvent.objects.all()
    ]
    written += [r.getMessage() for r in caplog.records]
    written += [f"{m.subject} {m.body}" for m in mail.outbox]
    assert written
    for value in secrets:
        assert value
        assert not [line for line in written if value in line], value
