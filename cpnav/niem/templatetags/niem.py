from __future__ import annotations

from typing import Any

from django import template

from cpnav.accounts import access
from cpnav.cases.models import CPRequest
from cpnav.niem.services import may_identify

register = template.Library()


@register.inclusion_tag("niem/_exchange.html", takes_context=True)
def niem_exchange(context: template.Context, cp: CPRequest) -> dict[str, Any]:
    """The request page's download links; identifying ones only for who may have them."""
    user = access.signed_in(context["request"].user)
    term = getattr(cp, "term", None) if cp.status == "granted" else None
    return {
        "cp": cp,
        "grant_id": term.grant_id if term is not None else None,
        "identifying": user is not None and may_identify(user, cp.case),
    }
