"""The API's own, shorter middleware stack.

The API authenticates with bearer tokens only - a browser session never
unlocks it (tests/api/test_cases_api.py) - so sessions, CSRF, messages, the
session clocks, django-axes, static files and the HTML Content-Security-Policy
do nothing for it but cost time on every call: about half of the public
determination API's time (see bench/). ``ApiFastPath`` sits first in
settings.MIDDLEWARE and sends every /api/ request through this stack instead.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.handlers.base import BaseHandler
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.test.utils import override_settings

# Security headers and the HTTPS redirect, the language of messages, the usual URL
# handling, no framing, and no caching of anything read with a token.
API_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "cpnav.api.middleware.NoSessionUser",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "cpnav.core.middleware.NoStoreMiddleware",
    "cpnav.api.middleware.ApiContentSecurityPolicy",
]
PREFIX = "/api/"


class NoSessionUser:
    """Anonymous until a token says otherwise (the API's authentication sets it)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.user = AnonymousUser()
        return self.get_response(request)


class ApiContentSecurityPolicy:
    """API answers are data (JSON, XML, CSV, calendars), never a page: if a browser is
    made to open one, it may load nothing and be framed by nothing (ASVS V3.4.3)."""

    POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response["Content-Security-Policy"] = self.POLICY
        return response


class _ApiStack(BaseHandler):
    def __init__(self) -> None:
        super().__init__()
        # load_middleware reads settings.MIDDLEWARE; this is read once, at start-up.
        with override_settings(MIDDLEWARE=API_MIDDLEWARE):
            self.load_middleware()

    def handle(self, request: HttpRequest) -> HttpResponse:
        # The outer handler has set the URLconf and will log and close the response.
        chain: Callable[[HttpRequest], HttpResponse] = self._middleware_chain  # type: ignore[attr-defined]
        return chain(request)


class ApiFastPath:
    """First in settings.MIDDLEWARE: /api/ requests leave the site's stack here."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.api = _ApiStack()

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info.startswith(PREFIX):
            if settings.SECURE_SSL_REDIRECT and not request.is_secure():
                return plain_http_refused()
            return self.api.handle(request)
        return self.get_response(request)


def plain_http_refused() -> HttpResponse:
    """Where the site redirects to HTTPS, the API refuses plain HTTP (settings:
    SECURE_REDIRECT_EXEMPT): a token sent in the clear must be revoked, not reused."""
    return JsonResponse(
        {
            "detail": "The API answers only over HTTPS. If this call carried a token, "
            "revoke it on My account -> API tokens and make a new one.",
            "errors": [],
        },
        status=403,
    )
