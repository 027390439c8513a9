from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import path
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, ValidationError

from cpnav.api.cases import router as cases_router
from cpnav.api.policy import router as policy_router

# docs_url=None: the interactive docs page would load scripts from a CDN, which
# our CSP and privacy notice forbid. The OpenAPI document itself is served.
api = NinjaAPI(
    title="CP Navigator API",
    version="1",
    urls_namespace="api",
    docs_url=None,
    description=(
        "Continued Presence navigator. Errors always carry `detail` and `errors`. "
        "Case endpoints need a personal token: `Authorization: Bearer cpnav_...`."
    ),
)
api.add_router("/", policy_router)
api.add_router("/", cases_router)


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


@api.exception_handler(ValidationError)
def invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors = [
        {
            "path": "$." + ".".join(str(p) for p in e.get("loc", ())[1:]),
            "message": str(e.get("msg", "")),
        }
        for e in exc.errors
    ]
    return _error(request, 422, "Some fields are not valid.", errors)


urlpatterns = [path("api/v1/", api.urls)]
