"""A CP request package as plain data: what goes in, which documents, what is missing.

The official CP request form and its fields are not public, so a package is our
own structured summary and checklist, never a copy of that form. Nothing here
touches the database: the cases app builds a ``PackageContext`` and the
renderers turn it into a PDF and a DOCX.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Annotated, Final, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

AgencyLevel = Literal["federal", "state", "local", "tribal", "territorial"]
Citizenship = Literal["noncitizen", "us_citizen", "lawful_permanent_resident", "unknown"]
CriminalStatus = Literal[
    "unknown", "investigating", "charged", "trial", "convicted", "closed", "acquitted"
]
CivilStatus = Literal["none", "filed", "pending", "dismissed", "resolved"]
TraffickingForm = Literal["sex", "labor"]
Outcome = Literal["likely_eligible", "needs_information", "not_eligible", "not_applicable"]
Status = Literal["met", "not_met", "unknown"]
DocumentId = Literal[
    "cover_memo", "request_summary", "checklist", "approvals", "victim_sheet", "supplement_b"
]

HANDLING_NOTICE: Final = "Contains victim identifying information - handle as CJI"
ADULT_AGE: Final = 18

# Characters that must never reach a document: C0/C1 controls (a NUL or a form
# feed makes the DOCX unreadable XML), lone surrogates and XML non-characters,
# and the explicit bidi embeddings, overrides and isolates, which can make
# text read in a different order than it was typed (a "right-to-left override"
# spoof). Tab and newline stay; the marks LRM/RLM stay, as they reorder nothing
# beyond their neighbours.
_UNSAFE: Final = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufffe\uffff]"
)


def clean_text(value: str) -> str:
    """Text as it may appear in a document: NFC, ``\\n`` line ends, nothing unsafe."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return unicodedata.normalize("NFC", _UNSAFE.sub("", value)).strip()


