"""Agency administrators manage their own agency's members, and nobody else's."""

from __future__ import annotations

from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cpnav.accounts import access, services
from cpnav.accounts.forms import InviteForm, MemberResetForm, MemberRolesForm, posted_data
from cpnav.accounts.models import Invitation, Membership, PasswordReset


def _apply_errors(
    form: InviteForm | MemberRolesForm | MemberResetForm, error: ValidationError
) -> None:
    if hasattr(error, "error_dict"):
        for field, errors in error.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error.messages)


@login_required
def agencies(request: HttpRequest) -> HttpResponse:
    administered = access.administered_agencies(request.user)
    if administered.count() == 1:
        only = administered.get()
        return redirect("accounts:members", agency_id=only.pk)
    return render(request, "accounts/agencies.html", {"agencies": administered})


@login_required
def members(request: HttpRequest, agency_id: UUID) -> HttpResponse:
    agency = access.get_administered_agency(request, agency_id)
    rows = (
        Membership.objects.filter(agency=agency)
        .select_related("user")
        .order_by("user__full_name", "role")
    )
    people: dict[UUID, dict[str, object]] = {}
    for row in rows:
        entry = people.setdefault(row.user.pk, {"user": row.user, "roles": []})
        entry["roles"].append(row.get_role_display())  # type: ignore[attr-defined]
    invitations = Invitation.objects.filter(
        agency=agency, accepted_at__isnull=True, revoked_at__isnull=True
    )
    return render(
        request,
        "accounts/members.html",
        {"agency": agency, "people": list(people.values()), "invitations": invitations},
    )


@login_required
def invite(request: HttpRequest, agency_id: UUID) -> HttpResponse:
    agency = access.get_administered_agency(request, agency_id)
    form = InviteForm(request.POST or None, agency=agency)
    if request.method == "POST" and form.is_valid():
        try:
            services.invite(
                request,
                agency,
                email=form.cleaned_data["email"],
                full_name=form.cleaned_data["full_name"],
                roles=form.cleaned_data["roles"],
            )
        except ValidationError as error:
            _apply_errors(form, error)
        else:
            messages.success(
                request, _("Invitation sent to %(email)s.") % {"email": form.cleaned_data["email"]}
            )
            return redirect("accounts:members", agency_id=agency.pk)
    return render(request, "accounts/invite.html", {"agency": agency, "form": form})


@require_POST
@login_required
def revoke_invitation(request: HttpRequest, agency_id: UUID, invitation_id: UUID) -> HttpResponse:
    agency = access.get_administered_agency(request, agency_id)
    found = Invitation.objects.filter(agency=agency, pk=invitation_id).first()
    if found is None:
        raise access.not_found(request, "invitation", invitation_id)
    try:
        services.revoke_invitation(request, found)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("Invitation revoked."))
    return redirect("accounts:members", agency_id=agency.pk)


@login_required
def member(request: HttpRequest, agency_id: UUID, user_id: UUID) -> HttpResponse:
    agency = access.get_administered_agency(request, agency_id)
    person = access.get_agency_member(request, agency, user_id)
    current = list(
        Membership.objects.filter(agency=agency, user=person).values_list("role", flat=True)
    )
    form = MemberRolesForm(request.POST or None, agency=agency, initial={"roles": current})
    if request.method == "POST" and form.is_valid():
        try:
            services.set_roles(request, agency, person, form.cleaned_data["roles"])
        except ValidationError as error:
            _apply_errors(form, error)
        else:
            messages.success(request, _("Roles saved."))
            return redirect("accounts:member", agency_id=agency.pk, user_id=person.pk)
    open_reset = PasswordReset.objects.filter(
        user=person, used_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now()
    ).first()
    return render(
        request,
        "accounts/member.html",
        {"agency": agency, "person": person, "form": form, "open_reset": open_reset},
    )


@login_required
def member_reset(request: HttpRequest, agency_id: UUID, user_id: UUID) -> HttpResponse:
    """Send a password reset link and/or reset the authenticator of a member who is stuck."""
    agency = access.get_administered_agency(request, agency_id)
    person = access.get_agency_member(request, agency, user_id)
    actor = access.signed_in(request.user)
    assert actor is not None
    if person.is_system_admin and not actor.is_system_admin:
        # System administrators recover through another system administrator.
        raise access.not_found(request, "user", user_id)
    if person.pk == actor.pk:
        messages.error(
            request, _("Change your own password and authenticator on your account page.")
        )
        return redirect("accounts:member", agency_id=agency.pk, user_id=person.pk)
    form = MemberResetForm(posted_data(request))
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                if form.cleaned_data["reset_authenticator"]:
                    services.reset_authenticator(request, agency, person)
                if form.cleaned_data["send_link"]:
                    services.issue_password_reset(request, agency, person)
        except ValidationError as error:
            _apply_errors(form, error)
        else:
            if form.cleaned_data["reset_authenticator"]:
                messages.success(
                    request,
                    _("Authenticator reset: they set up a new one at their next sign-in."),
                )
            if form.cleaned_data["send_link"]:
                messages.success(
                    request, _("Password reset link sent to %(email)s.") % {"email": person.email}
                )
            return redirect("accounts:member", agency_id=agency.pk, user_id=person.pk)
    return render(
        request, "accounts/member_reset.html", {"agency": agency, "person": person, "form": form}
    )


@require_POST
@login_required
def member_action(
    request: HttpRequest, agency_id: UUID, user_id: UUID, action: str
) -> HttpResponse:
    agency = access.get_administered_agency(request, agency_id)
    person = access.get_agency_member(request, agency, user_id)
    if person.pk == request.user.pk and action == "disable":
        messages.error(request, _("You cannot disable your own account."))
    elif action == "disable":
        services.disable(
            person, request=request, reason=f"disabled by an administrator of {agency}"
        )
        messages.success(request, _("Account disabled; its sessions have ended."))
    elif action == "enable":
        services.enable(person, request=request)
        messages.success(request, _("Account enabled."))
    elif action == "unlock":
        services.unlock(person, request=request)
        messages.success(request, _("Account unlocked."))
    elif action == "end-sessions":
        services.end_sessions(person, request=request, reason="ended by an administrator")
        messages.success(request, _("All of this member's sessions have ended."))
    else:
        raise access.not_found(request, "action", action)
    return redirect("accounts:member", agency_id=agency.pk, user_id=person.pk)
