"""Guards for forms anyone can send without an account.

Three checks, none of which asks a person to solve a puzzle (a CAPTCHA fails
screen-reader users): a field hidden from people that only robots fill in; a
signed timestamp, so a form sent within seconds of being shown - faster than
anyone reads it - or days later is refused; and a cap on web links in the free
text. Each refusal says what to do, and the form keeps what was typed. A rate
limit per address (in the shared counter table) caps the rest.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable

from django.conf import settings
from django.core import signing
from django.http import HttpRequest
from django.utils.translation import gettext as _

from cpnav.core.ratelimit import hit, parse_rate

log = logging.getLogger("cpnav.antispam")

HONEYPOT = "website"
STAMP = "form_started"
MAX_AGE_SECONDS = 24 * 3600
MAX_LINKS = 2
_SALT = "cpnav.public-form"
_LINK = re.compile(r"https?://|www\.", re.IGNORECASE)


def stamp() -> str:
    return signing.dumps({"t": time.time()}, salt=_SALT)


def refusal(request: HttpRequest, free_text: Iterable[str]) -> str | None:
    """Why this submission looks automated, or None. Call only for POSTs."""
    if request.POST.get(HONEYPOT, ""):
        log.warning("public form refused: hidden field filled (%s)", request.path)
        return _("The form could not be accepted. Clear the form's hidden field and send it again.")
    try:
        started = float(signing.loads(request.POST.get(STAMP, ""), salt=_SALT)["t"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return _("The form was damaged or too old. Check your answers and send it again.")
    age = time.time() - started
    if age > MAX_AGE_SECONDS:
        return _("The form was open for more than a day. Check your answers and send it again.")
    if age < settings.PUBLIC_FORM_MIN_SECONDS:
        log.warning("public form refused: sent %.1f s after it was shown (%s)", age, request.path)
        return _(
            "The form was sent a moment after it appeared, which is how automated "
            "submissions behave. Check your answers and send it again."
        )
    links = sum(len(_LINK.findall(text)) for text in free_text)
    if links > MAX_LINKS:
        return _("Remove the web links from your message (at most %(n)d are accepted).") % {
            "n": MAX_LINKS
        }
    return None


def too_many(request: HttpRequest, scope: str) -> int | None:
    """Seconds to wait when this address has sent too many public forms, else None."""
    return hit(request, scope, parse_rate("CPNAV_PUBLIC_FORM_RATE", settings.PUBLIC_FORM_RATE))
