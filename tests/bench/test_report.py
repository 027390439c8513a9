"""The bench's own logic: percentiles, targets, the table, wrk's script and report."""

from __future__ import annotations

import pytest

from bench.report import Results, percentile, render_markdown, summarize
from bench.system import parse_wrk
from bench.wrk import Request, script

WRK_OUTPUT = """Running 10s test @ http://127.0.0.1:8000/
  2 threads and 8 connections
  Latency Distribution
     50%    3.10ms
     75%    4.20ms
     90%  812.00us
     99%    1.02s
  21234 requests in 10.00s, 5.1MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 7
Requests/sec:   2123.40
BENCH-REPORT {"requests": 21234}
"""


def test_nearest_rank_percentiles() -> None:
    samples = [float(n) for n in range(1, 101)]
    assert percentile(samples, 50) == 50
    assert percentile(samples, 95) == 95
    assert percentile([7.0], 95) == 7
    assert summarize([3.0, 1.0, 2.0]) == {"n": 3, "median": 2, "p95": 3, "min": 1, "max": 3}
    with pytest.raises(ValueError, match="no samples"):
        percentile([], 50)


def test_wrk_output_is_read_with_units_and_errors() -> None:
    result = parse_wrk(WRK_OUTPUT)
    assert result.requests_per_second == pytest.approx(2123.4)
    assert result.requests == 21234
    assert result.errors == 3
    assert result.non_2xx_3xx == 7
    assert result.latency_ms == {"p50": 3.1, "p75": 4.2, "p90": 0.812, "p99": 1020.0}


def test_the_lua_script_weights_requests_and_escapes_text() -> None:
    lua = script([
        Request("/a", weight=3),
        Request("/api", "POST", '{"x": "quote\\" and \\n"}', {"Cookie": "s=1"}),
    ])  # fmt: skip
    assert lua.count("  add(") == 2  # a call each: Lua allows 200 locals per function
    assert '"/a", {}, nil, 3)' in lua
    assert '["Cookie"] = "s=1"' in lua
    assert "BENCH-REPORT" in lua
    assert "latency:percentile(95)" in lua


def results() -> Results:
    r = Results(machine={"cpus": 2, "memory_gib": 24, "python": "3.11", "commit": "abc"},
                size={"cases": 10, "audit_events": 100, "agencies": 3, "seed": 1})  # fmt: skip
    r.add("page.sqlite.case_list", [10.0] * 18 + [60.0] * 2, "ms", "a page", queries=9)
    r.add("page.sqlite.guide_search", [1.0, 2.0], "ms", "search")
    r.add("interview.next_question", [0.002], "ms", "next")
    r.add("interview.view_walk", [2.0], "ms", "walk through the view")
    r.add("interview.walk", [1.0], "ms", "walk")
    r.add("peer.walk", [25.0], "ms", "docassemble")
    r.throughput["bare_django"] = {"requests_per_second": 2000.0, "p50_ms": 1.0, "p95_ms": 2.0,
                                   "errors": 0, "bad_status": 0}  # fmt: skip
    r.throughput["sqlite.determination_api"] = {
        "requests_per_second": 1000.0, "p50_ms": 1.0, "p95_ms": 2.0, "errors": 0,
        "bad_status": 0, "share_of_limit": 0.5,
    }  # fmt: skip
    r.load["sqlite"] = {"requests": 10, "requests_per_second": 5.0, "p50_ms": 1.0,
                        "p95_ms": 3.0, "errors": 0, "bad_status": 1, "seconds": 2.0,
                        "worker_peak_rss_mb": 150.0}  # fmt: skip
    return r


def test_targets_say_what_was_met_and_what_was_not() -> None:
    data = results().as_dict()
    met = {t["target"]: t["met"] for t in data["targets"]}
    assert met["page.sqlite.case_list p95"] is False  # 2 slow of 20: the 19th is slow
    assert met["page.sqlite.guide_search p95"] is True
    assert met["sqlite.determination_api share of the bare Django limit"] is False
    assert met["interview.next_question p95"] is True
    assert met["24-screen walk (engine), times faster than docassemble"] is True
    assert met["package assembly warm (context + PDF + DOCX, medians)"] is None  # not measured
    assert met["load.sqlite errors"] is False  # a bad status is an error
    assert met["load.sqlite worker peak memory"] is True
    assert data["ratios"]["engine_walk_vs_docassemble"] == 25
    assert data["ratios"]["walk_vs_docassemble"] == 12.5


def test_the_table_shows_every_target_and_marks_misses() -> None:
    table = render_markdown(results().as_dict())
    assert "| page.sqlite.case_list p95 | 60.00 | < 50 ms | **no** |" in table
    assert "not measured" in table
    assert "| sqlite | 2.00 | 10 | 5 | 1.00 | 3.00 | 1 | 150 |" in table
