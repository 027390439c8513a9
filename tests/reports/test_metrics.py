"""Every metric against numbers worked out by hand from the synthetic program in conftest.

Raw counts come from ``metrics``; what a user sees comes from ``services``
(scoped and protected), so the persona tests go through ``services``.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from cpnav.accounts.models import Agency
from cpnav.cases.workflow import perform
from cpnav.reports import metrics, privacy, services
from cpnav.reports import tables as build
from cpnav.reports.fiscal import Period, fiscal_year
from cpnav.reports.metrics import Window
from cpnav.reports.tables import Section, Table
from tests.reports.world import NOW, World, utc
from tests.route import Route

FY2026 = Period.year(2026)


def window(period: Period = FY2026) -> Window:
    return services.window(period, now=NOW)


def only(agency: Agency) -> Any:
    return Agency.objects.filter(pk=agency.pk)


def cells(table: Table) -> dict[str, tuple[object, ...]]:
    return {row.label: row.cells for row in table.rows}


# --- requests ----------------------------------------------------------------------


def test_requests_by_outcome_and_agency_level(requests_world: World) -> None:
    by_level = metrics.request_counts(None, window())["agency_level"]
    assert by_level == {
        ("local", "granted"): 2, ("local", "denied"): 1, ("local", "withdrawn"): 1,
        ("local", "pending"): 2,
        ("state", "granted"): 1, ("state", "pending"): 1,
        ("tribal", "granted"): 1,
        ("federal", "granted"): 1,
    }  # fmt: skip


def test_requests_by_state_agency_form_age_and_kind(requests_world: World) -> None:
    w = requests_world
    by_state = metrics.request_counts(None, window())["state"]
    assert by_state == {
        ("OH", "granted"): 1, ("OH", "denied"): 1, ("OH", "withdrawn"): 1, ("OH", "pending"): 2,
        ("TX", "granted"): 1, ("TX", "pending"): 1,
        ("AZ", "granted"): 1, ("VA", "granted"): 1, ("OR", "granted"): 1,
    }  # fmt: skip
    by_agency = metrics.request_counts(None, window())["agency"]
    assert sum(n for (agency, _), n in by_agency.items() if agency == str(w.county.pk)) == 5
    assert by_agency[str(w.far.pk), "granted"] == 1
    assert metrics.request_counts(None, window())["trafficking_form"] == {
        ("labor", "granted"): 3, ("labor", "pending"): 2,
        ("sex", "denied"): 1, ("sex", "pending"): 1,
        ("both", "withdrawn"): 1, ("both", "granted"): 1,
        ("unknown", "granted"): 1,
    }  # fmt: skip
    assert metrics.request_counts(None, window())["age_group"] == {
        ("adult", "granted"): 4, ("adult", "withdrawn"): 1, ("adult", "pending"): 2,
        ("minor", "denied"): 1, ("minor", "granted"): 1,
        ("unknown", "pending"): 1,
    }  # fmt: skip
    assert metrics.request_counts(None, window())["request_kind"] == {
        ("initial", "granted"): 4, ("initial", "denied"): 1, ("initial", "withdrawn"): 1,
        ("initial", "pending"): 3,
        ("extension", "granted"): 1,
    }  # fmt: skip


def test_the_fiscal_year_boundary_is_read_in_washington(requests_world: World) -> None:
    w = requests_world
    fy2025 = metrics.request_counts(only(w.county), window(Period.year(2025)))["agency_level"]
    assert fy2025 == {("local", "granted"): 1}  # 23:59 on 30 September 2025
    fy2027 = metrics.request_counts(only(w.county), window(Period.year(2027)))["agency_level"]
    assert fy2027 == {("local", "pending"): 1}  # 00:00 on 1 October 2026
    q1 = metrics.request_counts(None, window(Period.fiscal_quarter(2026, 1)))["agency_level"]
    assert q1 == {("local", "granted"): 1, ("local", "denied"): 1, ("local", "withdrawn"): 1}


def test_days_to_submission_and_to_decision(requests_world: World) -> None:
    w = requests_world
    assert sorted(metrics.days_to_submission(None, window())) == [1, 1, 2, 4, 5, 6, 8, 10, 20, 30]
    assert sorted(metrics.days_to_decision(None, window())) == [5, 12, 20, 20, 30, 40, 60]
    assert sorted(metrics.days_to_submission(only(w.county), window())) == [1, 4, 6, 10, 20]
    assert sorted(metrics.days_to_decision(only(w.county), window())) == [20, 30, 40]


def test_medians_and_90th_percentiles(requests_world: World, settings: Any) -> None:
    settings.REPORT_SUPPRESS_BELOW = 5
    table = build.timing_table(None, window(), 5)
    # Submission: 1 1 2 4 5 | 6 8 10 20 30 - median (5 + 6) / 2; p90 = 20 + 0.1 x 10.
    # Decision: 5 12 20 20 30 40 60 - median 20; p90 at rank 5.4 = 40 + 0.4 x 20.
    assert cells(table) == {
        "Draft to submission": (10, 5.5, 21.0),
        "Submission to decision": (7, 20.0, 48.0),
    }
    county = only(requests_world.county)
    assert cells(build.timing_table(county, window(), 5)) == {
        "Draft to submission": (5, 6.0, 16.0),
        "Submission to decision": ("<5", "not shown (too few cases)", "not shown (too few cases)"),
    }
    assert cells(build.timing_table(county, window(), 3)) == {
        "Draft to submission": (5, 6.0, 16.0),
        "Submission to decision": (3, 30.0, 38.0),
    }


# --- renewals, HHS notices, engagement ------------------------------------------------


def test_what_happened_at_the_end_of_each_term(grants_world: World) -> None:
    w = grants_world
    assert metrics.renewals(None, window()) == {
        "on_time": 2, "late": 1, "pending": 1, "ended": 1, "lapsed": 3,
    }  # fmt: skip
    assert metrics.renewals(only(w.county), window()) == {
        "on_time": 2, "late": 1, "pending": 0, "ended": 0, "lapsed": 1,
    }  # fmt: skip
    assert metrics.renewals(only(w.far), window()) == {
        "on_time": 0, "late": 0, "pending": 0, "ended": 0, "lapsed": 1,
    }  # fmt: skip


def test_terms_still_running_are_not_counted_yet(grants_world: World) -> None:
    # Asked on 1 May 2026: the terms ending after 30 April have not ended yet.
    early = services.window(FY2026, now=utc(2026, 5, 1, 12))
    assert metrics.renewals(None, early) == {
        "on_time": 1, "late": 1, "pending": 0, "ended": 0, "lapsed": 2,
    }  # fmt: skip
    future = services.window(Period.year(2030), now=NOW)
    assert sum(metrics.renewals(None, future).values()) == 0


def test_share_extended_before_the_end(grants_world: World) -> None:
    table = build.renewals_table(None, window(), 1)
    # 2 on time out of the 7 terms not ended by an end event.
    assert cells(table)["Share extended before the term ended"] == ("29%",)
    assert cells(table)["Total"] == (8,)
    protected = cells(build.renewals_table(None, window(), 5))
    assert protected["Share extended before the term ended"] == ("not shown (too few cases)",)
    assert protected["Total"] == (8,)
    assert protected["Lapsed: no extension and no end event"] == ("<5",)


def test_hhs_notice_within_24_hours(minors_world: World) -> None:
    w = minors_world
    assert metrics.hhs_notices(None, window()) == {
        "on_time": 4, "late": 1, "missing": 1, "open": 1,
    }  # fmt: skip
    assert metrics.hhs_notices(only(w.county), window()) == {
        "on_time": 3, "late": 1, "missing": 0, "open": 1,
    }  # fmt: skip
    # A day later the open one is missing too.
    later = services.window(FY2026, now=utc(2026, 10, 2, 1))
    assert metrics.hhs_notices(only(w.county), later)["missing"] == 1
    table = build.hhs_table(None, window(), 1)
    assert cells(table)["Share notified on time"] == ("67%",)  # 4 of the 6 due


def test_sessions_held_and_attendance(sessions_world: World) -> None:
    w = sessions_world
    assert metrics.engagement(None, window()) == {
        "sessions": 3, "registered": 5, "attended": 3, "absent": 1, "unrecorded": 1,
    }  # fmt: skip
    # January to March: the Texas session; the cancelled one was never held.
    assert metrics.engagement(None, window(Period.fiscal_quarter(2026, 2))) == {
        "sessions": 1, "registered": 1, "attended": 1, "absent": 0, "unrecorded": 0,
    }  # fmt: skip
    assert metrics.engagement(None, window(Period.fiscal_quarter(2026, 3))) == {
        "sessions": 0, "registered": 0, "attended": 0, "absent": 0, "unrecorded": 0,
    }  # fmt: skip
    assert metrics.engagement(only(w.county), window()) == {
        "sessions": 1, "registered": 2, "attended": 1, "absent": 1, "unrecorded": 0,
    }  # fmt: skip
    assert metrics.engagement(only(w.texas), window()) == {
        "sessions": 1, "registered": 1, "attended": 1, "absent": 0, "unrecorded": 0,
    }  # fmt: skip
    table = build.engagement_table(None, window(), 1)
    assert cells(table)["Attendance rate"] == ("75%",)  # 3 of the 4 recorded


# --- protection across the request tables -----------------------------------------------


def test_request_tables_hide_small_counts_consistently(requests_world: World) -> None:
    tables = build.request_tables(None, window(), 5)
    outcome = cells(tables["requests-outcome"])
    assert [outcome[name] for name in ("Denied", "Withdrawn", "Pending at CCHT")] == [("<5",)] * 3
    # Every table shows the same totals: a number hidden in one is hidden in all.
    totals = tuple(row.cells[0] for row in tables["requests-outcome"].rows)
    for slug, table in tables.items():
        assert table.rows[-1].label == "Total", slug
        if slug != "requests-outcome":
            assert table.rows[-1].cells == totals, slug
            for row in table.rows:
                assert row.cells.count("<5") != 1, (slug, row)
    # Tribal (1) and Federal (1) cannot be had from the others: State needs at least
    # its two requests, so a shown Local (6) and Total (10) would leave 1 and 1.
    level = cells(tables["requests-level"])
    assert level["Tribal"][-1] == level["Federal"][-1] == "<5"
    assert "<5" in (level["Local"][-1], outcome["Total"][0])
    assert level["Territorial"] == (0, 0, 0, 0, 0)
    agency_names = [row.label for row in tables["requests-agency"].rows]
    assert agency_names == [
        "Desert Nation Police", "Far County Police", "FBI Field Office",
        "Lakeside County Sheriff", "Texas Department of Public Safety", "Total",
    ]  # fmt: skip


def test_with_a_threshold_of_one_every_number_shows(requests_world: World) -> None:
    tables = build.request_tables(None, window(), 1)
    assert cells(tables["requests-form"]) == {
        "Labor trafficking": (3, 0, 0, 2, 5),
        "Sex trafficking": (0, 1, 0, 1, 2),
        "Both labor and sex trafficking": (1, 0, 1, 0, 2),
        "Not recorded": (1, 0, 0, 0, 1),
        "Total": (5, 1, 1, 3, 10),
    }
    assert cells(tables["requests-state"])["Ohio"] == (1, 1, 1, 2, 5)
    assert cells(tables["requests-age"])["Minor"] == (1, 1, 0, 0, 2)
    assert cells(tables["requests-kind"])["Extension"] == (1, 0, 0, 0, 1)


def test_the_agency_table_cannot_be_subtracted_from_the_level_table(requests_world: World) -> None:
    """Far County's one request would be Local (6) minus Lakeside (5) if only its row hid."""
    tables = build.request_tables(None, window(), 2)
    agency = cells(tables["requests-agency"])
    level = cells(tables["requests-level"])
    assert agency["Far County Police"][-1] == "<2"
    assert "<2" in (level["Local"][-1], agency["Lakeside County Sheriff"][-1])


