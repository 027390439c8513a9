"""The one error shape of the API, and the error responses each kind of operation declares."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja import Schema, Status

from cpnav.core.ratelimit import hit, parse_rate


class FieldError(Schema):
    path: str
    message: str


class ErrorOut(Schema):
    detail: str
    errors: list[FieldError] = []


def responses(*codes: int) -> dict[int, type[ErrorOut]]:
    """The error responses an operation declares, all in the one shape."""
    return {code: ErrorOut for code in codes}


# Token operations. 400: the body is not JSON at all; 401: no valid token; 403: the token's scope or the user's roles do
# not allow it; 404: no such record, or not the caller's to see (never told apart);
# 409: someone saved first (stale version) or the record's state does not allow it;
# 422: the input is not valid (each error has a JSON path); 429: the token's rate limit.
# Lists declare 404 too, so that every case and request operation declares it (a
# list itself answers an unknown filter value with an empty page).
LIST_ERRORS = responses(401, 403, 404, 422, 429)
READ_ERRORS = responses(401, 403, 404, 422, 429)
CREATE_ERRORS = responses(400, 401, 403, 404, 422, 429)
WRITE_ERRORS = responses(400, 401, 403, 404, 409, 422, 429)


def error(status: int, detail: str, fields: dict[str, str] | None = None) -> Status[dict[str, Any]]:
    """An error response; ``fields`` maps input names (dotted for nesting) to messages."""
    return Status(
        status,
        {
            "detail": detail,
            "errors": [
                {"path": f"$.{name}" if name else "$", "message": message}
                for name, message in (fields or {}).items()
            ],
        },
    )


def anonymous_limit(request: HttpRequest, scope: str) -> HttpResponse | None:
    """A 429 once this address has spent its budget of calls without a token, else None."""
    wait = hit(request, scope, parse_rate("CPNAV_API_ANONYMOUS_RATE", settings.API_ANONYMOUS_RATE))
    if wait is None:
        return None
    response = JsonResponse(
        {"detail": f"Too many requests: try again in {wait} seconds.", "errors": []}, status=429
    )
    response["Retry-After"] = str(wait)
    return response
