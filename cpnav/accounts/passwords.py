"""Password rules from NIST SP 800-63B: long, screened, no composition rules."""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import translation
from django.utils.translation import gettext as _

from cpnav.accounts.models import Agency, Role, User


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


# ASVS V6.1.2 and V6.2.11: words from this system's own context. Agency names and
# ORIs come from the account's memberships (or, for someone accepting an
# invitation, the inviting agency); role names in English and Spanish from Role.
PRODUCT_WORDS = ("cp navigator", "cpnav", "continued presence", "ccht")
# Set this attribute on an unsaved User to name the agencies it is joining.
CONTEXT_AGENCIES = "password_context_agencies"
# Shorter agency names ("DEA") would refuse ordinary words that contain them.
_MIN_AGENCY_WORD = 4


def _compact(text: str) -> str:
    """Lower case, letters and digits only, accents off: "CP-Navigator" matches "cp navigator"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if ch.isalnum())


def context_words(user: Any = None) -> list[str]:
    """The words a password may not contain, as they would be shown to the user."""
    words: list[str] = list(PRODUCT_WORDS)
    for language in ("en", "es"):
        with translation.override(language):
            # "Investigador(a)": the shorter form also catches the longer one.
            words.extend(re.sub(r"\s*\(.*?\)", "", str(role.label)) for role in Role)
    agencies: list[Agency] = list(getattr(user, CONTEXT_AGENCIES, ()))
    if isinstance(user, User) and not user._state.adding:
        agencies.extend(Agency.objects.filter(memberships__user=user).distinct())
    for agency in agencies:
        words.extend(w for w in (agency.name, agency.ori) if len(_compact(w)) >= _MIN_AGENCY_WORD)
    return list(dict.fromkeys(words))


class ContextWordsValidator:
    """Refuse passwords that contain the system's, the agency's or a role's name."""

    def validate(self, password: str, user: Any = None) -> None:
        compact = _compact(password)
        for word in context_words(user):
            if _compact(word) in compact:
                raise ValidationError(
                    _(
                        "This password contains “%(word)s”. Do not use the names of "
                        "this system, your agency or its roles."
                    )
                    % {"word": word},
                    code="password_context_word",
                )

    def get_help_text(self) -> str:
        return _("It must not contain the names of this system, your agency or its roles.")
