"""Password rules from NIST SP 800-63B: long, screened, no composition rules."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _


class MaximumLengthValidator:
    """Accept long passphrases (at least 64 characters) but bound hashing work."""

    def validate(self, password: str, user: Any = None) -> None:
        if len(password) > settings.PASSWORD_MAX_LENGTH:
            raise ValidationError(
                _("This password is too long: use at most %(max)d characters.")
                % {"max": settings.PASSWORD_MAX_LENGTH},
                code="password_too_long",
            )

    def get_help_text(self) -> str:
        return _("Use at most %(max)d characters.") % {"max": settings.PASSWORD_MAX_LENGTH}


@cache
def _breached(path: str) -> frozenset[str]:
    lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip())


class BreachedPasswordValidator:
    """Refuse passwords on the deployment's own breached-password list, if one is set."""

    def validate(self, password: str, user: Any = None) -> None:
        path = settings.BREACHED_PASSWORDS_FILE
        if path and password.strip().lower() in _breached(path):
            raise ValidationError(
                _("This password appears in a list of breached passwords. Choose another."),
                code="password_breached",
            )

    def get_help_text(self) -> str:
        return _("It must not appear in lists of breached passwords.")
