"""The shared fixed-window counter: one upsert per call, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory

from cpnav.audit.models import AuditEvent
from cpnav.core import ratelimit
from cpnav.core.models import RateCounter
from cpnav.core.ratelimit import Limit, forget_held, hit_key, parse_rate, purge

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    now = [1_800_000_000.0]  # a window boundary for 60-second windows
    monkeypatch.setattr("cpnav.core.ratelimit.time.time", lambda: now[0])
    monkeypatch.setattr(ratelimit, "PURGE_CHANCE", 0.0)
    return now


def test_counts_up_to_the_limit_then_says_how_long_to_wait(clock: list[float]) -> None:
    limit = Limit(3, 60)
    assert [hit_key("scope:198.51.100.7", limit) for _ in range(3)] == [None, None, None]
    clock[0] += 15
    assert hit_key("scope:198.51.100.7", limit) == 45
    assert hit_key("scope:198.51.100.8", limit) is None  # another key, another budget
    row = RateCounter.objects.get(key="scope:198.51.100.7")
    assert row.count == 4
    assert row.resets_at == 1_800_000_060


def test_a_new_window_starts_again_on_the_same_row(clock: list[float]) -> None:
    limit = Limit(2, 60)
    for _ in range(5):
        hit_key("k", limit)
    clock[0] += 60
    assert hit_key("k", limit) is None
    assert RateCounter.objects.get(key="k").count == 1
    assert RateCounter.objects.count() == 1


def test_long_keys_are_hashed_to_fit(clock: list[float]) -> None:
    key = "api-token:" + "x" * 500
    assert hit_key(key, Limit(1, 60)) is None
    assert hit_key(key, Limit(1, 60)) is not None
    stored = RateCounter.objects.get()
    assert stored.key.startswith("sha256:")
    assert len(stored.key) <= 200


def test_purge_removes_only_windows_long_over(clock: list[float]) -> None:
    hit_key("old", Limit(1, 60))
    clock[0] += 2 * 3600
    hit_key("new", Limit(1, 60))
    assert purge(int(clock[0])) == 1
    assert list(RateCounter.objects.values_list("key", flat=True)) == ["new"]


def test_a_new_window_sometimes_sweeps(clock: list[float], monkeypatch: pytest.MonkeyPatch) -> None:
    hit_key("old", Limit(1, 60))
    clock[0] += 2 * 3600
    monkeypatch.setattr(ratelimit, "PURGE_CHANCE", 1.0)
    hit_key("new", Limit(1, 60))
    assert list(RateCounter.objects.values_list("key", flat=True)) == ["new"]


@pytest.mark.parametrize("text", ["", "ten/min", "0/min", "5/day", "5"])
def test_bad_rates_name_the_setting(text: str) -> None:
    with pytest.raises(ImproperlyConfigured, match="CPNAV_X"):
        parse_rate("CPNAV_X", text)


def test_far_below_the_limit_calls_are_written_in_batches_and_exactly_near_it(
    clock: list[float],
) -> None:
    limit = Limit(80, 60)
    assert all(hit_key("busy", limit) is None for _ in range(40))
    written = RateCounter.objects.get(key="busy").count
    assert 1 <= written < 40  # some calls are held back, never more than an eighth of what is left
    assert all(hit_key("busy", limit) is None for _ in range(40))
    assert hit_key("busy", limit) == 60  # the 81st call is refused...
    assert (
        RateCounter.objects.get(key="busy").count == 81
    )  # ...because near the limit all are written


def test_counts_written_elsewhere_are_seen_at_the_next_write(clock: list[float]) -> None:
    limit = Limit(100, 60)
    hit_key("shared", limit)
    # Another app server spends most of the budget meanwhile.
    RateCounter.objects.filter(key="shared").update(count=99)
    assert hit_key("shared", limit) is None  # held back: this process still believes 2
    forget_held()  # another worker process, which holds nothing back yet
    assert hit_key("shared", limit) is None  # written at once: the 100th call
    assert hit_key("shared", limit) is not None  # and the 101st is refused
    assert RateCounter.objects.get(key="shared").count == 101


def test_the_first_refusal_of_each_window_is_audited_once(clock: list[float]) -> None:
    limit = Limit(2, 60)
    request = RequestFactory().get("/", REMOTE_ADDR="198.51.100.7")
    request.user = AnonymousUser()
    answers = [ratelimit.hit(request, "public-form", limit) for _ in range(6)]
    assert answers == [None, None, 60, 60, 60, 60]
    clock[0] += 30
    assert ratelimit.hit(request, "public-form", limit) == 30
    refused = AuditEvent.objects.filter(action="ratelimit.refused")
    assert [(e.details, e.source_ip, e.outcome) for e in refused] == [
        ({"limit": "public-form", "retry_after": 60}, "198.51.100.7", "failure")
    ]
    clock[0] += 30  # the next window: allowed again, and its first refusal audited again
    assert [ratelimit.hit(request, "public-form", limit) for _ in range(3)] == [None, None, 60]
    assert AuditEvent.objects.filter(action="ratelimit.refused").count() == 2
