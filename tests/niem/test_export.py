"""Every record kind exports as a NIEM document that validates; redaction and audit hold."""

from __future__ import annotations

from xml.sax.saxutils import escape

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from cpnav.audit.models import AuditEvent
from cpnav.cases.models import CPRequest
from cpnav.grants.models import Grant
from cpnav.niem import schema, services, writer
from tests.niem.conftest import ALIASES, UNICODE_NAME, Records, http
from tests.niem.helpers import jsonld, secrets, valid
from tests.route import Route

REQUESTS = ("draft", "minor", "granted", "denied", "extension")
GRANTS = ("grant", "ended")


def _request(records: Records, name: str) -> CPRequest:
    found = getattr(records, name)
    assert isinstance(found, CPRequest)
    return found


def _grant(records: Records, name: str) -> Grant:
    found = getattr(records, name)
    assert isinstance(found, Grant)
    return found


@pytest.mark.parametrize("identifying", [True, False])
def test_every_request_kind_exports_valid_xml(
    route: Route, records: Records, identifying: bool
) -> None:
    user = route.investigator
    for name in REQUESTS:
        cp = _request(records, name)
        made = services.export_request(http(user), user, cp, "xml", identifying=identifying)
        tree = valid(made.content)
        redacted = tree.getroot().findtext(f"{{{schema.CPNAV}}}ExchangeRedactedIndicator")
        assert redacted == ("false" if identifying else "true")
        text = made.content.decode()
        for secret in secrets(cp.person, cp):
            assert (escape(secret) in text) is identifying, (name, secret)
        assert made.content_type == "application/xml"
        assert made.filename.endswith("-identifying.xml" if identifying else "-niem.xml")


@pytest.mark.parametrize("identifying", [True, False])
def test_every_grant_kind_exports_valid_xml(
    route: Route, records: Records, identifying: bool
) -> None:
    user = route.supervisor
    for name in GRANTS:
        grant = _grant(records, name)
        made = services.export_grant(http(user), user, grant, "xml", identifying=identifying)
        valid(made.content)
        text = made.content.decode()
        assert ("Grant Person Synthetic" in text or "Ended Person Synthetic" in text) is identifying
    ended = services.export_grant(http(user), user, records.ended, "xml").content.decode()
    assert "<nc:StatusText>ended</nc:StatusText>" in ended
    assert "no_longer_witness" in ended
    two_terms = services.export_grant(http(user), user, records.grant, "xml").content.decode()
    assert two_terms.count("<cpnav:GrantTerm>") == 2
    assert "<cpnav:RequestCategoryCode>extension</cpnav:RequestCategoryCode>" in two_terms


def test_unicode_minor_sex_trafficking_with_civil_action(route: Route, records: Records) -> None:
    made = services.export_request(
        http(route.investigator), route.investigator, records.minor, "xml", identifying=True
    )
    text = made.content.decode()
    for expected in (
        "Lưu Thị Ánh", *ALIASES, "sex trafficking", "labor trafficking",
        "<cpnav:RequestAgeGroupCode>", "PersonPossibleMinorIdentificationDate",
        "PersonHHSMinorNotificationDate", "2:26-cv-00123", "U.S. District Court, S.D. Ohio",
        "<j:OrganizationORIIdentification>", "&lt;tags&gt;", "«ünïcödé»",
    ):  # fmt: skip
        assert expected in text, expected
    draft = services.export_request(
        http(route.investigator), route.investigator, records.draft, "xml", identifying=True
    )
    assert UNICODE_NAME in draft.content.decode()


def test_decisions_granted_and_denied(route: Route, records: Records) -> None:
    user = route.reviewer
    granted = services.export_request(http(user), user, records.granted, "xml").content.decode()
    assert "<cpnav:DecisionCategoryCode>granted</cpnav:DecisionCategoryCode>" in granted
    assert "<cpnav:DecisionCategoryCode>received</cpnav:DecisionCategoryCode>" in granted
    assert "<cpnav:DecisionTermDate>" in granted
    denied = services.export_request(http(user), user, records.denied, "xml").content.decode()
    assert "<cpnav:RequestStatusCode>denied</cpnav:RequestStatusCode>" in denied
    assert "<nc:ActivityReasonText>Not shown.</nc:ActivityReasonText>" in denied


