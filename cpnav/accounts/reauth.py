"""Re-authentication before changing how one signs in (ASVS V7.5.1).

Entering the password and a second factor again leaves a time stamp in the
session; replacing the authenticator needs a stamp younger than REAUTH_SECONDS,
and using it spends it.
"""

from __future__ import annotations

import time

from django.http import HttpRequest

REAUTH_AT = "cpnav_reauthenticated_at"
REAUTH_SECONDS = 5 * 60


def mark(request: HttpRequest) -> None:
    request.session[REAUTH_AT] = time.time()


def is_recent(request: HttpRequest) -> bool:
    try:
        at = float(request.session.get(REAUTH_AT, 0))
    except (TypeError, ValueError):
        return False
    return 0 <= time.time() - at <= REAUTH_SECONDS


def spend(request: HttpRequest) -> None:
    request.session.pop(REAUTH_AT, None)
