"""The published tables of the program-metrics report, built from ``metrics`` counts.

Every number passes through ``privacy`` here: a ``Table`` holds only what may be
shown (numbers, the marker of a hidden count, or a statistic's text), so a
template or a file can print it as it is.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

from django.utils.formats import number_format
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from cpnav.accounts.models import STATES, TERRITORIES, Agency, Level
from cpnav.cases.models import RequestKind
from cpnav.reports import metrics, privacy
from cpnav.reports.charts import Bar, bar_chart
from cpnav.reports.metrics import Agencies, Window
from cpnav.reports.stats import percentile

Cell = int | float | str


@dataclass(frozen=True)
class Row:
    label: str
    cells: tuple[Cell, ...]
    total: bool = False  # the totals row, shown in bold


@dataclass(frozen=True)
class Table:
    """One published table: only protected values, ready for a page or a file."""

    slug: str
    title: str
    dimension: str
    row_header: str
    columns: tuple[str, ...]
    rows: tuple[Row, ...]
    chart: SafeString
    notes: tuple[str, ...] = ()
    # Rows of the full table left off this one (a page shows the largest rows only).
    not_shown: int = 0

    def __post_init__(self) -> None:
        privacy.check_dimensions([self.dimension])

    @property
    def header(self) -> list[str]:
        return [self.row_header, *self.columns]

    def export_rows(self) -> list[list[Cell]]:
        return [[row.label, *row.cells] for row in self.rows]


@dataclass(frozen=True)
class Section:
    title: str
    intro: str
    tables: list[Table] = field(default_factory=list)


def _chart(slug: str, title: str, bars: Iterable[tuple[str, Cell]], marker: str) -> SafeString:
    drawn = [
        Bar(label, float(value) if isinstance(value, int | float) else None, _shown(value))
        for label, value in bars
    ]
    description = _(
        "Bar chart of the table below. A hidden count shows %(marker)s and has no bar."
    ) % {"marker": marker}
    return bar_chart(f"chart-{slug}", title, description, drawn)


def _shown(value: Cell) -> str:
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


# Requests ------------------------------------------------------------------


def _outcome_labels() -> dict[str, str]:
    return {
        "granted": _("Granted"),
        "denied": _("Denied"),
        "withdrawn": _("Withdrawn"),
        "pending": _("Pending at CCHT"),
    }


def _state_label(code: str) -> str:
    return {**STATES, **TERRITORIES}.get(code, code) if code else _("No state recorded")


def _fixed_labels(dimension: str) -> dict[str, str]:
    if dimension == "agency_level":
        return {str(value): str(label) for value, label in Level.choices}
    if dimension == "trafficking_form":
        return {
            "labor": _("Labor trafficking"),
            "sex": _("Sex trafficking"),
            "both": _("Both labor and sex trafficking"),
            "unknown": _("Not recorded"),
        }
    if dimension == "age_group":
        return {"minor": _("Minor"), "adult": _("Adult"), "unknown": _("Not known")}
    if dimension == "request_kind":
        return {str(value): str(label) for value, label in RequestKind.choices}
    return {}


REQUEST_TABLES: Final = (
    ("requests-level", "agency_level"),
    ("requests-state", "state"),
    ("requests-agency", "agency"),
    ("requests-form", "trafficking_form"),
    ("requests-age", "age_group"),
    ("requests-kind", "request_kind"),
)


def _request_titles() -> dict[str, tuple[str, str]]:
    return {
        "agency_level": (_("Requests by agency level"), _("Agency level")),
        "state": (_("Requests by state or territory"), _("State or territory")),
        "agency": (_("Requests by agency"), _("Agency")),
        "trafficking_form": (_("Requests by form of trafficking"), _("Form of trafficking")),
        "age_group": (_("Requests by age group"), _("Age group")),
        "request_kind": (_("Requests by kind"), _("Kind of request")),
    }


def request_tables(
    agencies: Agencies, window: Window, t: int, *, agency_rows: int | None = None
) -> dict[str, Table]:
    """Every request table, protected together: they share their totals, and the
    agency table adds up to the level and state tables, so a number hidden in one
    is hidden wherever it appears.

    ``agency_rows``: for a page, keep only that many agencies (those with the most
    requests), cut after the whole family is protected; a download keeps them all.
    """
    counts = metrics.request_counts(agencies, window)
    agency_ids = sorted({row for row, _o in counts["agency"]})
    named = {str(a.pk): a for a in Agency.objects.filter(pk__in=agency_ids)}
    rows: dict[str, list[str]] = {}
    for _slug, dim in REQUEST_TABLES:
        found = {row for row, _o in counts[dim]}
        order = list(_fixed_labels(dim))
        if dim == "agency":
            rows[dim] = sorted(found, key=lambda pk: (named[pk].name.lower(), pk))
        elif dim == "state":
            rows[dim] = sorted(found, key=lambda code: (code == "", _state_label(code)))
        else:
            rows[dim] = order + sorted(found - set(order))

    values: dict[tuple[str, ...], int] = {}
    lines: list[tuple[tuple[str, ...], ...]] = []
    for _slug, dim in REQUEST_TABLES:
        for row in rows[dim]:
            for outcome in metrics.OUTCOMES:
                values["cell", dim, row, outcome] = counts[dim].get((row, outcome), 0)
            values["row", dim, row] = sum(counts[dim].get((row, o), 0) for o in metrics.OUTCOMES)
            lines.append((*(("cell", dim, row, o) for o in metrics.OUTCOMES), ("row", dim, row)))
        for outcome in metrics.OUTCOMES:
            lines.append((*(("cell", dim, r, outcome) for r in rows[dim]), ("column", outcome)))
        lines.append((*(("row", dim, r) for r in rows[dim]), ("total",)))
    for outcome in metrics.OUTCOMES:
        values["column", outcome] = sum(
            counts["agency_level"].get((r, outcome), 0) for r in rows["agency_level"]
        )
    values["total",] = sum(values["column", o] for o in metrics.OUTCOMES)
    lines.append((*(("column", o) for o in metrics.OUTCOMES), ("total",)))
    # The agencies of one level (or state) add up to that level's (state's) row.
    for parent, attribute in (("agency_level", "level"), ("state", "state")):
        children: dict[str, list[str]] = {}
        for pk in rows["agency"]:
            children.setdefault(getattr(named[pk], attribute), []).append(pk)
        for key in rows[parent]:
            members = children.get(key, [])
            for outcome in metrics.OUTCOMES:
                lines.append(
                    (*(("cell", "agency", pk, outcome) for pk in members),
                     ("cell", parent, key, outcome))
                )  # fmt: skip
            lines.append((*(("row", "agency", pk) for pk in members), ("row", parent, key)))

    shown = privacy.publish(values, privacy.suppress(values, lines, t), t)
    marker = privacy.marker(t)
    labels = _outcome_labels()
    columns = (*(labels[o] for o in metrics.OUTCOMES), _("Total"))
    totals = Row(
        _("Total"), (*(shown["column", o] for o in metrics.OUTCOMES), shown["total",]), total=True
    )
    tables: dict[str, Table] = {}
    title = _("Requests by outcome")
    outcome_rows = tuple(Row(labels[o], (shown["column", o],)) for o in metrics.OUTCOMES)
    tables["requests-outcome"] = Table(
        slug="requests-outcome",
        title=title,
        dimension="outcome",
        row_header=_("Outcome"),
        columns=(_("Requests"),),
        rows=(*outcome_rows, Row(_("Total"), (shown["total",],), total=True)),
        chart=_chart(
            "requests-outcome", title, ((r.label, r.cells[0]) for r in outcome_rows), marker
        ),
    )
    titles = _request_titles()
    for slug, dim in REQUEST_TABLES:
        fixed = _fixed_labels(dim)

        def label(key: str, dim: str = dim, fixed: dict[str, str] = fixed) -> str:
            if dim == "agency":
                return named[key].name
            if dim == "state":
                return _state_label(key)
            return fixed.get(key, key)

        body = tuple(
            Row(
                label(key),
                (*(shown["cell", dim, key, o] for o in metrics.OUTCOMES), shown["row", dim, key]),
            )
            for key in rows[dim]
        )
        cut: str | None = None
        if dim == "agency":
            body, cut = _largest(body, agency_rows)
        title, header = titles[dim]
        tables[slug] = Table(
            slug=slug,
            title=title,
            dimension=dim,
            row_header=header,
            columns=columns,
            rows=(*body, totals),
            chart=_chart(slug, title, ((r.label, r.cells[-1]) for r in body), marker),
            notes=(cut,) if cut else (),
            not_shown=len(rows[dim]) - len(body),
        )
    return tables


def _published_size(row: Row) -> tuple[int, float]:
    """Sort key, largest first, from the row's published total only: a hidden total
    goes after every shown one, so the order tells nothing the table does not."""
    total = row.cells[-1]
    return (0, -total) if isinstance(total, int | float) else (1, 0)


def _largest(body: Sequence[Row], limit: int | None) -> tuple[tuple[Row, ...], str | None]:
    """The ``limit`` agency rows with the largest published totals, and a note of how
    many are left off (None when none is). Rows are cut after protection: the table
    was suppressed whole with its family, and leaving rows out publishes nothing
    the full download does not."""
    if limit is None or len(body) <= limit:
        return tuple(body), None
    kept = tuple(sorted(body, key=_published_size)[:limit])  # stable: ties stay by name
    rest = len(body) - limit
    note = ngettext(
        "The %(shown)s agencies with the most requests in the period are shown, largest "
        "first. %(rest)s other agency is not shown: the CSV and Excel downloads have "
        "every agency.",
        "The %(shown)s agencies with the most requests in the period are shown, largest "
        "first. %(rest)s other agencies are not shown: the CSV and Excel downloads have "
        "every agency.",
        rest,
    ) % {
        "shown": number_format(limit, force_grouping=True),
        "rest": number_format(rest, force_grouping=True),
    }
    return kept, note


# Time to submission and decision ---------------------------------------------


def timing_table(agencies: Agencies, window: Window, t: int) -> Table:
    marker = privacy.marker(t)
    hidden = _("not shown (too few cases)")
    none = _("no cases")
    rows: list[Row] = []
    bars: list[tuple[str, Cell]] = []
    for label, days in (
        (_("Draft to submission"), metrics.days_to_submission(agencies, window)),
        (_("Submission to decision"), metrics.days_to_decision(agencies, window)),
    ):
        cases = len(days)
        count: Cell = marker if privacy.is_small(cases, t) else cases
        median = percentile(days, 0.5)
        p90 = percentile(days, 0.9)
        if median is None or p90 is None:
            stats: tuple[Cell, Cell] = (none, none)
        elif privacy.statistic_hidden(cases, t):
            stats = (hidden, hidden)
        else:
            stats = (round(median, 1), round(p90, 1))
        rows.append(Row(label, (count, *stats)))
        bars.append((_("%(step)s: median") % {"step": label}, stats[0]))
        bars.append((_("%(step)s: 90th percentile") % {"step": label}, stats[1]))
    title = _("Days to submission and to decision")
    return Table(
        slug="timing",
        title=title,
        dimension="timing",
        row_header=_("Step"),
        columns=(_("Requests"), _("Median days"), _("90th percentile days")),
        rows=tuple(rows),
        chart=_chart("timing", title, bars, marker),
        notes=(
            _(
                "Draft to submission: requests submitted to CCHT in the period, from the day "
                "the draft was started. Submission to decision: requests granted or denied in "
                "the period. The 90th percentile is the number of days within which nine in "
                "ten were done."
            ),
        ),
    )


# Counts with a total, and a share ------------------------------------------------


def _share(numerator: int, denominator: int, t: int) -> str:
    if denominator == 0:
        return _("no cases")
    if privacy.share_hidden(numerator, denominator, t):
        return _("not shown (too few cases)")
    return f"{round(100 * numerator / denominator)}%"


def _counted(
    slug: str,
    title: str,
    dimension: str,
    header: tuple[str, str],
    counts: dict[str, int],
    labels: dict[str, str],
    t: int,
    *,
    extra: Sequence[Row] = (),
    notes: tuple[str, ...] = (),
    total: bool = True,
) -> Table:
    values: dict[str, int] = dict(counts)
    lines: list[tuple[str, ...]] = []
    if total:
        values["__total__"] = sum(counts.values())
        lines.append((*counts, "__total__"))
    shown = privacy.publish(values, privacy.suppress(values, lines, t), t)
    body = tuple(Row(labels[key], (shown[key],)) for key in counts)
    rows = (*body, Row(_("Total"), (shown["__total__"],), total=True)) if total else body
    return Table(
        slug=slug,
        title=title,
        dimension=dimension,
        row_header=header[0],
        columns=(header[1],),
        rows=(*rows, *extra),
        chart=_chart(slug, title, ((r.label, r.cells[0]) for r in body), privacy.marker(t)),
        notes=notes,
    )


def renewals_table(agencies: Agencies, window: Window, t: int) -> Table:
    counts = metrics.renewals(agencies, window)
    needed = sum(counts.values()) - counts["ended"]
    labels = {
        "on_time": _("Extended before the term ended"),
        "late": _("Extended after the term ended"),
        "pending": _("Extension pending at CCHT"),
        "ended": _("Protection ended (end event)"),
        "lapsed": _("Lapsed: no extension and no end event"),
    }
    share_label = _("Share extended before the term ended")
    return _counted(
        "renewals",
        _("CP terms that ended in the period"),
        "renewal",
        (_("What happened"), _("CP terms")),
        counts,
        labels,
        t,
        extra=(Row(share_label, (_share(counts["on_time"], needed, t),)),),
        notes=(
            _(
                "Each CP term whose last day fell in the period (and is past) counts once. "
                "Extended before the term ended: an extension term starts the day after, "
                "requested from CCHT on or before the last day. The share leaves out terms "
                "ended by an end event."
            ),
        ),
    )


def hhs_table(agencies: Agencies, window: Window, t: int) -> Table:
    counts = metrics.hhs_notices(agencies, window)
    due = counts["on_time"] + counts["late"] + counts["missing"]
    labels = {
        "on_time": _("HHS notified within 24 hours"),
        "late": _("HHS notified after 24 hours"),
        "missing": _("No notice recorded, 24 hours passed"),
        "open": _("No notice yet, within the 24 hours"),
    }
    return _counted(
        "hhs-notice",
        _("HHS notice for possible minors"),
        "hhs_notice",
        (_("Notice"), _("Possible minors")),
        counts,
        labels,
        t,
        extra=(Row(_("Share notified on time"), (_share(counts["on_time"], due, t),)),),
        notes=(
            _(
                "Possible minor victims identified in the period. HHS must be notified within "
                "24 hours of identification (22 U.S.C. 7105(b)(1)(G))."
            ),
        ),
    )


def engagement_table(agencies: Agencies, window: Window, t: int) -> Table:
    counts = metrics.engagement(agencies, window)
    marker = privacy.marker(t)
    places = {key: counts[key] for key in ("attended", "absent", "unrecorded")}
    values = {**places, "registered": counts["registered"]}
    shown = privacy.publish(values, privacy.suppress(values, [tuple(values)], t), t)
    sessions: Cell = marker if privacy.is_small(counts["sessions"], t) else counts["sessions"]
    recorded = counts["attended"] + counts["absent"]
    body = (
        Row(_("Sessions held"), (sessions,)),
        Row(_("Registered places"), (shown["registered"],)),
        Row(_("Attended"), (shown["attended"],)),
        Row(_("Did not attend"), (shown["absent"],)),
        Row(_("Attendance not recorded"), (shown["unrecorded"],)),
    )
    title = _("Engagement sessions held in the period")
    note = (
        _("Sessions that people from the agency registered for, and their places.")
        if agencies is not None
        else _("Every session held, and every registered place.")
    )
    return Table(
        slug="engagement",
        title=title,
        dimension="engagement",
        row_header=_("Measure"),
        columns=(_("Number"),),
        rows=(
            *body,
            Row(_("Attendance rate"), (_share(counts["attended"], recorded, t),)),
        ),
        chart=_chart("engagement", title, ((r.label, r.cells[0]) for r in body), marker),
        notes=(note,),
    )
