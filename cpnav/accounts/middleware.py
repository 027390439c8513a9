"""Session limits: 30 minutes idle, 12 hours at most (CJIS session lock)."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from cpnav.audit.services import record

LAST_SEEN = "cpnav_last_seen"
SIGNED_IN_AT = "cpnav_signed_in_at"
# Refreshing the idle clock writes the session; once a minute is enough.
_TOUCH_EVERY = 30
# ASVS V14.3.1: when a session ends, the browser drops what it cached or stored for
# the site. Cookies are left alone: the signed-out message travels in one.
CLEAR_SITE_DATA = '"cache", "storage"'


def clear_site_data(response: HttpResponse) -> HttpResponse:
    response["Clear-Site-Data"] = CLEAR_SITE_DATA
    return response


class SessionPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            now = time.time()
            last_seen = float(request.session.get(LAST_SEEN, now))
            signed_in_at = float(request.session.get(SIGNED_IN_AT, now))
            reason = None
            if now - last_seen > settings.SESSION_IDLE_SECONDS:
                reason = "idle"
            elif now - signed_in_at > settings.SESSION_MAX_SECONDS:
                reason = "maximum"
            if reason is not None:
                return self._end(request, reason)
            if now - last_seen >= _TOUCH_EVERY or LAST_SEEN not in request.session:
                request.session[LAST_SEEN] = now
        return self.get_response(request)

    def _end(self, request: HttpRequest, reason: str) -> HttpResponse:
        record("signout.timeout", request=request, details={"reason": reason})
        logout(request)
        if reason == "idle":
            text = _("You were signed out after %(minutes)d minutes without activity.") % {
                "minutes": max(1, settings.SESSION_IDLE_SECONDS // 60)
            }
        else:
            text = _("You were signed out: sessions last at most %(hours)d hours.") % {
                "hours": max(1, settings.SESSION_MAX_SECONDS // 3600)
            }
        if request.path.startswith("/api/") or request.headers.get("Accept") == "application/json":
            return clear_site_data(JsonResponse({"detail": text}, status=401))
        messages.info(request, text)
        target = reverse("accounts:signin")
        if request.method == "GET":
            target += "?" + urlencode({"next": request.get_full_path()})
        return clear_site_data(redirect(target))
