"""Exports: need to know, redaction, formulas made inert, and the audit trail."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.test import RequestFactory
from django.utils import timezone

from cpnav.accounts import access
from cpnav.accounts.models import User
from cpnav.audit.models import AuditEvent, Outcome
from cpnav.cases.models import CPRequest, Person, RequestKind, Share, Status
from cpnav.exports import datasets, services, tables
from cpnav.grants import services as grant_services
from cpnav.grants.models import EndKind, Grant, GrantEnd
from tests.exports.helpers import (
    EVIL,
    NAME,
    SECRETS,
    advance,
    csv_rows,
    export,
    grant,
    refer,
    sponsor_case,
    xlsx_rows,
)
from tests.route import Route

pytestmark = pytest.mark.django_db

PERSONAS = (
    "investigator", "teammate", "supervisor", "outsider", "sponsor", "other_sponsor", "reviewer",
    "specialist",
)  # fmt: skip
# Once granted, the request has been through the sponsor's office and CCHT.
SEES_GRANTED = {"investigator", "supervisor", "sponsor", "reviewer"}
MAY_IDENTIFY = {"investigator", "supervisor"}


def share_with_specialist(route: Route) -> Share:
    return Share.objects.create(
        person=route.person, grantee=route.specialist, fields=list(Person.IDENTIFYING),
        reason="Shelter intake", granted_by=route.investigator,
        expires_at=timezone.now() + timedelta(days=7),
    )  # fmt: skip


@pytest.mark.parametrize("dataset", ["cases", "requests", "grants", "deadlines", "referrals"])
def test_each_persona_exports_only_what_they_may_see(
    rf: RequestFactory, route: Route, dataset: str
) -> None:
    grant(rf, route)
    refer(route)
    share_with_specialist(route)
    for persona in PERSONAS:
        user: User = getattr(route, persona)
        rows = export(user, dataset)
        if persona not in SEES_GRANTED:
            assert rows == [], persona
            continue
        assert rows, persona
        if dataset == "cases":
            assert {row["Case ID"] for row in rows} == {str(route.case.pk)}
        else:
            assert {row["Person reference"] for row in rows} == {str(route.person.pk)}, persona


def test_before_routing_only_the_case_team_and_supervisor_see_the_request(route: Route) -> None:
    for persona in PERSONAS:
        rows = export(getattr(route, persona), "requests")
        assert len(rows) == (1 if persona in MAY_IDENTIFY else 0), persona


def test_by_default_no_identifying_field_leaves(rf: RequestFactory, route: Route) -> None:
    grant(rf, route)
    refer(route)
    for dataset in services.DATASETS:
        rows = export(route.investigator, dataset)
        text = repr(rows)
        assert rows, dataset
        for secret in (*SECRETS, "Maria"):  # Maria is in the consent note
            assert secret not in text, (dataset, secret)
        assert "Full name" not in rows[0]


@pytest.mark.parametrize("persona", ["investigator", "supervisor"])
def test_the_case_team_and_supervisor_may_include_identifying_fields(
    route: Route, persona: str
) -> None:
    (row,) = export(getattr(route, persona), "requests", identifying=True)
    assert row["Full name"] == NAME
    assert row["Date of birth"] == "1990-04-02"
    assert row["A-number"] == "A012345678"
    assert row["Contact details"] == "'+1 555 0100"  # a leading + is neutralised too
    assert row["Other names"] == ""
    assert row["Person reference"] == str(route.person.pk)
    event = AuditEvent.objects.get(action="export.requests")
    assert event.details["identifying"] is True


@pytest.mark.parametrize("persona", ["teammate", "outsider", "sponsor", "reviewer", "specialist"])
def test_others_are_refused_identifying_fields_and_the_refusal_is_audited(
    rf: RequestFactory, route: Route, persona: str
) -> None:
    grant(rf, route)
    share_with_specialist(route)
    user: User = getattr(route, persona)
    assert not services.may_export_identifying(user)
    with pytest.raises(services.ExportError, match="case team"):
        services.start(user, "requests", "csv", identifying=True)
    denied = AuditEvent.objects.get(action="access.denied", actor_id=user.pk)
    assert denied.outcome == Outcome.DENIED
    assert not AuditEvent.objects.filter(action="export.requests").exists()


def test_a_share_never_allows_an_export(route: Route) -> None:
    share = share_with_specialist(route)
    assert access.active_share(route.specialist, route.person) == share
    for dataset in services.DATASETS:
        assert export(route.specialist, dataset) == [], dataset
    assert not services.may_export_identifying(route.specialist)


def test_identifying_fields_only_in_rows_of_the_users_own_cases(
    rf: RequestFactory, route: Route
) -> None:
    own = sponsor_case(route)
    advance(rf, route, "submit_for_approval", "approve")  # now routed to the sponsor's office
    rows = {
        row["Person reference"]: row for row in export(route.sponsor, "requests", identifying=True)
    }
    assert set(rows) == {str(own.pk), str(route.person.pk)}
    assert rows[str(own.pk)]["Full name"] == "Bo Synthetic-Second"
    county = rows[str(route.person.pk)]
    assert {county[h] for h in ("Full name", "Date of birth", "A-number", "Contact details")} == {
        access.REDACTED
    }
    assert NAME not in repr(rows)


def test_identifiable_cases_is_can_edit_case(rf: RequestFactory, route: Route) -> None:
    sponsor_case(route)
    grant(rf, route)
    share_with_specialist(route)
    for persona in PERSONAS:
        user: User = getattr(route, persona)
        for case in access.visible_cases(user):
            assert tables.identifiable_cases(user).filter(pk=case.pk).exists() == (
                access.can_edit_case(user, case)
            ), (persona, case.case_number)


def test_cases_have_no_identifying_columns(route: Route) -> None:
    (row,) = export(route.investigator, "cases", identifying=True)
    assert "Full name" not in row
    assert row["Case number"] == "2026-0042"
    assert row["People"] == "1"
    assert row["Requests"] == "1"
    assert row["Trafficking forms"] == "Labor trafficking"
    assert AuditEvent.objects.get(action="export.cases").details["identifying"] is False


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_formulas_in_a_case_number_or_a_name_come_out_inert(route: Route, fmt: str) -> None:
    route.case.case_number = EVIL
    route.case.save()
    route.person.full_name = EVIL
    route.person.aliases = [EVIL, "+1"]
    route.person.save()
    (case,) = export(route.investigator, "cases", fmt=fmt)
    assert case["Case number"] == "'" + EVIL
    (request,) = export(route.investigator, "requests", fmt=fmt, identifying=True)
    assert request["Case number"] == "'" + EVIL
    assert request["Full name"] == "'" + EVIL
    assert request["Other names"] == "'" + EVIL + "; +1"


def test_xlsx_keeps_dates_and_numbers_as_values(route: Route) -> None:
    (row,) = export(route.investigator, "cases", fmt="xlsx")
    assert row["People"] == 1
    assert row["Created (UTC)"].date() == timezone.now().date()


def test_each_export_is_audited_at_start_and_on_completion_with_the_count(
    rf: RequestFactory, route: Route
) -> None:
    job = services.start(
        route.supervisor, "requests", "csv",
        services.Filters(agency=route.county, status=Status.DRAFT), identifying=True,
    )  # fmt: skip
    started = AuditEvent.objects.get(action="export.requests")
    assert started.actor_id == route.supervisor.pk
    assert started.agency_id == route.county.pk
    assert started.object_type == "export"
    assert started.object_id == str(job.id)
    assert started.details == {
        "dataset": "requests",
        "format": "csv",
        "filters": {
            "agency": str(route.county.pk), "date_field": "created", "date_from": None,
            "date_to": None, "status": "draft",
        },
        "identifying": True,
    }  # fmt: skip
    assert not AuditEvent.objects.filter(action="export.completed").exists()
    assert len(csv_rows(job)) == 1
    done = AuditEvent.objects.get(action="export.completed")
    assert done.object_id == str(job.id)
    assert done.seq > started.seq
    assert done.details == {"dataset": "requests", "format": "csv", "identifying": True, "rows": 1}
    assert NAME not in str(started.details) + str(done.details)


def test_a_cancelled_export_is_recorded_as_aborted(route: Route) -> None:
    job = services.start(route.investigator, "cases", "csv")
    rows = job.rows()
    next(rows)
    rows.close()
    aborted = AuditEvent.objects.get(action="export.aborted")
    assert aborted.outcome == Outcome.FAILURE
    assert aborted.details["rows"] == 1
    assert not AuditEvent.objects.filter(action="export.completed").exists()
    with pytest.raises(RuntimeError, match="once"):
        job.rows()


def test_filters(route: Route, make_user: object) -> None:
    other = CPRequest.objects.create(
        case=route.case, person=route.person, created_by=route.investigator,
        kind=RequestKind.EXTENSION, status=Status.WITHDRAWN,
    )  # fmt: skip
    user = route.supervisor
    assert len(export(user, "requests")) == 2
    (row,) = export(user, "requests", status=Status.WITHDRAWN)
    assert row["Request ID"] == str(other.pk)
    assert row["Status"] == "Withdrawn"
    assert row["Kind"] == "Extension"
    today = timezone.now().date()
    assert len(export(user, "requests", date_from=today, date_to=today)) == 2
    assert export(user, "requests", date_field="updated", date_to=today - timedelta(days=1)) == []
    assert export(user, "requests", date_from=today + timedelta(days=1)) == []
    assert len(export(user, "cases", agency=route.county)) == 1


@pytest.mark.parametrize(
    ("dataset", "filters", "message"),
    [
        ("requests", {"status": "granted-ish"}, "status"),
        ("grants", {"date_field": "updated"}, "dates"),
        ("cases", {"date_from": date(2026, 2, 1), "date_to": date(2026, 1, 1)}, "before"),
        ("nothing", {}, "no such"),
    ],
)
def test_bad_filters_are_refused(
    route: Route, dataset: str, filters: dict[str, object], message: str
) -> None:
    with pytest.raises(services.ExportError, match=message):
        services.start(route.supervisor, dataset, "csv", services.Filters(**filters))  # type: ignore[arg-type]
    assert not AuditEvent.objects.filter(action__startswith="export.").exists()


def test_only_the_users_own_agencies_can_be_chosen(route: Route) -> None:
    with pytest.raises(services.ExportError, match="own agencies"):
        services.start(
            route.supervisor, "cases", "csv", services.Filters(agency=route.other_county)
        )
    assert AuditEvent.objects.get(action="access.denied").details == {"refused": "agency"}


def test_grant_status_matches_the_grant_page(rf: RequestFactory, route: Route) -> None:
    start = date(2025, 1, 15)
    grant(rf, route, start)
    record = Grant.objects.get(person=route.person)

    def row() -> dict[str, object]:
        (found,) = datasets.GRANTS.rows(route.investigator, services.Filters(), False)
        return dict(found)

    days = [start, date(2026, 6, 1), date(2027, 1, 14), date(2027, 1, 15), date(2030, 1, 1)]
    for day in days:
        assert datasets.grant_status(row(), day) == record.status(day), day
    extension = CPRequest.objects.create(
        case=route.case, person=route.person, created_by=route.investigator,
        kind=RequestKind.EXTENSION, status=Status.AWAITING_SPONSOR,
    )  # fmt: skip
    assert datasets.grant_status(row(), date(2026, 6, 1)) == "active"  # not at CCHT yet
    CPRequest.objects.filter(pk=extension.pk).update(status=Status.SUBMITTED)
    assert datasets.grant_status(row(), date(2026, 6, 1)) == "extension_requested"
    for kind, expected in [(EndKind.CIVIL_ACTION_ENDED, "ended"), (EndKind.REVOKED, "revoked")]:
        GrantEnd.objects.create(
            grant=record, kind=kind, effective_on=date(2026, 3, 1), reason="Synthetic",
            recorded_by=route.investigator,
        )  # fmt: skip
        for day in days:
            assert datasets.grant_status(row(), day) == record.status(day), (kind, day)
        assert record.status(date(2026, 6, 1)) == expected
        GrantEnd.objects.filter(grant=record).delete()


def test_grant_rows(rf: RequestFactory, route: Route) -> None:
    cp = grant(rf, route, date.today() - timedelta(days=30))
    (row,) = export(route.reviewer, "grants")
    assert row["Reference"] == f"CP-{str(cp.pk)[:8].upper()}"
    assert row["Reference"] == grant_services.reference(Grant.objects.get(person=route.person))
    assert row["Status"] == "Active"
    assert row["Terms"] == "1"
    assert row["T visa"] == "Not known"
    assert export(route.reviewer, "grants", status="expired") == []
    assert len(export(route.reviewer, "grants", status="active")) == 1


def test_deadlines_are_the_dashboards_rows(rf: RequestFactory, route: Route) -> None:
    grant(rf, route, date.today() - timedelta(days=700))
    minor = Person.objects.create(
        case=route.case, full_name="Minor Synthetic", minor_identified_at=timezone.now()
    )
    user = route.investigator
    dashboard = grant_services.deadlines(
        grant_services.visible_grants(user),
        Person.objects.filter(case__in=access.visible_cases(user)),
    )
    rows = export(user, "deadlines")
    assert sorted((r["Reference"], r["What"], r["Source"]) for r in rows) == sorted(
        (d.deadline.reference, d.deadline.title, d.deadline.source) for d in dashboard
    )
    assert {r["Person reference"] for r in rows} == {str(route.person.pk), str(minor.pk)}
    assert any(r["Status"] in {"Overdue", "Due soon"} for r in rows)
    assert all(r["Time zone"] == route.county.time_zone for r in rows)
    named = export(user, "deadlines", identifying=True)
    assert {r["Full name"] for r in named} == {NAME, "Minor Synthetic"}
    overdue = export(user, "deadlines", status="overdue")
    assert overdue
    assert {r["Status"] for r in overdue} == {"Overdue"}
    far = date.today() + timedelta(days=3650)
    assert export(user, "deadlines", date_from=far) == []


def test_referral_rows(route: Route) -> None:
    referral = refer(route)
    (row,) = export(route.supervisor, "referrals", fmt="xlsx", identifying=True)
    assert row["Reference"] == referral.reference
    assert row["Provider"] == "Marlow County Safe House"
    assert row["Services"] == "Shelter; Legal services"
    assert row["Status"] == "Sent"
    assert row["Full name"] == NAME
    assert "Maria" not in repr(row)


def test_headers_follow_the_language(route: Route) -> None:
    from django.utils import translation

    with translation.override("es"):
        job = services.start(route.investigator, "requests", "csv")
        header = job.header()
    assert len(header) == len(datasets.REQUESTS.columns)
    assert all(isinstance(h, str) and h for h in header)


def test_xlsx_reads_back_the_same_rows_as_csv(route: Route) -> None:
    job = services.start(route.investigator, "requests", "xlsx")
    (from_xlsx,) = xlsx_rows(job)
    (from_csv,) = export(route.investigator, "requests")
    assert from_xlsx["Request ID"] == from_csv["Request ID"]
    assert from_xlsx["Reference"] == from_csv["Reference"]
