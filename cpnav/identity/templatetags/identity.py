from __future__ import annotations

from django import template
from django.db.models import QuerySet

from cpnav.accounts.models import Agency
from cpnav.identity.models import IdentityProvider

register = template.Library()


@register.simple_tag
def enabled_providers() -> QuerySet[IdentityProvider]:
    """The sign-in page's buttons: every enabled provider."""
    return IdentityProvider.objects.filter(enabled=True).order_by("name")


@register.simple_tag
def agency_providers(agency: Agency) -> QuerySet[IdentityProvider]:
    """The providers an invited member of the agency may sign in with."""
    return IdentityProvider.objects.filter(enabled=True, agencies=agency).order_by("name")


@register.simple_tag
def pending_access_requests(agency: Agency) -> int:
    from cpnav.identity.models import AccessStatus
    from cpnav.identity.provisioning import requests_for

    return requests_for(agency).filter(status=AccessStatus.PENDING).count()
