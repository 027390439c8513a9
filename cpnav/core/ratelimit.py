"""Fixed-window rate limits kept in the database, so every app server counts
against the same budget.

One statement counts a call: an upsert on the key's row that starts a new
window or adds one, and returns the count (SQLite 3.35+ and PostgreSQL both
have INSERT ... ON CONFLICT ... RETURNING). Rows of windows long over are
removed now and then by the call that opens a new window.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
from dataclasses import dataclass

from django.db import connection
from django.http import HttpRequest

from cpnav.audit.models import Outcome
from cpnav.audit.services import client_ip, record
from cpnav.core.models import RateCounter


@dataclass(frozen=True)
class Limit:
    requests: int
    seconds: int


def parse_rate(name: str, value: str) -> Limit:
    """'60/min' -> Limit(60, 60). Units: sec, min, hour."""
    from django.core.exceptions import ImproperlyConfigured

    count, _, unit = value.partition("/")
    seconds = {"sec": 1, "min": 60, "hour": 3600}.get(unit.strip())
    if not count.strip().isdigit() or seconds is None or int(count) < 1:
        raise ImproperlyConfigured(f"{name}: expected a rate like '60/min', got {value!r}")
    return Limit(int(count), seconds)


def hit(request: HttpRequest, scope: str, limit: Limit) -> int | None:
    """Count one request from this address; seconds to wait if over the limit, else None."""
    key = f"{scope}:{client_ip(request) or 'unknown'}"
    wait = hit_key(key, limit)
    if wait is not None:
        report(request, key, wait, {"limit": scope})
    return wait


def report(request: HttpRequest, key: str, wait: int, details: dict[str, str]) -> None:
    """Audit the first refusal of ``key`` in each window (ASVS V16.3.3): one event per
    address or token, window and app server, however many calls a flood makes."""
    resets_at = int(time.time()) + wait
    with _lock:
        if _reported.get(key) == resets_at:
            return
        if len(_reported) > MAX_KEYS:
            _reported.clear()
        _reported[key] = resets_at
    record("ratelimit.refused", request=request, outcome=Outcome.FAILURE,
           details={**details, "retry_after": wait})  # fmt: skip


def hit_key(key: str, limit: Limit) -> int | None:
    """Count one call against ``key``; seconds to wait if over the limit, else None.

    Far below its limit a key is written every few calls, not every call: this
    process holds back at most an eighth of the budget still left (and at most
    ``MAX_HELD``), so the app servers together - up to eight of them - cannot
    pass the limit on calls they have not written yet, and near the limit every
    call is written and checked. The first call of a window is always written.
    """
    now = int(time.time())
    window = now // limit.seconds
    resets_at = (window + 1) * limit.seconds
    stored = _stored_key(key)
    with _lock:
        seen = _held.get(stored)
        known, held = (seen[1], seen[2]) if seen is not None and seen[0] == window else (0, 0)
        held += 1
        write = known == 0 or held >= max(1, min(MAX_HELD, (limit.requests - known) // 8))
        # Claimed calls leave the held count before the write, so another thread's
        # calls that arrive meanwhile are neither lost nor written twice.
        _held[stored] = (window, known, 0 if write else held)
        count = known + held
    if write:
        count = _count(stored, window, resets_at, held)
        with _lock:
            if len(_held) > MAX_KEYS:
                _held.clear()
            seen = _held.get(stored)
            arrived = seen[2] if seen is not None and seen[0] == window else 0
            _held[stored] = (window, count, arrived)
        if count == held and random.random() < PURGE_CHANCE:  # noqa: S311  (housekeeping)
            purge(now)
    if count > limit.requests:
        return max(1, resets_at - now)
    return None


# Calls counted here and not yet written: key -> (window, count last read, held back).
_held: dict[str, tuple[int, int, int]] = {}
_lock = threading.Lock()
MAX_HELD = 64
MAX_KEYS = 10_000
# Key -> end of the window whose first refusal this process has audited.
_reported: dict[str, int] = {}


def forget_held() -> None:
    """Drop this process's unwritten counts (tests: the database they counted in is gone)."""
    with _lock:
        _held.clear()
        _reported.clear()


# A new window opens this share of the time with a sweep of the rows of old windows.
PURGE_CHANCE = 0.01
# Keep rows this long after their window: a key's row is reused anyway.
PURGE_AFTER_SECONDS = 3600


def _stored_key(key: str) -> str:
    return key if len(key) <= 200 else "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def _count(key: str, window: int, resets_at: int, calls: int = 1) -> int:
    quote = connection.ops.quote_name
    table = quote(RateCounter._meta.db_table)
    count = quote("count")
    sql = (
        f"INSERT INTO {table} ({quote('key')}, {quote('window_index')}, {count}, "  # noqa: S608
        f"{quote('resets_at')}) VALUES (%s, %s, %s, %s) "
        f"ON CONFLICT ({quote('key')}) DO UPDATE SET "
        f"{count} = CASE WHEN {table}.{quote('window_index')} = excluded.{quote('window_index')} "
        f"THEN {table}.{count} + excluded.{count} ELSE excluded.{count} END, "
        f"{quote('window_index')} = excluded.{quote('window_index')}, "
        f"{quote('resets_at')} = excluded.{quote('resets_at')} "
        f"RETURNING {count}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [key, window, calls, resets_at])
        row = cursor.fetchone()
    return int(row[0])


def purge(now: int | None = None) -> int:
    """Delete the counters of windows that ended over an hour ago; how many went."""
    moment = int(time.time()) if now is None else now
    deleted, _ = RateCounter.objects.filter(resets_at__lt=moment - PURGE_AFTER_SECONDS).delete()
    return deleted


def reset() -> None:
    """Forget every counter (tests, or an operator lifting a block)."""
    forget_held()
    RateCounter.objects.all().delete()
