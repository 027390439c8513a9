"""What the two NIEM commands share: the account, a request object for audit and access."""

from __future__ import annotations

import os

from django.core.management.base import CommandError
from django.http import HttpRequest

from cpnav.accounts.models import User


def account(email: str) -> User:
    user = User.objects.filter(email__iexact=email, is_active=True).first()
    if user is None:
        raise CommandError(f"no active account with email {email!r}", returncode=2)
    return user


def as_request(user: User, path: str) -> HttpRequest:
    """The access helpers and the audit trail take a request: one from the command line."""
    request = HttpRequest()
    request.user = user
    request.path = path
    request.method = "GET"
    return request


def write_private(path: str, content: bytes) -> None:
    """Readable by the owner only when created: the file may hold victim data."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError as error:
        raise CommandError(f"cannot write {path}: {error.strerror}", returncode=2) from None
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)
