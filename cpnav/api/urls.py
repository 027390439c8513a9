from __future__ import annotations

import logging
import math

from django.core.exceptions import PermissionDenied
from django.db import OperationalError
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import path
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, Throttled, ValidationError

from cpnav.api.cases import TokenRateThrottle
from cpnav.api.cases import router as cases_router
from cpnav.api.engagement import router as engagement_router
from cpnav.api.grants import router as grants_router
from cpnav.api.niem import router as niem_router
from cpnav.api.policy import router as policy_router
from cpnav.api.referrals import router as referrals_router
from cpnav.api.reports import router as reports_router
from cpnav.api.team import router as team_router

log = logging.getLogger("cpnav.api")

# docs_url=None: the interactive docs page would load scripts from a CDN, which
# our CSP and privacy notice forbid. The OpenAPI document itself is served.
api = NinjaAPI(
    title="CP Navigator API",
    version="1",
    urls_namespace="api",
    docs_url=None,
    # Per token; routers with a throttle of their own use theirs instead.
    throttle=TokenRateThrottle(),
    description=(
        "Continued Presence navigator. Errors always carry `detail` and `errors`. "
        "Case endpoints need a personal token: `Authorization: Bearer cpnav_...`."
    ),
)
api.add_router("/", policy_router)
api.add_router("/", cases_router)
api.add_router("/", engagement_router)
api.add_router("/", grants_router)
api.add_router("/", niem_router)
api.add_router("/", referrals_router)
api.add_router("/", reports_router)
api.add_router("/", team_router)


def _error(
    request: HttpRequest, status: int, detail: str, errors: list[dict[str, str]] | None = None
) -> HttpResponse:
    return api.create_response(request, {"detail": detail, "errors": errors or []}, status=status)


@api.exception_handler(Http404)
def not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return _error(request, 404, "Not found, or not yours to see.")


@api.exception_handler(PermissionDenied)
def denied(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return _error(request, 403, "Your roles do not allow this. The attempt was logged.")


@api.exception_handler(AuthenticationError)
def unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return _error(request, 401, "A valid API token is required (Authorization: Bearer ...).")


def _path(loc: tuple[object, ...]) -> str:
    """A JSON path into what the client sent: ("body", "payload", "capacity") -> $.capacity.

    The first item says where (body, query, path); for a body, the second is the name of
    the handler's parameter, which the client never sees.
    """
    parts = loc[2:] if loc[:1] == ("body",) and len(loc) > 2 else loc[1:]
    path = "$"
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


@api.exception_handler(Throttled)
def too_many(request: HttpRequest, exc: Throttled) -> HttpResponse:
    wait = math.ceil(exc.wait or 1)
    response = _error(request, 429, f"Too many requests: try again in {wait} seconds.")
    response["Retry-After"] = str(wait)
    return response


@api.exception_handler(HttpError)
def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    """ninja's own refusals (e.g. a body that is not JSON) in the same shape as ours."""
    return _error(request, exc.status_code, str(exc))


@api.exception_handler(OperationalError)
def database_unavailable(request: HttpRequest, exc: OperationalError) -> HttpResponse:
    """The database was unreachable, locked or full: services write in one transaction,
    so nothing of the call was kept and it can be retried. The database's own words
    stay in the server's log (tests/faults)."""
    log.error("API call failed on the database: %s %s", request.method, request.path,
              exc_info=exc)  # fmt: skip
    response = _error(request, 503, "The database is not answering; nothing was saved. "
                      "Try again shortly.")  # fmt: skip
    response["Retry-After"] = "30"
    return response


@api.exception_handler(ValidationError)
def invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors = [
        {
            "path": _path(tuple(e.get("loc", ()))),
            "message": str(e.get("msg", "")),
        }
        for e in exc.errors
    ]
    return _error(request, 422, "Some fields are not valid.", errors)


urlpatterns = [path("api/v1/", api.urls)]
