"""A valid exchange document, read into the fields of a new draft request.

Only what the mapping (docs/niem/README.md) says is read; every other value in
the document is listed as not taken, with the reason, so the user sees exactly
what came across. Values the schemas allow but our records cannot hold (a case
number too long, a status we do not know) are problems: the import is all or
nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Final

from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from lxml import etree

from cpnav.cases.models import Citizenship, CivilStatus, CriminalStatus, Form, RequestKind
from cpnav.niem.schema import CPNAV, HS, IM, NAMESPACES, NC, J, Problem
from cpnav.niem.writer import ALTERNATE_NAME, FORM_TEXT

EARLIEST: Final = date(1900, 1, 1)
LATEST: Final = date(2200, 1, 1)
MAX_AGE: Final = 130

# Where each value lands, and how the report names it.
LABELS: Final = {
    "case_number": gettext_lazy("Case number"),
    "criminal_status": gettext_lazy("Criminal case status"),
    "trafficking_forms": gettext_lazy("Forms of trafficking"),
    "civil_number": gettext_lazy("Civil action number"),
    "civil_court": gettext_lazy("Civil action court"),
    "civil_filed_on": gettext_lazy("Civil action filed on"),
    "civil_status": gettext_lazy("Civil action status"),
    "federal_partner": gettext_lazy("Federal partner office"),
    "full_name": gettext_lazy("Full name"),
    "aliases": gettext_lazy("Other names"),
    "date_of_birth": gettext_lazy("Date of birth"),
    "age_estimate": gettext_lazy("Estimated age"),
    "country": gettext_lazy("Country of citizenship"),
    "languages": gettext_lazy("Languages"),
    "contact": gettext_lazy("Contact details"),
    "a_number": gettext_lazy("A-number"),
    "citizenship": gettext_lazy("Citizenship"),
    "interpreter_needed": gettext_lazy("Needs an interpreter"),
    "do_not_contact": gettext_lazy("Do not contact directly"),
    "safe_contact": gettext_lazy("Safe contact instructions"),
    "minor_identified_at": gettext_lazy("Possible minor identified at"),
    "hhs_notified_at": gettext_lazy("HHS notified at"),
    "kind": gettext_lazy("Kind of request"),
    "narrative": gettext_lazy("Summary of the exploitation"),
}
IDENTIFYING: Final = frozenset(
    {"full_name", "aliases", "date_of_birth", "a_number", "contact", "safe_contact", "narrative"}
)
MAX_LENGTHS: Final = {"case_number": 60, "civil_court": 200, "civil_number": 80, "country": 80}
FORMS_BY_TEXT: Final = {text: form for form, text in FORM_TEXT.items()}


@dataclass(frozen=True)
class Line:
    """One line of the report: a field taken (with its value unless identifying) or not."""

    field: str
    taken: bool
    value: str = ""
    note: str = ""


@dataclass
class Plan:
    case: dict[str, Any] = field(default_factory=dict)
    person: dict[str, Any] = field(default_factory=dict)
    request: dict[str, Any] = field(default_factory=dict)
    partner_ori: str = ""
    report: list[Line] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    redacted: bool = False

    def take(self, target: dict[str, Any], name: str, value: Any) -> None:
        target[name] = value
        shown = "" if name in IDENTIFYING else _show(value)
        self.report.append(Line(str(LABELS[name]), True, shown))

    def skip(self, label: str, note: str) -> None:
        self.report.append(Line(label, False, "", note))


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _q(prefix: str, local: str) -> str:
    return f"{{{NAMESPACES[prefix]}}}{local}"


class _Reader:
    """Finds values by path and remembers every element it used."""

    def __init__(self, root: etree._Element) -> None:
        self.root = root
        self.used: set[etree._Element] = set()
        self.covered: set[etree._Element] = set()  # whole subtrees accounted for

    def all(self, node: etree._Element | None, *path: str) -> list[etree._Element]:
        found = self._find(node, path)
        self.used.update(found)
        return found

    @staticmethod
    def _find(node: etree._Element | None, path: tuple[str, ...]) -> list[etree._Element]:
        if node is None:
            return []
        found = [node]
        for step in path:
            prefix, _, local = step.partition(":")
            found = [child for parent in found for child in parent.findall(_q(prefix, local))]
        return found

    def cover(self, node: etree._Element | None, *path: str) -> list[etree._Element]:
        found = self.all(node, *path)
        self.covered.update(found)
        return found

    def one(self, node: etree._Element | None, *path: str) -> etree._Element | None:
        """The first match; any others stay unread and are reported as not taken."""
        found = self._find(node, path)
        if not found:
            return None
        self.used.add(found[0])
        return found[0]

    def text(self, node: etree._Element | None, *path: str) -> str:
        hit = self.one(node, *path)
        return (hit.text or "").strip() if hit is not None else ""

    def moment(self, node: etree._Element | None, *path: str) -> date | datetime | None:
        """An nc:DateType element's value: nc:Date or nc:DateTime."""
        holder = self.one(node, *path)
        if holder is None:
            return None
        day = self.text(holder, "nc:Date")
        if day:
            return date.fromisoformat(day[:10])
        stamp = self.text(holder, "nc:DateTime")
        moment = parse_datetime(stamp) if stamp else None
        if moment is not None and moment.tzinfo is None:
            # A time without a zone from another system: taken as UTC, never as local.
            moment = moment.replace(tzinfo=UTC)
        return moment

    def leftovers(self) -> list[etree._Element]:
        """Elements with a value that nothing read (nor any ancestor of theirs)."""
        left = []
        for node in self.root.iter():
            if not isinstance(node.tag, str) or len(node) or node in self.used:
                continue
            if any(ancestor in self.covered for ancestor in node.iterancestors()):
                continue
            left.append(node)
        return left