Text = Annotated[str, AfterValidator(clean_text)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Official(_Model):
    name: Text
    title: Text = ""


class RequestingOfficial(Official):
    phone: Text = ""
    email: Text = ""


class Agency(_Model):
    name: Text
    level: AgencyLevel
    ori: Text = ""


class FederalPartner(_Model):
    office: Text
    sponsor_name: Text = ""


class CivilAction(_Model):
    status: CivilStatus = "none"
    court: Text = ""
    number: Text = ""
    filed_on: date | None = None


class PersonInfo(_Model):
    full_name: Text = ""
    other_names: tuple[Text, ...] = ()
    date_of_birth: date | None = None
    age_estimate: Annotated[int, Field(ge=0, le=120)] | None = None
    citizenship: Citizenship = "unknown"
    country: Text = ""
    languages: tuple[Text, ...] = ()
    interpreter_needed: bool = False
    a_number: Text = ""
    do_not_contact: bool = False
    safe_contact: Text = ""


class AnswerRow(_Model):
    label: Text
    value: Text


class AnswerSection(_Model):
    title: Text
    rows: tuple[AnswerRow, ...] = ()


class Criterion(_Model):
    id: Text
    status: Status
    explanation: Text
    citations: tuple[Text, ...] = ()


class Action(_Model):
    id: Text
    urgency: Text
    explanation: Text
    citations: tuple[Text, ...] = ()


class DeterminationSummary(_Model):
    """The policy engine's JSON (``cpnav.determination/1``) as stored on the request.

    Unknown keys are ignored rather than refused: a package must still render a
    determination stored under an older or newer contract.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    outcome: Outcome
    rules_version: Text
    as_of: date
    submission_path: Text | None = None
    severe_forms: tuple[Text, ...] = ()
    criteria: tuple[Criterion, ...] = ()
    actions: tuple[Action, ...] = ()

    def has_action(self, action_id: str) -> bool:
        return any(a.id == action_id for a in self.actions)


class SupervisorApproval(_Model):
    name: Text
    title: Text = ""
    approved_on: date
    comment: Text = ""


class SponsorEndorsement(_Model):
    name: Text
    office: Text
    endorsed_on: date
    comment: Text = ""


class DecisionRecord(_Model):
    """A decision recorded so far (received, information requested, granted...)."""

    kind: Text
    recorded_on: date
    start_date: date | None = None
    end_date: date | None = None
    details: Text = ""


class VictimSheet(_Model):
    language: Literal["en", "es"] = "en"
    paragraphs: tuple[Text, ...] = ()


class PackageContext(_Model):
    reference: Annotated[str, Field(pattern=r"^CP-[0-9A-F]{8}$")]
    generated_at: datetime
    generated_by: Official
    kind: Literal["initial", "extension"] = "initial"
    agency: Agency
    official: RequestingOfficial | None = None
    federal_partner: FederalPartner | None = None
    case_number: Text = ""
    trafficking_forms: tuple[TraffickingForm, ...] = ()
    criminal_status: CriminalStatus = "unknown"
    civil_action: CivilAction = CivilAction()
    person: PersonInfo = PersonInfo()
    narrative: Text = ""
    answers: tuple[AnswerSection, ...] = ()
    determination: DeterminationSummary | None = None
    supervisor_approval: SupervisorApproval | None = None
    sponsor_endorsement: SponsorEndorsement | None = None
    decisions: tuple[DecisionRecord, ...] = ()
    victim_sheet: VictimSheet = VictimSheet()
    supplement_b_draft: bool = False
    hhs_notified_on: date | None = None
    t_visa_referral_advised: bool = False

    @property
    def federal(self) -> bool:
        return self.agency.level == "federal"

    @property
    def minor(self) -> bool | None:
        """Under 18 on the day the package is generated; None if unknown."""
        if self.determination is not None and self.determination.has_action(
            "notify_hhs_within_24h"
        ):
            return True
        person, day = self.person, self.generated_at.date()
        if person.date_of_birth is not None:
            years = day.year - person.date_of_birth.year
            before_birthday = (day.month, day.day) < (
                person.date_of_birth.month,
                person.date_of_birth.day,
            )
            return years - before_birthday < ADULT_AGE
        if person.age_estimate is not None:
            return person.age_estimate < ADULT_AGE
        return None


def paragraphs(text: str) -> list[str]:
    """Blank-line separated paragraphs; single line breaks stay inside a paragraph."""
    return [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]


# --- the documents of a package --------------------------------------------------

SUPPLEMENT_B_TITLE: Final = (
    "Information for a T visa Supplement B declaration "
    "(draft for the certifying official; signing confers no status)"
)
TITLES: Final[dict[DocumentId, str]] = {
    "cover_memo": "Cover memo",
    "request_summary": "Request summary",
    "checklist": "Completeness checklist",
    "approvals": "Approvals",
    "victim_sheet": "Victim information sheet",
    "supplement_b": SUPPLEMENT_B_TITLE,
}


@dataclass(frozen=True)
class Document:
    id: DocumentId
    title: str
    enabled: bool = True


def documents_for(ctx: PackageContext) -> list[Document]:
    """The bundle, in order; the Supplement B draft only when asked for."""
    return [
        Document(doc_id, title, enabled=doc_id != "supplement_b" or ctx.supplement_b_draft)
        for doc_id, title in TITLES.items()
    ]


def with_enabled(
    documents: Iterable[Document], doc_id: DocumentId, enabled: bool
) -> list[Document]:
    return [replace(d, enabled=enabled) if d.id == doc_id else d for d in documents]


def chosen(documents: Iterable[Document]) -> list[Document]:
    """The enabled documents; refuses a bundle that names a document twice."""
    documents = list(documents)
    ids = [d.id for d in documents]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"documents listed twice: {', '.join(duplicates)}")
    unknown = sorted(set(ids) - set(TITLES))
    if unknown:
        raise ValueError(f"unknown documents: {', '.join(unknown)}")
    return [d for d in documents if d.enabled]


# --- what is missing ----------------------------------------------------------


class PackageIncompleteError(ValueError):
    def __init__(self, missing: list[str]) -> None:
        super().__init__("The package cannot be generated yet: " + " ".join(missing))
        self.missing = missing


def missing_for_package(
    ctx: PackageContext, documents: Iterable[Document] | None = None
) -> list[str]:
    """What must be filled in before a package can be generated, in plain words.

    Only what the documents cannot do without; approvals and the rest are
    items on the completeness checklist, because the package is what the
    supervisor and the sponsor review. ``documents`` defaults to the full
    bundle; a document left out asks for nothing.
    """
    enabled = {d.id for d in chosen(documents_for(ctx) if documents is None else documents)}
    missing: list[str] = []
    official = ctx.official
    if official is None or not official.name:
        missing.append("Name the requesting official (the person who signs the cover memo).")
    elif not official.title:
        missing.append("Give the requesting official's title.")
    if official is not None and official.name and not (official.phone or official.email):
        missing.append("Give a phone number or email address for the requesting official.")
    if not ctx.case_number:
        missing.append("Give the case number.")
    if not ctx.person.full_name:
        missing.append("Give the person's full name.")
    if not ctx.narrative:
        missing.append("Write the investigation summary (what happened and how it was found).")
    if ctx.determination is None:
        missing.append(
            "There is no eligibility determination yet: answer the interview questions first."
        )
    elif not ctx.determination.criteria:
        missing.append("The eligibility determination lists no criteria: run it again.")
    if not ctx.answers:
        missing.append("There are no recorded answers to review.")
    if "victim_sheet" in enabled and not ctx.victim_sheet.paragraphs:
        missing.append("The victim information sheet has no text.")
    return missing


# --- the completeness checklist -----------------------------------------------


@dataclass(frozen=True)
class ChecklistItem:
    id: str
    label: str
    done: bool
    fix: str  # where to fix it, in the words of the screens
    detail: str = ""


CRITERION_LABELS: Final[dict[str, str]] = {
    "noncitizen": "Not a U.S. citizen or lawful permanent resident",
    "severe_form": "Victim of a severe form of trafficking in persons",
    "witness_or_civil_action": "Potential witness, or has filed a civil action (18 U.S.C. 1595)",
}
STATUS_LABELS: Final[dict[str, str]] = {"met": "Met", "not_met": "Not met", "unknown": "Unknown"}


def checklist(ctx: PackageContext) -> list[ChecklistItem]:
    person = ctx.person
    items = [
        ChecklistItem(
            "person_identified",
            "Person identified (name, and date of birth or estimated age)",
            bool(person.full_name)
            and (person.date_of_birth is not None or person.age_estimate is not None),
            "Person page: Edit",
        ),
        ChecklistItem(
            "citizenship_recorded",
            "Citizenship and country recorded",
            person.citizenship != "unknown" and bool(person.country),
            "Person page: Edit",
        ),
        ChecklistItem(
            "exploitation_described",
            "Exploitation described (form of trafficking and investigation summary)",
            bool(ctx.trafficking_forms) and bool(ctx.narrative),
            "Case page: Edit (forms); request page: investigation summary",
        ),
    ]
    determination = ctx.determination
    if determination is None:
        items.append(
            ChecklistItem(
                "determination", "Eligibility determination made", False, "Request page: Facts"
            )
        )
    else:
        for criterion in determination.criteria:
            label = CRITERION_LABELS.get(criterion.id, criterion.id)
            items.append(
                ChecklistItem(
                    f"criterion_{criterion.id}",
                    f"Criterion met: {label}",
                    criterion.status == "met",
                    "Request page: Facts",
                    STATUS_LABELS[criterion.status],
                )
            )
    if ctx.civil_action.status in ("filed", "pending"):
        civil = ctx.civil_action
        items.append(
            ChecklistItem(
                "civil_action_recorded",
                "Civil action identified (court, number, date filed)",
                bool(civil.court and civil.number and civil.filed_on),
                "Case page: Edit",
            )
        )
    if person.interpreter_needed:
        items.append(
            ChecklistItem(
                "languages_recorded",
                "Languages recorded for the interpreter",
                bool(person.languages),
                "Person page: Edit",
            )
        )
    items.append(
        ChecklistItem(
            "supervisor_approval",
            "Supervisor approval recorded",
            ctx.supervisor_approval is not None,
            "Request page: Send for supervisor approval",
        )
    )
    if not ctx.federal:
        items.append(
            ChecklistItem(
                "federal_partner",
                "Federal partner office named (only federal officials can submit CP)",
                ctx.federal_partner is not None and bool(ctx.federal_partner.office),
                "Request page: Federal partner",
            )
        )
        items.append(
            ChecklistItem(
                "sponsor_endorsement",
                "Federal sponsor endorsement recorded",
                ctx.sponsor_endorsement is not None,
                "Request page: Federal partner",
            )
        )
    if ctx.minor is True:
        items.append(
            ChecklistItem(
                "hhs_notified",
                "HHS notified within 24 hours (person under 18)",
                ctx.hhs_notified_on is not None,
                "Person page: record the HHS notice (Shepherd, OTIP 202-205-4582)",
            )
        )
    t_visa = determination is None or determination.has_action(
        "refer_to_immigration_counsel_t_visa"
    )
    if t_visa:
        items.append(
            ChecklistItem(
                "t_visa_referral",
                "Referral to immigration counsel about a T visa advised",
                ctx.t_visa_referral_advised,
                "Person page: referrals",
            )
        )
    return items
