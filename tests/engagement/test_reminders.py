"""Session reminders a day and an hour before: each sent once, none for the wrong people,
nothing recorded when the mail server is down; over a real SMTP server on loopback."""

from __future__ import annotations

import socket
import threading
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.core import mail
from django.db import connection, connections

from cpnav.accounts.models import User
from cpnav.engagement import reminders, services
from cpnav.engagement.models import Registration, RegistrationStatus, Session, SessionReminder
from cpnav.grants.reminders import RunReport
from tests.engagement.helpers import make_session, person
from tests.mailserver import Inbox

pytestmark = pytest.mark.django_db

ANA, BEN, CY, DAN, EVE = (f"{n}@agency.example" for n in ("ana", "ben", "cy", "dan", "eve"))


def build(coordinator: User) -> Session:
    """Two places: ana and ben hold them, dan cancelled his, cy waits in line."""
    session = make_session(coordinator, capacity=2, title="CP basics for patrol")
    services.register(None, session, person("ana"))
    dan, _ = services.register(None, session, person("dan"))
    services.cancel_registration(None, dan)
    services.register(None, session, person("ben"))
    services.register(None, session, person("cy"))
    statuses = dict(session.registrations.values_list("email", "status"))
    assert statuses == {
        ANA: RegistrationStatus.REGISTERED,
        BEN: RegistrationStatus.REGISTERED,
        CY: RegistrationStatus.WAITLISTED,
        DAN: RegistrationStatus.CANCELLED,
    }
    mail.outbox.clear()
    return session


@pytest.fixture
def session(coordinator: User) -> Session:
    return build(coordinator)


def keys(email: str) -> set[str]:
    """The reminders sent, without the start time each key also holds."""
    return {
        key.split("|")[0]
        for key in SessionReminder.objects.filter(registration__email=email).values_list(
            "key", flat=True
        )
    }


def sent_to() -> list[str]:
    return sorted(m.to[0] for m in mail.outbox)


def is_hour(subject: object) -> bool:
    return "hour" in str(subject)


def test_a_day_before(session: Session) -> None:
    report = reminders.send_due(now=session.starts_at - timedelta(days=1))
    assert report == RunReport(sent=2, skipped=0, failed=0)
    assert sent_to() == [ANA, BEN]
    for message in mail.outbox:
        assert "CP basics for patrol" in message.subject
        assert not is_hour(message.subject)
        assert session.meeting_link in message.body
        assert "(America/New_York)" in message.body
        assert "14:00" in message.body
    assert keys(ANA) == keys(BEN) == {"1d"}
    # Nothing for the waiting list or the cancelled place.
    assert keys(CY) == keys(DAN) == set()
    # A rerun sends nothing again.
    again = reminders.send_due(now=session.starts_at - timedelta(days=1))
    assert again == RunReport(sent=0, skipped=2, failed=0)
    assert len(mail.outbox) == 2


def test_an_hour_before_after_the_day_reminder(session: Session) -> None:
    reminders.send_due(now=session.starts_at - timedelta(days=1))
    # Between the two, nothing new is due.
    assert reminders.send_due(now=session.starts_at - timedelta(hours=5)).sent == 0
    mail.outbox.clear()
    report = reminders.send_due(now=session.starts_at - timedelta(hours=1))
    assert report.sent == 2
    assert sent_to() == [ANA, BEN]
    assert all(is_hour(m.subject) for m in mail.outbox)
    assert all(session.meeting_link in m.body for m in mail.outbox)
    assert keys(ANA) == keys(BEN) == {"1d", "1h"}
    for later in (timedelta(hours=1), timedelta(minutes=30), timedelta(minutes=1)):
        assert reminders.send_due(now=session.starts_at - later).sent == 0
    assert len(mail.outbox) == 2


def test_a_late_registration_gets_only_the_hour_reminder(
    session: Session, coordinator: User
) -> None:
    reminders.send_due(now=session.starts_at - timedelta(days=1))
    # After the day reminder: two more places (cy moves up from the line) and eve registers.
    more = replace(services.session_input(session), capacity=4)
    services.update_session(None, coordinator, session, more, version=session.version)
    services.register(None, session, person("eve"))
    mail.outbox.clear()
    # Thirty minutes before the start.
    report = reminders.send_due(now=session.starts_at - timedelta(minutes=30))
    assert report.sent == 4
    assert sent_to() == [ANA, BEN, CY, EVE]
    assert all(is_hour(m.subject) for m in mail.outbox)  # one email each: the hour one
    assert keys(EVE) == keys(CY) == {"1h", "1d"}  # the day reminder is over; never sent late
    assert reminders.send_due(now=session.starts_at - timedelta(minutes=10)).sent == 0
    assert len(mail.outbox) == 4


