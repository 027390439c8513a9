"""Public policy endpoints: no sign-in, nothing stored, rate-limited."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router, Status

from cpnav.api.errors import ErrorOut, anonymous_limit
from cpnav.policy import Determination, Facts, FactsError, NoRuleSetError, determine, parse_facts
from cpnav.policy import rule_sets as all_rule_sets
from cpnav.policy.rulesets import RuleSet

router = Router(tags=["policy"])


def _inlined(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with its nested models written out in place.

    A `$ref` in an OpenAPI document points into the document itself, where these
    models are not registered; inlined, the body schema stands on its own.
    """
    definitions = schema.pop("$defs", {})

    def expand(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return expand(definitions[ref.removeprefix("#/$defs/")])
            return {key: expand(value) for key, value in node.items()}
        if isinstance(node, list):
            return [expand(item) for item in node]
        return node

    expanded: dict[str, Any] = expand(schema)
    return expanded


FACTS_SCHEMA = _inlined(Facts.model_json_schema())


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
    limited = anonymous_limit(request, "determinations")
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


@router.get(
    "/rules",
    response={200: list[RuleSet], 429: ErrorOut},
    summary="The CP rule sets, with effective dates and citations",
)
def list_rules(request: HttpRequest) -> Any:
    limited = anonymous_limit(request, "rules")
    if limited is not None:
        return limited
    return [rule_set.model_dump(mode="json") for rule_set in all_rule_sets()]
