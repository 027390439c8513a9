"""Public policy endpoints: no sign-in, nothing stored, rate-limited."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja import Router, Status

from cpnav.api.errors import ErrorOut
from cpnav.core.ratelimit import hit, parse_rate
from cpnav.policy import Determination, Facts, FactsError, NoRuleSetError, determine, parse_facts
from cpnav.policy import rule_sets as all_rule_sets

router = Router(tags=["policy"])

FACTS_SCHEMA = Facts.model_json_schema(ref_template="#/components/schemas/{model}")


def _too_many(request: HttpRequest) -> HttpResponse | None:
    wait = hit(
        request,
        "determinations",
        parse_rate("CPNAV_API_ANONYMOUS_RATE", settings.API_ANONYMOUS_RATE),
    )
    if wait is None:
        return None
    response = JsonResponse(
        {"detail": f"Too many requests: try again in {wait} seconds.", "errors": []}, status=429
    )
    response["Retry-After"] = str(wait)
    return response


@router.post(
    "/determinations",
    response={200: Determination, 400: ErrorOut, 422: ErrorOut, 429: ErrorOut},
    summary="Evaluate facts against the Continued Presence criteria",
    description=(
        "Send what is known (every key optional; null means unknown, unknown keys are "
        "refused) and get the determination under the rules in force on `as_of`. "
        "Nothing is stored. It decides nothing for CCHT: it explains each criterion."
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": FACTS_SCHEMA}},
        }
    },
)
def create_determination(request: HttpRequest) -> Any:
    limited = _too_many(request)
    if limited is not None:
        return limited
    if not request.content_type or request.content_type != "application/json":
        return Status(
            400,
            {
                "detail": "Send the facts as JSON (Content-Type: application/json).",
                "errors": [],
            },
        )
    try:
        facts = parse_facts(request.body)
        return Status(200, determine(facts))
    except FactsError as error:
        return Status(
            422,
            {
                "detail": "Some facts are not valid.",
                "errors": [{"path": path, "message": message} for path, message in error.errors],
            },
        )
    except NoRuleSetError as error:
        return Status(
            422, {"detail": str(error), "errors": [{"path": "$.as_of", "message": str(error)}]}
        )


@router.get("/rules", summary="The CP rule sets, with effective dates and citations")
def list_rules(request: HttpRequest) -> list[dict[str, Any]]:
    return [rule_set.model_dump(mode="json") for rule_set in all_rule_sets()]
