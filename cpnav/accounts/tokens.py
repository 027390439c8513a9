"""Personal API tokens: `cpnav_<prefix>_<secret>`, stored as a SHA-256 hash."""

from __future__ import annotations

import hmac
import secrets
from datetime import timedelta

from django.http import HttpRequest
from django.utils import timezone

from cpnav.accounts.models import APIToken, User
from cpnav.audit.models import Outcome
from cpnav.audit.services import record
from cpnav.core.crypto import secret_digest

SCOPES = ("read", "write")
MAX_DAYS = 365


def issue(
    request: HttpRequest, user: User, name: str, scopes: list[str], days: int
) -> tuple[APIToken, str]:
    """Create a token and return it with its secret, which is never shown again."""
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"a token lasts 1 to {MAX_DAYS} days")
    unknown = set(scopes) - set(SCOPES)
    if unknown or not scopes:
        raise ValueError("choose the scopes read and/or write")
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    token = APIToken.objects.create(
        user=user, name=name[:100], prefix=prefix, token_hash=secret_digest(secret),
        scopes=sorted(set(scopes)), expires_at=timezone.now() + timedelta(days=days),
    )  # fmt: skip
    record("api_token.issued", request=request, actor=user, object_type="api_token",
           object_id=token.pk, details={"scopes": token.scopes, "days": days})  # fmt: skip
    return token, f"cpnav_{prefix}_{secret}"


def revoke(request: HttpRequest, token: APIToken) -> None:
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    record("api_token.revoked", request=request, object_type="api_token", object_id=token.pk)


def authenticate(request: HttpRequest, presented: str) -> tuple[User, APIToken] | None:
    """The token's user if the token is valid, usable and the account may sign in."""
    parts = presented.split("_", 2)  # the secret itself may contain "_"
    if len(parts) != 3 or parts[0] != "cpnav":
        return None
    token = APIToken.objects.select_related("user").filter(prefix=parts[1]).first()
    valid = (
        token is not None
        and hmac.compare_digest(token.token_hash, secret_digest(parts[2]))
        and token.is_usable
        and token.user.is_active
        and not token.user.is_locked
    )
    if not valid or token is None:
        record("api.auth_failure", request=request, outcome=Outcome.FAILURE,
               details={"prefix": parts[1][:12]})  # fmt: skip
        return None
    APIToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())
    return token.user, token
