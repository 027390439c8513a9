"""Django admin for system administrators: agencies, partnerships, people.

Every change made here is written to the audit trail, like changes made
through the application's own pages.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Model
from django.forms import ModelForm
from django.http import HttpRequest

from cpnav.accounts.models import Agency, FederalPartnership, Invitation, Membership, User
from cpnav.audit.services import record


def _audit(request: HttpRequest, action: str, obj: Model, changed: list[str] | None = None) -> None:
    record(
        f"admin.{action}",
        request=request,
        agency_id=getattr(obj, "agency_id", None) or (obj.pk if isinstance(obj, Agency) else None),
        object_type=obj._meta.model_name or "",
        object_id=str(obj.pk),
        details={"fields": sorted(changed or [])},
    )


class AuditedAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    def save_model(self, request: HttpRequest, obj: Any, form: ModelForm, change: bool) -> None:  # type: ignore[type-arg]
        super().save_model(request, obj, form, change)
        _audit(request, "change" if change else "add", obj, list(form.changed_data))

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        _audit(request, "delete", obj)
        super().delete_model(request, obj)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        super().save_formset(request, form, formset, change)
        for obj in formset.new_objects:
            _audit(request, "add", obj)
        for obj, fields in formset.changed_objects:
            _audit(request, "change", obj, list(fields))
        for obj in formset.deleted_objects:
            _audit(request, "delete", obj)


class MembershipInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Agency)
class AgencyAdmin(AuditedAdmin):
    list_display = ["name", "level", "state", "ori", "is_ccht"]
    list_filter = ["level", "is_ccht", "state"]
    search_fields = ["name", "ori"]
    inlines = [MembershipInline]


@admin.register(FederalPartnership)
class FederalPartnershipAdmin(AuditedAdmin):
    list_display = ["agency", "federal_office", "active"]
    list_filter = ["active"]
    autocomplete_fields = ["agency", "federal_office"]


@admin.register(User)
class UserAdmin(AuditedAdmin):
    list_display = ["email", "full_name", "is_active", "locked_at", "last_login", "is_staff"]
    list_filter = ["is_active", "is_staff", "is_demo"]
    search_fields = ["email", "full_name"]
    fields = ["email", "full_name", "is_active", "is_staff", "is_superuser", "locked_at",
              "disabled_reason", "last_login", "date_joined"]  # fmt: skip
    readonly_fields = ["last_login", "date_joined", "locked_at"]
    inlines = [MembershipInline]


@admin.register(Invitation)
class InvitationAdmin(AuditedAdmin):
    list_display = ["email", "agency", "created_at", "expires_at", "accepted_at", "revoked_at"]
    readonly_fields = ["token_hash", "created_by", "accepted_by", "accepted_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Invitations are sent from the agency's members page, which emails the link.
        return False
