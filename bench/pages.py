"""Server time of the pages people wait on, at national scale, measured in-process.

Run in its own process with DATABASE_URL pointing at a synthetic data set:

    python -m bench.pages --out FILE [--samples N]
    python -m bench.pages --sessions FILE    # signed-in cookies + URLs for wrk

"Server time" is Django's whole request path (middleware, view, queries,
template) through the test client, without a network or WSGI server. The query
count of each page is taken on a separate, untimed request.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.test import Client

    from cpnav.accounts.models import User


@dataclass(frozen=True)
class Page:
    name: str
    persona: str
    path: str
    what: str
    cold: bool = False  # the shared cache is emptied before each sample
    # "page": a page someone waits on (target: p95 under 50 ms); "fallback": what a
    # page costs when the scheduled job that keeps its figures has not run (shown).
    kind: str = "page"


COLD_SAMPLES = 5


@dataclass
class World:
    """The people and records the pages are opened with, found in the data set."""

    users: dict[str, Any]
    pages: list[Page]


class NoWorld(LookupError):
    """The agency lacks one of the records the pages are opened with."""


def busiest_agencies(count: int) -> list[Any]:
    """Agencies with the most cases, busiest first (ties by id, so runs agree)."""
    from django.db.models import Count

    from cpnav.accounts.models import Level
    from cpnav.cases.models import Case

    ranked = (
        Case.objects.exclude(agency__level=Level.FEDERAL)
        .values("agency_id")
        .annotate(n=Count("pk"))
        .order_by("-n", "agency_id")[:count]
    )
    found = [row["agency_id"] for row in ranked]
    if not found:
        raise SystemExit("the database has no cases: run `cpnav synth` first")
    return found


def find_world(agency_id: Any = None, reviewer_index: int = 0) -> World:
    """An agency's supervisor and lead investigator, a drafter, and a CCHT reviewer.

    Without ``agency_id``: the busiest non-federal agency.
    """
    from cpnav.accounts.models import Membership, Role
    from cpnav.cases.models import CPRequest, Status
    from cpnav.reports.fiscal import fiscal_year

    if agency_id is None:
        for candidate in busiest_agencies(20):
            try:
                return find_world(candidate, reviewer_index)
            except NoWorld:
                continue
        raise SystemExit("no busy agency has a supervisor, a granted and a draft request")
    supervisor = (
        Membership.objects.filter(agency_id=agency_id, role=Role.SUPERVISOR)
        .select_related("user")
        .first()
    )
    reviewers = list(
        Membership.objects.filter(agency__is_ccht=True, role=Role.CCHT_REVIEWER)
        .select_related("user")
        .order_by("user__email")
    )
    reviewer = reviewers[reviewer_index % len(reviewers)] if reviewers else None
    granted = (
        CPRequest.objects.filter(case__agency_id=agency_id, status=Status.GRANTED)
        .select_related("case", "person", "created_by")
        .order_by("pk")
        .first()
    )
    draft = (
        CPRequest.objects.filter(case__agency_id=agency_id, status=Status.DRAFT)
        .select_related("created_by")
        .order_by("pk")
        .first()
    )
    if supervisor is None or reviewer is None or granted is None or draft is None:
        raise NoWorld(f"agency {agency_id} lacks a supervisor, reviewer, granted or draft request")
    from django.utils import timezone

    # The last whole fiscal year: a year's worth of requests, not the current year's first weeks.
    year = fiscal_year(timezone.localdate()) - 1
    users = {
        "supervisor": supervisor.user,
        "investigator": granted.created_by,
        "drafter": draft.created_by,
        "reviewer": reviewer.user,
    }
    pages = [
        Page("case_list", "supervisor", f"/cases/?status={Status.GRANTED}&sort=case_number&page=2",
             "agency-scoped case list: filtered by request status, sorted, page 2"),
        Page("ccht_inbox", "reviewer", "/queues/ccht/", "CCHT inbox (national), first page"),
        Page("deadlines", "supervisor", "/deadlines/?scope=all&within=120",
             "agency deadlines due in the next 120 days"),
        Page("deadlines_national", "reviewer", "/deadlines/?scope=all&within=120",
             "national deadlines due in the next 120 days (CCHT)"),
        Page("case_page", "investigator", f"/cases/{granted.case_id}/", "a case page"),
        Page("person_page", "investigator", f"/people/{granted.person_id}/",
             "a person page (decrypts, writes an audit event)"),
        Page("metrics", "supervisor", f"/reports/?fiscal_year={year}&period=year",
             "metrics dashboard for the last fiscal year, one agency"),
        Page("metrics_national", "reviewer", f"/reports/?fiscal_year={year}&period=year",
             "metrics dashboard for the last fiscal year, national (CCHT), figures kept by "
             "`cpnav reports refresh`"),
        Page("metrics_cold", "supervisor", f"/reports/?fiscal_year={year}&period=year",
             "the same for one agency, figures computed afresh (cache emptied)", cold=True),
        Page("metrics_national_cold", "reviewer", f"/reports/?fiscal_year={year}&period=year",
             "the same nationally when `cpnav reports refresh` has not run: computed while "
             "the reviewer waits (cache emptied)", cold=True, kind="fallback"),
        Page("interview_step", "drafter", f"/requests/{draft.pk}/interview/",
             "the request interview's current question"),
        Page("guide_search", "anonymous", "/guide/en/search/?q=renew+extension",
             "resource guide search"),
    ]  # fmt: skip
    return World(users, pages)


def signed_in(user: User) -> Client:
    from django.test import Client

    from cpnav.accounts.middleware import LAST_SEEN, SIGNED_IN_AT

    client = Client(HTTP_HOST="localhost")
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    session = client.session
    session[SIGNED_IN_AT] = session[LAST_SEEN] = time.time()
    session.save()
    return client


def clients(world: World) -> dict[str, Client]:
    from django.test import Client

    out = {name: signed_in(user) for name, user in world.users.items()}
    out["anonymous"] = Client(HTTP_HOST="localhost")
    return out


def measure(samples: int, warmup: int = 5) -> dict[str, Any]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    world = find_world()
    by_persona = clients(world)
    results: dict[str, Any] = {"reports_refresh": refresh_job()}
    from django.core.cache import cache

    for page in world.pages:
        client = by_persona[page.persona]
        for _ in range(1 if page.cold else warmup):
            _get(client, page)
        times = []
        for _ in range(min(samples, COLD_SAMPLES) if page.cold else samples):
            if page.cold:
                cache.clear()
            began = time.perf_counter()
            _get(client, page)
            times.append((time.perf_counter() - began) * 1000)
        if page.cold:
            cache.clear()
        with CaptureQueriesContext(connection) as queries:
            _get(client, page)
        results[page.name] = {"unit": "ms", "samples": times, "queries": len(queries),
                              "note": page.what, "path": page.path, "kind": page.kind}  # fmt: skip
        print(f"  {page.name:20} median {sorted(times)[len(times) // 2]:8.2f} ms, "
              f"{len(queries)} queries", file=sys.stderr)  # fmt: skip
    return results


def refresh_job() -> dict[str, Any]:
    """``cpnav reports refresh`` for the last fiscal year: the national figures
    in each language, computed off the request path (one sample per language)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from cpnav.reports import services
    from cpnav.reports.fiscal import Period, fiscal_year

    year = fiscal_year(timezone.localdate()) - 1
    with CaptureQueriesContext(connection) as queries:
        done = list(services.refresh([Period.year(year)]))
    times = [seconds * 1000 for _p, _l, seconds in done]
    print(f"  reports refresh FY{year}: " + ", ".join(f"{t / 1000:.1f} s" for t in times),
          file=sys.stderr)  # fmt: skip
    return {"unit": "ms", "samples": times, "queries": len(queries) // len(done),
            "note": f"`cpnav reports refresh`: national figures of FY{year}, one language "
                    "(a scheduled job, not a page)",
            "path": "cpnav reports refresh", "kind": "job"}  # fmt: skip