def _path(node: etree._Element) -> str:
    parts = []
    current: etree._Element | None = node
    while current is not None:
        qname = etree.QName(current)
        prefix = next((p for p, ns in NAMESPACES.items() if ns == qname.namespace), "?")
        parts.append(f"{prefix}:{qname.localname}")
        current = current.getparent()
    return "/".join(reversed(parts[:-1]))  # without the root element


def plan(tree: etree._ElementTree) -> Plan:
    """What a valid exchange would become; ``problems`` lists what stops the import."""
    root = tree.getroot()
    r = _Reader(root)
    result = Plan()
    result.redacted = r.text(root, "cpnav:ExchangeRedactedIndicator") in ("true", "1")
    r.cover(root, "cpnav:ExchangeCreationDate")
    body = r.one(root, "cpnav:ContinuedPresenceRequest")
    used_body = body
    if body is None:
        used_body = root.find(_q("cpnav", "ContinuedPresenceGrant"))
        result.skip(
            str(_("Grant terms, end events and papers")),
            str(_("A grant is recorded here by CCHT's decision on a request, never imported.")),
        )
    _read_case(r, result, used_body)
    _read_person(r, result, used_body)
    if body is not None:
        _read_request(r, result, body)
    _not_taken(r, result, body)
    _check(result)
    return result


