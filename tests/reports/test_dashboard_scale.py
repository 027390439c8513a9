"""The dashboard at national scale: finding an agency, the top of the by-agency table, the cache."""

from __future__ import annotations

import io
import time
from datetime import date
from typing import Any
from urllib.parse import urlencode

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from cpnav.accounts.models import Agency, Level
from cpnav.cases.models import Status
from cpnav.reports import services
from cpnav.reports.fiscal import Period
from cpnav.reports.tables import Row, _largest
from tests.conftest import signed_in
from tests.reports.test_views import read_csv
from tests.reports.world import World, utc

DASHBOARD = reverse("reports:dashboard")
FY2026 = {"fiscal_year": "2026", "period": "year"}


def url(**query: str) -> str:
    return f"{DASHBOARD}?{urlencode(query)}"


def page(client: Client, **query: str) -> str:
    response = client.get(DASHBOARD, query)
    assert response.status_code == 200
    return response.content.decode()


def agency_table(html: str) -> str:
    return html.split('id="requests-agency"')[1].split("</table>")[0]


def body_rows(table_html: str) -> list[str]:
    """The row labels of a table's body, the totals row left out."""
    labels = []
    for chunk in table_html.split('<th scope="row">')[1:]:
        label = chunk.split("</th>")[0]
        if not label.startswith("<strong>"):
            labels.append(label)
    return labels


# --- finding an agency --------------------------------------------------------------------


def test_one_match_by_name_leads_to_the_agency_by_id(requests_world: World) -> None:
    w = requests_world
    client = signed_in(Client(), w.ccht_user)
    response = client.get(DASHBOARD, {**FY2026, "find": "  lakeside  "})
    assert response.status_code == 302
    assert response["Location"] == url(**FY2026, agency=str(w.county.pk))
    html = page(client, **FY2026, agency=str(w.county.pk))
    assert "Lakeside County Sheriff: FY2026" in html
    assert 'name="find" value="Lakeside County Sheriff"' in html
    # Downloads name the agency by id, never the search.
    assert f"?fiscal_year=2026&amp;period=year&amp;agency={w.county.pk}" in html


def test_a_match_by_ori_is_exact_and_ignores_case(requests_world: World) -> None:
    w = requests_world
    Agency.objects.filter(pk=w.far.pk).update(ori="OR0123400")
    client = signed_in(Client(), w.ccht_user)
    response = client.get(DASHBOARD, {**FY2026, "find": "or0123400"})
    assert response["Location"] == url(**FY2026, agency=str(w.far.pk))
    html = page(client, **FY2026, find="OR01234")  # part of an ORI is not an ORI
    assert "No agency you may report on has “OR01234” in its name or as its ORI." in html


def test_several_matches_are_listed_as_links(requests_world: World) -> None:
    w = requests_world
    html = page(signed_in(Client(), w.ccht_user), **FY2026, find="county")
    assert "2 agencies match “county”: choose one" in html
    far = url(**FY2026, agency=str(w.far.pk)).replace("&", "&amp;")
    county = url(**FY2026, agency=str(w.county.pk)).replace("&", "&amp;")
    assert f'<a class="usa-link" href="{far}">Far County Police</a>' in html
    assert f'<a class="usa-link" href="{county}">Lakeside County Sheriff</a>' in html
    assert "report-heading" not in html  # no figures until one is chosen


def test_many_matches_are_cut_with_a_note(requests_world: World) -> None:
    Agency.objects.bulk_create(
        Agency(name=f"Harbor Police {n:02d}", level=Level.LOCAL, state="WA") for n in range(12)
    )
    html = page(signed_in(Client(), requests_world.ccht_user), **FY2026, find="harbor")
    assert "12 agencies match “harbor”: choose one" in html
    assert html.count(">Harbor Police ") == services.AGENCY_MATCHES_SHOWN
    assert "2 more agencies match and are not listed" in html


