from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest

from cpnav.accounts import access
from cpnav.accounts.models import Role
from cpnav.cases.models import Notification


def site(request: HttpRequest) -> dict[str, Any]:
    """What every page needs: demo banner, the user's agency, role-aware navigation."""
    context: dict[str, Any] = {
        "demo_mode": settings.DEMO_MODE,
        "session_idle_seconds": settings.SESSION_IDLE_SECONDS,
        "session_warning_seconds": settings.SESSION_WARNING_SECONDS,
    }
    # Requests refused early (a bad Host header) reach the error page with no user.
    user = access.signed_in(getattr(request, "user", AnonymousUser()))
    if user is None:
        return context
    roles = access.all_roles(user)
    agencies = list(access.user_agencies(user))
    context.update(
        {
            "current_agency": agencies[0] if agencies else None,
            "other_agencies": agencies[1:],
            "nav_admin": user.is_system_admin or Role.AGENCY_ADMIN in roles,
            "nav_audit": user.is_system_admin or Role.AUDITOR in roles,
            "nav_system": user.is_system_admin,
            "nav_approval": Role.SUPERVISOR in roles,
            "nav_endorsement": Role.FEDERAL_SPONSOR in roles,
            "nav_ccht": Role.CCHT_REVIEWER in roles,
            "nav_engagement": Role.ENGAGEMENT_COORDINATOR in roles,
            # Importing creates cases, so it is offered where the user investigates.
            "nav_import": Role.INVESTIGATOR in roles,
            "nav_reports": bool(agencies),
            "unread_notices": Notification.objects.filter(user=user, read_at__isnull=True).count(),
            "user_roles": sorted(str(Role(role).label) for role in roles),
        }
    )
    return context