def _read_case(r: _Reader, result: Plan, body: etree._Element | None) -> None:
    case = r.one(body, "nc:Case")
    number = r.text(case, "nc:CaseTrackingID")
    if number:
        result.take(result.case, "case_number", number)
    else:
        result.problems.append(
            Problem("nc:Case", _("The case has no case number (nc:CaseTrackingID)."))
        )
    r.cover(case, "nc:ActivityIdentification")
    status = r.text(case, "nc:ActivityStatus", "nc:StatusText")
    if status in CriminalStatus.values:
        result.take(result.case, "criminal_status", status)
    elif status:
        result.skip(
            str(LABELS["criminal_status"]), _("not one of ours: %(value)s") % {"value": status}
        )
    forms = []
    for text in [
        node.text or ""
        for node in r.all(
            body, "hs:HumanTraffickingVictim", "hs:TraffickingEvent", "nc:ActivityCategoryText"
        )
    ]:
        form = FORMS_BY_TEXT.get(text.strip().lower())
        if form is None:
            result.skip(
                str(LABELS["trafficking_forms"]), _("not one of ours: %(value)s") % {"value": text}
            )
        elif form not in forms:
            forms.append(form)
    if forms:
        result.take(result.case, "trafficking_forms", sorted(forms, key=list(Form.values).index))
    civil = r.one(body, "cpnav:CivilActionCase")
    if civil is not None:
        if docket := r.text(civil, "nc:CaseDocketID"):
            result.take(result.case, "civil_number", docket)
        if court := r.text(civil, "cpnav:CaseAugmentation", "j:CaseCourt", "nc:OrganizationName"):
            result.take(result.case, "civil_court", court)
        if filed := r.moment(civil, "nc:ActivityDate"):
            result.take(result.case, "civil_filed_on", _day(filed))
        civil_status = r.text(civil, "nc:ActivityStatus", "nc:StatusText")
        if civil_status in CivilStatus.values:
            result.take(result.case, "civil_status", civil_status)
        elif civil_status:
            result.skip(
                str(LABELS["civil_status"]),
                _("not one of ours: %(value)s") % {"value": civil_status},
            )
    sponsor = r.one(body, "cpnav:SponsoringAgency")
    r.cover(body, "cpnav:SponsoringAgency")
    if sponsor is not None:
        result.partner_ori = r.text(
            sponsor,
            "cpnav:OrganizationAugmentation",
            "j:OrganizationORIIdentification",
            "nc:IdentificationID",
        )
        r.text(sponsor, "nc:OrganizationName")


