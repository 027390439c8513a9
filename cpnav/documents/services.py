"""Build a request's package from the record, render it, and keep what was generated."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.http import HttpRequest
from django.utils import timezone

from cpnav.accounts import access
from cpnav.accounts.models import User
from cpnav.audit.services import record
from cpnav.cases import workflow
from cpnav.cases.attachments import store
from cpnav.cases.models import CPRequest, RequestEvent
from cpnav.documents import package as pkg
from cpnav.documents.models import GeneratedDocument
from cpnav.documents.render import render_docx, render_pdf
from cpnav.guide.content import guide

# Where the CP request interview keeps what the package needs (cpnav/interview/definitions).
OFFICIAL_KEYS = {
    "name": "official_name",
    "title": "official_title",
    "phone": "official_phone",
    "email": "official_email",
}
T_VISA_KEY = "t_visa_referral"


def _event(cp: CPRequest, name: str) -> RequestEvent | None:
    return cp.events.filter(transition=name).select_related("actor").order_by("-at").first()


def _sheet_language(languages: list[str]) -> str:
    spanish = {"spanish", "español", "espanol", "es"}
    return "es" if any(lang.strip().lower() in spanish for lang in languages) else "en"


def review_sections(cp: CPRequest) -> list[pkg.AnswerSection]:
    """The interview's answers as the reviewer sees them, or the facts if no interview ran."""
    from cpnav.interview import interview_by_id, review

    if cp.answers:
        sections = review(interview_by_id(_interview_id(cp)), cp.answers, today=date.today())
        return [
            pkg.AnswerSection(
                title=section.title,
                rows=tuple(
                    pkg.AnswerRow(label=row.label, value=row.value or "-")
                    for row in section.rows
                    if row.relevant
                ),
            )
            for section in sections
        ]
    rows = [
        pkg.AnswerRow(label=f"{group}.{key}", value=str(value))
        for group, values in (cp.facts or {}).items()
        if isinstance(values, dict)
        for key, value in values.items()
        if value is not None
    ]
    return [pkg.AnswerSection(title="Facts recorded", rows=tuple(rows))] if rows else []


def _interview_id(cp: CPRequest) -> str:
    return "extension" if cp.kind == "extension" else "cp_request"


def build_context(cp: CPRequest, actor: User, *, supplement_b: bool = False) -> pkg.PackageContext:
    case, person = cp.case, cp.person
    answers: dict[str, Any] = cp.answers or {}
    official = None
    if answers.get(OFFICIAL_KEYS["name"]):
        official = pkg.RequestingOfficial(
            **{field: str(answers.get(key) or "") for field, key in OFFICIAL_KEYS.items()}
        )
    approve, endorse = _event(cp, "approve"), _event(cp, "endorse")
    language = _sheet_language(person.languages or [])
    sheet = guide().page(language, "victim-sheet")
    # Built from the record as plain data and validated: the record's choices are
    # the package's literals, and a mismatch fails loudly here.
    return pkg.PackageContext.model_validate(
        dict(
            reference=workflow.reference(cp),
            generated_at=timezone.now(),
            generated_by=dict(name=actor.full_name or actor.email),
            kind=cp.kind,
            agency=dict(name=case.agency.name, level=case.agency.level, ori=case.agency.ori),
            official=official,
            federal_partner=dict(
                office=cp.sponsor_office.name,
                sponsor_name=cp.sponsor.full_name if cp.sponsor else "",
            )
            if cp.sponsor_office
            else None,
            case_number=case.case_number,
            trafficking_forms=tuple(case.trafficking_forms),
            criminal_status=case.criminal_status,
            civil_action=dict(
                status=case.civil_status,
                court=case.civil_court,
                number=case.civil_number,
                filed_on=case.civil_filed_on,
            ),
            person=dict(
                full_name=person.full_name,
                other_names=tuple(person.aliases or []),
                date_of_birth=person.birth_date,
                age_estimate=person.age_estimate,
                citizenship=person.citizenship,
                country=person.country,
                languages=tuple(person.languages or []),
                interpreter_needed=person.interpreter_needed,
                a_number=person.a_number,
                do_not_contact=person.do_not_contact,
                safe_contact=person.safe_contact,
            ),
            narrative=cp.narrative,
            answers=tuple(review_sections(cp)),
            determination=cp.determination if cp.determination else None,
            supervisor_approval=dict(
                name=approve.actor.full_name, approved_on=approve.at.date(), comment=approve.comment
            )
            if approve
            else None,
            sponsor_endorsement=dict(
                name=endorse.actor.full_name,
                office=cp.sponsor_office.name if cp.sponsor_office else "",
                endorsed_on=endorse.at.date(),
                comment=endorse.comment,
            )
            if endorse
            else None,
            decisions=tuple(
                dict(
                    kind=d.kind,
                    recorded_on=d.recorded_at.date(),
                    start_date=d.start_date,
                    end_date=d.end_date,
                    details=d.information_requested or d.reason,
                )
                for d in cp.decisions.all()
            ),
            victim_sheet=dict(language=language, paragraphs=tuple(sheet.blocks) if sheet else ()),
            supplement_b_draft=supplement_b,
            t_visa_referral_advised=answers.get(T_VISA_KEY) == "yes",
        )
    )


def missing(cp: CPRequest, actor: User) -> list[str]:
    return pkg.missing_for_package(build_context(cp, actor))


def generate(
    http: HttpRequest, cp: CPRequest, actor: User, *, supplement_b: bool = False
) -> list[GeneratedDocument]:
    """Render the PDF and the DOCX, store both with their SHA-256, and record who made them.

    Raises PackageIncompleteError listing what is missing. Building the
    context reads the person's identifying fields, so it is audited as a view.
    """
    ctx = build_context(cp, actor, supplement_b=supplement_b)
    documents = pkg.documents_for(ctx)
    outputs = {"pdf": render_pdf(ctx, documents), "docx": render_docx(ctx, documents)}
    enabled = [d.id for d in pkg.chosen(documents)]
    stored = {
        fmt: store([data], name=f"{ctx.reference}-package.{fmt}") for fmt, data in outputs.items()
    }
    with transaction.atomic():
        current = GeneratedDocument.objects.filter(request=cp).aggregate(v=Max("version"))["v"]
        version = (current or 0) + 1
        made = [
            GeneratedDocument.objects.create(
                request=cp,
                version=version,
                format=fmt,
                relative_path=item.relative_path,
                sha256=item.sha256,
                size=item.size,
                documents=enabled,
                request_status=cp.status,
                generated_by=actor,
            )
            for fmt, item in stored.items()
        ]
        access.identifying_view(http, cp.person, None)
        record(
            "package.generated",
            request=http,
            actor=actor,
            agency_id=cp.case.agency_id,
            object_type="request",
            object_id=cp.pk,
            details={"version": version, "sha256": {g.format: g.sha256 for g in made}},
        )
    return made