# --- who sees what -------------------------------------------------------------------------


def test_report_scope_by_persona(world: World) -> None:
    w = world
    assert set(services.report_agencies(w.ccht_user)) == set(Agency.objects.all())
    assert list(services.report_agencies(w.county_user)) == [w.county]
    assert list(services.report_agencies(w.nobody)) == []
    assert services.may_view(w.county_user)
    assert not services.may_view(w.nobody)
    assert services.scope_for(w.ccht_user, None).agencies is None
    assert services.scope_for(w.ccht_user, w.far).agency == w.far
    mine = services.scope_for(w.county_user, None)
    assert mine.agencies is not None
    assert list(mine.agencies) == [w.county]
    with pytest.raises(PermissionError):
        services.scope_for(w.county_user, w.far)


def _all_text(sections: list[Section]) -> str:
    return " ".join(
        f"{table.title} {table.header} {table.export_rows()} {table.chart}"
        for section in sections
        for table in section.tables
    )


def test_an_agency_user_sees_only_their_agency(
    requests_world: World, grants_world: World, minors_world: World, sessions_world: World,
    settings: Any,
) -> None:  # fmt: skip
    settings.REPORT_SUPPRESS_BELOW = 1
    w = requests_world
    mine = services.report(services.scope_for(w.county_user, None), window())
    text = _all_text(mine)
    for other in ("Far County Police", "Texas Department", "Desert Nation", "FBI Field Office"):
        assert other not in text
    assert "Lakeside County Sheriff" in text
    tables = {t.slug: t for s in mine for t in s.tables}
    # Five in the request world, and three extensions of the grant world.
    assert cells(tables["requests-outcome"])["Total"] == (5 + 3,)
    assert cells(tables["hhs-notice"])["Total"] == (5,)
    assert cells(tables["renewals"])["Lapsed: no extension and no end event"] == (1,)
    everything = services.report(services.scope_for(w.ccht_user, None), window())
    assert "Far County Police" in _all_text(everything)
    for section in everything + mine:
        for table in section.tables:
            for name in ("Synthetic Person", "SYN-"):
                assert name not in str(table.export_rows())


