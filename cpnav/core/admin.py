from __future__ import annotations

from typing import Any

from django.contrib.admin import AdminSite
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode


class SystemAdminSite(AdminSite):
    """Django admin, for system administrators only, behind the normal sign-in."""

    site_header = "CP Navigator system administration"

    def has_permission(self, request: HttpRequest) -> bool:
        return bool(getattr(request.user, "is_system_admin", False))

    def login(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        if request.user.is_authenticated:
            from cpnav.accounts.access import forbidden

            raise forbidden(request, "system administration")
        return redirect(
            reverse("accounts:signin") + "?" + urlencode({"next": request.get_full_path()})
        )


class CPNavAdminConfig(AdminConfig):
    default_site = "cpnav.core.admin.SystemAdminSite"
