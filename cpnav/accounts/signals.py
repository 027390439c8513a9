from __future__ import annotations

from typing import Any

from axes.signals import user_locked_out
from django.dispatch import receiver
from django.http import HttpRequest

from cpnav.accounts import services


def lockout_username(request: HttpRequest, credentials: dict[str, Any] | None) -> str | None:
    """The key django-axes counts failures under: the lower-cased email address."""
    raw = (credentials or {}).get("username") or request.POST.get("email")
    return str(raw).strip().lower() if raw else None


@receiver(user_locked_out)
def lock_account(sender: Any, request: HttpRequest, username: str | None = None, **_: Any) -> None:
    """django-axes counts the failures; the lock itself lasts until an admin lifts it."""
    if username:
        services.lock(username, request=request)