def _day(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


def _read_person(r: _Reader, result: Plan, body: etree._Element | None) -> None:
    person = r.one(body, "hs:HumanTraffickingVictim", "nc:EntityPerson")
    p = result.person
    aliases = []
    for person_name in r.all(person, "nc:PersonName"):
        full = r.text(person_name, "nc:PersonFullName")
        category = r.text(person_name, "nc:PersonNameCategoryCode")
        if not full:
            continue
        if category == ALTERNATE_NAME or "full_name" in p:
            aliases.append(full)
        else:
            result.take(p, "full_name", full)
    if "full_name" not in p:
        result.problems.append(
            Problem(
                "nc:PersonFullName",
                _(
                    "The document has no name for the person (an export without identifying "
                    "fields cannot start a request); ask the sender for a complete one."
                ),
            )
        )
    if aliases:
        result.take(p, "aliases", aliases)
    if born := r.moment(person, "nc:PersonBirthDate"):
        result.take(p, "date_of_birth", _day(born).isoformat())
    age = r.text(person, "nc:PersonAgeMeasure", "nc:MeasureIntegerValue")
    if age:
        r.cover(person, "nc:PersonAgeMeasure")
        if 0 <= int(age) <= MAX_AGE:
            result.take(p, "age_estimate", int(age))
        else:
            result.problems.append(
                Problem("nc:PersonAgeMeasure", _("The age is not a possible age."))
            )
    if country := r.text(
        person, "nc:PersonCitizenship", "nc:PersonCitizenshipCountry", "nc:CountryName"
    ):
        result.take(p, "country", country)
    languages = [
        (node.text or "").strip()
        for node in r.all(person, "nc:PersonPrimaryLanguage", "nc:Language", "nc:LanguageName")
        + r.all(person, "nc:PersonSecondaryLanguage", "nc:Language", "nc:LanguageName")
    ]
    if languages := [language for language in languages if language]:
        result.take(p, "languages", languages)
    if contact := r.text(
        person, "nc:PersonContactInformation", "nc:ContactInformationDescriptionText"
    ):
        result.take(p, "contact", contact)
    aug = r.one(person, "cpnav:PersonAugmentation")
    if a_number := r.text(aug, "im:AlienNumberIdentification", "nc:IdentificationID"):
        result.take(p, "a_number", a_number)
    citizenship = r.text(aug, "cpnav:PersonCitizenshipCategoryCode")
    if citizenship in Citizenship.values:
        result.take(p, "citizenship", citizenship)
    for name, element in (
        ("interpreter_needed", "cpnav:PersonInterpreterNeededIndicator"),
        ("do_not_contact", "cpnav:PersonDoNotContactIndicator"),
    ):
        value = r.text(aug, element)
        if value:
            result.take(p, name, value in ("true", "1"))
    if safe := r.text(aug, "cpnav:PersonSafeContactInstructionsText"):
        result.take(p, "safe_contact", safe)
    for name, element in (
        ("minor_identified_at", "cpnav:PersonPossibleMinorIdentificationDate"),
        ("hhs_notified_at", "cpnav:PersonHHSMinorNotificationDate"),
    ):
        moment = r.moment(aug, element)
        if isinstance(moment, datetime):
            result.take(p, name, moment)
        elif moment is not None:
            result.skip(str(LABELS[name]), _("a date without a time; the time is needed"))


def _read_request(r: _Reader, result: Plan, body: etree._Element) -> None:
    kind = r.text(body, "cpnav:RequestCategoryCode")
    if kind in RequestKind.values:
        result.take(result.request, "kind", kind)
    if narrative := r.text(body, "nc:ActivityDescriptionText"):
        result.take(result.request, "narrative", narrative)
    r.cover(body, "nc:ActivityIdentification")


NOT_TAKEN: Final = (
    ("cpnav:RequestStatusCode", gettext_lazy("Status"), gettext_lazy("a new request starts as a draft")),
    ("cpnav:RequestSubmissionDate", gettext_lazy("Submitted"), gettext_lazy("a new request starts as a draft")),
    ("cpnav:RequestReceiptDate", gettext_lazy("Received by CCHT"), gettext_lazy("a new request starts as a draft")),
    ("cpnav:RequestDecisionDate", gettext_lazy("Decided"), gettext_lazy("a new request starts as a draft")),
    ("cpnav:RequestDecision", gettext_lazy("CCHT decisions"), gettext_lazy("decisions are recorded here by CCHT")),
    ("cpnav:RequestAgeGroupCode", gettext_lazy("Age group"), gettext_lazy("worked out again from the birth date")),
    ("cpnav:RequestingAgency", gettext_lazy("Requesting agency"), gettext_lazy("the new case belongs to the agency you import into")),
    ("nc:ActivityDate", gettext_lazy("Created"), gettext_lazy("the new request is dated today")),
)  # fmt: skip


def _not_taken(r: _Reader, result: Plan, body: etree._Element | None) -> None:
    for path, label, note in NOT_TAKEN:
        if r.cover(body, path):
            result.skip(str(label), str(note))
    grant = r.one(r.root, "cpnav:ContinuedPresenceGrant")
    if grant is not None:
        for child in grant:
            if etree.QName(child).localname not in ("Case", "HumanTraffickingVictim"):
                r.covered.add(child)
    for node in r.leftovers():
        result.skip(_path(node), str(_("not part of the mapping")))


def _check(result: Plan) -> None:
    for target in (result.case, result.person):
        for name, limit in MAX_LENGTHS.items():
            value = target.get(name)
            if isinstance(value, str) and len(value) > limit:
                result.problems.append(
                    Problem(
                        str(LABELS[name]), _("longer than %(limit)d characters") % {"limit": limit}
                    )
                )
    for target in (result.case, result.person):
        for name, value in target.items():
            day = value if isinstance(value, date) else None
            if name == "date_of_birth":
                day = date.fromisoformat(value)
            if isinstance(value, datetime):
                day = value.date()
            if day is not None and not EARLIEST <= day <= LATEST:
                result.problems.append(Problem(str(LABELS[name]), _("not a possible date")))


__all__ = ["CPNAV", "HS", "IM", "NC", "J", "Line", "Plan", "plan"]
