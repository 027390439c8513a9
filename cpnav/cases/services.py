"""Case work that spans models: creating records, versioned saves, sharing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from cpnav.accounts import access
from cpnav.accounts.models import Agency, Level, Role, User
from cpnav.audit.models import Outcome
from cpnav.audit.services import record
from cpnav.cases.attachments import AttachmentError
from cpnav.cases.models import Case, CaseMember, CPRequest, Person, Share, Status

VersionedT = TypeVar("VersionedT", Case, Person, CPRequest)


class StaleVersion(Exception):
    """Someone else saved first. ``current`` holds their version, for the merge page."""

    def __init__(self, current: Case | Person | CPRequest) -> None:
        super().__init__("stale version")
        self.current = current


class CaseError(ValueError):
    def __init__(self, message: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.fields = fields or {}


def investigator_agencies(user: User) -> list[Agency]:
    return list(access.agencies_where(user, Role.INVESTIGATOR))


def create_case(http: HttpRequest, actor: User, agency: Agency, **fields: Any) -> Case:
    if agency not in investigator_agencies(actor):
        raise access.forbidden(http, "create case")
    partner = fields.get("federal_partner")
    if partner is not None and not partner.is_federal:
        raise CaseError(
            _("The partner must be a federal office."),
            {"federal_partner": _("Choose a federal office.")},
        )
    if Case.objects.filter(agency=agency, case_number=fields.get("case_number", "")).exists():
        raise CaseError(
            _("Your agency already has a case with this number."),
            {"case_number": _("This case number is already used at your agency.")},
        )
    with transaction.atomic():
        case = Case.objects.create(agency=agency, lead_investigator=actor, **fields)
        CaseMember.objects.create(case=case, user=actor)
        record(
            "case.created", request=http, agency_id=agency.pk, object_type="case", object_id=case.pk
        )
    return case


def save_versioned(
    http: HttpRequest, obj: VersionedT, expected_version: int, changes: dict[str, Any], action: str
) -> VersionedT:
    """Save only if nobody saved since the version the user started from.

    The row is locked (PostgreSQL) or the write lock taken (SQLite's IMMEDIATE
    transactions) before the version is compared, so two people saving the
    same record can never both win; the loser gets StaleVersion and a merge page.
    """
    model = type(obj)
    with transaction.atomic():
        locked = model.objects.select_for_update().get(pk=obj.pk)
        if locked.version != expected_version:
            raise StaleVersion(locked)
        for name, value in changes.items():
            setattr(locked, name, value)
        if isinstance(locked, Person):
            locked.refresh_indexes()
        locked.version = expected_version + 1
        locked.save()
        agency_id = locked.agency_id if isinstance(locked, Case) else locked.case.agency_id
        record(
            action,
            request=http,
            agency_id=agency_id,
            object_type=model._meta.model_name or "",
            object_id=locked.pk,
            details={"fields": sorted(changes), "version": locked.version},
        )
    return locked


@dataclass(frozen=True)
class Duplicate:
    person: Person
    reason: str


def possible_duplicates(user: User, person: Person) -> list[Duplicate]:
    """People the user can see with the same A-number, or the same name and birth date."""
    person.refresh_indexes()
    visible = Person.objects.filter(case__in=access.visible_cases(user)).exclude(pk=person.pk)
    found = []
    if person.a_number_index:
        found += [
            Duplicate(p, _("same A-number"))
            for p in visible.filter(a_number_index=person.a_number_index)
        ]
    if person.name_dob_index:
        found += [
            Duplicate(p, _("same name and date of birth"))
            for p in visible.filter(name_dob_index=person.name_dob_index)
            if all(d.person.pk != p.pk for d in found)
        ]
    return found


def add_person(http: HttpRequest, case: Case, **fields: Any) -> Person:
    if not access.can_edit_case(http.user, case):
        raise access.forbidden(http, "add person")
    with transaction.atomic():
        person = Person(case=case, **fields)
        person.refresh_indexes()
        person.save()
        record(
            "person.created",
            request=http,
            agency_id=case.agency_id,
            object_type="person",
            object_id=person.pk,
        )
    return person


def start_request(
    http: HttpRequest, actor: User, person: Person, kind: str = "initial"
) -> CPRequest:
    case = person.case
    if not access.on_case_team(actor, case):
        raise access.forbidden(http, "start request")
    with transaction.atomic():
        cp = CPRequest.objects.create(
            case=case, person=person, kind=kind, created_by=actor,
            sponsor_office=case.federal_partner if case.agency.level != Level.FEDERAL else None,
        )  # fmt: skip
        record(
            "request.created",
            request=http,
            agency_id=case.agency_id,
            object_type="request",
            object_id=cp.pk,
        )
    return cp


def editable(user: User, cp: CPRequest) -> bool:
    """Drafts are edited by the case team; a submitted request is frozen."""
    return cp.status == Status.DRAFT and access.on_case_team(user, cp.case)


# A share is a short window for one specialist: at most this many days.
SHARE_MAX_DAYS = 90


def may_attach(user: User, cp: CPRequest) -> bool:
    """Files go on an open request, from its case team or its federal sponsor."""
    from cpnav.cases.workflow import is_sponsor  # workflow imports this module

    return cp.is_open and (access.on_case_team(user, cp.case) or is_sponsor(user, cp))


def upload_refused(http: HttpRequest, cp: CPRequest, error: AttachmentError) -> None:
    """A refused upload is audited (ASVS V16.3.3): who, on which request, and why in a
    word - not the file's name, which may name the victim."""
    record(
        "attachment.refused", request=http, agency_id=cp.case.agency_id, outcome=Outcome.FAILURE,
        object_type="request", object_id=cp.pk, details={"reason": error.reason},
    )  # fmt: skip


