"""Records as NIEM: a request or a grant as an exchange document (XML), and as JSON-LD.

The mapping is docs/niem/README.md. Identifying fields of the person
(``Person.IDENTIFYING``) and the request's narrative are written only when the
caller says the user may have them (``identifying=True``); otherwise they are
left out and ``cpnav:ExchangeRedactedIndicator`` says so. The person is named by
the opaque reference of their record (``structures:uri``), as in CSV exports.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from functools import cache
from typing import Any, Final

from lxml import etree

from cpnav.accounts.models import Agency
from cpnav.cases.models import Case, CPRequest, Decision, Person
from cpnav.grants.models import Grant
from cpnav.niem.schema import CONTEXT, CPNAV, HS, IM, NAMESPACES, NC, ROOT, STRUCTURES, J

FORM_TEXT: Final = {"sex": "sex trafficking", "labor": "labor trafficking"}
ALTERNATE_NAME: Final = "Alternate"


def _e(namespace: str, name: str, *children: etree._Element | None, **attrs: str) -> etree._Element:
    node = etree.Element(f"{{{namespace}}}{name}", nsmap=NAMESPACES)
    for key, value in attrs.items():
        node.set(f"{{{STRUCTURES}}}{key}", value)
    for child in children:
        if child is not None:
            node.append(child)
    return node


def _text(namespace: str, name: str, value: object) -> etree._Element | None:
    if value is None or value == "":
        return None
    node = _e(namespace, name)
    node.text = _literal(value)
    return node


def _literal(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _date(namespace: str, name: str, value: date | datetime | None) -> etree._Element | None:
    """A date element (nc:DateType) holding nc:Date or nc:DateTime."""
    if value is None:
        return None
    inner = "DateTime" if isinstance(value, datetime) else "Date"
    return _e(namespace, name, _text(NC, inner, value))


def _range(
    namespace: str, name: str, start: date | None, end: date | None
) -> etree._Element | None:
    if start is None and end is None:
        return None
    return _e(
        namespace,
        name,
        _e(NC, "DateRange", _date(NC, "StartDate", start), _date(NC, "EndDate", end)),
    )


def _identification(namespace: str, name: str, value: object) -> etree._Element | None:
    if value in (None, ""):
        return None
    return _e(namespace, name, _text(NC, "IdentificationID", value))


def _status(value: str) -> etree._Element | None:
    return _e(NC, "ActivityStatus", _text(NC, "StatusText", value)) if value else None


def _person(person: Person, identifying: bool) -> etree._Element:
    names: list[etree._Element | None] = []
    if identifying:
        names.append(_e(NC, "PersonName", _text(NC, "PersonFullName", person.full_name)))
        for alias in person.aliases or []:
            names.append(
                _e(
                    NC,
                    "PersonName",
                    _text(NC, "PersonFullName", alias),
                    _text(NC, "PersonNameCategoryCode", ALTERNATE_NAME),
                )
            )
    age = (
        _e(
            NC,
            "PersonAgeMeasure",
            _text(NC, "MeasureIntegerValue", person.age_estimate),
            _text(NC, "MeasureUnitText", "years"),
            _text(NC, "MeasureEstimatedIndicator", True),
        )
        if person.age_estimate is not None
        else None
    )
    birth = _date(NC, "PersonBirthDate", person.birth_date) if identifying else None
    citizenship = (
        _e(
            NC,
            "PersonCitizenship",
            _e(NC, "PersonCitizenshipCountry", _text(NC, "CountryName", person.country)),
        )
        if person.country
        else None
    )
    languages = [str(language) for language in person.languages or [] if str(language).strip()]
    primary = [
        _e(NC, "PersonPrimaryLanguage", _e(NC, "Language", _text(NC, "LanguageName", lang)))
        for lang in languages[:1]
    ]
    secondary = [
        _e(NC, "PersonSecondaryLanguage", _e(NC, "Language", _text(NC, "LanguageName", lang)))
        for lang in languages[1:]
    ]
    contact = (
        _e(
            NC,
            "PersonContactInformation",
            _text(NC, "ContactInformationDescriptionText", person.contact),
        )
        if identifying and person.contact
        else None
    )
    augmentation = _e(
        CPNAV,
        "PersonAugmentation",
        _identification(IM, "AlienNumberIdentification", person.a_number) if identifying else None,
        _text(CPNAV, "PersonCitizenshipCategoryCode", person.citizenship),
        _text(CPNAV, "PersonInterpreterNeededIndicator", person.interpreter_needed),
        _text(CPNAV, "PersonDoNotContactIndicator", person.do_not_contact),
        _text(CPNAV, "PersonSafeContactInstructionsText", person.safe_contact)
        if identifying
        else None,
        _date(CPNAV, "PersonPossibleMinorIdentificationDate", person.minor_identified_at),
        _date(CPNAV, "PersonHHSMinorNotificationDate", person.hhs_notified_at),
    )
    return _e(
        NC,
        "EntityPerson",
        age,
        birth,
        citizenship,
        *names,
        *primary,
        *secondary,
        contact,
        augmentation,
        uri=f"urn:uuid:{person.pk}",
    )


def _victim(person: Person, case: Case, identifying: bool) -> etree._Element:
    events = [
        _e(HS, "TraffickingEvent", _text(NC, "ActivityCategoryText", FORM_TEXT[form]))
        for form in case.trafficking_forms or []
        if form in FORM_TEXT
    ]
    return _e(HS, "HumanTraffickingVictim", _person(person, identifying), *events)


def _case(case: Case) -> etree._Element:
    return _e(
        NC,
        "Case",
        _identification(NC, "ActivityIdentification", f"urn:uuid:{case.pk}"),
        _status(case.criminal_status),
        _text(NC, "CaseTrackingID", case.case_number),
    )


def _civil_action(case: Case) -> etree._Element | None:
    if (
        not (case.civil_number or case.civil_court or case.civil_filed_on)
        and case.civil_status == "none"
    ):
        return None
    court = (
        _e(
            CPNAV,
            "CaseAugmentation",
            _e(J, "CaseCourt", _text(NC, "OrganizationName", case.civil_court)),
        )
        if case.civil_court
        else None
    )
    return _e(
        CPNAV,
        "CivilActionCase",
        _date(NC, "ActivityDate", case.civil_filed_on),
        _status(case.civil_status),
        _text(NC, "CaseDocketID", case.civil_number),
        court,
    )


def _agency(name: str, agency: Agency) -> etree._Element:
    return _e(
        CPNAV,
        name,
        _text(NC, "OrganizationName", agency.name),
        _e(
            CPNAV,
            "OrganizationAugmentation",
            _identification(J, "OrganizationORIIdentification", agency.ori),
            _text(CPNAV, "AgencyLevelCode", agency.level),
            _text(CPNAV, "AgencyStateUSPostalServiceCode", agency.state),
            _text(CPNAV, "AgencyCCHTIndicator", agency.is_ccht),
        ),
    )


def _decision(decision: Decision) -> etree._Element:
    return _e(
        CPNAV,
        "RequestDecision",
        _identification(NC, "ActivityIdentification", f"urn:uuid:{decision.pk}"),
        _date(NC, "ActivityDate", decision.recorded_at),
        _date(NC, "ActivityDueDate", decision.due_date),
        _text(NC, "ActivityReasonText", decision.reason),
        _text(CPNAV, "DecisionCategoryCode", decision.kind),
        _text(CPNAV, "DecisionInformationRequestedText", decision.information_requested),
        _range(CPNAV, "DecisionTermDate", decision.start_date, decision.end_date),
    )


def request_element(cp: CPRequest, identifying: bool) -> etree._Element:
    case = cp.case
    return _e(
        CPNAV,
        "ContinuedPresenceRequest",
        _identification(NC, "ActivityIdentification", f"urn:uuid:{cp.pk}"),
        _date(NC, "ActivityDate", cp.created_at),
        _text(NC, "ActivityDescriptionText", cp.narrative) if identifying else None,
        _text(CPNAV, "RequestCategoryCode", cp.kind),
        _text(CPNAV, "RequestStatusCode", cp.status),
        _text(CPNAV, "RequestAgeGroupCode", cp.age_group),
        _date(CPNAV, "RequestSubmissionDate", cp.submitted_at),
        _date(CPNAV, "RequestReceiptDate", cp.received_at),
        _date(CPNAV, "RequestDecisionDate", cp.decided_at),
        _case(case),
        _civil_action(case),
        _victim(cp.person, case, identifying),
        _agency("RequestingAgency", case.agency),
        _agency("SponsoringAgency", cp.sponsor_office) if cp.sponsor_office else None,
        *[_decision(d) for d in cp.decisions.order_by("recorded_at", "id")],
    )


def grant_element(grant: Grant, identifying: bool, today: date) -> etree._Element:
    person = grant.person
    terms = [
        _e(
            CPNAV,
            "GrantTerm",
            _range(NC, "ActivityDate", term.start, term.end),
            _text(CPNAV, "RequestCategoryCode", term.kind),
            _identification(CPNAV, "GrantTermRequestIdentification", f"urn:uuid:{term.request_id}"),
        )
        for term in grant.terms.order_by("start")
    ]
    ends = [
        _e(
            CPNAV,
            "GrantEnd",
            _date(NC, "ActivityEffectiveDate", end.effective_on),
            _text(NC, "ActivityReasonText", end.reason),
            _text(CPNAV, "GrantEndCategoryCode", end.kind),
        )
        for end in grant.ends.order_by("effective_on", "id")
    ]
    return _e(
        CPNAV,
        "ContinuedPresenceGrant",
        _identification(NC, "ActivityIdentification", f"urn:uuid:{grant.pk}"),
        _status(grant.status(today)),
        _case(person.case),
        _victim(person, person.case, identifying),
        *terms,
        *ends,
        _date(CPNAV, "WorkAuthorizationReceiptDate", grant.work_permit_received_on),
        _date(CPNAV, "WorkAuthorizationExpirationDate", grant.work_permit_expires_on),
        _date(CPNAV, "HHSNotificationDate", grant.dhs_notified_hhs_on),
        _date(CPNAV, "HHSCertificationLetterDate", grant.hhs_letter_on),
        _text(CPNAV, "TVisaStatusCode", grant.t_visa_status),
        _date(CPNAV, "TVisaReferralDate", grant.t_visa_referred_on),
        _date(CPNAV, "TVisaFilingDate", grant.t_visa_filed_on),
    )


def exchange(body: etree._Element, identifying: bool, now: datetime) -> etree._ElementTree:
    root = etree.Element(ROOT, nsmap=dict(NAMESPACES))
    root.append(_date(CPNAV, "ExchangeCreationDate", now))  # type: ignore[arg-type]
    root.append(_text(CPNAV, "ExchangeRedactedIndicator", not identifying))  # type: ignore[arg-type]
    root.append(body)
    etree.cleanup_namespaces(root, top_nsmap=NAMESPACES)
    return etree.ElementTree(root)


def to_xml(tree: etree._ElementTree) -> bytes:
    return etree.tostring(tree, xml_declaration=True, encoding="UTF-8", pretty_print=True)


# --- JSON-LD -------------------------------------------------------------------------
# NIEM's JSON-LD form of the same document: each element becomes a property named
# by its qualified name, whose prefixes the release's context defines; repeated
# elements become arrays; structures:uri becomes @id.

BOOLEAN_SUFFIX: Final = "Indicator"
INTEGER_NAMES: Final = frozenset({"MeasureIntegerValue"})


@cache
def niem_context() -> dict[str, str]:
    with CONTEXT.open(encoding="utf-8") as handle:
        loaded: dict[str, str] = json.load(handle)
    return loaded


def context() -> dict[str, str]:
    """The prefixes our documents use, as the release's context defines them, and ours."""
    release = niem_context()
    used = {
        prefix: release[prefix]
        for prefix in ("nc", "hs", "j", "im", "structures")
        if prefix in release
    }
    return {**used, "cpnav": CPNAV}


def _qualified(tag: str) -> str:
    qname = etree.QName(tag)
    prefix = next(p for p, ns in NAMESPACES.items() if ns == qname.namespace)
    return f"{prefix}:{qname.localname}"


def _value(node: etree._Element) -> Any:
    children = [child for child in node if isinstance(child.tag, str)]
    if not children:
        text = node.text or ""
        local = etree.QName(node).localname
        if local.endswith(BOOLEAN_SUFFIX):
            return text == "true"
        if local in INTEGER_NAMES:
            return int(text)
        return text
    result: dict[str, Any] = {}
    uri = node.get(f"{{{STRUCTURES}}}uri")
    if uri:
        result["@id"] = uri
    for child in children:
        key = _qualified(child.tag)
        value = _value(child)
        if key in result:
            existing = result[key]
            result[key] = [*existing, value] if isinstance(existing, list) else [existing, value]
        else:
            result[key] = value
    return result


def to_jsonld(tree: etree._ElementTree) -> dict[str, Any]:
    root = tree.getroot()
    return {"@context": context(), _qualified(root.tag): _value(root)}
