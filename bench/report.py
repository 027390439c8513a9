"""Summaries, ratios and targets of a bench run, and its table (bench/results.md)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any


def percentile(samples: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of non-empty samples."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def summarize(samples: list[float]) -> dict[str, float]:
    return {
        "n": len(samples),
        "median": percentile(samples, 50),
        "p95": percentile(samples, 95),
        "min": min(samples),
        "max": max(samples),
    }


@dataclass
class Results:
    machine: dict[str, Any]
    size: dict[str, Any]
    quick: bool = False
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    throughput: dict[str, dict[str, Any]] = field(default_factory=dict)
    load: dict[str, dict[str, Any]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def add(self, name: str, samples: list[float], unit: str, note: str, **more: Any) -> None:
        self.metrics[name] = {"unit": unit, "note": note, **summarize(samples), **more}

    def as_dict(self) -> dict[str, Any]:
        out = {
            "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "quick": self.quick, "machine": self.machine, "size": self.size,
            "seconds": round(self.seconds, 1), "metrics": self.metrics,
            "throughput": self.throughput, "load": self.load, "extra": self.extra,
        }  # fmt: skip
        out["ratios"] = ratios(out)
        out["targets"] = targets(out)
        return out


def _median(data: dict[str, Any], name: str) -> float | None:
    metric = data["metrics"].get(name)
    return None if metric is None else float(metric["median"])


def ratios(data: dict[str, Any]) -> dict[str, float]:
    out: dict[str, float] = {}
    pairs = {
        "walk_vs_docassemble": ("peer.walk", "interview.view_walk"),
        "screen_vs_docassemble": ("peer.screen", "interview.view_screen"),
        "engine_walk_vs_docassemble": ("peer.walk", "interview.walk"),
    }
    for name, (theirs, ours) in pairs.items():
        a, b = _median(data, theirs), _median(data, ours)
        if a is not None and b:
            out[name] = a / b  # how many times faster we are
    for name, figures in data["throughput"].items():
        if "share_of_limit" in figures:
            out[f"{name}.share_of_limit"] = figures["share_of_limit"]
    return out


def _target(what: str, value: float | None, limit: float, *, at_least: bool = False,
            unit: str = "") -> dict[str, Any]:  # fmt: skip
    met = None if value is None else (value >= limit if at_least else value < limit)
    sign = ">=" if at_least else "<"
    return {"target": what, "value": value, "goal": f"{sign} {limit:g}{unit}", "met": met}


def targets(data: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for name, metric in sorted(data["metrics"].items()):
        if name.startswith("page."):
            goal = 5.0 if name.endswith(".guide_search") else 50.0
            out.append(_target(f"{name} p95", metric["p95"], goal, unit=" ms"))
    for name, figures in sorted(data["throughput"].items()):
        if name.endswith(".determination_api"):
            out.append(_target(f"{name} share of the bare Django limit",
                               figures["share_of_limit"], 0.6, at_least=True))  # fmt: skip
    next_q = data["metrics"].get("interview.next_question")
    out.append(_target("interview.next_question p95", next_q and next_q["p95"], 0.05, unit=" ms"))
    # The engine walk is the like-for-like one (docassemble's assemble() per screen is
    # engine work too); the step view's own path (GET + POST per screen) is shown beside it.
    walk = data["ratios"].get("engine_walk_vs_docassemble")
    out.append(_target("24-screen walk (engine), times faster than docassemble", walk, 20,
                       at_least=True))  # fmt: skip
    view = data["ratios"].get("walk_vs_docassemble")
    if view is not None:
        out.append({"target": "24-screen walk through the step view's code (GET + POST), "
                    "times faster than docassemble (shown, not a target)", "value": view,
                    "goal": "-", "met": None})  # fmt: skip
    parts = [_median(data, n) for n in ("package.context", "package.pdf.warm", "package.docx.warm")]
    package = None if None in parts else sum(p for p in parts if p is not None)
    out.append(_target("package assembly warm (context + PDF + DOCX, medians)", package, 500,
                       unit=" ms"))  # fmt: skip
    for engine, figures in sorted(data["load"].items()):
        errors = figures["errors"] + figures["bad_status"]
        out.append(_target(f"load.{engine} errors", errors, 1))
        out.append(_target(f"load.{engine} worker peak memory", figures["worker_peak_rss_mb"],
                           200, unit=" MB"))  # fmt: skip
    return out


def _fmt(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}" if abs(value) >= 0.01 else f"{value:.4f}"


QUICK_NOTE = " **Quick run: small data set, short runs - not the figures of record.**"


def render_markdown(data: dict[str, Any]) -> str:
    size = data["size"]
    lines = [
        "# CP Navigator benchmark results",
        "",
        f"Run {data['when']} at commit {data['machine'].get('commit', '?')} on "
        f"{data['machine']['cpus']} CPUs / {data['machine']['memory_gib']} GiB, Python "
        f"{data['machine']['python']}; {data['seconds'] / 60:.1f} min."
        + (QUICK_NOTE if data["quick"] else ""),
        f"Data set: {size['cases']:,} cases, {size['audit_events']:,} audit events, "
        f"{size['agencies']:,} agencies (seed {size['seed']}), on SQLite and PostgreSQL.",
        "",
        "## Targets",
        "",
        "| target | value | goal | met |",
        "|---|---:|---|---|",
    ]
    for t in data["targets"]:
        met = {True: "yes", False: "**no**", None: "not measured"}[t["met"]]
        if t["goal"] == "-":
            met = "-"
        lines.append(f"| {t['target']} | {_fmt(t['value'])} | {t['goal']} | {met} |")
    lines += ["", "## Timings", "", "| metric | unit | median | p95 | n | queries | what |",
              "|---|---|---:|---:|---:|---:|---|"]  # fmt: skip
    for name, m in sorted(data["metrics"].items()):
        lines.append(
            f"| {name} | {m['unit']} | {_fmt(m['median'])} | {_fmt(m['p95'])} | {m['n']} | "
            f"{m.get('queries', '')} | {m['note']} |"
        )
    lines += ["", "## Throughput (wrk, 8 connections, gunicorn 2 sync workers)", "",
              "| endpoint | req/s | share of limit | p50 ms | p95 ms | errors |",
              "|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    for name, t in data["throughput"].items():
        share = t.get("share_of_limit")
        lines.append(
            f"| {name} | {t['requests_per_second']:,.0f} | "
            f"{'-' if share is None else f'{share:.0%}'} | {_fmt(t['p50_ms'])} | "
            f"{_fmt(t['p95_ms'])} | {t['errors'] + t['bad_status']} |"
        )
    lines += ["", "## Load (100 connections, mixed workload)", "",
              "| database | seconds | requests | req/s | p50 ms | p95 ms | errors | worker peak MB |",
              "|---|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for engine, t in data["load"].items():
        lines.append(
            f"| {engine} | {_fmt(t.get('seconds'))} | {t['requests']:,} | "
            f"{t['requests_per_second']:,.0f} | {_fmt(t['p50_ms'])} | {_fmt(t['p95_ms'])} | "
            f"{t['errors'] + t['bad_status']} | {t['worker_peak_rss_mb']:.0f} |"
        )
    lines += ["", "## Ratios", ""]
    for name, value in data["ratios"].items():
        lines.append(f"- {name}: {value:.2f}")
    return "\n".join(lines) + "\n"