@pytest.mark.parametrize(
    "before",
    [
        pytest.param(timedelta(days=1, minutes=1), id="not-yet"),
        pytest.param(timedelta(0), id="at-the-start"),
        pytest.param(-timedelta(minutes=5), id="started"),
    ],
)
def test_nothing_outside_the_window(session: Session, before: timedelta) -> None:
    assert reminders.send_due(now=session.starts_at - before) == RunReport()
    assert mail.outbox == []
    assert not SessionReminder.objects.exists()


def test_a_cancelled_session_gets_no_reminders(session: Session, coordinator: User) -> None:
    services.cancel_session(None, coordinator, session, version=1, reason="Presenter ill.")
    mail.outbox.clear()
    for before in (timedelta(days=1), timedelta(hours=1)):
        assert reminders.send_due(now=session.starts_at - before) == RunReport()
    assert mail.outbox == []
    assert not SessionReminder.objects.exists()


def test_a_place_given_up_after_the_day_reminder_gets_no_hour_reminder(session: Session) -> None:
    reminders.send_due(now=session.starts_at - timedelta(days=1))
    services.cancel_registration(None, Registration.objects.get(email=ANA))  # cy moves up
    mail.outbox.clear()
    reminders.send_due(now=session.starts_at - timedelta(hours=1))
    assert sent_to() == [BEN, CY]
    assert keys(ANA) == {"1d"}


def test_a_session_moved_after_its_day_reminder_gets_one_for_the_new_date(
    session: Session, coordinator: User
) -> None:
    reminders.send_due(now=session.starts_at - timedelta(days=1))
    later = services.session_input(session)
    later = replace(later, day=later.day + timedelta(days=7))
    moved = services.update_session(None, coordinator, session, later, version=session.version)
    mail.outbox.clear()
    report = reminders.send_due(now=moved.starts_at - timedelta(days=1))
    assert report.sent == 2
    assert sent_to() == [ANA, BEN]


def closed_port() -> int:
    """A loopback port nothing listens on: connecting is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_over_smtp(session: Session, smtp: Inbox) -> None:
    report = reminders.send_due(now=session.starts_at - timedelta(hours=1))
    assert report.sent == 2
    received = sorted((m["To"], m["Subject"]) for m in smtp.messages)
    assert [to for to, _ in received] == [ANA, BEN]
    assert all("CP Navigator:" in subject and "hour" in subject for _, subject in received)
    assert all(session.meeting_link in m.get_payload() for m in smtp.messages)
    assert reminders.send_due(now=session.starts_at - timedelta(hours=1)).sent == 0
    assert len(smtp.messages) == 2


def test_smtp_down_records_nothing_and_the_next_run_sends(
    session: Session, smtp: Inbox, settings: Any
) -> None:
    working_port = settings.EMAIL_PORT
    settings.EMAIL_PORT = closed_port()
    settings.EMAIL_TIMEOUT = 2
    now = session.starts_at - timedelta(days=1)
    report = reminders.send_due(now=now)
    assert report == RunReport(sent=0, skipped=0, failed=2)
    assert not SessionReminder.objects.exists()
    assert smtp.messages == []
    # The server is back: the next run sends what was missed, once.
    settings.EMAIL_PORT = working_port
    report = reminders.send_due(now=now + timedelta(minutes=10))
    assert report == RunReport(sent=2, skipped=0, failed=0)
    assert sorted(m["To"] for m in smtp.messages) == [ANA, BEN]
    assert keys(ANA) == keys(BEN) == {"1d"}
    assert reminders.send_due(now=now + timedelta(minutes=20)).sent == 0
    assert len(smtp.messages) == 2


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_send_each_reminder_once(coordinator: User, smtp: Inbox) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("an in-memory SQLite test database is not shared between threads")
    session = build(coordinator)
    smtp.messages.clear()  # the confirmations, sent at each commit
    now = session.starts_at - timedelta(minutes=45)
    reports: list[RunReport] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def run() -> None:
        try:
            barrier.wait()
            reports.append(reminders.send_due(now=now))
        except BaseException as error:  # reported below, not lost in the thread
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    pairs = sorted((m["To"], m["Subject"]) for m in smtp.messages)
    assert [to for to, _ in pairs] == [ANA, BEN]  # each once, between the two runs
    assert sum(r.sent for r in reports) == 2
    assert sum(r.failed for r in reports) == 0
    assert keys(ANA) == keys(BEN) == {"1h", "1d"}
    assert SessionReminder.objects.count() == 4
    when: datetime = now + timedelta(minutes=5)
    assert reminders.send_due(now=when).sent == 0
    assert len(smtp.messages) == 2