def test_no_match_is_an_error_on_the_field_keeping_the_text(requests_world: World) -> None:
    html = page(signed_in(Client(), requests_world.ccht_user), **FY2026, find="Atlantis PD")
    assert "No agency you may report on has “Atlantis PD” in its name or as its ORI." in html
    assert 'name="find" value="Atlantis PD"' in html
    assert 'aria-invalid="true"' in html
    assert "report-heading" not in html


def test_an_emptied_field_means_every_agency(requests_world: World) -> None:
    w = requests_world
    client = signed_in(Client(), w.ccht_user)
    response = client.get(DASHBOARD, {**FY2026, "agency": str(w.county.pk), "find": ""})
    assert response["Location"] == url(**FY2026)


def test_the_search_offers_only_agencies_in_the_users_scope(
    requests_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = requests_world
    assert services.find_agencies(w.county_user, "Far County").count == 0
    assert services.find_agencies(w.county_user, "county").agencies == [w.county]
    assert services.find_agencies(w.ccht_user, "county").count == 2
    # An agency user with too many agencies to list gets the search, over theirs only.
    monkeypatch.setattr(services, "AGENCY_LIST_LIMIT", 0)
    client = signed_in(Client(), w.county_user)
    html = page(client, **FY2026, find="Far County")
    assert "No agency you may report on has “Far County”" in html
    assert "Leave empty for all of yours." in html
    response = client.get(DASHBOARD, {**FY2026, "find": "county"})
    assert response["Location"] == url(**FY2026, agency=str(w.county.pk))


def test_an_agency_user_keeps_the_list(requests_world: World) -> None:
    w = requests_world
    html = page(signed_in(Client(), w.county_user), **FY2026)
    assert '<option value="" selected>All my agencies</option>' in html
    assert f'<option value="{w.county.pk}">Lakeside County Sheriff</option>' in html
    assert 'name="find"' not in html


# --- the by-agency table: the largest on the page, every one in the download ---------------


def many_agencies(w: World, count: int) -> list[Agency]:
    """``count`` agencies; the n-th has n + 1 requests submitted in FY2026."""
    made = []
    for n in range(count):
        agency = Agency.objects.create(name=f"Agency {n:02d}", level=Level.LOCAL, state="WA")
        for _ in range(n + 1):
            w.request(
                agency, status=Status.SUBMITTED,
                created=utc(2026, 3, 1), submitted=utc(2026, 3, 2),
            )  # fmt: skip
        made.append(agency)
    return made


def test_the_page_shows_the_25_largest_and_the_download_every_one(
    requests_world: World, settings: Any
) -> None:
    settings.REPORT_SUPPRESS_BELOW = 2
    w = requests_world
    many_agencies(w, 30)
    client = signed_in(Client(), w.ccht_user)
    download = reverse("reports:download", args=["requests-agency", "csv"])
    rows = read_csv(client.get(download, FY2026))
    everyone = [row[0] for row in rows[1:-1]]
    assert len(everyone) > 30
    assert everyone == sorted(everyone, key=str.lower)  # the file keeps every agency, by name

    html = page(client, **FY2026)
    shown = body_rows(agency_table(html))
    assert shown == [f"Agency {n:02d}" for n in range(29, 4, -1)]  # largest first
    rest = len(everyone) - 25
    assert (
        f"The 25 agencies with the most requests in the period are shown, largest first. "
        f"{rest} other agencies are not shown: the CSV and Excel downloads have every agency."
    ) in html
    # The page's rows are the download's rows, as published there.
    published = {row[0]: row[1:] for row in rows[1:]}
    table = agency_table(html)
    for label in shown:
        cells = table.split(f'<th scope="row">{label}</th>')[1].split("</tr>")[0]
        values = [c.split("</td>")[0] for c in cells.split('text-tabular">')[1:]]
        assert values == published[label], label
    assert "Total</strong></th>" in table
    # Other tables are not cut.
    state = html.split('id="requests-state"')[1].split('id="requests-agency"')[0]
    assert "are not shown" not in state


def test_a_small_table_is_not_cut(requests_world: World) -> None:
    html = page(signed_in(Client(), requests_world.ccht_user), **FY2026)
    assert "are not shown: the CSV and Excel downloads" not in html
    shown = body_rows(agency_table(html))
    assert shown == sorted(shown, key=str.lower)  # a short table stays in name order


def test_hidden_totals_sort_after_shown_ones_whatever_they_hide() -> None:
    rows = [
        Row("A", (1, "<5")),
        Row("B", (7, 7)),
        Row("C", (0, "<5")),
        Row("D", (9, 9)),
        Row("E", (5, 5)),
    ]
    kept, note = _largest(rows, 3)
    assert [r.label for r in kept] == ["D", "B", "E"]
    assert note is not None
    assert "2 other agencies are not shown" in note
    assert _largest(rows, 5) == (tuple(rows), None)


# --- the cache of computed figures ------------------------------------------------------------


@pytest.fixture
def cached(settings: Any) -> Any:
    settings.REPORT_CACHE_SECONDS = 300
    cache.clear()
    return settings


def add_one(w: World, agency: Agency) -> None:
    w.request(agency, status=Status.GRANTED, created=utc(2026, 4, 1), submitted=utc(2026, 4, 2))


def outcome_total(html: str) -> str:
    table = html.split('id="requests-outcome"')[1].split("</table>")[0]
    return table.split("<strong>")[-1].split("</strong>")[0]


def test_figures_are_kept_then_recomputed(requests_world: World, cached: Any) -> None:
    settings = cached
    settings.REPORT_SUPPRESS_BELOW = 1  # nothing hidden: the total moves by exactly 3
    w = requests_world
    client = signed_in(Client(), w.ccht_user)
    before = page(client, **FY2026)
    assert "they are recomputed every 5 minutes" in before
    for _ in range(3):
        add_one(w, w.county)
    assert outcome_total(page(client, **FY2026)) == outcome_total(before)  # kept
    settings.REPORT_CACHE_SECONDS = 0  # off: computed every time
    fresh = page(client, **FY2026)
    assert int(outcome_total(fresh)) == int(outcome_total(before)) + 3
    assert "recomputed" not in fresh
    assert "Figures as of " in fresh


def test_kept_figures_expire(requests_world: World, cached: Any) -> None:
    cached.REPORT_SUPPRESS_BELOW = 2
    cached.REPORT_CACHE_SECONDS = 1
    w = requests_world
    scope = services.scope_for(w.ccht_user, None)
    first = services.figures(scope, Period.year(2026))
    assert services.figures(scope, Period.year(2026)).computed_at == first.computed_at
    assert "every second" in services.freshness(first.computed_at)
    time.sleep(1.2)
    assert services.figures(scope, Period.year(2026)).computed_at > first.computed_at


def test_one_scope_never_gets_anothers_figures(requests_world: World, cached: Any) -> None:
    w = requests_world
    national = page(signed_in(Client(), w.ccht_user), **FY2026)
    assert "Far County Police" in agency_table(national)
    mine = page(signed_in(Client(), w.county_user), **FY2026)
    assert body_rows(agency_table(mine)) == ["Lakeside County Sheriff"]
    theirs = page(signed_in(Client(), w.outsider), **FY2026)
    assert body_rows(agency_table(theirs)) == ["Far County Police"]
    one = page(signed_in(Client(), w.ccht_user), **FY2026, agency=str(w.far.pk))
    assert body_rows(agency_table(one)) == ["Far County Police"]
    keys = {
        services.figures_key(services.scope_for(user, agency), Period.year(2026))
        for user, agency in (
            (w.ccht_user, None),
            (w.ccht_user, w.far),
            (w.ccht_user, w.county),
            (w.county_user, None),
            (w.outsider, None),
        )
    }
    # The same agencies are the same scope, whoever asks: all, the far county, the county.
    assert len(keys) == 3
    assert services.figures_key(
        services.scope_for(w.county_user, None), Period.year(2026)
    ) == services.figures_key(services.scope_for(w.ccht_user, w.county), Period.year(2026))


def test_the_key_holds_the_period_threshold_and_language(
    requests_world: World, cached: Any
) -> None:
    scope = services.scope_for(requests_world.ccht_user, None)
    year = services.figures_key(scope, Period.year(2026))
    assert year != services.figures_key(scope, Period.fiscal_quarter(2026, 1))
    cached.REPORT_SUPPRESS_BELOW = 3
    assert year != services.figures_key(scope, Period.year(2026))
    cached.REPORT_SUPPRESS_BELOW = 5
    with translation.override("es"):
        assert year != services.figures_key(scope, Period.year(2026))
        spanish = services.figures(scope, Period.year(2026))
    english = services.figures(scope, Period.year(2026))
    assert english.sections[0].title == "Requests submitted to CCHT"
    assert spanish.sections[0].title != english.sections[0].title


def test_an_unreadable_kept_value_is_recomputed(requests_world: World, cached: Any) -> None:
    scope = services.scope_for(requests_world.ccht_user, None)
    cache.set(services.figures_key(scope, Period.year(2026)), "left by an older release", 300)
    assert services.figures(scope, Period.year(2026)).sections


# --- `cpnav reports refresh`: national figures computed off the request path -----------------


def test_refresh_periods_are_the_latest_fiscal_years_and_begun_quarters() -> None:
    today = date(2026, 11, 30)  # FY2027, quarter 1
    assert services.refresh_periods(today, 1) == [Period.year(2027)]
    assert services.refresh_periods(today, 2) == [Period.year(2027), Period.year(2026)]
    assert services.refresh_periods(today, 2, quarters=True) == [
        Period.year(2027),
        Period.fiscal_quarter(2027, 1),
        Period.year(2026),
        *(Period.fiscal_quarter(2026, q) for q in range(1, 5)),
    ]
    for bad in (0, services.MAX_REFRESH_YEARS + 1, True):
        with pytest.raises(ValueError, match="fiscal years must be 1 to"):
            services.refresh_periods(today, bad)


def test_refresh_keeps_national_figures_in_every_language_for_the_page(
    requests_world: World, cached: Any
) -> None:
    cached.REPORT_SUPPRESS_BELOW = 1
    w = requests_world
    done = list(services.refresh([Period.year(2026)]))
    assert [(period, language) for period, language, _s in done] == [
        (Period.year(2026), "en"),
        (Period.year(2026), "es"),
    ]
    add_one(w, w.county)  # after the refresh: not in the kept figures
    client = signed_in(Client(), w.ccht_user)
    with CaptureQueriesContext(connection) as queries:
        kept = page(client, **FY2026)
    assert not [q for q in queries if "cases_cprequest" in q["sql"]]  # nothing counted
    with translation.override("es"):
        spanish = services.figures(services.national_scope(), Period.year(2026))
    assert spanish.sections[0].title != "Requests submitted to CCHT"
    # The next refresh replaces them, counting the new request.
    list(services.refresh([Period.year(2026)]))
    assert int(outcome_total(page(client, **FY2026))) == int(outcome_total(kept)) + 1


def test_refresh_command_reports_each_period_and_refuses_bad_input(
    requests_world: World, cached: Any
) -> None:
    out = io.StringIO()
    call_command("reports", "refresh", "--fiscal-years", "1", stdout=out)
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert all(": computed in " in line for line in lines)
    assert "[en]" in lines[0]
    assert "[es]" in lines[1]
    with pytest.raises(CommandError, match="--fiscal-years: the number of fiscal years"):
        call_command("reports", "refresh", "--fiscal-years", "0")
    cached.REPORT_CACHE_SECONDS = 0
    with pytest.raises(CommandError, match="REPORT_CACHE_SECONDS is 0"):
        call_command("reports", "refresh")


def test_refreshed_figures_outlive_a_late_run(
    requests_world: World, cached: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept: list[int] = []
    real_set = cache.set

    def remember(key: str, value: object, timeout: int) -> None:
        kept.append(timeout)
        real_set(key, value, timeout)

    monkeypatch.setattr(cache, "set", remember)
    services.compute(services.national_scope(), Period.year(2026))  # a page computing them
    list(services.refresh([Period.year(2026)]))  # the job, in both languages
    assert kept == [300, 600, 600]
