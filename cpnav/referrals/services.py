"""Referrals and the services directory: every change checked, written and audited here.

Only the case team and the owning agency's supervisors refer a person or change
a referral. A share never allows it: a share is a read-only window for one
specialist, and a referral discloses the person to a third party.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from cpnav.accounts import access
from cpnav.accounts.models import Agency, User
from cpnav.audit.services import record
from cpnav.cases.models import Person
from cpnav.core.csvtext import Problem
from cpnav.referrals import importer
from cpnav.referrals.models import (
    TRANSITIONS,
    Kind,
    Provider,
    Referral,
    ReferralEvent,
    ReferralStatus,
    Service,
)

NOTE_LIMIT = 2000
IMPORTED_FIELDS = ("name", "jurisdiction", "state", "services", "languages", "hours", "phone",
                   "email", "website", "notes", "source", "active")  # fmt: skip


class ReferralError(ValueError):
    """A refusal to show the user, on ``field`` when it belongs to one."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


class StaleReferral(Exception):
    """Someone changed the referral since the page was loaded."""

    def __init__(self, current: Referral) -> None:
        super().__init__("stale version")
        self.current = current


# --- The directory ----------------------------------------------------------


def national_first(providers: QuerySet[Provider]) -> QuerySet[Provider]:
    rank = Case(
        When(kind=Kind.NATIONAL, then=Value(0)), default=Value(1), output_field=IntegerField()
    )
    return providers.annotate(rank=rank).order_by("rank", "name", "pk")


def directory(
    *, text: str = "", state: str = "", service: str = "", language: str = ""
) -> list[Provider]:
    """Active providers matching every filter given, national ones first.

    National providers serve every state, so a state filter keeps them. Service
    and language are matched in Python: the lists are JSON, which SQLite cannot
    search by element, and the directory is small.
    """
    providers = Provider.objects.filter(active=True)
    if text:
        providers = providers.filter(
            Q(name__icontains=text) | Q(jurisdiction__icontains=text) | Q(notes__icontains=text)
        )
    if state:
        providers = providers.filter(Q(kind=Kind.NATIONAL) | Q(state=state.upper()))
    found = list(national_first(providers))
    if service:
        found = [p for p in found if service in p.services]
    if language:
        wanted = language.strip().casefold()
        found = [p for p in found if any(wanted in lang.casefold() for lang in p.languages)]
    return found


def get_provider(request: HttpRequest, provider_id: UUID) -> Provider:
    provider = Provider.objects.filter(pk=provider_id).first()
    if provider is None:
        raise access.not_found(request, "provider", provider_id)
    return provider


# --- Referrals ----------------------------------------------------------------


def local_today(agency: Agency) -> date:
    """Today where the agency is: "not in the past" means the agency's calendar day."""
    return timezone.now().astimezone(ZoneInfo(agency.time_zone)).date()


def may_refer(user: User, person: Person) -> bool:
    return access.can_edit_case(user, person.case)


def _require_editor(http: HttpRequest | None, actor: User, person: Person) -> None:
    if not may_refer(actor, person):
        if http is None:
            raise ReferralError(_("Only the case team or a supervisor can make referrals."))
        raise access.forbidden(http, "referral")


def visible_referrals(user: User) -> QuerySet[Referral]:
    return Referral.objects.filter(person__case__in=access.visible_cases(user)).select_related(
        "provider", "person", "person__case", "person__case__agency"
    )


def get_referral(request: HttpRequest, referral_id: UUID) -> Referral:
    """The referral, for someone who may change it: 404 if unseen, 403 if only seen."""
    user = access.signed_in(request.user)
    found = visible_referrals(user).filter(pk=referral_id).first() if user else None
    if found is None or user is None:
        raise access.not_found(request, "referral", referral_id)
    if not may_refer(user, found.person):
        raise access.forbidden(request, "referral")
    return found


def _follow_up(agency: Agency, follow_up_on: date | None) -> None:
    if follow_up_on is not None and follow_up_on < local_today(agency):
        raise ReferralError(_("The follow-up date is in the past."), "follow_up_on")


def _note(note: str, field: str) -> str:
    note = note.strip()
    if len(note) > NOTE_LIMIT:
        raise ReferralError(
            _("Keep the note under %(limit)d characters.") % {"limit": NOTE_LIMIT}, field
        )
    return note


def refer(
    http: HttpRequest | None,
    actor: User,
    person: Person,
    provider: Provider,
    services: Iterable[str],
    consent: bool,
    follow_up_on: date | None,
    note: str,
) -> Referral:
    """Refer the person to the provider. ``note`` says how the person agreed."""
    _require_editor(http, actor, person)
    if consent is not True:
        raise ReferralError(
            _(
                "Record that the person agreed to this referral. Ask first: a referral shares "
                "their situation with the provider."
            ),
            "consent",
        )
    if not provider.active:
        raise ReferralError(_("This provider is no longer listed."), "provider")
    chosen = list(dict.fromkeys(services))
    if not chosen:
        raise ReferralError(_("Choose at least one service."), "services")
    unknown = [s for s in chosen if s not in Service.values]
    offered = [s for s in chosen if s in provider.services]
    if unknown or len(offered) != len(chosen):
        raise ReferralError(
            _("%(provider)s does not list that service. It offers: %(offers)s.")
            % {"provider": provider.name, "offers": ", ".join(provider.service_labels())},
            "services",
        )
    _follow_up(person.case.agency, follow_up_on)
    consent_note = _note(note, "consent_note")
    now = timezone.now()
    with transaction.atomic():
        referral = Referral.objects.create(
            person=person,
            provider=provider,
            services=chosen,
            consent_recorded=True,
            consent_recorded_by=actor,
            consent_recorded_at=now,
            consent_note=consent_note,
            status=ReferralStatus.SENT,
            follow_up_on=follow_up_on,
            created_by=actor,
        )
        ReferralEvent.objects.create(
            referral=referral, status=ReferralStatus.SENT, actor=actor, at=now
        )
        record(
            "referral.created",
            request=http,
            actor=actor,
            agency_id=person.case.agency_id,
            object_type="referral",
            object_id=referral.pk,
            details={
                "person": str(person.pk),
                "provider": str(provider.pk),
                "services": chosen,
                "consent_recorded": True,
                "follow_up_on": follow_up_on.isoformat() if follow_up_on else None,
            },
        )
    return referral


