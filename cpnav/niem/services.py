"""Exporting a request or a grant as NIEM, and importing a NIEM document as a new draft.

Need to know: callers fetch the record through the access helpers
(``access.get_cp_request``, ``grants.services.get_grant``), so a record outside
the user's need to know is a 404 before anything is built. Redaction follows
the exports rule (cpnav.exports.services): identifying fields leave only on
request, and only for a user who may edit the case (``access.can_edit_case``).

Audit: every export writes ``niem.exported`` (record, format, identifying or
redacted) and every import ``niem.imported`` or ``niem.import_refused`` - never
the personal data itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from typing import Final

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from lxml import etree

from cpnav.accounts import access
from cpnav.accounts.models import Agency, Level, User
from cpnav.audit.models import Outcome
from cpnav.audit.services import record
from cpnav.cases import services as case_services
from cpnav.cases.models import Case, CPRequest, Status
from cpnav.cases.workflow import reference, refresh_determination
from cpnav.grants import services as grant_services
from cpnav.grants.models import Grant
from cpnav.niem import reader, schema, writer
from cpnav.niem.schema import InvalidDocument, Problem

FORMATS: Final = {"xml": "application/xml", "jsonld": "application/ld+json"}


@dataclass(frozen=True)
class Download:
    content: bytes
    filename: str
    content_type: str


class ExportRefused(ValueError):
    """Not a format we write."""


def may_identify(user: User, case: Case) -> bool:
    """The exports rule: the case team and the owning agency's supervisors."""
    return access.can_edit_case(user, case)


def _render(
    http: HttpRequest,
    user: User,
    *,
    kind: str,
    object_id: object,
    case: Case,
    label: str,
    body: etree._Element,
    fmt: str,
    identifying: bool,
) -> Download:
    tree = writer.exchange(body, identifying, timezone.now())
    found = schema.problems(tree)
    if found:  # our own writer produced something the schemas refuse: a bug, never sent
        raise RuntimeError(f"exported NIEM document is not valid: {found[0]}")
    if fmt == "xml":
        content = writer.to_xml(tree)
    else:
        content = json.dumps(writer.to_jsonld(tree), ensure_ascii=False, indent=2).encode()
    record(
        "niem.exported",
        request=http,
        actor=user,
        agency_id=case.agency_id,
        object_type=kind,
        object_id=str(object_id),
        details={"format": fmt, "identifying": identifying, "redacted": not identifying},
    )
    suffix = "-identifying" if identifying else ""
    extension = "xml" if fmt == "xml" else "jsonld"
    return Download(content, f"cpnav-{label}-niem{suffix}.{extension}", FORMATS[fmt])


def _check(http: HttpRequest, user: User, case: Case, fmt: str, identifying: bool) -> None:
    if fmt not in FORMATS:
        raise ExportRefused(_("Choose NIEM XML or JSON-LD."))
    if identifying and not may_identify(user, case):
        raise access.forbidden(http, "niem identifying fields")


def export_request(
    http: HttpRequest, user: User, cp: CPRequest, fmt: str, *, identifying: bool = False
) -> Download:
    """``cp`` must come from ``access.get_cp_request`` (need to know)."""
    _check(http, user, cp.case, fmt, identifying)
    return _render(
        http, user, kind="request", object_id=cp.pk, case=cp.case, label=reference(cp),
        body=writer.request_element(cp, identifying), fmt=fmt, identifying=identifying,
    )  # fmt: skip


def export_grant(
    http: HttpRequest,
    user: User,
    grant: Grant,
    fmt: str,
    *,
    identifying: bool = False,
    today: date | None = None,
) -> Download:
    """``grant`` must come from ``grants.services.get_grant`` (need to know)."""
    case = grant.person.case
    _check(http, user, case, fmt, identifying)
    body = writer.grant_element(grant, identifying, today or timezone.localdate())
    return _render(
        http, user, kind="grant", object_id=grant.pk, case=case,
        label=grant_services.reference(grant), body=body, fmt=fmt, identifying=identifying,
    )  # fmt: skip


# --- Import ------------------------------------------------------------------------


@dataclass
class Imported:
    request: CPRequest
    report: list[reader.Line] = field(default_factory=list)


def import_agencies(user: User) -> list[Agency]:
    """Where the user may open a case: their agencies as an investigator."""
    return case_services.investigator_agencies(user)


def _refused(http: HttpRequest, user: User, problems: list[Problem], stage: str) -> InvalidDocument:
    record(
        "niem.import_refused",
        request=http,
        actor=user,
        object_type="request",
        outcome=Outcome.FAILURE,
        details={"stage": stage, "problems": len(problems)},
    )
    return InvalidDocument(problems)


def import_document(http: HttpRequest, user: User, data: bytes, agency: Agency) -> Imported:
    """Validate, then open a case, add the person and start a draft request - or write nothing.

    Raises InvalidDocument (with every problem found) or PermissionDenied.
    """
    if agency not in import_agencies(user):
        raise access.forbidden(http, "niem import")
    try:
        tree = schema.read(data)
    except InvalidDocument as refused:
        raise _refused(http, user, refused.problems, "schema") from None
    result = reader.plan(tree)
    case_fields = dict(result.case)
    partner = _partner(result.partner_ori, agency)
    if partner is not None:
        case_fields["federal_partner"] = partner
        result.report.append(reader.Line(str(reader.LABELS["federal_partner"]), True, partner.name))
    elif result.partner_ori:
        result.skip(
            str(reader.LABELS["federal_partner"]),
            _("no federal office with ORI %(ori)s here; choose the partner on the request")
            % {"ori": result.partner_ori},
        )
    if Case.objects.filter(agency=agency, case_number=case_fields.get("case_number", "")).exists():
        result.problems.append(
            Problem(
                str(reader.LABELS["case_number"]),
                _("Your agency already has a case with this number."),
            )
        )
    if result.problems:
        raise _refused(http, user, result.problems, "content")
    with transaction.atomic():
        case = case_services.create_case(http, user, agency, **case_fields)
        person = case_services.add_person(http, case, **result.person)
        cp = case_services.start_request(http, user, person, result.request.get("kind", "initial"))
        cp.narrative = result.request.get("narrative", "")
        refresh_determination(cp)
        cp.save()
        assert cp.status == Status.DRAFT
        record(
            "niem.imported",
            request=http,
            actor=user,
            agency_id=agency.pk,
            object_type="request",
            object_id=cp.pk,
            details={
                "taken": sum(1 for line in result.report if line.taken),
                "not_taken": sum(1 for line in result.report if not line.taken),
                "redacted_source": result.redacted,
            },
        )
    return Imported(cp, result.report)


def _partner(ori: str, agency: Agency) -> Agency | None:
    if not ori or agency.level == Level.FEDERAL:
        return None
    return Agency.objects.filter(ori=ori, level=Level.FEDERAL).first()
