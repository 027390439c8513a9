from __future__ import annotations

import io
import json
import logging
import sys
from io import StringIO

import pytest
from django.core.management import call_command

from cpnav.accounts.models import Agency, Level, Membership, Role, User
from cpnav.audit.services import verify_chain
from cpnav.core.logging import JsonFormatter, TextFormatter
from cpnav.core.management.commands.demo import DEMO_PASSWORD
from cpnav.engagement.models import MeetingRequest, Registration, Session

pytestmark = pytest.mark.django_db


def test_demo_creates_every_level_and_role_once() -> None:
    out = StringIO()
    call_command("demo", stdout=out)
    assert DEMO_PASSWORD in out.getvalue()
    levels = set(Agency.objects.values_list("level", flat=True))
    assert levels == {Level.FEDERAL, Level.STATE, Level.LOCAL, Level.TRIBAL, Level.TERRITORIAL}
    assert Agency.objects.filter(is_ccht=True).count() == 1
    roles = set(Membership.objects.values_list("role", flat=True))
    assert roles == set(Role.values)
    assert User.objects.filter(is_staff=True, is_superuser=True).count() == 1
    assert all(user.is_demo for user in User.objects.all())
    counts = (Agency.objects.count(), User.objects.count(), Membership.objects.count(),
              Session.objects.count(), Registration.objects.count(),
              MeetingRequest.objects.count())  # fmt: skip
    assert counts[3:] == (2, 2, 1)  # engagement: sessions, registrations, a meeting request
    call_command("demo", stdout=StringIO())
    assert (Agency.objects.count(), User.objects.count(), Membership.objects.count(),
            Session.objects.count(), Registration.objects.count(),
            MeetingRequest.objects.count()) == counts  # fmt: skip
    assert verify_chain().ok


def test_demo_is_refused_in_production(settings: object) -> None:
    settings.PRODUCTION = True  # type: ignore[attr-defined]
    with pytest.raises(SystemExit):
        call_command("demo", stdout=StringIO(), stderr=StringIO())
    assert not Agency.objects.exists()


def test_createadmin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("a fine long admin passphrase\n"))
    call_command(
        "createadmin", "--email", "Root@Example.gov", "--name", "Root", "--password-stdin",
        stdout=StringIO(),
    )  # fmt: skip
    admin = User.objects.get(email="root@example.gov")
    assert admin.is_system_admin
    assert admin.check_password("a fine long admin passphrase")


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (
            ["--email", "not-an-email", "--name", "X"],
            "a fine long admin passphrase\n",
            "valid email",
        ),
        (["--email", "x@example.gov", "--name", "X"], "short\n", "password"),
    ],
)
def test_createadmin_refuses_bad_input(
    monkeypatch: pytest.MonkeyPatch, args: list[str], stdin: str, message: str
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    err = StringIO()
    with pytest.raises(SystemExit) as exit_info:
        call_command("createadmin", *args, "--password-stdin", stdout=StringIO(), stderr=err)
    assert exit_info.value.code == 2
    assert message in err.getvalue()
    assert not User.objects.exists()


def test_json_log_lines() -> None:
    record = logging.LogRecord(
        "cpnav.test", logging.WARNING, __file__, 1, "hello %s", ("there",), None
    )
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "hello there"
    assert line["level"] == "WARNING"
    assert line["logger"] == "cpnav.test"
    assert line["time"].endswith("+00:00")


def test_text_log_lines_cannot_be_forged_by_what_a_message_carries() -> None:
    forged = "x@example.org\n2026-11-30 12:00:00,000 INFO cpnav.audit signin ok\r\x1b[2J\u2028"
    record = logging.LogRecord(
        "cpnav.test", logging.WARNING, __file__, 1, "refused %s", (forged,), None
    )
    line = TextFormatter().format(record)
    assert "\n" not in line
    assert "\r" not in line
    assert "\x1b" not in line
    assert "\u2028" not in line
    assert line.endswith(
        "WARNING cpnav.test refused x@example.org\\n2026-11-30 12:00:00,000 INFO cpnav.audit "
        "signin ok\\r\\x1b[2J\\u2028"
    )
    try:
        raise ValueError("boom")
    except ValueError:
        failed = logging.LogRecord(
            "cpnav.test", logging.ERROR, __file__, 1, "failed", (), sys.exc_info()
        )
    assert "Traceback (most recent call last):\n" in TextFormatter().format(failed)


def test_serve_refuses_zero_workers() -> None:
    with pytest.raises(SystemExit):
        call_command("serve", "--workers", "0", stdout=StringIO(), stderr=StringIO())