def _get(client: Client, page: Page) -> None:
    response = client.get(page.path)
    if response.status_code != 200:
        raise SystemExit(f"{page.name}: {page.path} answered {response.status_code}")


def sessions(worlds: int = 1) -> dict[str, Any]:
    """Signed-in session cookies and the pages of ``worlds`` agencies (busiest first),
    for wrk on a real server: world 0 is the one the page timings use."""
    from django.conf import settings

    out: list[dict[str, Any]] = []
    for agency_id in busiest_agencies(worlds * 4):
        if len(out) == worlds:
            break
        try:
            world = find_world(agency_id, reviewer_index=len(out))
        except NoWorld:
            continue  # an agency without a draft or a grant: the next busiest
        cookies = {
            name: client.cookies[settings.SESSION_COOKIE_NAME].value
            for name, client in clients(world).items()
            if name != "anonymous"
        }
        pages = [{"name": p.name, "persona": p.persona, "path": p.path} for p in world.pages]
        out.append({"cookies": cookies, "pages": pages})
    if len(out) < worlds:
        raise SystemExit(f"only {len(out)} of {worlds} busy agencies have every record needed")
    return {"cookie_name": settings.SESSION_COOKIE_NAME, "worlds": out}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--sessions", type=Path)
    parser.add_argument("--samples", type=int, default=60)
    parser.add_argument("--worlds", type=int, default=1, help="agencies to sign in for wrk")
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cpnav.settings")
    import django

    django.setup()
    if args.sessions:
        args.sessions.write_text(json.dumps(sessions(args.worlds), indent=1))
    if args.out:
        args.out.write_text(json.dumps(measure(args.samples), indent=1))


if __name__ == "__main__":
    main()
