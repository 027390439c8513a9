"""The words of a package, once, as a neutral outline of headings, paragraphs and tables.

Both renderers walk the same outline, so the PDF and the DOCX cannot drift
apart: what one says, the other says. Headings here start at level 3; each
document's title is level 2 and the package title level 1.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import ClassVar, Final, Literal

from cpnav.documents.package import (
    CRITERION_LABELS,
    HANDLING_NOTICE,
    STATUS_LABELS,
    DeterminationSummary,
    Document,
    DocumentId,
    PackageContext,
    checklist,
    chosen,
    paragraphs,
)

NOT_RECORDED: Final = "Not recorded"
SIGNATURE_LINE: Final = "_" * 30

LEVEL_LABELS: Final = {
    "federal": "Federal",
    "state": "State",
    "local": "Local",
    "tribal": "Tribal",
    "territorial": "Territorial",
}
CITIZENSHIP_LABELS: Final = {
    "unknown": "Not known yet",
    "noncitizen": "Not a U.S. citizen or lawful permanent resident",
    "us_citizen": "U.S. citizen",
    "lawful_permanent_resident": "Lawful permanent resident",
}
CRIMINAL_LABELS: Final = {
    "unknown": NOT_RECORDED,
    "investigating": "Under investigation",
    "charged": "Charges filed",
    "trial": "In trial",
    "convicted": "Conviction",
    "closed": "Closed without charges",
    "acquitted": "Acquittal",
}
CIVIL_LABELS: Final = {
    "none": "No civil action",
    "filed": "Filed",
    "pending": "Pending",
    "dismissed": "Dismissed",
    "resolved": "Settled or decided",
}
FORM_LABELS: Final = {"sex": "Sex trafficking", "labor": "Labor trafficking"}
OUTCOME_LABELS: Final = {
    "likely_eligible": "Likely eligible for Continued Presence",
    "needs_information": "More information needed",
    "not_eligible": "Not eligible on the facts recorded",
    "not_applicable": "Not applicable: U.S. citizen or lawful permanent resident",
}
PATH_LABELS: Final = {
    "federal_direct": "Submitted directly by a federal official",
    "through_federal_partner": "Submitted through a federal partner",
}
ACTION_LABELS: Final = {
    "notify_hhs_within_24h": "Notify HHS within 24 hours",
    "request_continued_presence": "Request Continued Presence",
    "find_federal_partner": "Find a federal partner",
    "request_deferred_action_pending_interview": "Ask ICE for deferred action until a follow-up interview",
    "refer_to_victim_services": "Refer to victim services",
    "refer_to_direct_services": "Refer to direct services",
    "refer_to_immigration_counsel_t_visa": "Refer to immigration counsel about a T visa",
}
URGENCY_LABELS: Final = {"immediate": "Immediate", "soon": "Soon", "routine": "Routine"}
SHEET_LANGUAGES: Final = {"en": "English", "es": "Spanish"}

FORM_NOT_PUBLIC: Final = (
    "This package is the requesting agency's own structured summary and checklist. "
    "The official Continued Presence request form and its fields are not public, so this "
    "package does not reproduce that form; provide the information in whatever form or "
    "format CCHT or the federal partner asks for."
)
NO_CONDITION: Final = (
    "Continued Presence is never conditioned on the victim's cooperation. It must not be "
    "offered, delayed or withdrawn as leverage for an interview or testimony."
)
DECISION_AID: Final = (
    "The determination below is CP Navigator's reading of the facts recorded, under the "
    "rule set named, with its sources. It is a decision aid, not a decision: CCHT decides."
)


# --- the outline -------------------------------------------------------------


@dataclass(frozen=True)
class Heading:
    kind: ClassVar[str] = "heading"
    level: int
    text: str


@dataclass(frozen=True)
class Para:
    kind: ClassVar[str] = "para"
    text: str
    label: str = ""
    style: Literal["", "note", "strong"] = ""
    lang: str = ""  # set when it differs from the package's language


@dataclass(frozen=True)
class Facts:
    """Labelled facts, one a line ("Label: value").

    Not a table: WeasyPrint lays out a table cell by cell, and the package's
    two-column tables took a fifth of the PDF's render time for no gain in
    meaning. Real tables (more than two columns, or a header row) stay tables.
    """

    kind: ClassVar[str] = "facts"
    rows: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Table:
    """A table with a header row; the first cell of each row is its header.
    ``caption`` is its accessible name, ``widths`` percentages of the text width."""

    kind: ClassVar[str] = "table"
    caption: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    widths: tuple[int, ...]

    def __post_init__(self) -> None:
        assert sum(self.widths) == 100
        assert len(self.columns) == len(self.widths)
        assert all(len(row) == len(self.widths) for row in self.rows)


@dataclass(frozen=True)
class Bullets:
    kind: ClassVar[str] = "bullets"
    items: tuple[str, ...]


Block = Heading | Para | Facts | Table | Bullets


@dataclass(frozen=True)
class Part:
    id: DocumentId
    title: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class Outline:
    title: str
    subtitle: str
    front: tuple[Para, ...]  # first page, above the first document: always shown
    parts: tuple[Part, ...]
    lang: str = "en"


def iso(day: date | None) -> str:
    return day.isoformat() if day is not None else NOT_RECORDED


def or_missing(value: str) -> str:
    return value or NOT_RECORDED


def yes_no(value: bool) -> str:
    return "Yes" if value else "No"


def _facts(rows: Iterable[tuple[str, str]]) -> Facts:
    return Facts(tuple((k, or_missing(v)) for k, v in rows))


def kind_label(ctx: PackageContext) -> str:
    return "Extension request" if ctx.kind == "extension" else "Initial request"


def package_title(ctx: PackageContext) -> str:
    """The document title: the reference, never a name (it ends up in file metadata)."""
    return f"Continued Presence request package {ctx.reference}"


def outline(ctx: PackageContext, documents: Iterable[Document]) -> Outline:
    selected = chosen(documents)
    parts = tuple(Part(d.id, d.title, tuple(_BUILDERS[d.id](ctx, selected))) for d in selected)
    front = (
        Para(f"{kind_label(ctx)} - {ctx.agency.name} - case {ctx.case_number}"),
        Para(FORM_NOT_PUBLIC, style="strong"),
        Para(NO_CONDITION, style="strong"),
        Para(
            f"Generated {_when(ctx.generated_at)} by "
            f"{_who(ctx.generated_by.name, ctx.generated_by.title)}. {HANDLING_NOTICE}.",
            style="note",
        ),
    )
    return Outline(
        title="Continued Presence (CP) request package",
        subtitle=f"Reference {ctx.reference}",
        front=front,
        parts=parts,
    )


def _when(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} {moment.tzname() or ''}".rstrip()


def _who(name: str, title: str) -> str:
    return f"{name}, {title}" if title else name


# --- cover memo ----------------------------------------------------------------


def _cover_memo(ctx: PackageContext, selected: list[Document]) -> list[Block]:
    official = ctx.official
    assert official is not None  # missing_for_package() refuses a package without one
    partner = ctx.federal_partner
    extension = ctx.kind == "extension"
    request = "an extension of Continued Presence" if extension else "Continued Presence"
    rows = [
        ("To", "DHS Center for Countering Human Trafficking (CCHT)"),
        ("From", f"{_who(official.name, official.title)}, {ctx.agency.name}"),
        ("Date", ctx.generated_at.date().isoformat()),
        ("Subject", f"Request for {request} - reference {ctx.reference}, case {ctx.case_number}"),
    ]
    if not ctx.federal:
        through = NOT_RECORDED
        if partner is not None:
            through = partner.office + (
                f" ({partner.sponsor_name})" if partner.sponsor_name else ""
            )
        rows.insert(1, ("Through", through))
    # The package's first lines (outline.front) already say that the form is
    # not public and that CP never depends on cooperation; the memo builds on them.
    blocks: list[Block] = [_facts(rows)]
    if ctx.federal:
        blocks.append(
            Para(
                f"{ctx.agency.name} requests {request} for the person described in the enclosed "
                "summary, identified in this investigation as a victim of a severe form of "
                "trafficking in persons."
            )
        )
    else:
        blocks.append(
            Para(
                f"{ctx.agency.name} is a {ctx.agency.level} agency. Only federal law "
                "enforcement officials can submit a request for Continued Presence, so we ask "
                f"the federal partner named above to sponsor {request} for the person described "
                "in the enclosed summary and to submit the request to CCHT."
            )
        )
    if extension:
        blocks.append(Para(_current_term(ctx), label="Current term"))
    if ctx.determination is not None:
        d = ctx.determination
        blocks.append(
            Para(
                f"{OUTCOME_LABELS[d.outcome]} (CP Navigator rules {d.rules_version}, as of "
                f"{d.as_of.isoformat()}); the criteria and their sources are in the request "
                "summary. CCHT decides.",
                label="Assessment",
            )
        )
    if ctx.minor is True:
        notified = (
            f"HHS was notified on {ctx.hhs_notified_on.isoformat()}."
            if ctx.hhs_notified_on
            else "The HHS notice (due within 24 hours of discovery) is not yet recorded."
        )
        blocks.append(Para(f"The person is under 18. {notified}", label="Minor"))
    contact = ", ".join(x for x in (official.phone, official.email) if x)
    blocks.append(Para(or_missing(contact), label="Contact"))
    blocks.append(Heading(3, "Enclosures"))
    blocks.append(Bullets(tuple(d.title for d in selected if d.id != "cover_memo") or ("None",)))
    blocks.append(Heading(3, "Signature"))
    blocks.append(
        _facts(
            [
                ("Signed", SIGNATURE_LINE),
                ("Name and title", _who(official.name, official.title)),
                ("Date signed", SIGNATURE_LINE),
            ],
        )
    )
    return blocks


# --- request summary ---------------------------------------------------------


def _current_term(ctx: PackageContext) -> str:
    grants = [d for d in ctx.decisions if d.kind.lower().startswith("grant") and d.end_date]
    if not grants:
        return "The current term is not recorded in this package."
    last = max(grants, key=lambda d: d.recorded_on)
    return f"Continued Presence was granted for {iso(last.start_date)} to {iso(last.end_date)}."


def _request_summary(ctx: PackageContext, selected: list[Document]) -> list[Block]:
    official, partner, person = ctx.official, ctx.federal_partner, ctx.person
    assert official is not None
    blocks: list[Block] = [Heading(3, "Requesting agency and official")]
    rows = [
        ("Request", kind_label(ctx)),
        ("Reference", ctx.reference),
        ("Case number", ctx.case_number),
        ("Agency", ctx.agency.name),
        ("Agency level", LEVEL_LABELS[ctx.agency.level]),
        ("ORI", ctx.agency.ori),
        ("Requesting official", _who(official.name, official.title)),
        ("Phone", official.phone),
        ("Email", official.email),
    ]
    if not ctx.federal or partner is not None:
        rows += [
            ("Federal partner office", partner.office if partner else ""),
            ("Federal sponsor", partner.sponsor_name if partner else ""),
        ]
    blocks.append(_facts(rows))

    blocks.append(Heading(3, "Person"))
    if person.do_not_contact:
        blocks.append(
            Para(
                "Do not contact this person directly. Use the safe contact instructions.",
                label="Do not contact",
                style="strong",
            )
        )
    age = ""
    if person.date_of_birth is None and person.age_estimate is not None:
        age = f"About {person.age_estimate} (estimated)"
    blocks.append(
        _facts(
            [
                ("Full name", person.full_name),
                ("Other names", "; ".join(person.other_names)),
                ("Date of birth", iso(person.date_of_birth) if person.date_of_birth else ""),
                *([("Estimated age", age)] if age else []),
                ("Under 18", {True: "Yes", False: "No", None: "Not known"}[ctx.minor]),
                ("Citizenship", CITIZENSHIP_LABELS[person.citizenship]),
                ("Country of citizenship", person.country),
                ("Languages", "; ".join(person.languages)),
                ("Interpreter needed", yes_no(person.interpreter_needed)),
                ("A-number", person.a_number),
                ("Do not contact directly", yes_no(person.do_not_contact)),
                ("Safe contact instructions", person.safe_contact),
            ],
        )
    )

    blocks.append(Heading(3, "Exploitation"))
    forms = "; ".join(FORM_LABELS[f] for f in ctx.trafficking_forms)
    blocks.append(Para(or_missing(forms), label="Forms of trafficking"))
    blocks.append(Heading(4, "Investigation summary"))
    blocks += [Para(p) for p in paragraphs(ctx.narrative)]

    blocks.append(Heading(3, "Witness and civil action"))
    civil = ctx.civil_action
    civil_rows = [
        ("Criminal case status", CRIMINAL_LABELS[ctx.criminal_status]),
        ("Civil action (18 U.S.C. 1595)", CIVIL_LABELS[civil.status]),
    ]
    if civil.status != "none":
        civil_rows += [
            ("Court", civil.court),
            ("Civil action number", civil.number),
            ("Filed on", iso(civil.filed_on) if civil.filed_on else ""),
        ]
    blocks.append(_facts(civil_rows))

    blocks += _determination(ctx.determination)

    if ctx.decisions:
        blocks.append(Heading(3, "Decisions so far"))
        blocks.append(
            Table(
                "Decisions so far",
                ("Decision", "Recorded on", "Term", "Details"),
                tuple(
                    (
                        d.kind,
                        d.recorded_on.isoformat(),
                        f"{iso(d.start_date)} to {iso(d.end_date)}"
                        if d.start_date or d.end_date
                        else "",
                        d.details,
                    )
                    for d in ctx.decisions
                ),
                (18, 16, 26, 40),
            )
        )

    blocks.append(Heading(3, "Answers given"))
    blocks.append(Para("Every answer recorded for this request, as given.", style="note"))
    for section in ctx.answers:
        blocks.append(Heading(4, section.title))
        blocks.append(
            Table(
                section.title,
                ("Question", "Answer"),
                tuple((row.label, or_missing(row.value)) for row in section.rows),
                (45, 55),
            )
        )
    return blocks


def _determination(d: DeterminationSummary | None) -> list[Block]:
    blocks: list[Block] = [Heading(3, "Eligibility determination")]
    if d is None:
        return [*blocks, Para("No determination has been made.")]
    blocks.append(Para(DECISION_AID, style="note"))
    blocks.append(
        _facts(
            [
                ("Outcome", OUTCOME_LABELS[d.outcome]),
                ("Rules version", d.rules_version),
                ("As of", d.as_of.isoformat()),
                ("Submission path", PATH_LABELS.get(d.submission_path or "", "")),
                ("Severe forms met", "; ".join(FORM_LABELS.get(f, f) for f in d.severe_forms)),
            ],
        )
    )
    blocks.append(Heading(4, "Criteria"))
    blocks.append(
        Table(
            "Criteria",
            ("Criterion", "Status", "Explanation and sources"),
            tuple(
                (
                    f"{CRITERION_LABELS.get(c.id, c.id)}\n{c.id}",
                    STATUS_LABELS[c.status],
                    f"{c.explanation}\nSources: {'; '.join(c.citations) or 'none'}.",
                )
                for c in d.criteria
            ),
            (32, 10, 58),
        )
    )
    if d.actions:
        # Paragraphs rather than a table: the explanations are long, and a
        # four-column table of them doubled this section's share of the render.
        blocks.append(Heading(4, "Next steps"))
        for a in d.actions:
            urgency = URGENCY_LABELS.get(a.urgency, a.urgency)
            blocks.append(
                Para(
                    f"{a.explanation} Sources: {'; '.join(a.citations) or 'none'}.",
                    label=f"{ACTION_LABELS.get(a.id, a.id)} ({urgency.lower()})",
                )
            )
    return blocks


# --- checklist, approvals ------------------------------------------------------


def _checklist(ctx: PackageContext, selected: list[Document]) -> list[Block]:
    items = checklist(ctx)
    missing = sum(not i.done for i in items)
    summary = (
        "Every item is done."
        if not missing
        else f"{missing} of {len(items)} items are missing; each names where to fix it."
    )
    return [
        Para(
            "Our own checklist for a complete request, not an official list of requirements: "
            "CCHT's requirements are not public.",
            style="note",
        ),
        Para(summary, style="strong"),
        Table(
            "Completeness checklist",
            ("Item", "Status", "Where to fix it"),
            tuple(
                (
                    i.label + (f" ({i.detail})" if i.detail and not i.done else ""),
                    "Done" if i.done else "Missing",
                    "" if i.done else i.fix,
                )
                for i in items
            ),
            (50, 12, 38),
        ),
    ]


def _approvals(ctx: PackageContext, selected: list[Document]) -> list[Block]:
    s, e = ctx.supervisor_approval, ctx.sponsor_endorsement
    blocks: list[Block] = [Heading(3, "Supervisor approval")]
    if s is None:
        blocks.append(Para("Not yet recorded.", label="Supervisor approval"))
    else:
        blocks.append(
            _facts(
                [
                    ("Approved by", _who(s.name, s.title)),
                    ("Date", s.approved_on.isoformat()),
                    ("Comment", s.comment or "None"),
                ],
            )
        )
    blocks.append(Heading(3, "Federal sponsor endorsement"))
    if e is not None:
        blocks.append(
            _facts(
                [
                    ("Endorsed by", e.name),
                    ("Office", e.office),
                    ("Date", e.endorsed_on.isoformat()),
                    ("Comment", e.comment or "None"),
                ],
            )
        )
    elif ctx.federal:
        blocks.append(Para("Not needed: the requesting agency is federal and submits directly."))
    else:
        blocks.append(
            Para(
                "Not yet recorded. A state, local, tribal or territorial request reaches CCHT "
                "only through a federal sponsor.",
                label="Federal sponsor endorsement",
            )
        )
    return blocks


# --- victim sheet, Supplement B --------------------------------------------------


def _victim_sheet(ctx: PackageContext, selected: list[Document]) -> list[Block]:
    sheet = ctx.victim_sheet
    # The note is for the officer; the sheet itself is in the person's language,
    # and says so, for screen readers and for Word's spelling checker.
    return [
        Para(f"To give to the person, in {SHEET_LANGUAGES[sheet.language]}.", style="note"),
        *(Para(p, lang=sheet.language) for p in sheet.paragraphs),
    ]


def _supplement_b(ctx: PackageContext, selected: list[Document]) -> list[Block]:
    official, person = ctx.official, ctx.person
    assert official is not None
    return [
        Para(
            "A draft of facts a certifying official may draw on for Form I-914 Supplement B. "
            "It is not the form: the victim or their counsel files the official USCIS form. "
            "Supplement B is optional evidence; any federal, state, tribal or local law "
            "enforcement official may sign it, and signing confers no immigration status.",
            style="strong",
        ),
        Para(
            "The certifying official decides what to state. Minors, and people unable to "
            "cooperate because of trauma, are exempt from the T visa cooperation requirement.",
            style="note",
        ),
        _facts(
            [
                ("Victim's full name", person.full_name),
                ("Other names", "; ".join(person.other_names)),
                ("Date of birth", iso(person.date_of_birth) if person.date_of_birth else ""),
                ("Country of citizenship", person.country),
                ("A-number", person.a_number),
                ("Agency", ctx.agency.name),
                ("Case number", ctx.case_number),
                ("Contact official", _who(official.name, official.title)),
            ],
        ),
        Heading(3, "The trafficking"),
        Para(
            or_missing("; ".join(FORM_LABELS[f] for f in ctx.trafficking_forms)),
            label="Forms of trafficking",
        ),
        Para(CRIMINAL_LABELS[ctx.criminal_status], label="Criminal case status"),
        *(Para(p) for p in paragraphs(ctx.narrative)),
    ]


_BUILDERS: Final[dict[DocumentId, Callable[[PackageContext, list[Document]], list[Block]]]] = {
    "cover_memo": _cover_memo,
    "request_summary": _request_summary,
    "checklist": _checklist,
    "approvals": _approvals,
    "victim_sheet": _victim_sheet,
    "supplement_b": _supplement_b,
}
