"""Fixed-window rate limits kept in the shared cache (the database by default),
so every app server counts against the same budget."""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.core.cache import cache
from django.http import HttpRequest

from cpnav.audit.services import client_ip


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
    return hit_key(f"{scope}:{client_ip(request) or 'unknown'}", limit)


def hit_key(key: str, limit: Limit) -> int | None:
    """Count one call against ``key``; seconds to wait if over the limit, else None."""
    now = int(time.time())
    window = now // limit.seconds
    name = f"rl:{key}:{window}"
    cache.add(name, 0, timeout=limit.seconds + 1)
    try:
        count = cache.incr(name)
    except ValueError:  # expired between add and incr
        cache.set(name, 1, timeout=limit.seconds + 1)
        count = 1
    if count > limit.requests:
        return max(1, (window + 1) * limit.seconds - now)
    return None
