from __future__ import annotations

import logging
import sys
from datetime import date, timedelta

from django.db import DatabaseError, OperationalError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache

log = logging.getLogger("cpnav.access")


def home(request: HttpRequest) -> HttpResponse:
    context = {}
    if getattr(request.user, "is_system_admin", False):
        from cpnav.guide.content import guide
        from cpnav.guide.views import overdue_pages

        context["overdue_pages"] = overdue_pages(guide(), date.today())
    return render(request, "core/home.html", context)


def accessibility(request: HttpRequest) -> HttpResponse:
    return render(request, "core/accessibility.html")


def privacy(request: HttpRequest) -> HttpResponse:
    return render(request, "core/privacy.html")


def disclosure(request: HttpRequest) -> HttpResponse:
    return render(request, "core/disclosure.html")


def security_txt(request: HttpRequest) -> HttpResponse:
    """RFC 9116. Expires is always about six months ahead, as the RFC advises."""
    expires = (timezone.now() + timedelta(days=180)).replace(microsecond=0)
    base = request.build_absolute_uri("/").rstrip("/")
    lines = [
        f"Contact: {base}{reverse('core:disclosure')}",
        f"Expires: {expires.strftime('%Y-%m-%dT%H:%M:%SZ')}",
        f"Policy: {base}{reverse('core:disclosure')}",
        "Preferred-Languages: en, es",
        f"Canonical: {base}/.well-known/security.txt",
    ]
    return HttpResponse("\n".join(lines) + "\n", content_type="text/plain; charset=utf-8")


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        log.exception("health check: database unreachable")
        return JsonResponse({"status": "error", "database": "unreachable"}, status=503)
    return JsonResponse({"status": "ok", "database": "ok"})


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    log.warning("CSRF failure on %s: %s", request.path, reason)
    return render(request, "core/csrf_failure.html", status=403)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    # access.forbidden() has already written the audit event; other refusals log here.
    log.warning("permission denied: %s %s user=%s", request.method, request.path,
                getattr(request.user, "pk", None))  # fmt: skip
    return render(request, "core/403.html", status=403)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "core/404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    # Rendered without context processors: they may be what failed.
    if isinstance(sys.exception(), OperationalError):
        # The database was unreachable, locked or full: the request's transaction was
        # rolled back and the same request can succeed once it answers again.
        response = HttpResponse(render_to_string("core/503.html"), status=503)
        response["Retry-After"] = "30"
        return response
    return HttpResponse(render_to_string("core/500.html"), status=500)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "core/400.html", status=400)