def _locked(referral: Referral, version: int) -> Referral:
    locked = Referral.objects.select_for_update().select_related("person__case").get(pk=referral.pk)
    if locked.version != version:
        raise StaleReferral(locked)
    return locked


def set_status(
    http: HttpRequest | None,
    actor: User,
    referral: Referral,
    status: str,
    *,
    version: int,
    note: str = "",
) -> Referral:
    """Move the referral along one of its named transitions (see models.TRANSITIONS)."""
    _require_editor(http, actor, referral.person)
    note = _note(note, "note")
    with transaction.atomic():
        locked = _locked(referral, version)
        if status not in TRANSITIONS[locked.status]:
            raise ReferralError(
                _("A referral that is %(now)s cannot become %(next)s.")
                % {
                    "now": locked.get_status_display().lower(),
                    "next": str(dict(ReferralStatus.choices).get(status, status)).lower(),
                },
                "status",
            )
        before = locked.status
        now = timezone.now()
        locked.status = status
        locked.version += 1
        locked.save(update_fields=["status", "version", "updated_at"])
        ReferralEvent.objects.create(referral=locked, status=status, note=note, actor=actor, at=now)
        record(
            "referral.status_changed",
            request=http,
            actor=actor,
            agency_id=locked.person.case.agency_id,
            object_type="referral",
            object_id=locked.pk,
            details={"from": before, "to": status, "version": locked.version},
        )
    return locked


def set_follow_up(
    http: HttpRequest | None,
    actor: User,
    referral: Referral,
    follow_up_on: date | None,
    *,
    version: int,
) -> Referral:
    _require_editor(http, actor, referral.person)
    if follow_up_on != referral.follow_up_on:
        _follow_up(referral.person.case.agency, follow_up_on)
    with transaction.atomic():
        locked = _locked(referral, version)
        before = locked.follow_up_on
        locked.follow_up_on = follow_up_on
        locked.version += 1
        locked.save(update_fields=["follow_up_on", "version", "updated_at"])
        record(
            "referral.follow_up_changed",
            request=http,
            actor=actor,
            agency_id=locked.person.case.agency_id,
            object_type="referral",
            object_id=locked.pk,
            details={
                "from": before.isoformat() if before else None,
                "to": follow_up_on.isoformat() if follow_up_on else None,
                "version": locked.version,
            },
        )
    return locked


def referral_inputs(person: Person) -> tuple[tuple[date | None, str], ...]:
    """(follow-up date, status) of each of the person's referrals, oldest first.

    The shape ``cpnav.grants.deadlines.DeadlineInputs.referrals`` takes. The
    caller has already checked that the user may see the person.
    """
    return tuple(
        (follow_up_on, status)
        for follow_up_on, status in Referral.objects.filter(person=person)
        .order_by("created_at", "pk")
        .values_list("follow_up_on", "status")
    )


# --- Importing local providers ---------------------------------------------------


@dataclass(frozen=True)
class ImportReport:
    problems: tuple[Problem, ...]
    created: int = 0
    updated: int = 0
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems


def can_import(user: User) -> bool:
    return access.administered_agencies(user).exists()


def import_providers(
    data: bytes,
    *,
    source: str,
    agency: Agency | None,
    dry_run: bool,
    http: HttpRequest | None = None,
    actor: User | None = None,
    actor_label: str = "",
) -> ImportReport:
    """All or nothing: when any row has a problem, nothing is written.

    A row matching a local provider of the same agency (same name and
    jurisdiction, ignoring case) updates it; every other row adds one.
    """
    parsed = importer.parse(data, source=source)
    if not parsed.ok:
        return ImportReport(parsed.problems, dry_run=dry_run)
    existing = {
        (p.name.casefold(), p.jurisdiction.casefold()): p
        for p in Provider.objects.filter(kind=Kind.LOCAL, agency=agency)
    }
    now = timezone.now()
    new: list[Provider] = []
    changed: list[Provider] = []
    for row in parsed.rows:
        fields: dict[str, Any] = {name: getattr(row, name) for name in IMPORTED_FIELDS}
        fields["services"] = list(row.services)
        fields["languages"] = list(row.languages)
        provider = existing.get(row.match_key)
        if provider is None:
            new.append(Provider(kind=Kind.LOCAL, agency=agency, **fields))
        else:
            for name, value in fields.items():
                setattr(provider, name, value)
            provider.updated_at = now
            changed.append(provider)
    report = ImportReport((), created=len(new), updated=len(changed), dry_run=dry_run)
    if dry_run:
        return report
    with transaction.atomic():
        Provider.objects.bulk_create(new, batch_size=500)
        Provider.objects.bulk_update(changed, [*IMPORTED_FIELDS, "updated_at"], batch_size=500)
        record(
            "providers.imported",
            request=http,
            actor=actor,
            actor_label=actor_label,
            agency_id=agency.pk if agency else None,
            object_type="provider",
            details={"source": source[:200], "created": len(new), "updated": len(changed)},
        )
    return report