def test_jsonld_parses_and_uses_the_niem_context(route: Route, records: Records) -> None:
    user = route.investigator
    made = services.export_request(http(user), user, records.minor, "jsonld", identifying=True)
    assert made.content_type == "application/ld+json"
    document = jsonld(made.content)
    release = writer.niem_context()
    context = document["@context"]
    for prefix in ("nc", "hs", "j", "im", "structures"):
        assert context[prefix] == release[prefix]
    assert context["cpnav"] == schema.CPNAV
    body = document["cpnav:ContinuedPresenceExchange"]["cpnav:ContinuedPresenceRequest"]
    victim = body["hs:HumanTraffickingVictim"]
    person = victim["nc:EntityPerson"]
    assert person["@id"] == f"urn:uuid:{records.minor.person_id}"
    assert person["nc:PersonAgeMeasure"]["nc:MeasureIntegerValue"] == 16
    assert person["cpnav:PersonAugmentation"]["cpnav:PersonDoNotContactIndicator"] is True
    assert [e["nc:ActivityCategoryText"] for e in victim["hs:TraffickingEvent"]] == [
        "sex trafficking", "labor trafficking",
    ]  # fmt: skip
    names = [n["nc:PersonFullName"] for n in person["nc:PersonName"]]
    assert names == ["Lưu Thị Ánh", *ALIASES]
    grant = services.export_grant(http(user), user, records.grant, "jsonld")
    assert (
        "cpnav:ContinuedPresenceGrant" in jsonld(grant.content)["cpnav:ContinuedPresenceExchange"]
    )
    redacted = made = services.export_request(http(user), user, records.minor, "jsonld")
    assert "Lưu" not in redacted.content.decode()


def test_every_export_is_audited_without_personal_data(route: Route, records: Records) -> None:
    user = route.investigator
    services.export_request(http(user), user, records.minor, "xml", identifying=True)
    services.export_grant(http(user), user, records.grant, "jsonld")
    events = list(AuditEvent.objects.filter(action="niem.exported").order_by("seq"))
    assert [(e.object_type, e.object_id) for e in events] == [
        ("request", str(records.minor.pk)), ("grant", str(records.grant.pk)),
    ]  # fmt: skip
    assert events[0].details == {"format": "xml", "identifying": True, "redacted": False}
    assert events[1].details == {"format": "jsonld", "identifying": False, "redacted": True}
    assert all(e.actor_id == user.pk and e.agency_id == route.county.pk for e in events)
    flat = str([e.details for e in events])
    for secret in secrets(records.minor.person, records.minor):
        assert secret not in flat


def test_identifying_fields_only_for_who_may_edit_the_case(route: Route, records: Records) -> None:
    # The sponsor and CCHT see the request but are not on the case team.
    for user in (route.sponsor, route.reviewer):
        services.export_request(http(user), user, records.granted, "xml")
        with pytest.raises(PermissionDenied):
            services.export_request(http(user), user, records.granted, "xml", identifying=True)
    refused = AuditEvent.objects.filter(
        action="access.denied", object_type="niem identifying fields"
    )
    assert refused.count() == 2
    assert AuditEvent.objects.filter(action="niem.exported").count() == 2


def test_unknown_format_is_refused(route: Route) -> None:
    with pytest.raises(services.ExportRefused):
        services.export_request(http(route.investigator), route.investigator, route.cp, "csv")


def test_a_writer_bug_is_never_sent(route: Route, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(schema, "problems", lambda tree: [schema.Problem("x", "broken")])
    with pytest.raises(RuntimeError, match="not valid"):
        services.export_request(http(route.investigator), route.investigator, route.cp, "xml")
    assert not AuditEvent.objects.filter(action="niem.exported").exists()


def test_the_sample_document_is_valid_and_synthetic() -> None:
    valid(schema.SAMPLE.read_bytes())


def test_exchange_date_is_now(route: Route) -> None:
    before = timezone.now().replace(microsecond=0)
    made = services.export_request(http(route.investigator), route.investigator, route.cp, "xml")
    tree = valid(made.content)
    stamp = tree.getroot().findtext(f".//{{{schema.NC}}}DateTime") or ""
    assert stamp >= before.isoformat()[:19]
