"""Reminders over a real SMTP server on loopback, sent once; calendars parsed back."""

from __future__ import annotations

import re
import threading
from datetime import date, timedelta
from typing import Any

import pytest
from django.core.mail import EmailMultiAlternatives
from django.test import Client, RequestFactory
from django.urls import reverse
from icalendar import Calendar

from cpnav.cases.models import Notification
from cpnav.grants import reminders
from cpnav.grants.models import Grant, ReminderSent
from tests.conftest import signed_in
from tests.grants.test_grant_pages import grant_route
from tests.mailserver import Inbox
from tests.route import Route

pytestmark = pytest.mark.django_db(transaction=True)


def ending_in(rf: RequestFactory, route: Route, days: int) -> Grant:
    """A grant whose term ends in `days` days (a two-year term)."""
    end = date.today() + timedelta(days=days)
    start = end - timedelta(days=729)
    grant = grant_route(rf, route, start)
    term = grant.terms.get()
    term.end = end
    term.save()
    return grant


def test_reminders_go_out_once_over_smtp(rf: RequestFactory, route: Route, smtp: Inbox) -> None:
    grant = ending_in(rf, route, 80)  # the 90-day extension window opened ten days ago
    smtp.messages.clear()  # the route's own notices
    first = reminders.send_due()
    assert first.sent >= 1
    assert smtp.messages
    subjects = [m["Subject"] for m in smtp.messages]
    assert any("CP-" in s for s in subjects)
    for message in smtp.messages:
        assert "Ana" not in message.as_string()
        assert message.is_multipart()  # plain text and HTML
    assert Notification.objects.filter(
        user=route.investigator, link__contains=str(grant.pk)
    ).exists()
    count = len(smtp.messages)
    second = reminders.send_due()
    assert second.sent == 0
    assert len(smtp.messages) == count
    keys = list(ReminderSent.objects.values_list("key", "user"))
    assert len(keys) == len(set(keys))


def test_a_run_killed_half_way_resumes_without_duplicates(
    rf: RequestFactory, route: Route, smtp: Inbox, monkeypatch: pytest.MonkeyPatch, make_user: Any
) -> None:
    from cpnav.cases.models import CaseMember

    ending_in(rf, route, 80)
    second = make_user("second@a.example")
    CaseMember.objects.create(case=route.case, user=second)
    smtp.messages.clear()  # the route's own notices
    real_send = EmailMultiAlternatives.send
    calls = {"n": 0}

    def dying_send(self: Any, *args: Any, **kwargs: Any) -> int:
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt("killed")  # the process dies mid-run
        return real_send(self, *args, **kwargs)

    monkeypatch.setattr(EmailMultiAlternatives, "send", dying_send)
    with pytest.raises(KeyboardInterrupt):
        reminders.send_due()
    assert len(smtp.messages) == 1
    monkeypatch.setattr(EmailMultiAlternatives, "send", real_send)
    reminders.send_due()
    pairs = [(m["To"], m["Subject"]) for m in smtp.messages]
    assert len(pairs) == len(set(pairs))  # nothing sent twice
    assert {to for to, _ in pairs} == {route.investigator.email, second.email}
    deadlines_per_user = {
        (email, key.rsplit("|", 1)[0])
        for email, key in ReminderSent.objects.values_list("user__email", "key")
    }
    assert len(pairs) == len(deadlines_per_user)  # one message per person and deadline
    assert reminders.send_due().sent == 0


def test_smtp_down_records_nothing_and_retries(
    rf: RequestFactory, route: Route, settings: Any
) -> None:
    ending_in(rf, route, 80)
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = 9  # nothing listens on the discard port here
    settings.EMAIL_TIMEOUT = 2
    report = reminders.send_due()
    assert report.failed >= 1
    assert not ReminderSent.objects.exists()


def test_two_runs_at_once_send_each_reminder_once(
    rf: RequestFactory, route: Route, smtp: Inbox
) -> None:
    from django.db import connection, connections

    if connection.vendor != "postgresql":
        pytest.skip("an in-memory SQLite test database is not shared between threads")
    ending_in(rf, route, 80)
    smtp.messages.clear()

    def run() -> None:
        try:
            reminders.send_due()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    pairs = [(m["To"], m["Subject"]) for m in smtp.messages]
    assert len(pairs) == len(set(pairs))
    expected = {
        (e, k.rsplit("|", 1)[0]) for e, k in ReminderSent.objects.values_list("user__email", "key")
    }
    assert len(pairs) == len(expected)


def test_private_calendar_feed(rf: RequestFactory, route: Route) -> None:
    grant = ending_in(rf, route, 80)
    client = signed_in(Client(), route.investigator)
    response = client.post(reverse("grants:calendar_new"), follow=True)
    url = re.search(r"(http://\S+/calendar/\S+\.ics)", response.content.decode())
    assert url is not None
    path = url.group(1).split("testserver", 1)[1]
    feed = Client().get(path)  # calendar programs have no session
    assert feed.status_code == 200
    assert feed["Content-Type"].startswith("text/calendar")
    calendar = Calendar.from_ical(feed.content)
    events = list(calendar.walk("VEVENT"))
    assert events
    summaries = [str(e["SUMMARY"]) for e in events]
    assert all(s.startswith("CP-") for s in summaries)
    assert "Ana" not in feed.content.decode()
    term_end = [
        e
        for e in events
        if "ends" in str(e["SUMMARY"]).lower() or "term" in str(e["SUMMARY"]).lower()
    ]
    assert term_end
    assert term_end[0].decoded("DTSTART") == grant.terms.get().end
    # A new address cancels the old one.
    client.post(reverse("grants:calendar_new"))
    assert Client().get(path).status_code == 404


def test_one_deadline_as_an_ics_file(rf: RequestFactory, route: Route) -> None:
    grant = ending_in(rf, route, 80)
    client = signed_in(Client(), route.investigator)
    response = client.get(reverse("grants:deadline_ics", args=[grant.pk, "term_end"]))
    calendar = Calendar.from_ical(response.content)
    (event,) = list(calendar.walk("VEVENT"))
    assert event.decoded("DTSTART") == grant.terms.get().end
    assert (
        signed_in(Client(), route.outsider)
        .get(reverse("grants:deadline_ics", args=[grant.pk, "term_end"]))
        .status_code
        == 404
    )