def share_person(
    http: HttpRequest,
    actor: User,
    person: Person,
    grantee: User,
    fields: list[str],
    reason: str,
    expires_at: datetime,
) -> Share:
    if not access.can_edit_case(actor, person.case):
        raise access.forbidden(http, "share person")
    if Role.VICTIM_SPECIALIST not in access.all_roles(grantee):
        raise CaseError(
            _("Records can be shared only with victim specialists."),
            {"grantee": _("Not a victim specialist.")},
        )
    if expires_at <= timezone.now():
        raise CaseError(
            _("The share must end in the future."), {"expires_at": _("Choose a later date.")}
        )
    # A day's grace: the page picks a date, whose end may fall a little past the limit.
    if expires_at > timezone.now() + timedelta(days=SHARE_MAX_DAYS + 1):
        message = _("A share lasts at most %(n)d days.") % {"n": SHARE_MAX_DAYS}
        raise CaseError(message, {"expires_at": message})
    unknown = set(fields) - set(Person.IDENTIFYING)
    if unknown:
        raise CaseError(_("Unknown fields: %(f)s") % {"f": ", ".join(sorted(unknown))})
    share = Share.objects.create(person=person, grantee=grantee, fields=sorted(fields), reason=reason,
                                 granted_by=actor, expires_at=expires_at)  # fmt: skip
    record("person.shared", request=http, agency_id=person.case.agency_id, object_type="person",
           object_id=person.pk, details={"grantee": str(grantee.pk), "fields": sorted(fields),
                                          "expires_at": expires_at.isoformat()})  # fmt: skip
    return share


def revoke_share(http: HttpRequest, share: Share) -> None:
    share.revoked_at = timezone.now()
    share.save(update_fields=["revoked_at"])
    record("person.share_revoked", request=http, agency_id=share.person.case.agency_id,
           object_type="person", object_id=share.person_id, details={"share": str(share.pk)})  # fmt: skip


def add_member(http: HttpRequest, case: Case, member: User) -> None:
    """Put someone on the case team: they must belong to the owning agency."""
    if not access.can_edit_case(http.user, case):
        raise access.forbidden(http, "case team")
    if not case.agency.memberships.filter(user=member).exists():
        raise CaseError(
            _("Only members of %(agency)s can join this case team.") % {"agency": case.agency.name}
        )
    _member, created = CaseMember.objects.get_or_create(case=case, user=member)
    if created:
        record("case.member_added", request=http, agency_id=case.agency_id, object_type="case",
               object_id=case.pk, details={"user": str(member.pk)})  # fmt: skip


def remove_member(http: HttpRequest, case: Case, member: User) -> None:
    if not access.can_edit_case(http.user, case):
        raise access.forbidden(http, "case team")
    if member.pk == case.lead_investigator_id:
        raise CaseError(_("The lead investigator stays on the team."))
    if CaseMember.objects.filter(case=case, user=member).delete()[0]:
        record("case.member_removed", request=http, agency_id=case.agency_id, object_type="case",
               object_id=case.pk, details={"user": str(member.pk)})  # fmt: skip


def choose_partner(http: HttpRequest, cp: CPRequest, office: Agency | None) -> None:
    """Pick the federal office that will sponsor a draft (for example after a decline)."""
    actor = access.signed_in(http.user)
    if actor is None or not editable(actor, cp):
        raise access.forbidden(http, "choose partner")
    if office is not None and (not office.is_federal or office.is_ccht):
        raise CaseError(_("Choose a federal partner office."))
    cp.sponsor_office = office
    cp.save(update_fields=["sponsor_office", "updated_at"])
    record("request.partner_chosen", request=http, agency_id=cp.case.agency_id, object_type="request",
           object_id=cp.pk, details={"office": str(office.pk) if office else None})  # fmt: skip