def test_through_the_workflow_the_ccht_sees_the_county_request_and_the_outsider_does_not(
    rf: RequestFactory, route: Route, settings: Any
) -> None:
    settings.REPORT_SUPPRESS_BELOW = 1
    for name, who in [
        ("submit_for_approval", route.investigator),
        ("approve", route.supervisor),
        ("endorse", route.sponsor),
        ("grant", route.reviewer),
    ]:
        http = rf.post("/")
        http.user = who
        route.cp = perform(http, route.cp, name, who, start_date=date(2026, 1, 1))
    period = Period.year(fiscal_year(date.today()))

    def total(user: Any) -> object:
        found = services.table(
            services.scope_for(user, None), services.window(period), "requests-outcome"
        )
        return cells(found)["Total"][0]

    assert total(route.reviewer) == 1
    assert total(route.investigator) == 1
    assert total(route.supervisor) == 1
    assert total(route.outsider) == 0
    assert total(route.sponsor) == 0  # sponsored, but the county's request
    granted = services.table(
        services.scope_for(route.reviewer, None), services.window(period), "requests-level"
    )
    assert cells(granted)["Local"] == (1, 0, 0, 0, 1)


# --- the database does the counting ---------------------------------------------------------


def test_the_number_of_queries_does_not_grow_with_the_rows(requests_world: World) -> None:
    w = requests_world
    scope = services.scope_for(w.ccht_user, None)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            services.report(scope, window())
        return len(captured.captured_queries)

    before = queries()
    for day in range(1, 21):
        w.request(w.texas, ["sex"], status="granted", created=utc(2026, 7, day),
                  submitted=utc(2026, 7, day, 5), decided=utc(2026, 8, day))  # fmt: skip
    assert queries() == before
    assert before <= 20


def test_a_threshold_below_one_is_refused(settings: Any) -> None:
    settings.REPORT_SUPPRESS_BELOW = 0
    with pytest.raises(ValueError, match="threshold"):
        services.threshold()
    settings.REPORT_SUPPRESS_BELOW = 7
    assert services.threshold() == 7
    assert privacy.marker(services.threshold()) == "<7"
